"""Year-end planning: harvests, the 0% bracket filled to the dollar, a net-result target, wash windows,
no gain realized for its step-up when it raises the two years' tax, and reasons that match the trades."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import Result, Trade
from rebal_opt.models.scenario import Scenario, YearEnd
from rebal_opt.solver.engine import solve
from rebal_opt.solver.tax.evaluate import evaluate_tax, tax_with_gains
from rebal_opt.solver.taxes import next_year_situation, situation_from_scenario, with_carryforward
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


# No gain for its step-up alone, and reasons that match what the trades do ---------------------------------

DAVID = ROOT / "scenarios" / "david-60-40-crash.yaml"
STEP_UP = DATA / "carryforward-step-up.yaml"
NEEDED = DATA / "gains-needed.yaml"


def two_year_tax(scenario: Scenario, short: float, long: float) -> float:
    """This year's tax with `short`/`long` more realized, plus next year's with the carryforward it leaves
    (the exact evaluation year_end_summary reports)."""
    this_year = tax_with_gains(situation_from_scenario(scenario), short, long)
    carry = (this_year.carryforward_short_next, this_year.carryforward_long_next)
    return this_year.total_tax + evaluate_tax(with_carryforward(next_year_situation(scenario), *carry)).total_tax


def class_change(scenario: Scenario, trades: list[Trade]) -> dict[tuple[str, str], float]:
    """Dollars each account adds to each asset class (purchases minus sales, by class split)."""
    change: dict[tuple[str, str], float] = defaultdict(float)
    for t in trades:
        for asset_class, fraction in scenario.securities[t.security].class_split().items():
            change[(t.account, asset_class)] += fraction * (t.amount if t.action == "buy" else -t.amount)
    return change


def reduces_its_class(scenario: Scenario, trades: list[Trade], sale: Trade) -> bool:
    """Whether the sale's account ends with less of one of the sale's classes, by more than one share of
    any purchase there (what whole shares leave over)."""
    change = class_change(scenario, trades)
    for asset_class in scenario.securities[sale.security].class_split():
        share = max((t.price for t in trades if t.account == sale.account and t.action == "buy"), default=0.01)
        if change[(sale.account, asset_class)] < -share:
            return True
    return False


def realized_by(sale: Trade) -> tuple[float, float]:
    short = sum(x.gain for x in sale.lots or [] if x.term == "short")
    return short, sum(x.gain for x in sale.lots or [] if x.term == "long")


def assert_reasons_match_roles(scenario: Scenario, result: Result) -> None:
    """Every reason follows from the trades and the scenario (not from the labeller):
    loss harvest = a taxable sale of losses only; rebalance for a sale with gains = its account ends with
    less of its class; gain harvest = a sale with gains that is bought back or reinvested in its class in
    its account; buy back / reinvest / substitute = a purchase in the account of such a sale."""
    trades = result.trades
    taxable = {a.id for a in scenario.accounts if not a.tax_advantaged}
    for t in trades:
        classes = set(scenario.securities[t.security].class_split())
        mates = [u for u in trades if u.account == t.account and u is not t]
        if t.action == "sell" and t.account in taxable:
            losses_only = all(x.gain < 0 for x in t.lots or [])
            if losses_only:
                assert t.reason == LOSS_HARVEST, t
            elif any(u.action == "buy" and u.security == t.security for u in mates):
                assert t.reason == GAIN_HARVEST, t
            else:
                expected = "rebalance" if reduces_its_class(scenario, trades, t) else GAIN_HARVEST
                assert t.reason == expected, t
        elif t.action == "sell":
            assert t.reason == "rebalance", t
        elif t.reason == "gain harvest (buy back)":
            assert any(u.reason == GAIN_HARVEST and u.security == t.security for u in mates), t
        elif t.reason == "gain harvest (reinvest)":
            harvested = {
                c for u in mates if u.reason == GAIN_HARVEST for c in scenario.securities[u.security].class_split()
            }
            assert classes & harvested, t
        elif t.reason == "loss harvest (substitute)":
            harvests = [u for u in mates if u.reason == LOSS_HARVEST]
            assert any(
                classes & set(scenario.securities[u.security].class_split())
                and scenario.wash_group(u.security) != scenario.wash_group(t.security)
                for u in harvests
            ), t
        else:
            assert t.reason == "rebalance", t


def assert_no_gain_for_its_step_up(scenario: Scenario, result: Result) -> None:
    """A taxable sale with gains that does not reduce its account's class (bought back or reinvested: the
    bands did not need it) adds nothing to the two years' tax: taking its lot lines out of the plan leaves
    the tax as it is."""
    total = (result.realized.short_term, result.realized.long_term)
    with_all = two_year_tax(scenario, *total)
    for t in result.trades:
        if t.action != "sell" or not t.lots or all(x.gain < 0 for x in t.lots):
            continue
        if reduces_its_class(scenario, result.trades, t) and not any(
            u.account == t.account and u.security == t.security and u.action == "buy" for u in result.trades
        ):
            continue
        short, long = realized_by(t)
        assert with_all <= two_year_tax(scenario, total[0] - short, total[1] - long) + 0.01, t


def with_step_up(scenario: Scenario) -> Scenario:
    """The household asking to pay tax now for a basis step-up (yearend.pay_tax_for_step_up)."""
    yearend = (scenario.yearend or YearEnd()).model_copy(update={"pay_tax_for_step_up": True})
    return scenario.model_copy(update={"yearend": yearend})


@pytest.mark.parametrize("path", [DAVID, STEP_UP], ids=["david", "carryforward-step-up"])
def test_no_gain_is_realized_that_the_bands_do_not_need(path: Path) -> None:
    scenario = load_scenario(path)
    # The IRA alone can rebalance: with the brokerage account frozen every band is met.
    frozen = [a.model_copy(update={"tradable": a.tax_advantaged}) for a in scenario.accounts]
    assert all(c.in_band_after for c in solve(scenario.model_copy(update={"accounts": frozen})).allocation.values())
    result = solve_yearend(scenario)
    assert result.verified and result.yearend is not None
    # So no gain is realized: the two years' tax, this year's carryforward stay as they were.
    assert result.realized.short_term + result.realized.long_term <= 0.0
    y = result.yearend
    assert y.tax_this_year.with_plan + y.tax_next_year.with_plan <= (
        y.tax_this_year.without_plan + y.tax_next_year.without_plan + 0.01
    )
    assert y.carryforward_next_year.long_term.with_plan >= y.carryforward_next_year.long_term.without_plan - 0.01
    assert_no_gain_for_its_step_up(scenario, result)
    assert_reasons_match_roles(scenario, result)


def test_a_household_can_ask_to_pay_tax_for_a_step_up() -> None:
    scenario = with_step_up(load_scenario(STEP_UP))
    result = solve_yearend(scenario)
    assert result.verified and result.yearend is not None
    sales = [t for t in result.trades if t.account == "brokerage" and t.action == "sell"]
    assert len(sales) == 1 and sales[0].reason == GAIN_HARVEST
    gain = sum(x.gain for x in sales[0].lots or [])
    assert gain > 0
    # The step-up costs tax over the two years, and less than it is worth later: rho = 18.99% / 1.04^10.
    y = result.yearend
    added = (
        y.tax_this_year.with_plan
        + y.tax_next_year.with_plan
        - y.tax_this_year.without_plan
        - y.tax_next_year.without_plan
    )
    rho = (0.15 + 0.0399) / 1.04**10
    assert 0 < added < rho * gain
    assert y.deferred_rate == pytest.approx(rho)
    assert_reasons_match_roles(scenario, result)
    # The proceeds stay in US equity in the brokerage account: the buys there are the step-up's.
    equity_buys = [t for t in result.trades if t.account == "brokerage" and t.action == "buy" and t.security != "VEA"]
    assert equity_buys and {t.reason for t in equity_buys} <= {"gain harvest (buy back)", "gain harvest (reinvest)"}


def test_gains_the_bands_need_are_sold_and_called_rebalance() -> None:
    scenario = load_scenario(NEEDED)
    result = solve_yearend(scenario)
    sales = [t for t in result.trades if t.action == "sell"]
    # By hand: US equity is 300,000 of 374,000; at most 65% may stay, so at least about 57,000 of VTI
    # (every lot a gain) is sold, and nothing buys VTI back.
    assert [t.security for t in sales] == ["VTI"] and sales[0].amount >= 0.80 * 374_000 - 0.65 * 374_000 - 300
    assert all(x.gain > 0 for x in sales[0].lots or [])
    assert sales[0].reason == "rebalance"
    assert result.allocation["us_equity"].in_band_after
    assert (
        result.yearend is not None
        and result.yearend.tax_this_year.with_plan > result.yearend.tax_this_year.without_plan
    )
    assert_reasons_match_roles(scenario, result)


# David and the carryforward household run the same checks above.
YEAREND_FILES = [
    p for p in sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(DATA.glob("*.yaml")) if p not in (DAVID, STEP_UP)
]


@pytest.mark.parametrize("path", YEAREND_FILES, ids=[p.stem for p in YEAREND_FILES])
def test_every_example_realizes_no_gain_for_its_step_up_and_labels_truthfully(path: Path) -> None:
    scenario = load_scenario(path)
    result = solve_yearend(scenario)
    assert result.verified
    assert_no_gain_for_its_step_up(scenario, result)
    assert_reasons_match_roles(scenario, result)


@pytest.mark.parametrize("path", [DATA / "t6-fill-zero-bracket.yaml", STEP_UP], ids=["t6", "carryforward-step-up"])
def test_harvest_gains_off_realizes_no_gain_for_its_step_up(path: Path) -> None:
    scenario = with_step_up(load_scenario(path))  # even when the household would pay for a step-up
    assert scenario.yearend is not None
    off = scenario.yearend.model_copy(update={"harvest_gains": False})
    scenario = scenario.model_copy(update={"yearend": off})
    result = solve_yearend(scenario)
    # Gains may still be sold where rebalancing wants them (T6 moves $2,400 from VTI to BND), never for
    # their step-up alone.
    assert not any(t.reason and t.reason.startswith("gain harvest") for t in result.trades)
    assert_no_gain_for_its_step_up(scenario, result)
    assert_reasons_match_roles(scenario, result)
    if path == STEP_UP:
        assert result.realized.short_term + result.realized.long_term <= 0.0
