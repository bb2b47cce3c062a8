"""Year-end planning: harvests, the 0% bracket filled to the dollar, a net-result target, wash windows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.solver.tax.evaluate import tax_with_gains
from rebal_opt.solver.taxes import situation_from_scenario
from rebal_opt.solver.yearend import GAIN_HARVEST, LOSS_HARVEST, solve_yearend

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "yearend"


def test_gain_harvest_fills_the_zero_bracket_to_the_dollar() -> None:
    scenario = load_scenario(DATA / "t6-fill-zero-bracket.yaml")
    result = solve_yearend(scenario)
    assert result.realized.long_term == pytest.approx(48_200, abs=1.0)  # vector T6
    assert result.tax.due_to_trades == pytest.approx(0.0, abs=0.01)
    base = situation_from_scenario(scenario)
    # One more thousand would have cost $150 (T6): the plan stopped exactly at the edge.
    assert tax_with_gains(base, 0, 49_200).total_tax - tax_with_gains(base, 0, 48_200).total_tax == pytest.approx(150)
    reasons = {t.reason for t in result.trades if t.security == "VTI"}
    assert GAIN_HARVEST in reasons and "gain harvest (buy back)" in reasons


def test_target_net_realized_is_met() -> None:
    result = solve_yearend(load_scenario(DATA / "target-minus-3000.yaml"))
    assert result.yearend is not None
    assert result.yearend.net_realized_this_year.with_plan == pytest.approx(-3000, abs=0.02)
    assert result.yearend.net_realized_this_year.without_plan == pytest.approx(2000)


def test_harvest_offsets_gains_and_respects_wash_windows() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "yearend-harvest.yaml")
    result = solve_yearend(scenario)
    assert result.yearend is not None
    sold = {lot.lot: lot for t in result.trades if t.action == "sell" for lot in t.lots or []}
    assert {"VOO-2025", "VOO-2026"} <= set(sold)  # the S&P 500 losses are harvested
    assert "VEA-2024" not in sold  # a VEA dividend is reinvested on 2026-12-22: a wash sale
    assert not any(t.action == "buy" and t.security in ("VOO", "IVV") for t in result.trades)
    assert result.realized.short_term + result.realized.long_term < 0
    assert result.yearend.tax_this_year.with_plan < result.yearend.tax_this_year.without_plan
    blocked = {(b.group, b.action): b for b in result.wash_sale.blocked}
    assert blocked[("ftse_dev", "sell_at_loss")].until == dt.date(2027, 1, 22)  # crosses into January
    assert any(t.reason == LOSS_HARVEST for t in result.trades)
    assert all(c.in_band_after for c in result.allocation.values())


def test_cli_json_has_reasons_and_the_yearend_object() -> None:
    run = CliRunner().invoke(cli, ["yearend", str(ROOT / "scenarios" / "yearend-harvest.yaml"), "--json"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert payload["verified"] is True
    assert all(trade["reason"] for trade in payload["trades"])
    yearend = payload["yearend"]
    assert set(yearend["tax_this_year"]) == {"without_plan", "with_plan"}
    for term in ("short_term", "long_term"):
        assert set(yearend["carryforward_next_year"][term]) == {"without_plan", "with_plan"}


def test_yearend_without_a_section_uses_defaults() -> None:
    result = solve_yearend(load_scenario(Path(__file__).parent / "data" / "solve" / "harvest.yaml"))
    assert result.yearend is not None and result.verified
