"""The repairs applied to a plan after rounding (solver/plan.py): an unwind period's sales cut to what the
period starts with. The household is scenarios/james-multi-account.yaml; the verifier judges the result."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import LotSale, SolverInfo, Trade
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.data import build_data
from rebal_opt.solver.plan import (
    HOLDING_SLIP,
    HOLDING_SLIP_DOLLARS,
    _within_holdings,
    build_result,
    keep_realized_gain_cap,
    trade_cost,
)
from rebal_opt.solver.verify import verify

JAMES = Path(__file__).parent.parent / "scenarios" / "james-multi-account.yaml"


@pytest.fixture(scope="module")
def james() -> Scenario:
    return load_scenario(JAMES)


def _sell(s: Scenario, account: str, ticker: str, shares: float, lots: list[LotSale] | None = None) -> Trade:
    price = s.securities[ticker].price
    amount = round(shares * price, 2)
    return Trade(
        account=account,
        security=ticker,
        action="sell",
        shares=shares,
        price=price,
        amount=amount,
        lots=lots,
        cost=trade_cost(s, amount),
    )


def _problems(s: Scenario, trades: list[Trade]) -> list[str]:
    result = build_result(build_data(s), trades, "optimal", SolverInfo(status="optimal", seconds=0.0), [])
    return [v.kind for v in verify(s, result).violations]


@pytest.mark.parametrize("over_by", [3e-6, 0.002])  # a rounding millionth; a few cents' repair of VTI
def test_a_position_sold_a_little_over_is_cut_to_its_holding(james: Scenario, over_by: float) -> None:
    over = _sell(james, "james-rollover-ira", "VTI", 260 + over_by)
    assert "position_oversold" in _problems(james, [over])
    (cut,) = _within_holdings(james, [over])
    assert cut.shares == 260
    assert cut.amount == round(260 * cut.price, 2)
    assert "position_oversold" not in _problems(james, [cut])


def test_a_lot_line_sold_a_few_millionths_over_is_cut_to_the_lot_with_its_basis_and_gain(james: Scenario) -> None:
    price = james.securities["VOO"].price
    shares = 60 + 5e-6
    line = LotSale(
        lot="VOO-2021-03",
        shares=shares,
        cost_basis=round(shares * 358.20, 2),
        gain=round(shares * (price - 358.20), 2),
        term="long",
        acquired=next(lot.acquired for lot in james.account("joint-brokerage").lots if lot.id == "VOO-2021-03"),
    )
    over = _sell(james, "joint-brokerage", "VOO", shares, [line])
    assert "lot_oversold" in _problems(james, [over])
    (cut,) = _within_holdings(james, [over])
    assert cut.shares == 60 and cut.lots is not None and cut.lots[0].shares == 60
    assert cut.lots[0].cost_basis == round(60 * 358.20, 2)
    assert cut.lots[0].gain == round(60 * price - 60 * 358.20, 2)
    # The rest of the plan (a sale with no purchase, contributions first) is not what this test is about.
    assert not {"lot_oversold", "position_oversold", "lot_shares", "cost_basis", "gain"} & set(_problems(james, [cut]))


def test_a_sale_beyond_the_slip_is_left_for_the_verifier_to_reject(james: Scenario) -> None:
    """Only rounding is repaired: a real oversale is a bug the verifier must still see."""
    beyond = max(10 * HOLDING_SLIP, 2 * HOLDING_SLIP_DOLLARS / james.securities["VTI"].price)
    over = _sell(james, "james-rollover-ira", "VTI", round(260 + beyond, 6))
    assert _within_holdings(james, [over]) == [over]
    assert "position_oversold" in _problems(james, [over])


def test_purchases_and_sales_within_holdings_are_untouched(james: Scenario) -> None:
    within = _sell(james, "priya-roth", "VXUS", 100.0)
    price = james.securities["BND"].price
    buy = Trade(
        account="james-rollover-ira",
        security="BND",
        action="buy",
        shares=1.5,
        price=price,
        amount=round(1.5 * price, 2),
        cost=trade_cost(james, round(1.5 * price, 2)),
    )
    assert _within_holdings(james, [within, buy]) == [within, buy]


def test_a_half_cent_cost_rounds_the_same_for_numpy_and_python_floats(james: Scenario) -> None:
    """20 + 25 bps × 3,946.00 = 29.865: numpy's round gives 29.86, Python's 29.87; a plan read back from JSON
    is Python floats, so the engine must round as Python does."""
    import numpy as np

    s = james.model_copy(
        update={
            "rules": james.rules.model_copy(
                update={"costs": james.rules.costs.model_copy(update={"commission": 20.0, "spread_bps": 25.0})}
            )
        }
    )
    assert trade_cost(s, 3946.0) == trade_cost(s, np.float64(3946.0)) == 29.87
    bought = _within_holdings(s, [_sell(s, "james-rollover-ira", "VTI", np.float64(260 + 1e-6))])[0]
    assert type(bought.shares) is float and type(bought.cost) is float


HARNESS = Path(__file__).parent / "data" / "harness"


def _lot_line(s: Scenario, account: str, lot_id: str, shares: float) -> LotSale:
    lot = next(lot for lot in s.account(account).lots if lot.id == lot_id)
    price = s.securities[lot.security].price
    basis = shares * lot.basis_per_share
    return LotSale(
        lot=lot_id,
        shares=shares,
        cost_basis=round(basis, 2),
        gain=round(shares * price - basis, 2),
        term="short" if lot.acquired > dt.date(2026, 10, 13) else "long",
        acquired=lot.acquired,
    )


def test_rounding_cents_over_the_realized_gain_cap_are_taken_back_by_a_loss_line() -> None:
    """Seed 2818 #3384: each line's gain rounded to the cent took a plan held to the cap exactly (unrounded
    1,000.000008) to 1,000.01. The loss line already sold grows; the gain sale, whose account sits on its
    cash floor, is left as it is."""
    s = load_scenario(HARNESS / "max-realized-gain-a-cent-over.yaml")
    gain = [_lot_line(s, "brokerage-2", "brokerage-2:1", 0.0001), _lot_line(s, "brokerage-2", "L1", 10.870443)]
    loss = [_lot_line(s, "brokerage", "E2", 7.848786)]
    trades = [
        _sell(s, "brokerage-2", "VOO", 10.870543, gain),
        _sell(s, "brokerage", "VOO", 7.848786, loss),
    ]
    assert s.rules.max_realized_gain == 1000.0
    assert sum(x.gain for t in trades for x in t.lots or []) == pytest.approx(1000.01)
    kept = keep_realized_gain_cap(s, trades)
    assert sum(x.gain for t in kept for x in t.lots or []) <= 1000.0
    assert kept[0] == trades[0]
    assert kept[1].shares > trades[1].shares
    assert kept[1].amount == round(kept[1].shares * kept[1].price, 2)
    (line,) = kept[1].lots or []
    assert line.shares == kept[1].shares


def test_a_cent_sale_does_not_excuse_idle_cash_where_its_class_has_room() -> None:
    """A $0.01 sale of ACME (founder stock, room below its band) beside the VNQ sale the IRA needs, with
    $125,600 left idle: the verifier counts ACME as a purchase the plan could still make (it could sell that
    much less), and the engine's plan buys ACME up to the tracking-error budget instead."""
    from rebal_opt.solver.engine import solve

    s = load_scenario(HARNESS / "contributions-first-cent-sale-exempts-a-security.yaml")
    cent_sale = [_sell(s, "ira", "VNQ", 62.463826), _sell(s, "ira", "ACME", 0.0002)]
    assert "contributions_first" in _problems(s, cent_sale)
    result = solve(s, 30.0)
    assert verify(s, result).ok
    acme = [t for t in result.trades if t.security == "ACME"]
    assert [t.action for t in acme] == ["buy"] and acme[0].amount > 20_000
