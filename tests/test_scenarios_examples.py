"""Every example in scenarios/ is a valid scenario, and `check` runs on it (table and --json).

The five examples of the foundation issue also tell a story; `check` must agree with it: which classes
are out of band, on which side.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.solver.check import check

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))

# class -> "above" / "below" its band, as each example's header comment says
STORIES = {
    "sarah-70-30": {"us_equity": "above", "bonds": "below"},
    "david-60-40-crash": {"us_equity": "below", "bonds": "above"},
    "maria-concentrated-tech": {
        "us_equity": "above",
        "intl_equity": "below",
        "bonds": "below",
        "alternatives": "below",
    },
    "james-multi-account": {"intl_equity": "below", "cash": "above"},
    "entrepreneur-founder-stock": {"cash": "above"},
}


def test_the_five_examples_exist() -> None:
    assert set(STORIES) <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_validates_through_the_cli(path: Path, invoke) -> None:
    result = invoke("validate", path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{path}: valid (")
    assert result.stderr == ""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem  # the name matches the file
    assert scenario.accounts


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_check_table(path: Path, invoke) -> None:
    result = invoke("check", path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{path.stem} as of ")
    assert "rebalance due" in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_check_json(path: Path, invoke) -> None:
    result = invoke("check", "--json", path)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scenario"] == path.stem
    assert sum(c["weight"] for c in report["classes"].values()) == pytest.approx(1.0)
    assert report["total_value"] == pytest.approx(sum(a["value"] for a in report["accounts"]), abs=0.05)


@pytest.mark.parametrize(("stem", "out_of_band"), STORIES.items(), ids=list(STORIES))
def test_story(stem: str, out_of_band: dict[str, str]) -> None:
    report = check(load_scenario(SCENARIOS / f"{stem}.yaml"))
    assert report.rebalance_due
    sides = {c: "above" if v.weight > v.high else "below" for c, v in report.classes.items() if not v.in_band}
    assert sides == out_of_band


def test_maria_is_85_percent_one_fund() -> None:
    scenario = load_scenario(SCENARIOS / "maria-concentrated-tech.yaml")
    qqq = sum(lot.shares for lot in scenario.account("maria-brokerage").lots) * scenario.securities["QQQ"].price
    assert qqq / check(scenario).total_value == pytest.approx(0.85, abs=0.01)


def test_founder_stock_is_counted_but_untradable() -> None:
    scenario = load_scenario(SCENARIOS / "entrepreneur-founder-stock.yaml")
    report = check(scenario)
    assert not scenario.account("founder-shares").tradable
    assert report.classes["founder_stock"].in_band
    assert report.classes["founder_stock"].weight == pytest.approx(0.5, abs=0.02)
    assert "account 'founder-shares' is not tradable: it counts in the allocation, never trades" in report.notes
