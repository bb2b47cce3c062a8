"""The JSON result (output contract, design §4) as pydantic models.

Amounts are dollars rounded to cents (`Money`: every dollar field is written to the cent in JSON, whatever
float arithmetic left in it); weights are fractions. New optional fields may be added; the fields the
design defines keep their names.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _to_cents(x: float) -> float:
    return round(x, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


Money = Annotated[float, PlainSerializer(_to_cents, return_type=float, when_used="json")]
"""Dollars; serialized to JSON in cents."""

ResultStatus = Literal["optimal", "time_limit", "infeasible", "no_trade_needed"]
Term = Literal["short", "long"]


class ResultModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LotSale(ResultModel):
    """Shares of one lot (or, in a tax-advantaged account, of the position) sold by a trade."""

    lot: str
    shares: float
    cost_basis: Money
    gain: Money
    term: Term
    acquired: dt.date | None = None


class Trade(ResultModel):
    account: str
    security: str
    action: Literal["buy", "sell"]
    shares: float
    price: float
    amount: Money = Field(description="shares × price, dollars.")
    lots: list[LotSale] | None = Field(default=None, description="Sells in taxable accounts: the lots sold.")
    cost: Money = Field(default=0.0, description="Commission plus spread paid on this trade, dollars.")
    reason: str | None = Field(default=None, description="Why the trade is in the plan (year-end planning).")


class ClassAllocation(ResultModel):
    target: float
    before: float
    after: float
    low: float
    high: float
    in_band_before: bool = True
    in_band_after: bool = True


class Realized(ResultModel):
    short_term: Money = 0.0
    long_term: Money = 0.0


class TaxSummary(ResultModel):
    without_trades: Money
    with_trades: Money
    due_to_trades: Money


class TrackingError(ResultModel):
    before: float
    after: float
    measure: Literal["quadratic", "absolute"] = Field(
        default="quadratic", description="quadratic: sqrt(d'Σd); absolute: Σ|d| (objective.tracking)."
    )


class BlockedAction(ResultModel):
    group: str
    action: Literal["sell_at_loss", "buy"]
    until: dt.date
    reason: str
    securities: list[str] = Field(default_factory=list)


class WashSale(ResultModel):
    blocked: list[BlockedAction] = Field(default_factory=list)


class SolverStep(ResultModel):
    step: str = Field(description="build | compile | conic search | vertex step | relaxation start | MILP | LP | other")
    seconds: float
    detail: str | None = Field(default=None, description="What the step did: nodes, relaxations, LPs.")


class SolverInfo(ResultModel):
    status: str
    seconds: float
    mip_gap: float | None = None
    gap_dollars: Money | None = Field(
        default=None, description="The optimality gap in dollars of objective (HiGHS stops at 0.01% or $1)."
    )
    build_seconds: float | None = None
    solve_seconds: float | None = None
    solves: int = 1
    time: list[SolverStep] | None = Field(
        default=None,
        description="Where `seconds` went, in order: building the model, cvxpy's compile, each solver step "
        "(summed over the solves), and the rest (data, phases, extracting the plan).",
    )


class BandViolation(ResultModel):
    asset_class: str
    after: float
    low: float
    high: float
    reason: str


class WithAndWithout(ResultModel):
    without_plan: Money
    with_plan: Money


class CarryforwardNextYear(ResultModel):
    short_term: WithAndWithout
    long_term: WithAndWithout


class YearEndSummary(ResultModel):
    """Year-end planning figures (`rebal-opt yearend`), dollars."""

    tax_this_year: WithAndWithout
    carryforward_next_year: CarryforwardNextYear
    tax_next_year: WithAndWithout
    net_realized_this_year: WithAndWithout
    deferred_rate: float = Field(
        description="Present value of the future tax moved by each dollar realized now (basis step-up)."
    )


class AccountLocation(ResultModel):
    before: Money = Field(description="Yearly cost of holding what the account holds before the plan, dollars.")
    after: Money = Field(description="The same after the plan.")


class LocationRates(ResultModel):
    """The marginal rates the holding costs use (fractions, federal + state; NIIT where it applies)."""

    ordinary: float = Field(description="Interest and non-qualified dividends in a taxable account.")
    qualified: float = Field(description="Qualified dividends in a taxable account.")
    tax_exempt: float = Field(description="Municipal interest in a taxable account (the state's rate).")
    withdrawal: float = Field(description="Withdrawals from a tax-deferred account.")


class LocationSummary(ResultModel):
    """rules.location: what holding the household's securities where they are held costs a year — tax on
    taxable distributions, tax owed later on tax-deferred growth, expense ratios, return given up against
    the asset class (a municipal fund's lower yield) — before and after the plan (docs/location.md)."""

    before: Money = Field(description="Dollars a year, every account, before the plan (contributions in).")
    after: Money = Field(description="Dollars a year after the plan.")
    by_account: dict[str, AccountLocation] = Field(default_factory=dict)
    horizon_years: float = Field(description="objective.location_horizon_years.")
    present_value: Money = Field(
        description="What the plan's change of where (and in which share class) each class is held saves over "
        "the horizon, discounted, as the optimizer counts it: a change of allocation alone is worth 0."
    )
    rates: LocationRates
    not_counted: list[str] = Field(
        default_factory=list, description="Securities without market figures: their holding cost is not counted."
    )


class Result(ResultModel):
    scenario: str
    status: ResultStatus
    trades: list[Trade] = Field(default_factory=list)
    allocation: dict[str, ClassAllocation] = Field(default_factory=dict)
    realized: Realized = Field(default_factory=Realized)
    tax: TaxSummary
    tracking_error: TrackingError
    wash_sale: WashSale = Field(default_factory=WashSale)
    solver: SolverInfo
    costs: Money = Field(default=0.0, description="Commissions and spread paid by all trades, dollars.")
    cash_after: dict[str, Money] = Field(default_factory=dict, description="Ending cash per account.")
    band_violations: list[BandViolation] = Field(
        default_factory=list, description="Classes that stay outside their band, and why."
    )
    notes: list[str] = Field(default_factory=list)
    verified: bool = Field(default=False, description="The plan passed the independent verifier.")
    yearend: YearEndSummary | None = Field(default=None, description="Year-end planning figures.")
    location: LocationSummary | None = Field(
        default=None, description="rules.location: the yearly cost of holding, before and after the plan."
    )


class UnwindLotSale(ResultModel):
    account: str
    lot: str
    shares: float
    price: float
    gain: Money
    term: Term


class UnwindGift(ResultModel):
    account: str
    lot: str
    shares: float
    value: Money


class UnwindPeriod(ResultModel):
    period: int
    start: dt.date
    tax_year: int
    sold: list[UnwindLotSale]
    gifted: list[UnwindGift]
    realized: Realized
    tax: WithAndWithout = Field(description="That tax year's total tax without and with the plan.")
    weight_after: float = Field(description="The security's weight in liquid wealth after the period.")
    trades: list[Trade] = Field(default_factory=list, description="Every trade of the period (reinvestment too).")


class UnwindTotals(ResultModel):
    tax_due_to_plan: Money
    present_value: Money
    shares_sold: float = 0.0
    shares_gifted: float = 0.0
    realized: Realized = Field(default_factory=Realized)


class PriceScenarioOutcome(ResultModel):
    name: str
    tax_due_to_plan: Money
    present_value: Money
    weight_after: float


class UnwindResult(ResultModel):
    """Output of `rebal-opt unwind` (docs/unwind.md)."""

    scenario: str
    status: ResultStatus
    security: str
    periods: list[UnwindPeriod]
    totals: UnwindTotals
    baselines: dict[str, UnwindTotals]
    tax_by_year: dict[int, WithAndWithout] = Field(default_factory=dict)
    price_scenarios: list[PriceScenarioOutcome] = Field(default_factory=list)
    solver: SolverInfo
    verified: bool = False
    notes: list[str] = Field(default_factory=list)
