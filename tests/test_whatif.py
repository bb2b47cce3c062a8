"""What-if runs: variants from the scenario's whatif section and from --set, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.errors import ScenarioError
from rebal_opt.models.overrides import apply_overrides, parse_assignment, split_path
from rebal_opt.models.yaml_io import read_yaml_file

ROOT = Path(__file__).parent.parent
DAVID = ROOT / "scenarios" / "david-60-40-crash.yaml"
HARVEST = Path(__file__).parent / "data" / "solve" / "harvest.yaml"


def test_paths_split_by_position_and_id() -> None:
    assert split_path("accounts[0].lots[2].shares") == ["accounts", 0, "lots", 2, "shares"]
    assert split_path("accounts[ira].min_cash") == ["accounts", "[ira]", "min_cash"]
    assert parse_assignment("rules.do_not_sell=[VTI, BND]") == ("rules.do_not_sell", ["VTI", "BND"])
    assert parse_assignment("bands.absolute=0.03") == ("bands.absolute", 0.03)


def test_override_applies_and_revalidates() -> None:
    data = read_yaml_file(HARVEST)
    scenario = apply_overrides(data, {"bands.absolute": 0.03, "accounts[ira].min_cash": 500.0}, "v")
    assert scenario.bands.absolute == 0.03
    assert scenario.account("ira").min_cash == 500.0
    assert read_yaml_file(HARVEST)["bands"]["absolute"] == 0.05  # the base data is untouched


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("tax.ordinary_incom=90000", "did you mean 'ordinary_income'"),
        ("accounts[iraa].cash=1", "no item with id 'iraa' (did you mean 'ira'?)"),
        ("accounts[9].cash=1", "out of range"),
        ("bands.absolute=2", "must be less than or equal to 1"),
        ("nonsense", "is not path=value"),
    ],
)
def test_bad_set_is_a_clear_error(assignment: str, fragment: str) -> None:
    run = CliRunner().invoke(cli, ["whatif", str(HARVEST), "--set", assignment])
    assert run.exit_code == 2
    assert fragment in run.stderr
    assert "Traceback" not in run.output
    assert run.stdout == ""


def test_apply_overrides_names_the_variant() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(read_yaml_file(HARVEST), {"rules.min_trad": 5}, "whatif tight")
    assert info.value.problems[0].path.startswith("whatif tight: rules.min_trad")


def test_variants_side_by_side_json() -> None:
    run = CliRunner().invoke(cli, ["whatif", str(DAVID), "--set", "rules.min_trade=2000", "--json"])
    assert run.exit_code == 0, run.output
    variants = json.loads(run.stdout)["variants"]
    names = [v["name"] for v in variants]
    assert names == ["base", "tax-averse", "wide-bands", "sell-ira-only", "command line"]
    assert variants[-1]["overrides"] == {"rules.min_trade": 2000}
    for v in variants:
        assert v["result"]["status"] in ("optimal", "no_trade_needed", "time_limit", "infeasible")
    wide = next(v for v in variants if v["name"] == "wide-bands")["result"]
    assert wide["status"] == "no_trade_needed"  # 10-point bands: the crash is inside them
    ira_only = next(v for v in variants if v["name"] == "sell-ira-only")["result"]
    assert not any(t["account"] == "joint-brokerage" for t in ira_only["trades"])
    min_trade = next(v for v in variants if v["name"] == "command line")["result"]
    assert all(t["amount"] >= 2000 - 0.01 for t in min_trade["trades"])


def test_terminal_table() -> None:
    run = CliRunner().invoke(cli, ["whatif", str(DAVID)])
    assert run.exit_code == 0
    assert "tax-averse" in run.stdout and "wide-bands" in run.stdout


def test_a_variant_without_a_plan_in_time_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variant that finds no plan within the time limit (`solve` would exit 4) is one row of the table and
    a `time_limit` result with the solver's message; the other variants keep their plans (docs/whatif.md)."""
    import rebal_opt.solver.whatif as whatif
    from rebal_opt.solver.engine import SolverFailure

    solve = whatif.solve

    def slow_for_tight(scenario, **kwargs):  # type: ignore[no-untyped-def]
        if scenario.rules.min_trade == 2000:
            raise SolverFailure("HiGHS failed: no plan found within the time limit", time_limit=True)
        return solve(scenario, **kwargs)

    monkeypatch.setattr(whatif, "solve", slow_for_tight)
    run = CliRunner().invoke(cli, ["whatif", str(HARVEST), "--set", "rules.min_trade=2000", "--json"])
    assert run.exit_code == 0, run.output
    variants = {v["name"]: v["result"] for v in json.loads(run.stdout)["variants"]}
    assert variants["command line"] == {
        "status": "time_limit",
        "conflicts": [],
        "message": "HiGHS failed: no plan found within the time limit",
    }
    assert "trades" in variants["base"]
    table = CliRunner().invoke(cli, ["whatif", str(HARVEST), "--set", "rules.min_trade=2000"])
    assert table.exit_code == 0 and "time limit" in table.stdout
