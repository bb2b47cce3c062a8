"""The rebalance MILP's core: decision variables and the expressions every block builds on.

Blocks (`solver.blocks`) and objective terms (`solver.objective`) add their own variables, rows and
terms to a `RebalanceModel`; `solver.engine` chooses which ones a scenario switches on and solves.
All money is in k$ (`data.SCALE`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import cvxpy as cp
import numpy as np

from .data import SCALE, RebalanceData

INTEGRALITY_LEAK = 1e-5
"""How much of a slot's cap (plus 1 k$) a trade with its indicator at 0 may be and still count as HiGHS's
integrality slack (its tolerance is 1e-7, rows 1e-7 more): 100 times that, and far below any trade a
binary at 0 could allow were it exact."""


@dataclass(frozen=True)
class BuildOptions:
    """Switches that differ between the solves of one scenario (phases, diagnosis)."""

    allow_sells: bool = True
    soft_bands: bool = False
    band_violation_cap: float | None = None  # k$: total violation allowed (lexicographic second phase)
    idle_cash_cap: float | None = None  # k$: most idle cash allowed (contributions first as far as the budget allows)
    purchase_costs_outside_cap: bool = False  # band_violation_cap: above a band, measured before purchase costs
    cash_spent: bool = False  # contributions-first: sales happen, so idle new cash is not allowed
    objective: str = "plan"  # "plan" | "band_violation" | "idle_cash"
    purpose: str = "rebalance"  # "rebalance" | "yearend" (year-end tax planning: solver/yearend.py)
    tax_weight_parameter: bool = False  # tax_weight as a cvxpy Parameter: re-solve at other weights (frontier)
    disabled: frozenset[str] = frozenset()  # rule blocks switched off (infeasibility diagnosis)
    harvest_only: bool = False  # in band: only loss lots may be sold, and only their proceeds reinvested
    relocate: bool = False  # with harvest_only (rules.location): any lot may be sold, to hold assets where taxed less
    cash_stuck: bool = False  # contributions first as far as the bands allow (blocks.CashSpent._stuck_cash)


@dataclass
class RebalanceModel:
    """Variables and shared expressions of one rebalance MILP."""

    data: RebalanceData
    options: BuildOptions
    sell: cp.Variable  # (U,) k$ sold per unit
    buy: cp.Variable  # (B,) k$ bought per slot
    sell_upper: np.ndarray  # (U,) k$ the most each unit may sell in this model (0: not at all)
    constraints: list[cp.Constraint] = field(default_factory=list)
    objective_terms: dict[str, cp.Expression] = field(default_factory=dict)
    trade_costs: cp.Expression | float = 0.0
    sell_trade: cp.Expression | None = None  # (S_sell,) 1 when the slot trades (see indicators())
    buy_trade: cp.Expression | None = None  # (B,)
    band_violation: cp.Variable | None = None  # (C,) k$ outside the band
    tax: cp.Expression | None = None  # k$ full-year tax with the plan
    next_year_tax: cp.Expression | None = None  # k$ (year-end planning)
    carryforward_next: tuple[cp.Expression, cp.Expression] | None = None  # k$ short, long (year-end)
    # Multi-period plans (solver/unwind.py): what earlier periods changed, valued at this period's prices.
    carried_cash: cp.Expression | None = None  # (A,) k$ cash carried in beyond cash_start
    carried_holdings: cp.Expression | None = None  # (C,) k$ class values moved by earlier trades and gifts
    tax_weight: cp.Parameter | float = 1.0  # objective.tax_weight, or a Parameter (BuildOptions)
    permissions: list[cp.Variable] = field(default_factory=list)  # binaries that let a trade happen
    exclusive: list[cp.Variable] = field(default_factory=list)  # permissions whose 1 forbids something too
    group_bought: dict[str, cp.Expression] = field(default_factory=dict)  # wash group -> its binary β_g
    group_binaries: tuple[cp.Variable, list[str]] | None = None  # all β_g as one vector, and its groups in order
    # class -> (index in specific_leaf_values, √s): the specific-risk leaf |√s_c·(V_c − t_c·W)| of the cone
    specific_leaves: dict[int, tuple[int, float]] = field(default_factory=dict)
    specific_leaf_values: cp.Variable | None = None
    cones: list[Any] = field(default_factory=list)  # SecondOrderCone terms, refined on demand (solver/cone.py)
    tracking_error: cp.Expression | None = None  # k$: W·TE of the plan (objective term or budgeted)
    # rules.whole_shares: units holding a fraction of a share, and the binaries that sell it with the rest
    whole_lot_rest: tuple[np.ndarray, cp.Variable] | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, data: RebalanceData, options: BuildOptions) -> RebalanceModel:
        upper = data.unit_value if options.allow_sells else np.zeros_like(data.unit_value)
        if options.harvest_only and not options.relocate:
            upper = upper * data.harvestable
        sell = cp.Variable(len(data.units), name="sell", bounds=[np.zeros(len(data.units)), upper])
        limit = data.buy_cap if options.soft_bands else data.buy_band_cap
        buy = cp.Variable(len(data.buy_slots), name="buy", bounds=[np.zeros(len(data.buy_slots)), limit])
        weight = data.scenario.objective.tax_weight
        tax_weight: cp.Parameter | float = (
            cp.Parameter(nonneg=True, value=weight, name="tax_weight") if options.tax_weight_parameter else weight
        )
        return cls(data=data, options=options, sell=sell, buy=buy, tax_weight=tax_weight, sell_upper=upper)

    def switches(self, problem: cp.Problem) -> list[cp.Variable]:
        """The problem's binaries that choose a regime of the model (which tax bracket or netting case
        applies, whether the cash target has room) rather than permit a trade. They are few, and they are
        where the LP relaxation is weak: the relaxation start branches on them (solver/warmstart.py)."""
        return regime_binaries(problem, self.permissions)

    @property
    def buy_limit(self) -> np.ndarray:
        """(B,) k$ the most each purchase can be in this model (band-derived when bands are hard)."""
        return self.data.buy_cap if self.options.soft_bands else self.data.buy_band_cap

    # Shared expressions -------------------------------------------------------------------------
    # Sums over many lots (what a slot sells, each account's cash, each class's value, the total) are
    # auxiliary variables pinned by one equality each, so that the rows that use them — bands, tracking
    # error, contributions first — stay short: written out, each of those rows touches every lot, and the
    # model was measured 20× denser and several times slower to solve.

    def _pinned(self, key: str, size: int | None, definition: Callable[[], cp.Expression]) -> cp.Expression:
        """The variable `key`, pinned by one row to `definition()` on first use. The definition is built
        only then: written out on every call, class_after (which builds cash_after's) was rebuilt and thrown
        away some thirty times a solve — half the model's build on a ten-security household."""
        if key not in self._cache:
            variable = cp.Variable(size, name=key) if size is not None else cp.Variable(name=key)
            self.constraints.append(variable == definition())
            self._cache[key] = variable
        return self._cache[key]

    @property
    def sell_by_slot(self) -> cp.Expression:
        """(S,) k$ sold per (account, security)."""
        d = self.data
        if not d.sell_slots:
            return np.zeros(0)
        return self._pinned("sold", len(d.sell_slots), lambda: d.unit_to_sell_slot @ self.sell)

    @property
    def realized_short(self) -> cp.Expression:
        """k$ net short-term gain of the plan: one variable, pinned to the sum over lots (the tax encoding
        reads it in a dozen rows; written out, each of those rows held every lot — 24 rows of 1,500
        entries at 500 securities, and HiGHS's simplex iterations were 5× slower for it)."""
        d = self.data
        return self._pinned("realized_short", None, lambda: (d.unit_gain_ratio * d.unit_short) @ self.sell)

    @property
    def realized_long(self) -> cp.Expression:
        """k$ net long-term gain of the plan (pinned, as realized_short)."""
        d = self.data
        return self._pinned("realized_long", None, lambda: (d.unit_gain_ratio * d.unit_long) @ self.sell)

    def cash_after(self) -> cp.Expression:
        """(A,) k$ ending cash per account: start + sales − purchases − withdrawals − costs."""
        d = self.data

        def definition() -> cp.Expression:
            cash = (
                d.cash_start
                - d.withdrawal
                + d.sell_slot_account @ self.sell_by_slot
                - d.buy_slot_account @ self.buy
                - self.cost_by_account()
            )
            return cash if self.carried_cash is None else cash + self.carried_cash

        return self._pinned("cash_after", len(d.accounts), definition)

    def cost_by_account(self) -> cp.Expression | np.ndarray:
        """(A,) k$ spread and commissions paid in each account."""
        d = self.data
        costs = d.scenario.rules.costs
        spread = costs.spread_bps / 10_000
        out: cp.Expression | np.ndarray = np.zeros(len(d.accounts))
        if spread > 0:
            out = out + spread * (d.sell_slot_account @ self.sell_by_slot + d.buy_slot_account @ self.buy)
        if costs.commission > 0:
            sell_trade, buy_trade = self.indicators()
            fee = costs.commission / SCALE
            out = out + fee * (d.sell_slot_account @ sell_trade + d.buy_slot_account @ buy_trade)
        return out

    def traded(self) -> tuple[np.ndarray, np.ndarray]:
        """The solved sales per unit and purchases per buy slot (k$), without integrality slack.

        A slot's trade is bounded by cap·z (blocks.TradeIndicators), and HiGHS accepts z within its
        integrality tolerance of 0 (1e-7): a slot with a large cap can then trade a few cents with z
        "0" and no commission; the plan would turn that into a real trade with a real commission (harness
        seed 2818 #1721: $0.07 sold from a $2.1M slot, a $20 commission, cash −19.93). Such amounts — z
        under ½ and the amount within INTEGRALITY_LEAK of the cap — are dropped here."""
        assert self.sell.value is not None and self.buy.value is not None
        d = self.data
        sell = np.asarray(self.sell.value, dtype=float).copy()
        buy = np.asarray(self.buy.value, dtype=float).copy()
        if isinstance(self.sell_trade, cp.Variable) and self.sell_trade.value is not None and len(d.sell_slots):
            z = np.asarray(self.sell_trade.value, dtype=float).ravel()
            by_slot = d.unit_to_sell_slot @ np.maximum(sell, 0.0)
            cap = d.unit_to_sell_slot @ d.unit_value
            leak = np.flatnonzero((z < 0.5) & (by_slot <= INTEGRALITY_LEAK * (cap + 1.0)))
            if len(leak):
                sell[np.asarray(d.unit_to_sell_slot[leak].sum(axis=0)).ravel() > 0] = 0.0
        if isinstance(self.buy_trade, cp.Variable) and self.buy_trade.value is not None and len(d.buy_slots):
            z = np.asarray(self.buy_trade.value, dtype=float).ravel()
            limit = np.asarray(self.buy_limit, dtype=float).ravel()
            buy[(z < 0.5) & (np.maximum(buy, 0.0) <= INTEGRALITY_LEAK * (limit + 1.0))] = 0.0
        return sell, buy

    def indicators(self) -> tuple[cp.Expression, cp.Expression]:
        """The trade indicators z_sell (per sell slot) and z_buy (per buy slot), binaries made on first use
        (a commission can be priced before blocks.TradeIndicators ties them to the trades, as an unwind's
        later periods do). A side with no slots gets a constant empty vector: cvxpy fails to unpack an
        empty boolean variable."""
        if self.sell_trade is None:
            d = self.data
            self.sell_trade = _binaries(len(d.sell_slots), "sell_trade")
            self.buy_trade = _binaries(len(d.buy_slots), "buy_trade")
            self.permissions += [v for v in (self.sell_trade, self.buy_trade) if isinstance(v, cp.Variable)]
        assert self.buy_trade is not None
        return self.sell_trade, self.buy_trade

    def class_after(self) -> cp.Expression:
        """(C,) k$ value per asset class after the plan (funds split; cash after costs and withdrawals)."""
        d = self.data

        def definition() -> cp.Expression:
            cash_change = cp.sum(self.cash_after()) - float(d.cash_start.sum())
            unit_vector = np.zeros(len(d.classes))
            unit_vector[d.cash_index] = 1.0
            values = (
                d.class_value_start
                + d.buy_slot_exposure @ self.buy
                - d.sell_slot_exposure @ self.sell_by_slot
                + unit_vector * cash_change
            )
            return values if self.carried_holdings is None else values + self.carried_holdings

        return self._pinned("class_after", len(d.classes), definition)

    def total_after(self) -> cp.Expression:
        return self._pinned("total_after", None, lambda: cp.sum(self.class_after()))

    def drift(self) -> cp.Expression:
        """(C,) drift by class in weight units, scaled by the after-flows total (exact to within costs/W).

        (V_c − t_c·W_after) / W_ref: the numerator is exact, W_ref = W_after before costs.
        """
        d = self.data
        return (self.class_after() - d.target * self.total_after()) / d.total_after_flows


def _binaries(size: int, name: str) -> cp.Expression:
    return cp.Variable(size, boolean=True, name=name) if size else cp.Constant(np.zeros(0))


class Block(Protocol):
    """A constraint block or objective term: adds its variables, rows and terms to the model."""

    name: str

    def add(self, model: RebalanceModel) -> None: ...


def regime_binaries(problem: cp.Problem, permissions: list[cp.Variable]) -> list[cp.Variable]:
    """The problem's binaries other than `permissions` (see RebalanceModel.switches)."""
    granted = {variable.id for variable in permissions}
    return [v for v in problem.variables() if v.attributes.get("boolean") and v.id not in granted]
