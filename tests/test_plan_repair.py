"""The repairs applied to a plan after rounding (solver/plan.py): an unwind period's sales cut to what the
period starts with. The household is scenarios/james-multi-account.yaml; the verifier judges the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import LotSale, SolverInfo, Trade
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.data import build_data
from rebal_opt.solver.plan import HOLDING_SLIP, HOLDING_SLIP_DOLLARS, _within_holdings, build_result, trade_cost
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
