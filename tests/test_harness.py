"""The household harness (issue 10): generated households over the whole scenario contract, through the CLI.

Each household (tests/harness/strategies.py) is written as a scenario file and run with `rebal-opt solve
--json` in-process, and `yearend` / `unwind` / `whatif` when it has that section; tests/harness/checks.py says what
must hold: exit 0, 3 or 4 (never 1; never 2, since every household is meant to be valid); with 0 one JSON
object that reads back as the result and passes the independent verifier, lot lines in whole shares under
`whole_shares`; with 3 a conflict that stays infeasible when every other rule is relaxed.

Profiles (hypothesis settings), chosen by the environment variable REBAL_OPT_HARNESS:

* unset or `ci`: a few hundred households, derandomized (the same ones every run), no shrinking (a
  failure prints its household's YAML instead: put a minimal copy under tests/data/harness/);
* `long`: the long run (`test_long_run`, 10,000 households by default, REBAL_OPT_HARNESS_EXAMPLES to
  change it), every finding logged to REBAL_OPT_HARNESS_LOG (default: a temporary directory) and listed
  at the end; tests/harness/long_run.py runs the same from the command line.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from harness.checks import TIME_LIMIT, Run, check_file, check_household, check_run, report, run_cli
from harness.long_run import run as long_run
from harness.long_run import summary
from harness.strategies import Data, direct_indexing_households, households, scenario_yaml
from hypothesis import HealthCheck, Phase, assume, given, settings

from rebal_opt.cli.main import cli
from rebal_opt.models.yaml_io import read_yaml_file

PROFILE = os.environ.get("REBAL_OPT_HARNESS", "ci")

settings.register_profile(
    "harness-ci",
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
CI = settings.get_profile("harness-ci")


def assert_no_findings(data: Data, commands: list[str]) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        outcome = check_household(data, Path(workdir), commands=commands)
    if outcome.findings:
        pytest.fail(report(outcome, data), pytrace=False)


@settings(CI, max_examples=100)
@given(households())
def test_generated_households_are_valid(data: Data) -> None:
    """Every household the generator writes passes `rebal-opt validate` (cheap: no solve), so an exit 2
    in the tests below is never the generator's doing unless this fails too."""
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "household.yaml"
        path.write_text(scenario_yaml(data), encoding="utf-8")
        result = CliRunner().invoke(cli, ["validate", str(path)])
    if result.exit_code != 0:
        pytest.fail(f"{result.stderr}\nhousehold:\n{scenario_yaml(data)}", pytrace=False)


@settings(CI, max_examples=80)
@given(households(yearend=False, unwind=False))
def test_solve_on_generated_households(data: Data) -> None:
    assert_no_findings(data, ["solve"])


@settings(CI, max_examples=30)
@given(households(yearend=True, unwind=False))
def test_yearend_on_generated_households(data: Data) -> None:
    assert_no_findings(data, ["yearend"])


@settings(CI, max_examples=25)
@given(households(yearend=False, unwind=True))
def test_unwind_on_generated_households(data: Data) -> None:
    assume("unwind" in data)  # drawn only when a tradable account holds something
    assert_no_findings(data, ["unwind"])


@settings(CI, max_examples=10)
@given(households(yearend=False, unwind=False, whatif=True))
def test_whatif_on_generated_households(data: Data) -> None:
    assert_no_findings(data, ["whatif"])


@settings(CI, max_examples=6)
@given(direct_indexing_households())
def test_solve_on_direct_indexing_households(data: Data) -> None:
    """The security-level path (extended cone, conic search, wash-sale perspective) on households over the
    contract, not only the peer benchmark's single taxable account."""
    assert_no_findings(data, ["solve", "yearend", "whatif"])


@pytest.mark.skipif(PROFILE != "long", reason="the long run: REBAL_OPT_HARNESS=long")
def test_long_run() -> None:
    wanted = int(os.environ.get("REBAL_OPT_HARNESS_EXAMPLES", "10000"))
    log_dir = Path(os.environ.get("REBAL_OPT_HARNESS_LOG") or tempfile.mkdtemp(prefix="harness-long-"))
    log = long_run(wanted, int(os.environ.get("REBAL_OPT_HARNESS_SEED", "1")), log_dir)
    text = summary([log.parent])
    print(text)
    assert "distinct findings: 0" in text, f"{text}\n(households that failed: {log_dir / 'failures'})"


# ----------------------------------------------------------------------------------------------------
# The harness's own checks notice broken plans (else a clean run would prove nothing)

SELFTEST = Path(__file__).parent / "data" / "harness" / "selftest" / "whole-shares.yaml"


def findings_of(run: Run, tmp_path: Path) -> set[str]:
    return {f.kind for f in check_run(run, SELFTEST, read_yaml_file(SELFTEST), tmp_path, TIME_LIMIT)}


@pytest.fixture(scope="module")
def sound_plan() -> Run:
    run = run_cli("solve", SELFTEST)
    assert run.exit_code == 0, run.stderr
    return run


def test_a_sound_plan_has_no_findings(tmp_path: Path) -> None:
    assert not check_file(SELFTEST, workdir=tmp_path).findings


def test_a_fractional_lot_line_is_found(sound_plan: Run, tmp_path: Path) -> None:
    payload = json.loads(sound_plan.stdout)
    sale = next(t for t in payload["trades"] if t["action"] == "sell")
    sale["lots"][0]["shares"] -= 0.5
    sale["lots"].append({**sale["lots"][0], "lot": "B2", "shares": 0.5})
    found = findings_of(replace(sound_plan, stdout=json.dumps(payload)), tmp_path)
    assert "fractional lot line under whole_shares" in found


def test_a_plan_the_verifier_rejects_is_found(sound_plan: Run, tmp_path: Path) -> None:
    payload = json.loads(sound_plan.stdout)
    buy = next(t for t in payload["trades"] if t["action"] == "buy")
    buy["shares"] += 1000
    assert any(
        kind.startswith("verifier: ") for kind in findings_of(replace(sound_plan, stdout=json.dumps(payload)), tmp_path)
    )


def test_two_json_objects_on_stdout_are_found(sound_plan: Run, tmp_path: Path) -> None:
    doubled = replace(sound_plan, stdout=sound_plan.stdout + sound_plan.stdout)
    assert findings_of(doubled, tmp_path) == {"stdout is not one JSON object"}


def test_a_conflict_that_is_not_real_is_found(tmp_path: Path) -> None:
    conflict = {"scenario": "x", "status": "infeasible", "conflicts": ["rules.min_trade (100.00)"], "message": "m"}
    fake = Run("solve", 3, json.dumps(conflict), "error: infeasible: rules.min_trade cannot be met", 0.0)
    assert findings_of(fake, tmp_path) == {"named conflict is not infeasible"}


def test_exit_codes_1_and_2_are_findings(tmp_path: Path) -> None:
    crash = Run("solve", 1, "", "internal error: KeyError: 'VTI'", 0.0)
    rejected = Run("solve", 2, "", "error: x.yaml: rules.min_trade: must be at least 0", 0.0)
    assert findings_of(crash, tmp_path) == {"internal error (exit 1)"}
    assert findings_of(rejected, tmp_path) == {"valid household rejected (exit 2)"}


def test_a_conflict_that_is_not_minimal_is_found(tmp_path: Path) -> None:
    """withdrawal-conflict.yaml is infeasible for do_not_sell and the withdrawal; naming wash_sales too
    is not minimal: relaxing it still leaves no plan."""
    path = Path(__file__).parent / "data" / "solve" / "withdrawal-conflict.yaml"
    run = run_cli("solve", path)
    assert run.exit_code == 3
    payload = json.loads(run.stdout)
    payload["conflicts"].append("rules.wash_sales (avoid)")
    padded = replace(run, stdout=json.dumps(payload))
    found = check_run(padded, path, read_yaml_file(path), tmp_path, TIME_LIMIT, minimal=True)
    assert {f.kind for f in found} == {"named conflict is not minimal"}
    assert not check_run(run, path, read_yaml_file(path), tmp_path, TIME_LIMIT, minimal=True)


def test_a_floor_conflict_that_selling_can_fund_is_found(tmp_path: Path) -> None:
    """A conflict naming only an account's floor or withdrawal is checked by selling everything in it."""
    conflict = {"scenario": "x", "status": "infeasible", "conflicts": ["accounts[0].min_cash (1.00 in x)"]}
    fake = Run("solve", 3, json.dumps(conflict), "error: infeasible: accounts[0].min_cash cannot be met", 0.0)
    assert findings_of(fake, tmp_path) == {"named conflict has a hand-built plan"}
