"""Journal commands (docs/proposals.md) and the HTML report (docs/report.md): click wiring only.

`propose`, `proposals`, `show`, `diff`, `approve`, `reject`, `record`, `holdings` and `report`. Registered
by `cli/main.py` (import that module first: this one uses its error handling).
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rebal_opt.models.errors import ScenarioError

from .files import OutputFile, atomic_write
from .main import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER, emit_json, fail, guarded, time_limit_option

if TYPE_CHECKING:
    from rebal_opt.journal.store import Journal, Proposal

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = (
    "The journal: a SQLite file path or a database URL (postgresql://user@host/db). Default: "
    "rebal-opt-journal.sqlite beside the scenario, or in the working directory; or $REBAL_OPT_DB."
)


def db_option(command: F) -> F:
    return click.option("--db", "db", envvar="REBAL_OPT_DB", metavar="PATH|URL", help=DB_HELP)(command)


def by_option(command: F) -> F:
    return click.option(
        "--by",
        "actor",
        envvar="REBAL_OPT_USER",
        metavar="NAME",
        help="Who makes this change, for the approval trail. Default: $REBAL_OPT_USER, else the login name.",
    )(command)


def json_option(what: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=what)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def journal_errors(command: F) -> F:
    """JournalError (and a bad fills file) → its lines on stderr, exit 2; nothing was changed."""
    from rebal_opt.journal.errors import JournalError

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except JournalError as exc:
            fail(EXIT_BAD_INPUT, *str(exc).splitlines())

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_journal(db: str | None, scenario_path: str | None = None, create: bool = False) -> Iterator[Journal]:
    from rebal_opt.journal.db import journal_url
    from rebal_opt.journal.store import Journal

    journal = Journal.open(journal_url(db, scenario_path), create=create)
    try:
        yield journal
    finally:
        journal.close()


def _solve_failures(call: Callable[[], Any], as_json: bool, label: str) -> Any:
    """Run a planning call; infeasible and solver failures become their exit codes (as `solve`)."""
    from rebal_opt.solver.engine import InfeasiblePlan, SolverFailure
    from rebal_opt.solver.unwind import UnwindError

    try:
        return call()
    except InfeasiblePlan as exc:
        if as_json:
            emit_json({"scenario": label, "status": "infeasible", "conflicts": exc.conflicts, "message": exc.detail})
        fail(EXIT_INFEASIBLE, f"infeasible: {exc.detail}")
    except UnwindError as exc:
        if as_json:
            emit_json({"scenario": label, "status": "infeasible", "message": str(exc)})
        fail(EXIT_INFEASIBLE, f"infeasible: {exc}")
    except SolverFailure as exc:
        fail(EXIT_SOLVER, f"solver failure: {exc}")


def _read_text(path: str) -> str:
    from rebal_opt.models.errors import Problem

    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem("(file)", "no such file; check the path")], path) from None
    except IsADirectoryError:
        raise ScenarioError([Problem("(file)", "is a directory; give a scenario .yaml file")], path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem("(file)", f"cannot be read ({exc}); give a readable UTF-8 file")], path) from None


command_option = click.option(
    "--command",
    "plan_command",
    type=click.Choice(["solve", "yearend", "unwind"]),
    default="solve",
    show_default=True,
    help="The planning command: the rebalance, year-end tax planning, or the first period of the unwind.",
)


@click.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=str))
@command_option
@db_option
@by_option
@json_option('Print {"id": N} instead of the id alone.')
@time_limit_option("Time limit for the solve.")
@guarded
@journal_errors
def propose(
    scenario_path: str, plan_command: str, db: str | None, actor: str | None, as_json: bool, time_limit: float
) -> None:
    """Solve SCENARIO and store the plan as a new proposal; print its id.

    The journal keeps the scenario as given, the full result, the program version, the solver status and
    a hash of the inputs; a proposal never changes afterwards. Exit codes as solve.
    """
    from rebal_opt.journal.planning import make_draft, read_scenario

    text = _read_text(scenario_path)
    scenario = read_scenario(text, scenario_path)
    with open_journal(db, scenario_path, create=True) as journal:
        draft = _solve_failures(
            lambda: make_draft(text, str(Path(scenario_path).resolve()), plan_command, time_limit=time_limit),
            as_json,
            scenario.label,
        )
        for note in _propose_notes(journal, draft.input_hash, scenario):
            click.echo(f"note: {note}", err=True)
        proposal_id = journal.add(draft, _actor(actor))
    click.echo(
        f"proposal {proposal_id}: {draft.household}, {plan_command}, {draft.trade_count} trades, tax due "
        f"{draft.tax_due if draft.tax_due is not None else 0:,.2f}, solver {draft.solver_status}",
        err=True,
    )
    if as_json:
        emit_json({"id": proposal_id})
    else:
        click.echo(str(proposal_id))


def _propose_notes(journal: Journal, input_hash: str, scenario: Any) -> list[str]:
    """Same inputs as an earlier proposal; fills recorded after this scenario's date."""
    from rebal_opt.journal.planning import read_scenario

    notes = []
    same = [p.id for p in journal.list(scenario.label) if p.input_hash == input_hash]
    if same:
        notes.append(f"the same inputs as proposal {same[-1]}")
    latest = journal.latest_recording(scenario.label)
    if latest is not None:
        proposal, event = latest
        assert event.holdings_text is not None and event.holdings_as_of is not None
        recorded = read_scenario(event.holdings_text, "recorded holdings")
        if event.holdings_as_of >= scenario.as_of and (
            recorded.accounts != scenario.accounts or recorded.recent_trades != scenario.recent_trades
        ):
            notes.append(
                f"fills were recorded for {scenario.label} on {event.holdings_as_of} (proposal {proposal.id}) that "
                "this scenario does not hold; `rebal-opt holdings -o FILE` writes the holdings they leave"
            )
    return notes


@click.command("proposals")
@click.option("--household", metavar="NAME", help="Only this household's proposals (the scenario's name).")
@db_option
@json_option("Print {proposals: [...]} as JSON.")
@guarded
@journal_errors
def proposals_command(household: str | None, db: str | None, as_json: bool) -> None:
    """List the journal's proposals: status, date, tax due, tracking error and number of trades."""
    from rebal_opt.cli.journal_render import print_proposals

    with open_journal(db) as journal:
        items = journal.list(household)
    if as_json:
        emit_json({"proposals": [p.summary_json() for p in items]})
    else:
        print_proposals(items)


@click.command()
@click.argument("proposal_id", metavar="ID", type=int)
@db_option
@json_option("Print the proposal (figures, trail and full result) as JSON.")
@guarded
@journal_errors
def show(proposal_id: int, db: str | None, as_json: bool) -> None:
    """Show proposal ID: its plan, its status and its approval trail."""
    from rebal_opt.cli import render
    from rebal_opt.cli.journal_render import print_proposal_header, print_trail
    from rebal_opt.journal.planning import proposal_result
    from rebal_opt.models.result import Result

    with open_journal(db) as journal:
        proposal = journal.get(proposal_id)
    if as_json:
        emit_json(
            {
                **proposal.summary_json(),
                "events": [e.as_json() for e in proposal.events],
                "result": proposal.result,
            }
        )
        return
    print_proposal_header(proposal)
    result = proposal_result(proposal)
    if isinstance(result, Result):
        render.print_result(result)
    else:
        render.print_unwind(result)
    print_trail(proposal.events)


@click.command("diff")
@click.argument("first", metavar="ID1", type=int)
@click.argument("second", metavar="ID2", type=int)
@db_option
@json_option("Print the differences as JSON.")
@guarded
@journal_errors
def diff_command(first: int, second: int, db: str | None, as_json: bool) -> None:
    """What changed from proposal ID1 to ID2: trades, tax, tracking error and drift after the trades."""
    from rebal_opt.cli.journal_render import print_diff
    from rebal_opt.journal.diff import diff

    with open_journal(db) as journal:
        d = diff(journal.get(first), journal.get(second))
    if as_json:
        emit_json(d.as_json())
    else:
        print_diff(d)


def _current_scenario(proposal: Proposal, path: str | None) -> tuple[Any, str | None]:
    """Today's scenario for the price check: the file given, else the proposal's own file read again."""
    from rebal_opt.models.loading import load_scenario

    source = path or proposal.scenario_source
    if source is None:
        return None, None
    if path is None and not Path(source).is_file():
        return None, source
    return load_scenario(source), source


@click.command()
@click.argument("proposal_id", metavar="ID", type=int)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="The scenario file with today's prices (default: the file the proposal was made from).",
)
@click.option("--reason", default=None, help="A note for the approval trail.")
@db_option
@by_option
@guarded
@journal_errors
def approve(proposal_id: int, scenario_path: str | None, reason: str | None, db: str | None, actor: str | None) -> None:
    """Approve proposal ID for execution.

    A proposal older than its scenario's approval.period_days, or whose prices moved more than
    approval.price_tolerance against today's scenario file, is refused (exit 2) with what to do: solve it
    again with `rebal-opt propose`.
    """
    from rebal_opt.journal.approval import approval_blockers
    from rebal_opt.journal.store import APPROVED, Change

    with open_journal(db) as journal:
        current, source = _current_scenario(journal.get(proposal_id), scenario_path)

        def decide(proposal: Proposal) -> Change:
            blockers, checked = approval_blockers(proposal, journal.clock(), current, source)
            if blockers:
                fail(EXIT_BAD_INPUT, *blockers, f"proposal {proposal_id} was not approved")
            return Change(reason=reason, detail=checked)

        event = journal.change(proposal_id, APPROVED, _actor(actor), decide)
    click.echo(f"proposal {proposal_id} approved by {event.actor} at {event.at:%Y-%m-%d %H:%M} UTC")


@click.command()
@click.argument("proposal_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why it is rejected (kept in the approval trail).")
@db_option
@by_option
@guarded
@journal_errors
def reject(proposal_id: int, reason: str, db: str | None, actor: str | None) -> None:
    """Reject proposal ID (proposed or approved, not yet recorded), with the reason."""
    from rebal_opt.journal.store import REJECTED, Change

    if not reason.strip():
        fail(EXIT_BAD_INPUT, "--reason: give the reason for the rejection")
    with open_journal(db) as journal:
        event = journal.change(proposal_id, REJECTED, _actor(actor), lambda _p: Change(reason=reason.strip()))
    click.echo(f"proposal {proposal_id} rejected by {event.actor}: {reason.strip()}")


@click.command()
@click.argument("proposal_id", metavar="ID", type=int)
@click.option(
    "--fills",
    "fills_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="CSV of the executions: account, action, security, shares, price, date (optional commission, lots).",
)
@click.option("--reason", default=None, help="A note for the approval trail.")
@db_option
@by_option
@json_option("Print the recording (fills, realized gains, the plan's trades filled) as JSON.")
@guarded
@journal_errors
def record(
    proposal_id: int, fills_path: str, reason: str | None, db: str | None, actor: str | None, as_json: bool
) -> None:
    """Record the fills of approved proposal ID: the household after them becomes the next plan's start.

    Fills may be partial and at other prices than proposed. Sold lots shrink (the plan's lots in order,
    unless a lots column names them), bought shares become lots dated on the fill at its cost, trades stay
    30 days for the wash-sale windows and realized gains add to realized_ytd. All or nothing: one bad row
    records nothing (exit 2).
    """
    from rebal_opt.cli.journal_render import print_recording
    from rebal_opt.journal.fills import read_fills
    from rebal_opt.journal.record import record_change
    from rebal_opt.journal.store import RECORDED

    fills = read_fills(fills_path)
    with open_journal(db) as journal:
        event = journal.change(
            proposal_id, RECORDED, _actor(actor), lambda p: record_change(p, fills, fills_path, reason)
        )
    if as_json:
        emit_json({"proposal": proposal_id, **event.as_json()})
    else:
        print_recording(proposal_id, event)


@click.command()
@click.option("--household", metavar="NAME", help="Whose holdings (needed when the journal has several households).")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date the holdings (default: the last recorded fill's date); recent trades older than 30 days drop out.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=OutputFile(),
    help="Write the scenario to FILE instead of stdout.",
)
@db_option
@guarded
@journal_errors
def holdings(household: str | None, as_of: dt.datetime | None, output: str | None, db: str | None) -> None:
    """Write the scenario with the recorded fills applied: the start of the next plan (validated YAML)."""
    from rebal_opt.journal.errors import JournalError
    from rebal_opt.journal.planning import read_scenario
    from rebal_opt.journal.record import holdings_at
    from rebal_opt.models.loading import parse_scenario
    from rebal_opt.models.yaml_io import parse_yaml_text
    from rebal_opt.models.yaml_write import scenario_yaml

    with open_journal(db) as journal:
        if household is None:
            names = journal.households()
            if len(names) != 1:
                raise JournalError(
                    "--household: the journal has "
                    + (f"{len(names)} households ({', '.join(names)}); name one" if names else "no proposals yet")
                )
            household = names[0]
        latest = journal.latest_recording(household)
    if latest is None:
        raise JournalError(f"no fills recorded for household '{household}'; `rebal-opt record ID --fills FILE` first")
    proposal, event = latest
    assert event.holdings_text is not None
    scenario = holdings_at(read_scenario(event.holdings_text, "recorded holdings"), as_of.date() if as_of else None)
    text = scenario_yaml(
        scenario,
        header=f"{scenario.label}: holdings after the fills recorded for proposal {proposal.id}, as of "
        f"{scenario.as_of} (rebal-opt holdings)\nprices are the proposal's: update them before the next plan",
    )
    parse_scenario(parse_yaml_text(text, "holdings"), "holdings")  # what is written loads back as it is
    if output is not None:
        atomic_write(output, text)
        click.echo(f"wrote {output}: {scenario.label} as of {scenario.as_of}", err=True)
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("target", metavar="ID|SCENARIO")
@click.option(
    "--html",
    "html_path",
    required=True,
    type=OutputFile(),
    help="Write the report to FILE (one self-contained HTML page).",
)
@click.option(
    "--command",
    "plan_command",
    type=click.Choice(["solve", "yearend", "unwind", "frontier"]),
    default=None,
    help="For a SCENARIO: the planning command (default: unwind when it has an unwind section, else solve).",
)
@db_option
@time_limit_option("Time limit for the solve (for a SCENARIO).")
@guarded
@journal_errors
def report(target: str, html_path: str, plan_command: str | None, db: str | None, time_limit: float) -> None:
    """Write the client report of a stored proposal (ID) or of a fresh plan of SCENARIO as one HTML file.

    Allocation before and after against the bands, drift, the trades with their lots and reasons, tax
    this year and next, wash-sale blocks and when they lift, the verifier's stamp, and the command's own
    charts (unwind schedule, frontier curve, year-end tax). No script, no network; prints well.
    """
    from rebal_opt.journal.migrations import program_version
    from rebal_opt.journal.planning import proposal_result, proposal_scenario, read_scenario, solve_for_proposal
    from rebal_opt.report.build import build_view
    from rebal_opt.report.html import render_html

    proposal = None
    if Path(target).is_file():
        scenario = read_scenario(_read_text(target), target)
        kind = plan_command or ("unwind" if scenario.unwind is not None else "solve")
        if kind == "frontier":
            from rebal_opt.solver.frontier import frontier

            result: Any = _solve_failures(lambda: frontier(scenario, time_limit=time_limit), False, scenario.label)
        else:
            result = _solve_failures(
                lambda: solve_for_proposal(scenario, kind, time_limit, None), False, scenario.label
            )
        version = program_version()
    elif target.isdigit():
        if plan_command is not None:
            fail(EXIT_BAD_INPUT, "--command: a proposal's report shows its own command; leave --command out")
        with open_journal(db) as journal:
            proposal = journal.get(int(target))
        scenario, result, kind = proposal_scenario(proposal), proposal_result(proposal), proposal.command
        version = proposal.program_version
    else:
        fail(EXIT_BAD_INPUT, f"{target}: no such scenario file, and not a proposal id; give a path or a number")
    html = render_html(build_view(scenario, kind, result, version, proposal))
    atomic_write(html_path, html)
    click.echo(f"wrote {html_path} ({len(html) / 1024:.0f} KiB)", err=True)


JOURNAL_COMMANDS = [propose, proposals_command, show, diff_command, approve, reject, record, holdings, report]
