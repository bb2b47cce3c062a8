"""What every generated household must get from the CLI (issue 10, Deliver 1 and 2).

`check_file(path)` runs `rebal-opt solve` on a scenario file in-process (click's CliRunner, `--json`, a
short `--time-limit`), and `yearend` / `unwind` / `whatif` when the file has that section, and returns every
`Finding` — a broken promise — with the exit codes it saw:

* the exit code is 0, 3 or 4; 1 (internal error) is a finding, and so is 2 (bad input): the harness
  only writes households it means to be valid, so either the generator or the validator is wrong;
* exit 0: stdout is exactly one JSON object that reads back as `Result` (`UnwindResult` for unwind; for
  whatif, each variant's result is checked against the scenario with that variant's overrides),
  says `verified`, and passes the independent verifier `rebal_opt.solver.verify.verify` from the JSON
  alone; with `rules.whole_shares`, every lot line of every sale is a whole number of shares unless it
  sells the lot whole (a lot that is itself fractional) — checked here, not by the product;
* exit 3: the conflict named is really infeasible: the household with every rule *not* named relaxed
  (how each rule is relaxed mirrors solver/engine.py `_relaxations`, plus `rules.max_tracking_error`)
  still gets exit 3 from the same command, and when it names only accounts' floors and withdrawals, an
  oracle written here (sell everything in those accounts) finds no plan either; with `minimal` (the long
  run), relaxing any one named rule as
  well gets a plan (exit 0), as the engine claims; an exit 3 for a time limit without a plan is a finding
  (that is exit 4);
* exit 4: nothing on stdout.
"""

from __future__ import annotations

import copy
import json
import re
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pydantic import ValidationError

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.overrides import apply_overrides
from rebal_opt.models.result import Result, Trade, UnwindResult
from rebal_opt.models.scenario import Scenario
from rebal_opt.models.yaml_io import read_yaml_file
from rebal_opt.solver.household import starting_shares
from rebal_opt.solver.verify import verify

from .strategies import Data, scenario_yaml

SHARE_TOL = 1e-6
TIME_LIMIT = 5.0
"""Seconds each command may run (--time-limit): the households are small; a plan stopped by the limit
must keep every promise too, and no plan at all is exit 4 (allowed)."""
ALLOWED_EXIT_CODES = (0, 3, 4)


@dataclass(frozen=True)
class Finding:
    """One broken promise. `key` groups findings of the same cause across households."""

    command: str
    kind: str
    message: str
    key: str

    def __str__(self) -> str:
        return f"{self.command}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Run:
    command: str
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Outcome:
    runs: list[Run] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def exit_codes(self) -> dict[str, int]:
        return {r.command: r.exit_code for r in self.runs}


def _normalize(text: str) -> str:
    """A message with its numbers and quoted names blanked, to group findings of one cause."""
    text = re.sub(r"'[^']*'", "'_'", text)
    text = re.sub(r"\[\d+\]", "[#]", text)
    return re.sub(r"-?\$?\d[\d,]*(\.\d+)?(e[-+]?\d+)?", "#", text)


# ----------------------------------------------------------------------------------------------------
# Running the CLI


def run_cli(command: str, path: Path, time_limit: float = TIME_LIMIT) -> Run:
    """`rebal-opt COMMAND PATH --json --time-limit T` in-process, with tracebacks of internal errors kept."""
    runner = CliRunner()
    start = time.perf_counter()
    result = runner.invoke(
        cli,
        [command, str(path), "--json", "--time-limit", str(time_limit)],
        prog_name="rebal-opt",
        env={"REBAL_OPT_DEBUG": "1"},
    )
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # Escaped the CLI's own guard: keep the traceback.
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Run(command, result.exit_code, result.stdout, stderr, time.perf_counter() - start)


def commands_for(data: Data) -> list[str]:
    """solve always; yearend and unwind when the section is there (`yearend: {}` means its defaults);
    whatif when it names a variant."""
    sections = [c for c in ("yearend", "unwind") if data.get(c) is not None]
    return ["solve", *sections, *(["whatif"] if data.get("whatif") else [])]


# ----------------------------------------------------------------------------------------------------
# Exit codes 1 and 2


def _crash_site(stderr: str) -> str:
    """Where an internal error was raised: the innermost frame in rebal-opt's own code."""
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', stderr)
    ours = [(f, fn) for f, fn in frames if "/site-packages/" not in f and "/tests/" not in f]
    if not ours:
        return "?"
    file, function = ours[-1]
    # A comprehension's frame is named '<genexpr>': name the function around it instead.
    named = [fn for f, fn in ours if f == file and not fn.startswith("<")]
    if function.startswith("<") and named:
        function = named[-1]
    return f"{Path(file).parent.name}/{Path(file).name}:{function}"


def _internal_error(run: Run) -> Finding:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    head = next((line for line in lines if line.startswith("internal error")), lines[-1] if lines else "")
    kinds = sorted(set(re.findall(r"^\s+(\w+): ", run.stderr, flags=re.M)))
    exception = head.split(":")[1].strip() if head.startswith("internal error") else head
    detail = f" [{', '.join(kinds)}]" if "PlanVerificationError" in head and kinds else ""
    violations = "\n".join(dict.fromkeys(line for line in lines if re.match(r"^\s+\w+: ", line)))
    message = head + (f"\n{violations}" if violations and violations not in head else "")
    return Finding(run.command, "internal error (exit 1)", message, f"{exception} at {_crash_site(run.stderr)}{detail}")


def _rejected(run: Run) -> Finding:
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    # "error: FILE: PATH: MESSAGE" -> group by PATH (indices blanked) and MESSAGE's shape.
    keys = sorted({_normalize(line.split(": ", 2)[-1]) for line in lines}) or [_normalize(run.stderr[:200])]
    return Finding(run.command, "valid household rejected (exit 2)", "\n".join(lines) or run.stderr, "; ".join(keys))


# ----------------------------------------------------------------------------------------------------
# Exit 0: the plan


def _one_json_object(run: Run) -> tuple[dict[str, Any] | None, Finding | None]:
    try:
        payload = json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        return None, Finding(run.command, "stdout is not one JSON object", f"{exc}: {run.stdout[:300]!r}", "json")
    if not isinstance(payload, dict):
        return None, Finding(run.command, "stdout is not one JSON object", run.stdout[:300], "json type")
    return payload, None


def _whole(shares: float) -> bool:
    return abs(shares - round(shares)) <= SHARE_TOL


def fractional_lot_lines(scenario: Scenario, sales: list[list[Trade]], command: str) -> list[Finding]:
    """rules.whole_shares: each lot line of each sale is whole, or sells what is left of the lot.

    `sales` is the plan's trades period by period (one period for solve and yearend): a fractional lot
    may be sold whole, and in a multi-period plan its fractional remainder may be sold in a later period.
    A line naming no lot of the scenario (a tax-advantaged position) is measured against the position.
    """
    if not scenario.rules.whole_shares:
        return []
    lots = {lot.id: lot.shares for account in scenario.accounts for lot in account.lots}
    positions = starting_shares(scenario)
    sold: dict[str, float] = defaultdict(float)
    out = []
    for period, trades in enumerate(sales, start=1):
        for trade in trades:
            if trade.action != "sell":
                continue
            for line in trade.lots or []:
                full = lots.get(line.lot, positions.get((trade.account, trade.security), 0.0))
                left = full - sold[line.lot]
                sold[line.lot] += line.shares
                if _whole(line.shares) or abs(line.shares - left) <= SHARE_TOL:
                    continue
                where = f" in period {period}" if len(sales) > 1 else ""
                out.append(
                    Finding(
                        command,
                        "fractional lot line under whole_shares",
                        f"sell {trade.shares:.10g} {trade.security} in {trade.account}{where}: lot {line.lot} "
                        f"{line.shares:.10g} shares (the lot has {left:.10g} left)",
                        "whole_shares lot line",
                    )
                )
    return out


def check_plan(run: Run, scenario: Scenario) -> list[Finding]:
    """Exit 0 of solve or yearend: one JSON object, a verified Result, the verifier finds nothing."""
    payload, bad = _one_json_object(run)
    if payload is None:
        return [bad] if bad else []
    try:
        result = Result.model_validate(payload)
    except ValidationError as exc:
        return [Finding(run.command, "JSON is not a Result", str(exc)[:500], "result schema")]
    out = []
    if result.status not in ("optimal", "time_limit", "no_trade_needed"):
        out.append(Finding(run.command, "exit 0 without a plan", f"status {result.status}", f"status {result.status}"))
    if not result.verified:
        out.append(Finding(run.command, "result not marked verified", "verified: false", "verified flag"))
    verification = verify(scenario, result, allow_gain_round_trips=run.command == "yearend")
    for violation in verification.violations:
        out.append(Finding(run.command, f"verifier: {violation.kind}", violation.message, f"verifier {violation.kind}"))
    out += fractional_lot_lines(scenario, [result.trades], run.command)
    return out


def check_unwind(run: Run, scenario: Scenario) -> list[Finding]:
    """Exit 0 of unwind: one JSON object, an UnwindResult marked verified, whole lot lines."""
    payload, bad = _one_json_object(run)
    if payload is None:
        return [bad] if bad else []
    try:
        result = UnwindResult.model_validate(payload)
    except ValidationError as exc:
        return [Finding(run.command, "JSON is not an UnwindResult", str(exc)[:500], "unwind schema")]
    out = []
    if not result.verified:
        out.append(Finding(run.command, "result not marked verified", "verified: false", "verified flag"))
    out += fractional_lot_lines(scenario, [p.trades for p in result.periods], run.command)
    if scenario.rules.whole_shares:
        for p in result.periods:
            for gift in p.gifted:
                if not _whole(gift.shares):
                    out.append(
                        Finding(
                            run.command,
                            "fractional gift under whole_shares",
                            f"period {p.period}: gift of {gift.shares:.10g} shares of lot {gift.lot}",
                            "whole_shares gift line",
                        )
                    )
    return out


def check_whatif(run: Run, data: Data) -> list[Finding]:
    """Exit 0 of whatif: one JSON object; each variant with a plan passes the verifier against the
    scenario with that variant's overrides applied (models/overrides.py, as the command applies them)."""
    payload, bad = _one_json_object(run)
    if payload is None:
        return [bad] if bad else []
    out = []
    for variant in payload.get("variants", []):
        name, overrides, body = variant.get("name"), variant.get("overrides", {}), variant.get("result", {})
        if body.get("status") in ("infeasible", "time_limit", "failed") and "trades" not in body:
            continue  # no plan (docs/whatif.md): nothing to verify
        try:
            result = Result.model_validate(body)
        except ValidationError as exc:
            out.append(Finding(run.command, "JSON is not a Result", f"{name}: {str(exc)[:400]}", "result schema"))
            continue
        scenario = apply_overrides(data, overrides, f"whatif {name}")
        for violation in verify(scenario, result).violations:
            out.append(
                Finding(
                    run.command,
                    f"verifier: {violation.kind}",
                    f"{name}: {violation.message}",
                    f"verifier {violation.kind}",
                )
            )
        out += fractional_lot_lines(scenario, [result.trades], run.command)
    return out


# ----------------------------------------------------------------------------------------------------
# Exit 3: the conflict must be real


def relaxations(data: Data) -> list[tuple[str, Callable[[Data], None]]]:
    """(name, relax) for each rule the household enforces, named as solver/engine.py names a conflict
    (the part before ' ('), and relaxed the same way; plus rules.max_tracking_error, a rule too."""
    rules = data.get("rules", {})
    out: list[tuple[str, Callable[[Data], None]]] = []

    def set_rule(key: str, value: Any) -> Callable[[Data], None]:
        return lambda d: d["rules"].__setitem__(key, value)

    if rules.get("do_not_sell"):
        out.append(("rules.do_not_sell", set_rule("do_not_sell", [])))
    if rules.get("do_not_buy"):
        out.append(("rules.do_not_buy", set_rule("do_not_buy", [])))
    if rules.get("no_short_term_gains"):
        out.append(("rules.no_short_term_gains", set_rule("no_short_term_gains", False)))
    if rules.get("max_realized_gain") is not None:
        out.append(("rules.max_realized_gain", set_rule("max_realized_gain", None)))
    if rules.get("max_trades") is not None:
        out.append(("rules.max_trades", set_rule("max_trades", None)))
    if rules.get("min_trade", 0) > 0:
        out.append(("rules.min_trade", set_rule("min_trade", 0.0)))
    if rules.get("whole_shares"):
        out.append(("rules.whole_shares", set_rule("whole_shares", False)))
    if rules.get("wash_sales", "avoid") == "avoid":
        out.append(("rules.wash_sales", set_rule("wash_sales", "ignore")))
    if rules.get("max_tracking_error") is not None:
        out.append(("rules.max_tracking_error", set_rule("max_tracking_error", None)))
    for i, account in enumerate(data["accounts"]):

        def set_account(key: str, value: Any, i: int = i) -> Callable[[Data], None]:
            return lambda d: d["accounts"][i].__setitem__(key, value)

        if account.get("contribution", 0) < 0:
            out.append((f"accounts[{i}].contribution", set_account("contribution", 0.0)))
        if account.get("min_cash", 0) > 0:
            out.append((f"accounts[{i}].min_cash", set_account("min_cash", 0.0)))
    if (data.get("yearend") or {}).get("target_net_realized") is not None:
        out.append(("yearend.target_net_realized", lambda d: d["yearend"].__setitem__("target_net_realized", None)))
    if (data.get("yearend") or {}).get("harvest_losses") is False:
        out.append(("yearend.harvest_losses", lambda d: d["yearend"].__setitem__("harvest_losses", True)))
    for i, account in enumerate(data["accounts"]):
        if account.get("buyable") is not None:
            out.append((f"accounts[{i}].buyable", lambda d, i=i: d["accounts"][i].pop("buyable")))
    return out


def relax_all_but(data: Data, named: list[str]) -> tuple[Data, list[str]]:
    """The household with every rule not named relaxed, and the names of the rules relaxed."""
    keep = {name.split(" (")[0] for name in named}
    relaxed = copy.deepcopy(data)
    relaxed.setdefault("rules", {})
    done = []
    for name, relax in relaxations(data):
        if name not in keep:
            relax(relaxed)
            done.append(name)
    return relaxed, done


def _rerun(run: Run, data: Data, workdir: Path, time_limit: float, name: str) -> Run:
    path = workdir / f"{name}-{run.command}.yaml"
    path.write_text(scenario_yaml(data), encoding="utf-8")
    return run_cli(run.command, path, time_limit)


def _broken(again: Run, where: str) -> list[Finding]:
    """Exit 1 or 2 on a relaxed household is a finding of its own."""
    if again.exit_code not in (1, 2):
        return []
    finding = _internal_error(again) if again.exit_code == 1 else _rejected(again)
    return [Finding(finding.command, f"{finding.kind} [{where}]", finding.message, finding.key)]


ACCOUNT_RULE = re.compile(r"accounts\[(\d+)\]\.(min_cash|contribution)$")


def sell_everything_funds(data: Data, named: list[str]) -> bool:
    """An oracle for conflicts named only among accounts' min_cash and withdrawals (every other rule
    relaxed): a plan exists when each account that must raise cash can, by selling every position it
    holds at the scenario's price less spread and commission (bands are soft, nothing else binds).
    Written from the scenario alone; False when the conflict names anything else."""
    kept = [ACCOUNT_RULE.match(name.split(" (")[0]) for name in named]
    if not kept or not all(kept):
        return False
    rules = {(int(m.group(1)), m.group(2)) for m in kept if m}
    scenario = parse_scenario(copy.deepcopy(data))
    spread = scenario.rules.costs.spread_bps / 10_000
    commission = scenario.rules.costs.commission
    held = starting_shares(scenario)
    for i, account in enumerate(scenario.accounts):
        floor = account.min_cash if (i, "min_cash") in rules else 0.0
        withdrawal = max(-account.contribution, 0.0) if (i, "contribution") in rules else 0.0
        if floor + withdrawal == 0:
            continue
        cash = account.cash + max(account.contribution, 0.0)
        if account.tradable:
            for (owner, ticker), shares in held.items():
                if owner == account.id:
                    cash += max(0.0, shares * scenario.securities[ticker].price * (1 - spread) - commission)
        if cash < (floor + withdrawal) * (1 + 1e-6) + 1.0:  # a dollar for cents and rounding
            return False
    return True


def check_infeasible(run: Run, data: Data, workdir: Path, time_limit: float, minimal: bool = False) -> list[Finding]:
    """Exit 3 of solve or yearend: one JSON object naming the conflict; with every other rule relaxed
    the same command still finds no plan. `minimal`: also relax each named rule in turn, which must make
    a plan possible (the engine says so: "relaxing any one of them makes a plan possible")."""
    payload, bad = _one_json_object(run)
    if payload is None:
        return [bad] if bad else []
    if re.search(r"time limit|solver failed|\(failed\)", run.stderr):
        # Design §5: 4 is "solver failure or time limit with no plan"; 3 promises a conflict of rules.
        line = run.stderr.strip().splitlines()[-1]
        return [Finding(run.command, "no plan in time reported as infeasible (exit 3, not 4)", line, "exit 3 for 4")]
    if run.command == "unwind":
        return []
    named = payload.get("conflicts")
    if payload.get("status") != "infeasible" or not isinstance(named, list):
        return [Finding(run.command, "infeasible JSON", json.dumps(payload)[:300], "infeasible JSON shape")]
    relaxed, done = relax_all_but(data, named)
    if sell_everything_funds(data, named):
        return [
            Finding(
                run.command,
                "named conflict has a hand-built plan",
                f"conflicts named: {'; '.join(named)}; selling every position of those accounts funds them",
                "conflict has a plan: " + ", ".join(sorted(_normalize(n.split(" (")[0]) for n in named)),
            )
        ]
    again = _rerun(run, relaxed, workdir, time_limit, "relaxed")
    if again.exit_code == 0:
        what = "; ".join(named) if named else "(none: 'no plan exists even with every rule relaxed')"
        return [
            Finding(
                run.command,
                "named conflict is not infeasible",
                f"conflicts named: {what}; with {', '.join(done) or 'nothing'} relaxed the plan exists",
                "conflict not infeasible: " + ", ".join(sorted(_normalize(n.split(" (")[0]) for n in named)),
            )
        ]
    out = _broken(again, "relaxed household")
    if not minimal or again.exit_code != 3:
        return out
    relaxable = {name for name, _ in relaxations(data)}
    for rule in named:
        if rule.split(" (")[0] not in relaxable:
            continue  # a rule the harness cannot relax: nothing to try
        fewer, _ = relax_all_but(data, [n for n in named if n != rule])
        again = _rerun(run, fewer, workdir, time_limit, "fewer")
        out += _broken(again, "relaxed household")
        if again.exit_code == 3:
            out.append(
                Finding(
                    run.command,
                    "named conflict is not minimal",
                    f"conflicts named: {'; '.join(named)}; relaxing {rule} too still finds no plan",
                    "conflict not minimal: " + _normalize(rule.split(" (")[0]),
                )
            )
    return out


# ----------------------------------------------------------------------------------------------------
# A household


def check_run(
    run: Run, path: Path, data: Data, workdir: Path, time_limit: float, minimal: bool = False
) -> list[Finding]:
    if run.exit_code == 1:
        return [_internal_error(run)]
    if run.exit_code == 2:
        return [_rejected(run)]
    if run.exit_code not in ALLOWED_EXIT_CODES:
        return [Finding(run.command, f"exit code {run.exit_code}", run.stderr[:300], f"exit {run.exit_code}")]
    if run.exit_code == 4:
        if run.stdout.strip():
            return [Finding(run.command, "output on exit 4", run.stdout[:300], "exit 4 stdout")]
        return []
    if run.exit_code == 3:
        return check_infeasible(run, data, workdir, time_limit, minimal)
    if run.command == "whatif":
        return check_whatif(run, data)
    scenario = load_scenario(path)
    return check_unwind(run, scenario) if run.command == "unwind" else check_plan(run, scenario)


def check_file(
    path: Path,
    time_limit: float = TIME_LIMIT,
    workdir: Path | None = None,
    commands: list[str] | None = None,
    minimal: bool = False,
) -> Outcome:
    """Every command the scenario file calls for (or those of `commands` it calls for), and every finding.
    `minimal`: also check that a named conflict is minimal (check_infeasible; the long run does)."""
    data = read_yaml_file(path)
    workdir = workdir or path.parent
    outcome = Outcome()
    for command in commands_for(data):
        if commands is not None and command not in commands:
            continue
        run = run_cli(command, path, time_limit)
        outcome.runs.append(run)
        outcome.findings += check_run(run, path, data, workdir, time_limit, minimal)
    return outcome


def check_household(
    data: Data,
    workdir: Path,
    time_limit: float = TIME_LIMIT,
    commands: list[str] | None = None,
    minimal: bool = False,
) -> Outcome:
    """Write the household to WORKDIR/household.yaml and check it."""
    path = workdir / "household.yaml"
    path.write_text(scenario_yaml(data), encoding="utf-8")
    return check_file(path, time_limit, workdir, commands, minimal)


def report(outcome: Outcome, data: Data | None = None) -> str:
    """The findings, the exit codes and the household's YAML: enough to reproduce a failure."""
    lines = [str(f) for f in outcome.findings]
    lines.append(f"exit codes: {outcome.exit_codes()}")
    if data is not None:
        lines += ["household:", scenario_yaml(data)]
    return "\n".join(lines)
