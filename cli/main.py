"""The `rebal-opt` command: click commands over the library API, and exit codes (design §5).

Exit codes: 0 success; 1 unexpected internal error; 2 bad input; 3 infeasible; 4 solver failure.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from rebal_opt.connectors.assemble import load_scenario  # accounts may read a broker file (source:)
from rebal_opt.models.errors import ScenarioError
from rebal_opt.models.loading import scenario_json_schema
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.check import check as check_scenario

from . import io_commands, render
from .files import PLOT_SUFFIXES, OutputFile, atomic_write
from .progress import progress_on_terminal

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4

F = TypeVar("F", bound=Callable[..., Any])


class CommandFailed(Exception):
    """A user-facing failure with its exit code and the lines to print on stderr."""

    def __init__(self, code: int, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def fail(code: int, *lines: str) -> NoReturn:
    raise CommandFailed(code, list(lines))


def guarded(command: F) -> F:
    """Turn user mistakes into one-line messages and exit codes; never show a traceback for them."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except CommandFailed as exc:
            for line in exc.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(exc.code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # an internal error: say so plainly, keep the traceback for debugging
            click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
            if os.environ.get("REBAL_OPT_DEBUG"):
                traceback.print_exc()
            else:
                click.echo("(set REBAL_OPT_DEBUG=1 for the traceback, and please report it)", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def emit_json(payload: Any) -> None:
    """Exactly one JSON document on stdout."""
    click.echo(render.json_text(payload))


def load(scenario_path: str) -> Scenario:
    """Load and validate SCENARIO; what loading left out (0-share lots and holdings) is said on stderr."""
    scenario = load_scenario(scenario_path)
    for note in scenario.load_notes:
        click.echo(f"note: {scenario_path}: {note}", err=True)
    return scenario


def json_notes(notes: Sequence[str], scenario: Scenario) -> list[str]:
    """A JSON result's notes: loading's first (on a terminal they went to stderr already)."""
    return [*scenario.load_notes, *notes]


class FiniteFloat(click.FloatRange):
    """A float option within a range; nan and inf are refused (a nan passes every comparison)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


_HELP_INSTEAD: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name) for name in ("NoArgsIsHelpError",) if hasattr(click.exceptions, name)
)
"""click >= 8.2 reports a command group called without a command as a usage error that shows the help."""


class Cli(click.Group):
    """The command group; a usage mistake is one line on stderr (exit 2), like every other bad input."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        try:
            outcome = super().main(*args, **{**kwargs, "standalone_mode": False})
        except _HELP_INSTEAD as exc:  # `rebal-opt` alone: the help, as click prints it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(outcome if isinstance(outcome, int) else 0)


scenario_argument = click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=str))


def output_option(flag: str, help_text: str, suffixes: frozenset[str] | None = None) -> Callable[[F], F]:
    """An option naming a file the command writes; the path is checked before any work (OutputFile)."""
    dest = flag.removeprefix("--") + "_path"
    return click.option(flag, dest, type=OutputFile(suffixes), metavar="FILE", help=help_text)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rebal-opt")
def cli() -> None:
    """rebal-opt: tax-aware rebalancing of a household's accounts as one portfolio.

    Write the plan once in a scenario file (targets, bands, accounts, lots, tax situation); rebal-opt
    checks drift against the bands and proposes the trades that minimize tracking error plus the tax
    they cause. See docs/ for the scenario reference.
    """


@cli.command()
@scenario_argument
@guarded
def validate(scenario_path: str) -> None:
    """Validate SCENARIO and report every problem, one line each (exit 2 when invalid)."""
    scenario = load(scenario_path)
    n_lots = sum(len(a.lots) for a in scenario.accounts)
    click.echo(
        f"{scenario_path}: valid ({len(scenario.accounts)} accounts, {len(scenario.securities)} securities, "
        f"{n_lots} lots, tax year {scenario.tax_year})"
    )


@cli.command()
@guarded
def schema() -> None:
    """Print the JSON Schema of the scenario file."""
    emit_json(scenario_json_schema())


@cli.command()
@scenario_argument
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when a rebalance is due (like git diff --exit-code).")
@guarded
def check(scenario_path: str, as_json: bool, exit_code: bool) -> None:
    """Show drift per asset class against its band and whether a rebalance is due."""
    scenario: Scenario = load(scenario_path)
    report = check_scenario(scenario)
    if as_json:
        report = report.model_copy(update={"notes": json_notes(report.notes, scenario)})
        emit_json(report.model_dump(mode="json"))
    else:
        render.print_check(report)
    if exit_code and report.rebalance_due:
        sys.exit(1)


DEFAULT_TIME_LIMIT = 60.0
"""Seconds a solve may run unless --time-limit says otherwise. Without a limit, a hard household (e.g. a
low rules.max_trades on hundreds of lots, whose LP bound is weak) kept HiGHS busy for minutes; with one,
the best plan found is shown with its gap (status time_limit), as design §4 provides."""


def time_limit_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--time-limit",
        type=FiniteFloat(min=0.1),
        default=DEFAULT_TIME_LIMIT,
        show_default=True,
        metavar="SECONDS",
        help=f"{what} Stops after SECONDS with the best plan found and its gap.",
    )


def mip_gap_option(default: float) -> Callable[[F], F]:
    return click.option(
        "--mip-gap",
        type=FiniteFloat(min=0.0, max=1.0),
        default=default,
        show_default=True,
        help="Relative optimality gap at which the solver stops.",
    )


def abs_gap_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--abs-gap",
        type=FiniteFloat(min=0.0, max=1e9),
        default=1.0,
        show_default=True,
        metavar="DOLLARS",
        help=f"{what} A large household may take e.g. 100.",
    )


def plan_options(command: F) -> F:
    """The options every planning command shares."""
    command = io_commands.order_options(command)
    for option in reversed(
        [
            click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object (design §4)."),
            output_option("--csv", "Also write the trades to FILE, one row per lot line (docs/solve.md)."),
            time_limit_option("Time limit for the solve (all phases)."),
            mip_gap_option(1e-4),
        ]
    ):
        command = option(command)
    return command


def run_plan(
    scenario_path: str,
    as_json: bool,
    csv_path: str | None,
    time_limit: float | None,
    mip_gap: float,
    purpose: str,
    orders: dict[str, Any] | None = None,
    abs_gap: float = 1.0,
) -> None:
    """Solve, then render; infeasible and solver failures become their exit codes."""
    # Imported here: cvxpy takes a second to load, and validate/check/schema don't need it.
    from rebal_opt.solver.engine import InfeasiblePlan, SolverFailure
    from rebal_opt.solver.engine import solve as solve_scenario
    from rebal_opt.solver.yearend import solve_yearend

    scenario = load(scenario_path)
    try:
        with progress_on_terminal():
            if purpose == "yearend":
                result = solve_yearend(scenario, time_limit=time_limit, mip_gap=mip_gap)
            else:
                result = solve_scenario(scenario, time_limit=time_limit, mip_gap=mip_gap, abs_gap_dollars=abs_gap)
    except InfeasiblePlan as exc:
        if as_json:
            emit_json(
                {"scenario": scenario.label, "status": "infeasible", "conflicts": exc.conflicts, "message": exc.detail}
            )
        fail(EXIT_INFEASIBLE, f"infeasible: {exc.detail}")
    except SolverFailure as exc:
        fail(EXIT_SOLVER, f"solver failure: {exc}")
    if csv_path is not None:
        atomic_write(csv_path, render.trades_csv(result))
    io_commands.write_orders(scenario, result.trades, **(orders or {}))
    if as_json:
        result = result.model_copy(update={"notes": json_notes(result.notes, scenario)})
        emit_json(result.model_dump(mode="json", exclude_none=True))
    else:
        render.print_result(result)


@cli.command()
@scenario_argument
@plan_options
@abs_gap_option("Absolute optimality gap (dollars of objective) at which the solver also stops.")
@guarded
def solve(
    scenario_path: str,
    as_json: bool,
    csv_path: str | None,
    time_limit: float | None,
    mip_gap: float,
    abs_gap: float,
    **orders: Any,
) -> None:
    """Propose the trades that rebalance SCENARIO: least tracking error plus tax, every rule kept.

    Exit codes: 0 a plan (or nothing to do), 2 bad input, 3 infeasible (the conflicting rules are
    named), 4 the solver failed or hit the time limit without a plan.
    """
    run_plan(scenario_path, as_json, csv_path, time_limit, mip_gap, "rebalance", orders, abs_gap)


@cli.command()
@scenario_argument
@plan_options
@guarded
def yearend(
    scenario_path: str, as_json: bool, csv_path: str | None, time_limit: float | None, mip_gap: float, **orders: Any
) -> None:
    """Plan the trades before 31 December that lower this year's and next year's tax together.

    Harvests losses into substitutes, harvests gains while they are taxed at 0%, respects wash-sale
    windows (planned December purchases, windows into January) and the household's bands; reads the
    scenario's optional `yearend:` section. Each trade is labelled with its reason. Exit codes as solve.
    """
    run_plan(scenario_path, as_json, csv_path, time_limit, mip_gap, "yearend", orders)


@cli.command()
@scenario_argument
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field for a variant named 'command line' (repeatable), e.g. --set bands.absolute=0.03.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {variants: [{name, overrides, result}]} as JSON.")
@time_limit_option("Time limit for each variant's solve.")
@guarded
def whatif(scenario_path: str, assignments: tuple[str, ...], as_json: bool, time_limit: float | None) -> None:
    """Solve variants of SCENARIO side by side: the base, each variant of its `whatif:` section, and
    the --set overrides. Shows tax due to trades, tracking error after, trades, turnover and classes
    out of band. A path that does not exist is an error naming it (exit 2)."""
    from rebal_opt.models.overrides import parse_assignment
    from rebal_opt.models.yaml_io import read_yaml_file
    from rebal_opt.solver.whatif import BASE, run_variants

    scenario = load(scenario_path)
    data = read_yaml_file(scenario_path)
    variants: list[tuple[str, dict[str, object]]] = [(BASE, {})]
    variants += [(name, dict(overrides)) for name, overrides in scenario.whatif.items()]
    if assignments:
        variants.append(("command line", dict(parse_assignment(a) for a in assignments)))
    outcomes = run_variants(data, variants, time_limit=time_limit)
    if as_json:
        emit_json({"variants": [o.as_json() for o in outcomes], "notes": list(scenario.load_notes)})
    else:
        render.print_variants(outcomes)


@cli.command()
@scenario_argument
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as one JSON object (docs/unwind.md).")
@output_option("--csv", "Also write the schedule to FILE: one row per period and lot sold or gifted.")
@output_option("--plot", "Also draw the position's weight and the tax per year to FILE.png.", PLOT_SUFFIXES)
@time_limit_option("Time limit for the whole schedule's solve.")
@io_commands.order_options
@mip_gap_option(1e-3)
@guarded
def unwind(
    scenario_path: str,
    as_json: bool,
    csv_path: str | None,
    plot_path: str | None,
    time_limit: float | None,
    mip_gap: float,
    **orders: Any,
) -> None:
    """Plan a staged sale of a concentrated position over several tax years (the `unwind:` section).

    Prints per period the shares sold (and from which lots) and gifted, the realized gain by term, the
    year's tax with and without the plan and the position's weight afterwards; totals and the present
    value of taxes beside two baselines: sell now, and equal installments. Exit codes as solve.
    """
    from rebal_opt.solver.unwind import UnwindError, UnwindSolverFailure
    from rebal_opt.solver.unwind_report import unwind as plan_unwind

    scenario = load(scenario_path)
    if scenario.unwind is None:
        fail(EXIT_BAD_INPUT, f"{scenario_path}: unwind: the scenario has no unwind section; add one (docs/unwind.md)")
    try:
        with progress_on_terminal():
            result = plan_unwind(scenario, time_limit=time_limit, mip_gap=mip_gap)
    except UnwindError as exc:
        if as_json:
            emit_json({"scenario": scenario.label, "status": "infeasible", "message": str(exc)})
        fail(EXIT_INFEASIBLE, f"infeasible: {exc}")
    except UnwindSolverFailure as exc:
        fail(EXIT_SOLVER, f"solver failure: {exc}")
    if plot_path is not None:
        render.plot_unwind(result, plot_path)
    if csv_path is not None:
        atomic_write(csv_path, render.unwind_csv(result))
    trades = [t for p in result.periods for t in p.trades]
    periods = [(p.period, p.start) for p in result.periods for _ in p.trades]
    io_commands.write_orders(scenario, trades, periods=periods, **orders)
    if as_json:
        result = result.model_copy(update={"notes": json_notes(result.notes, scenario)})
        emit_json(result.model_dump(mode="json", exclude_none=True))
    else:
        render.print_unwind(result)


@cli.command()
@scenario_argument
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"points": [{tax_weight, tax_due_to_trades, tracking_error}]}.'
)
@output_option("--plot", "Also draw the curve (tax due against tracking error) to FILE.png.", PLOT_SUFFIXES)
@click.option(
    "--weights",
    type=str,
    default=None,
    metavar="W1,W2,...",
    help="Tax weights to sweep (default: 0 and 19 from 0.05 to 20, geometric).",
)
@time_limit_option("Time limit for each weight's solve.")
@abs_gap_option(
    "Absolute gap (dollars of objective) within which a point is settled, as `solve --abs-gap`: each weight's "
    "solve stops there, and a weight whose best known plan is that close to its proven bound needs no solve."
)
@guarded
def frontier(
    scenario_path: str,
    as_json: bool,
    plot_path: str | None,
    weights: str | None,
    time_limit: float | None,
    abs_gap: float,
) -> None:
    """The trade-off between tax paid and tracking error left: the rebalance solved again over a sweep of
    the weight on tax (objective.tax_weight). Each point is a verified plan; less tax never comes with
    less tracking error."""
    from rebal_opt.solver.frontier import frontier as sweep

    scenario = load(scenario_path)
    grid = None
    if weights is not None:
        try:
            grid = [float(w) for w in weights.split(",") if w.strip()]
        except ValueError:
            fail(EXIT_BAD_INPUT, f"--weights: '{weights}' is not a comma-separated list of numbers, e.g. 0,0.5,1,2")
        if not grid or not all(math.isfinite(w) and w >= 0 for w in grid):
            fail(EXIT_BAD_INPUT, "--weights: give one or more weights, each a finite number 0 or more")
    with progress_on_terminal():
        curve = sweep(scenario, weights=grid, time_limit=time_limit, abs_gap_dollars=abs_gap)
    if plot_path is not None:
        render.plot_frontier(curve, plot_path)
    if as_json:
        emit_json(
            {
                "scenario": curve.scenario,
                "points": [p.as_json() for p in curve.points],
                "solves": curve.solves,
                "seconds": round(curve.seconds, 3),
                "notes": json_notes(curve.notes, scenario),
            }
        )
    else:
        render.print_frontier(curve)


from .journal_commands import JOURNAL_COMMANDS  # noqa: E402  (it uses the helpers above)

for _command in JOURNAL_COMMANDS:
    cli.add_command(_command)
io_commands.register(cli, guarded)


def main() -> None:
    cli(prog_name="rebal-opt")


from .simulate_commands import batch, simulate  # noqa: E402  (they build on the helpers above)

cli.add_command(simulate)
cli.add_command(batch)
