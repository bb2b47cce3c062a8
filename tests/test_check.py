"""`check` arithmetic against hand-computed cases (tests/data/check/*.yaml; each file shows its sums).

Variants are the same files with one edit of the parsed YAML.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.scenario import Bands
from rebal_opt.models.yaml_io import read_yaml_file
from rebal_opt.solver.check import check
from rebal_opt.solver.household import band_limits

CHECK_DATA = Path(__file__).parent / "data" / "check"
FUND = CHECK_DATA / "fund-and-untradable.yaml"
CONTRIBUTION = CHECK_DATA / "contribution.yaml"
WITHDRAWAL = CHECK_DATA / "withdrawal.yaml"
BANDS = CHECK_DATA / "bands.yaml"

TOL = 1e-9


def variant(path: Path, edit: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(read_yaml_file(path))
    edit(data)
    return parse_scenario(data)


def weights(report) -> dict[str, float]:
    return {c: v.weight for c, v in report.classes.items()}


def assert_weights(report, expected: dict[str, float]) -> None:
    got = weights(report)
    assert list(got) == list(expected)
    for asset_class, w in expected.items():
        assert got[asset_class] == pytest.approx(w, abs=TOL), asset_class


# --- weights --------------------------------------------------------------------------------------


def test_multi_asset_fund_and_untradable_account() -> None:
    report = check(load_scenario(FUND))
    assert report.total_value == pytest.approx(10_000.0)
    assert_weights(report, {"us_equity": 0.52, "bonds": 0.38, "cash": 0.10})
    assert report.classes["us_equity"].value == pytest.approx(5_200.0)  # 2000 + 0.6 x 2000 + 2000 held away
    assert report.classes["bonds"].value == pytest.approx(3_800.0)  # 0.4 x 2000 + 3000
    assert report.classes["us_equity"].drift == pytest.approx(-0.08)
    assert report.classes["cash"].drift == pytest.approx(0.10)
    assert {a.id: a.value for a in report.accounts} == {"brokerage": 5000.0, "ira": 3000.0, "held-away": 2000.0}
    assert [a.tradable for a in report.accounts] == [True, True, False]
    assert "account 'held-away' is not tradable: it counts in the allocation, never trades" in report.notes


def test_untradable_account_counts_in_weights() -> None:
    def drop_held_away(data: dict[str, Any]) -> None:
        data["accounts"] = data["accounts"][:2]

    # Without the held-away account: us_equity 3200 / 8000.
    assert check(variant(FUND, drop_held_away)).classes["us_equity"].weight == pytest.approx(0.40)


def test_quadratic_tracking_error() -> None:
    report = check(load_scenario(FUND))
    assert report.tracking == "quadratic"
    assert report.tracking_error == pytest.approx(math.sqrt(0.000292), rel=1e-9)


def test_absolute_tracking_error() -> None:
    def absolute(data: dict[str, Any]) -> None:
        data["objective"]["tracking"] = "absolute"

    report = check(variant(FUND, absolute))
    assert report.tracking == "absolute"
    assert report.tracking_error == pytest.approx(0.08 + 0.02 + 0.10)


@pytest.mark.parametrize("budget, due", [(0.017, True), (0.0171, False)])
def test_tracking_error_above_its_budget_is_a_rebalance_due(budget: float, due: bool) -> None:
    """rules.max_tracking_error is a rule like a band: 1.709% against a 1.70% budget is work to do, against
    1.71% it is not (the tracking error is sqrt(0.000292), as above)."""

    def with_budget(data: dict[str, Any]) -> None:
        data.setdefault("rules", {})["max_tracking_error"] = budget

    report = check(variant(FUND, with_budget))
    reason = f"the tracking error is 1.7088%, above rules.max_tracking_error {budget:.4%}"
    assert (reason in report.reasons) is due
    assert not [r for r in report.reasons if "tracking error" in r and r != reason]


def test_contribution_counts_in_before() -> None:
    report = check(load_scenario(CONTRIBUTION))
    assert report.total_value == pytest.approx(12_000.0)
    assert_weights(report, {"us_equity": 0.5, "bonds": 1 / 3, "cash": 1 / 6})
    assert report.tracking_error == pytest.approx(1 / 3)
    brokerage = report.accounts[0]
    assert (brokerage.cash, brokerage.contribution, brokerage.value) == (0.0, 2000.0, 8000.0)
    assert report.rebalance_due
    assert report.reasons == [
        "us_equity is below its band: 50.00% against 55.00% (target 60.00%)",
        "bonds is below its band: 33.33% against 35.00% (target 40.00%)",
        "cash is above its band: 16.67% against 5.00% (target 0.00%)",
    ]


def test_without_the_contribution_nothing_is_due() -> None:
    def no_contribution(data: dict[str, Any]) -> None:
        del data["accounts"][0]["contribution"]

    report = check(variant(CONTRIBUTION, no_contribution))
    assert_weights(report, {"us_equity": 0.6, "bonds": 0.4, "cash": 0.0})
    assert not report.rebalance_due
    assert report.reasons == []


# --- withdrawals ----------------------------------------------------------------------------------


def test_withdrawal_that_needs_funding_makes_rebalance_due() -> None:
    report = check(load_scenario(WITHDRAWAL))
    # the withdrawal is not taken out of "before": 6000 + 4000 + 500
    assert report.total_value == pytest.approx(10_500.0)
    assert_weights(report, {"us_equity": 6000 / 10500, "bonds": 4000 / 10500, "cash": 500 / 10500})
    assert all(c.in_band for c in report.classes.values())
    assert report.rebalance_due
    assert report.reasons == ["withdrawal of 3,000.00 from brokerage needs funding"]


@pytest.mark.parametrize(
    ("withdrawal", "min_cash", "due"),
    [(-400, 0, False), (-500, 0, False), (-400, 200, True), (-300, 200, False)],
)
def test_withdrawal_funded_by_cash_above_the_floor(withdrawal: float, min_cash: float, due: bool) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["accounts"][0]["contribution"] = withdrawal
        data["accounts"][0]["min_cash"] = min_cash

    report = check(variant(WITHDRAWAL, edit))
    assert report.rebalance_due is due


# --- bands ----------------------------------------------------------------------------------------


def test_band_limits_take_the_narrower_band() -> None:
    bands = Bands(absolute=0.05, relative=0.25)
    assert band_limits(0.65, bands) == pytest.approx((0.60, 0.70))  # absolute narrower
    assert band_limits(0.10, bands) == pytest.approx((0.075, 0.125))  # relative narrower
    assert band_limits(0.0, bands) == pytest.approx((0.0, 0.05))  # 0 target: absolute band
    assert band_limits(0.02, Bands(absolute=0.05, relative=None)) == pytest.approx((0.0, 0.07))  # clipped at 0
    assert band_limits(0.98, Bands(absolute=0.05, relative=None)) == pytest.approx((0.93, 1.0))  # and at 1


def test_relative_band_is_the_narrower_one() -> None:
    report = check(load_scenario(BANDS))
    assert_weights(report, {"us_equity": 0.61, "intl_equity": 0.13, "bonds": 0.22, "gold": 0.04, "cash": 0.0})
    intl = report.classes["intl_equity"]
    assert (intl.low, intl.high) == pytest.approx((0.075, 0.125))
    assert not intl.in_band
    assert [c for c, v in report.classes.items() if not v.in_band] == ["intl_equity"]
    assert report.reasons == ["intl_equity is above its band: 13.00% against 12.50% (target 10.00%)"]
    assert report.tracking_error == pytest.approx(0.14)


def test_zero_target_class_uses_the_absolute_band() -> None:
    gold = check(load_scenario(BANDS)).classes["gold"]
    assert (gold.target, gold.low, gold.high) == pytest.approx((0.0, 0.0, 0.05))
    assert gold.in_band  # 0.04: with relative x 0 = 0 it would be out

    def more_gold(data: dict[str, Any]) -> None:
        data["accounts"][0]["holdings"] = {"STK": 61, "INTL": 120, "BND": 42, "GLD": 6}

    report = check(variant(BANDS, more_gold))
    assert_weights(report, {"us_equity": 0.61, "intl_equity": 0.12, "bonds": 0.21, "gold": 0.06, "cash": 0.0})
    assert [c for c, v in report.classes.items() if not v.in_band] == ["gold"]


def test_absolute_band_alone() -> None:
    def absolute_only(data: dict[str, Any]) -> None:
        data["bands"]["relative"] = None

    report = check(variant(BANDS, absolute_only))
    assert (report.classes["intl_equity"].low, report.classes["intl_equity"].high) == pytest.approx((0.05, 0.15))
    assert not report.rebalance_due


def test_weight_on_the_band_edge_is_inside() -> None:
    def on_edge(data: dict[str, Any]) -> None:
        data["accounts"][0]["holdings"] = {"STK": 61.5, "INTL": 125, "BND": 44, "GLD": 4}

    report = check(variant(BANDS, on_edge))
    assert report.classes["intl_equity"].weight == pytest.approx(0.125)  # |w - t| = 0.025, not > 0.025
    assert report.classes["intl_equity"].in_band
    assert not report.rebalance_due


# --- the command: table, --json, --exit-code ------------------------------------------------------


def test_exit_code_is_1_when_due(invoke) -> None:
    result = invoke("check", "--exit-code", BANDS)
    assert result.exit_code == 1
    assert "rebalance due" in result.stdout
    assert "intl_equity is above its band" in result.stdout


def test_exit_code_is_0_when_not_due(invoke, write_scenario) -> None:
    data = read_yaml_file(BANDS)
    data["bands"]["relative"] = None
    path = write_scenario(data)
    result = invoke("check", "--exit-code", path)
    assert result.exit_code == 0
    assert "no rebalance due" in result.stdout
    assert invoke("check", "--exit-code", "--json", path).exit_code == 0


def test_without_exit_code_due_still_exits_0(invoke) -> None:
    assert invoke("check", BANDS).exit_code == 0
    assert invoke("check", "--json", BANDS).exit_code == 0


def test_exit_code_with_json_prints_the_report_and_exits_1(invoke) -> None:
    result = invoke("check", "--json", "--exit-code", BANDS)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["rebalance_due"] is True


def test_json_is_exactly_one_object(invoke) -> None:
    result = invoke("check", "--json", FUND)
    assert result.exit_code == 0
    assert result.stderr == ""
    report = json.loads(result.stdout)  # fails on anything else printed around the object
    assert isinstance(report, dict)
    assert set(report) == {
        "scenario",
        "as_of",
        "total_value",
        "rebalance_due",
        "reasons",
        "classes",
        "tracking",
        "tracking_error",
        "accounts",
        "notes",
    }
    assert report["scenario"] == "fund-and-untradable"
    assert report["as_of"] == "2026-11-25"
    assert report["total_value"] == 10000.0
    assert report["rebalance_due"] is True
    assert list(report["classes"]) == ["us_equity", "bonds", "cash"]
    us = report["classes"]["us_equity"]
    assert set(us) == {"target", "weight", "drift", "low", "high", "value", "in_band", "held"}
    assert us["weight"] == pytest.approx(0.52)
    assert (us["low"], us["high"]) == pytest.approx((0.55, 0.65))
    assert us["in_band"] is False
    assert report["tracking_error"] == pytest.approx(math.sqrt(0.000292))
    assert report["accounts"][2] == {
        "id": "held-away",
        "type": "taxable",
        "value": 2000.0,
        "cash": 0.0,
        "contribution": 0.0,
        "tradable": False,
    }


def test_table_shows_every_class_and_the_verdict(invoke) -> None:
    result = invoke("check", FUND)
    assert result.exit_code == 0
    out = result.stdout
    assert "fund-and-untradable as of 2026-11-25: household value 10,000.00" in out
    for row in ("us_equity", "60.00%", "52.00%", "-8.00%", "55.00% – 65.00%", "OUT OF BAND"):
        assert row in out
    assert "tracking error: 1.71%" in out
    assert "rebalance due" in out
    assert "note: account 'held-away' is not tradable" in out


def test_table_for_absolute_tracking(invoke) -> None:
    assert "sum of |drift|: 14.00%" in invoke("check", BANDS).stdout


def test_cash_target_without_cash_is_not_noted_as_missing_a_security() -> None:
    def cash_target(data: dict[str, Any]) -> None:
        data["targets"] = {"us_equity": 0.58, "bonds": 0.40, "cash": 0.02}
        del data["accounts"][0]["contribution"]

    report = check(variant(CONTRIBUTION, cash_target))
    assert not report.classes["cash"].in_band  # 0 against [1.5%, 2.5%]: due, correctly
    assert not any("'cash'" in note for note in report.notes)
