"""apply_executions: the household after fills, checked against figures computed by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.scenario import Lot, Scenario
from rebal_opt.solver.engine import solve
from rebal_opt.solver.execution import (
    Execution,
    ExecutionError,
    apply_executions,
    executions_from_plan,
    roll_tax_year,
)
from rebal_opt.solver.plan import state_after
from rebal_opt.solver.wash import wash_windows

DATA = Path(__file__).parent / "data" / "execution"
SCENARIOS = Path(__file__).parent.parent / "scenarios"
DAY = dt.date(2026, 11, 5)


@pytest.fixture
def household() -> Scenario:
    return load_scenario(DATA / "household.yaml")


def lot(scenario: Scenario, lot_id: str) -> Lot:
    return next(x for a in scenario.accounts for x in a.lots if x.id == lot_id)


def test_a_partial_sale_at_another_price_shrinks_the_lot_and_realizes_net_of_commission(household: Scenario) -> None:
    sale = Execution("brokerage", "VTI", "sell", 30, 101.0, DAY, (("gain", 30.0),), commission=5.0)
    out = apply_executions(household, [sale])
    # proceeds 30 × 101 − 5 = 3,025; basis 30 × 60 = 1,800; long-term (held since 2020)
    assert out.realized_long == pytest.approx(1225.0)
    assert out.realized_short == 0.0
    after = out.scenario
    assert after.tax.realized_ytd.long_term == pytest.approx(2225.0)
    remaining = lot(after, "gain")
    assert remaining.shares == pytest.approx(70.0)
    assert remaining.basis_per_share == pytest.approx(60.0)
    # cash 1,000 + contribution 500 + 3,025
    assert after.account("brokerage").cash == pytest.approx(4525.0)
    assert after.account("brokerage").contribution == 0.0
    assert after.as_of == DAY
    assert after.recent_trades[-1].realized_gain == pytest.approx(1225.0)


def test_a_purchase_becomes_a_lot_with_commission_in_its_basis_and_starts_a_wash_window(household: Scenario) -> None:
    buy = Execution("brokerage", "VTI", "buy", 10, 99.0, DAY, commission=1.0)
    out = apply_executions(household, [buy])
    (new_id,) = out.new_lots
    new = lot(out.scenario, new_id)
    assert new.acquired == DAY and new.shares == 10
    assert new.cost_basis == pytest.approx(991.0)
    assert out.scenario.account("brokerage").cash == pytest.approx(1000 + 500 - 991)
    # A later VTI loss lot sale would be washed by this purchase until 31 days after it.
    block = wash_windows(out.scenario).sale_blocks["us_total"]
    assert block.until == DAY + dt.timedelta(days=31)


def test_a_loss_sale_blocks_purchases_in_its_group_for_31_days(household: Scenario) -> None:
    sale = Execution("brokerage", "ITOT", "sell", 50, 40.0, DAY, (("loss", 50.0),))
    out = apply_executions(household, [sale])
    assert out.realized_short == pytest.approx(-400.0)  # 50 × (40 − 48), held since March: short-term
    assert [x.id for x in out.scenario.account("brokerage").lots] == ["gain"]
    block = wash_windows(out.scenario).buy_blocks[out.scenario.wash_group("ITOT")]
    assert block.until == DAY + dt.timedelta(days=31)


def test_an_ira_purchase_counts_for_the_household_wash_window(household: Scenario) -> None:
    buy = Execution("ira", "VTSAX", "buy", 2, 50.0, DAY)
    after = apply_executions(household, [buy]).scenario
    assert after.account("ira").holdings["VTSAX"] == pytest.approx(22.0)
    assert "us_total" in wash_windows(after).sale_blocks


def test_an_ira_sale_takes_holdings_and_realizes_nothing(household: Scenario) -> None:
    out = apply_executions(household, [Execution("ira", "BND", "sell", 100, 70.0, DAY)])
    assert "BND" not in out.scenario.account("ira").holdings
    assert out.realized_short == out.realized_long == 0.0
    assert out.scenario.account("ira").cash == pytest.approx(7200.0)


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        (Execution("brokerage", "VTI", "sell", 10, 100.0, DAY), "must name the lots"),
        (Execution("brokerage", "VTI", "sell", 200, 100.0, DAY, (("gain", 200.0),)), "holds 100"),
        (Execution("brokerage", "VTI", "sell", 10, 100.0, DAY, (("loss", 10.0),)), "not a lot of VTI"),
        (Execution("brokerage", "VTI", "buy", 100, 100.0, DAY), "would end with cash"),
        (Execution("nowhere", "VTI", "buy", 1, 100.0, DAY), "unknown account"),
        (Execution("ira", "BND", "sell", 101, 70.0, DAY), "holds only 100"),
        (Execution("brokerage", "VTI", "buy", 1, 100.0, dt.date(2027, 1, 4)), "roll the tax year"),
        (Execution("brokerage", "VTI", "buy", 1, 100.0, dt.date(2026, 10, 1)), "before the plan's as_of"),
    ],
)
def test_impossible_executions_are_refused_with_the_reason(household: Scenario, fill: Execution, message: str) -> None:
    with pytest.raises(ExecutionError, match=message):
        apply_executions(household, [fill])


def test_old_recent_trades_and_past_planned_purchases_drop_out_as_the_date_moves(household: Scenario) -> None:
    later = apply_executions(household, [Execution("ira", "BND", "buy", 1, 70.0, DAY)], as_of=dt.date(2026, 12, 20))
    assert later.scenario.recent_trades == []  # the buy of Nov 5 is more than 30 days before Dec 20


@pytest.mark.parametrize("name", ["sarah-70-30.yaml", "james-multi-account.yaml", "david-60-40-crash.yaml"])
def test_executing_a_plan_in_full_leaves_the_holdings_and_cash_the_plan_reports(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    result = solve(scenario)
    out = apply_executions(scenario, executions_from_plan(result.trades, scenario.as_of))
    shares, cash = state_after(scenario, result.trades)
    after = out.scenario
    for account in after.accounts:
        assert after.account(account.id).cash == pytest.approx(result.cash_after[account.id], abs=0.01)
        held: dict[str, float] = dict(account.holdings)
        for x in account.lots:
            held[x.security] = held.get(x.security, 0.0) + x.shares
        for (account_id, ticker), n in shares.items():
            if account_id == account.id:
                assert held.get(ticker, 0.0) == pytest.approx(n, abs=1e-6)
        assert cash[account.id] == pytest.approx(result.cash_after[account.id], abs=0.01)
    assert out.realized_short == pytest.approx(result.realized.short_term, abs=0.05)
    assert out.realized_long == pytest.approx(result.realized.long_term, abs=0.05)


def test_rolling_the_tax_year_carries_the_unused_loss_forward(household: Scenario) -> None:
    sale = Execution("brokerage", "ITOT", "sell", 50, 40.0, DAY, (("loss", 50.0),))
    after = apply_executions(household, [sale]).scenario
    ytd = after.tax.realized_ytd.model_copy(update={"short_term": -10_000.0, "long_term": 1000.0})
    loss_year = after.model_copy(update={"tax": after.tax.model_copy(update={"realized_ytd": ytd})})
    rolled = roll_tax_year(loss_year, 2027)
    # Net −9,000: 3,000 deducted, 6,000 carried (all short-term: the long-term gain absorbed 1,000 of it).
    assert rolled.tax.carryforward.short_term == pytest.approx(6000.0)
    assert rolled.tax.carryforward.long_term == 0.0
    assert rolled.tax.realized_ytd.short_term == 0.0 and rolled.tax_year == 2027


def test_a_sale_of_gain_and_loss_lots_still_blocks_buying_the_group_back() -> None:
    # 50 gain-lot shares: +2,000; 10 loss-lot shares: −200; the fill nets +1,800, but the 10 loss shares
    # were sold at a loss: buying VTI or VTSAX (same group) within 30 days would wash that loss.
    scenario = load_scenario(DATA / "mixed-lots.yaml")
    sale = Execution("brokerage", "VTI", "sell", 60, 100.0, DAY, (("gain", 50.0), ("loss", 10.0)))
    after = apply_executions(scenario, [sale]).scenario
    assert after.tax.realized_ytd.long_term == pytest.approx(1800.0)
    sells = sorted((t.shares, t.realized_gain) for t in after.recent_trades if t.action == "sell")
    assert sells == [(10.0, pytest.approx(-200.0)), (50.0, pytest.approx(2000.0))]
    block = wash_windows(after).buy_blocks["us_total"]
    assert block.until == DAY + dt.timedelta(days=31)
def _with_withdrawal(household: Scenario, amount: float) -> Scenario:
    accounts = [
        a.model_copy(update={"contribution": -amount}) if a.id == "brokerage" else a for a in household.accounts
    ]
    return household.model_copy(update={"accounts": accounts})


def test_a_withdrawal_funded_by_two_sales_settles_after_both(household: Scenario) -> None:
    sales = [
        Execution("brokerage", "VTI", "sell", 10, 100.0, DAY, (("gain", 10.0),)),
        Execution("brokerage", "ITOT", "sell", 30, 40.0, DAY, (("loss", 30.0),)),
    ]
    after = apply_executions(_with_withdrawal(household, 3000.0), sales).scenario
    # cash 1,000 − 3,000 withdrawn + 1,000 + 1,200 of sales = 200 (no single sale funds it alone)
    assert after.account("brokerage").cash == pytest.approx(200.0)


def test_a_withdrawal_the_fills_do_not_fund_is_an_error(household: Scenario) -> None:
    sale = Execution("brokerage", "VTI", "sell", 10, 100.0, DAY, (("gain", 10.0),))
    with pytest.raises(ExecutionError, match="do not fund its withdrawal"):
        apply_executions(_with_withdrawal(household, 3000.0), [sale])
