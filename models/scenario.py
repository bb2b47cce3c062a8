"""The scenario file (input contract, design §3) as pydantic v2 models.

The models check the shape of each field (types, ranges, unknown keys). Checks that relate one field to
another (a lot names a security that exists, targets sum to 1 ...) live in `models.semantics`, which
reports every problem with its YAML path; `models.loading` runs both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

CASH_CLASS = "cash"
"""Uninvested cash in every account counts as this asset class (a missing target means 0)."""

# --- Limits -------------------------------------------------------------------------------------
# No household comes near these, and they keep the MILP sane: it counts money in thousands of dollars
# with HiGHS's tolerances near 1e-7, so cents stay visible up to about 1e13 dollars (households scaled
# to 1.2e13 still solved and verified; 1.2e14 did not). docs/scenario.md, "Limits", lists them.

MAX_DOLLARS = 1e12
"""Any dollar amount (cash, contributions, incomes, costs, caps) and the household's whole value."""
MAX_PRICE = 1e7
"""A price or a cost per share, dollars."""
MAX_SHARES = 1e10
"""Shares in a lot, holding, trade or per-period limit."""
MAX_SPREAD_BPS = 10_000.0
"""A half-spread of 100%."""
MAX_OBJECTIVE_WEIGHT = 1e6
"""objective.tax_weight and unwind.risk_weight: far beyond any useful trade-off."""
MAX_VOLATILITY = 10.0
"""A yearly volatility of 1000%."""
MAX_TRADES = 100_000
"""rules.max_trades."""
MAX_PRICE_MOVE = 100.0
"""A price scenario's total move (+10,000%)."""
MAX_PROJECTED_YEARS = 50
"""A tax year at most this many years after the last shipped tax table (later ones are projected by
indexing; models.semantics checks it, as it needs the tables)."""
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
"""Every date (as_of, acquired, trades, purchases) lies in MIN_DATE .. MAX_DATE."""

LIMITS: dict[object, tuple[str, str]] = {
    MAX_DOLLARS: ("a dollar amount", "dollars"),
    MAX_PRICE: ("a price or cost per share", "dollars a share"),
    MAX_SHARES: ("a number of shares", "shares"),
    MAX_SPREAD_BPS: ("a spread", "basis points"),
    MAX_OBJECTIVE_WEIGHT: ("an objective weight", ""),
    MAX_VOLATILITY: ("a volatility", "(a fraction a year)"),
    MAX_TRADES: ("max_trades", "trades"),
    MAX_PRICE_MOVE: ("a price move", "(a fraction)"),
}
"""Each limit's value -> (what it limits, its unit), for error messages naming the limit broken."""


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1: a boolean where a number belongs is a mistake, not a 1.
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


def _on_off(value: Any) -> Any:
    # A switch written `on`/`off`; true/false (JSON, or a YAML boolean) mean the same.
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _date_text(value: Any) -> Any:
    # pydantic's lax mode reads a number as a Unix timestamp (0 -> 1970-01-01): dates are written out.
    if isinstance(value, bool | int | float):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


NotBool = BeforeValidator(_not_bool)
Count = Annotated[int, NotBool]
Date = Annotated[dt.date, BeforeValidator(_date_text), Field(ge=MIN_DATE, le=MAX_DATE)]
Weight = Annotated[float, NotBool, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, NotBool, Field(ge=0.0, lt=1.0)]
Dollars = Annotated[float, NotBool, Field(ge=-MAX_DOLLARS, le=MAX_DOLLARS)]
NonNegativeDollars = Annotated[float, NotBool, Field(ge=0.0, le=MAX_DOLLARS)]
PositiveDollars = Annotated[float, NotBool, Field(gt=0.0, le=MAX_DOLLARS)]
Price = Annotated[float, NotBool, Field(gt=0.0, le=MAX_PRICE)]
CostPerShare = Annotated[float, NotBool, Field(ge=0.0, le=MAX_PRICE)]
Shares = Annotated[float, NotBool, Field(gt=0.0, le=MAX_SHARES)]
HeldShares = Annotated[float, NotBool, Field(ge=0.0, le=MAX_SHARES)]
"""Shares of a lot or holding: 0 is accepted (a broker export's leftover) and the loader drops it."""
ObjectiveWeight = Annotated[float, NotBool, Field(ge=0.0, le=MAX_OBJECTIVE_WEIGHT)]


def auto_lot_id(account_id: str, n: int) -> str:
    """The id of the n-th lot (from 1) of an account when the file gives none."""
    return f"{account_id}:{n}"


def new_lot_id(taken: set[str], account_id: str, security: str, acquired: dt.date) -> str:
    """An id for a lot made by a program (an imported lot without one, a recorded purchase):
    `<account>-<security>-<YYYYMMDD>`, with `-2`, `-3`, ... when taken; the id is added to `taken`."""
    base = f"{account_id}-{security}-{acquired:%Y%m%d}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are rejected (a typo must fail loudly)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class FilingStatus(StrEnum):
    SINGLE = "single"
    MARRIED_JOINT = "married_joint"
    MARRIED_SEPARATE = "married_separate"
    HEAD_OF_HOUSEHOLD = "head_of_household"


class AccountType(StrEnum):
    TAXABLE = "taxable"
    TAX_DEFERRED = "tax_deferred"
    TAX_EXEMPT = "tax_exempt"


class GainPair(StrictModel):
    """A short-term / long-term pair of dollar amounts."""

    short_term: Dollars = 0.0
    long_term: Dollars = 0.0


class Carryforward(StrictModel):
    """Capital-loss carryforward from earlier years, as positive dollar amounts."""

    short_term: NonNegativeDollars = 0.0
    long_term: NonNegativeDollars = 0.0


class FlatRates(StrictModel):
    """Flat marginal federal rates on net short- and long-term gains, instead of the brackets."""

    short_term: Rate
    long_term: Rate


class TaxSection(StrictModel):
    """The household's tax situation for the year of the trades."""

    filing_status: FilingStatus
    year: Count | None = Field(default=None, description="Tax table year; default: the year of as_of.")
    ordinary_income: NonNegativeDollars = Field(
        default=0.0,
        description="Expected ordinary income this year (wages, interest, IRA withdrawals), before deductions.",
    )
    other_investment_income: NonNegativeDollars = Field(
        default=0.0,
        description="The part of ordinary_income that is investment income for the NIIT (interest, "
        "non-qualified dividends).",
    )
    qualified_dividends: NonNegativeDollars = 0.0
    deduction: Literal["standard"] | NonNegativeDollars = Field(
        default="standard", description="'standard' or the itemized total in dollars."
    )
    realized_ytd: GainPair = Field(default_factory=GainPair)
    carryforward: Carryforward = Field(default_factory=Carryforward)
    state_rate: Rate = 0.0
    rates: FlatRates | None = Field(default=None, description="Flat marginal rates instead of brackets.")
    indexing_rate: Annotated[float, NotBool, Field(ge=-0.05, le=0.2)] | None = Field(
        default=None,
        description="Yearly inflation used to index tax tables past the last shipped year; "
        "default: the shipped DEFAULT_INDEXING_RATE.",
    )


class Bands(StrictModel):
    """Drift bands: a class is out of band when |w - t| > min(absolute, relative × t)."""

    absolute: Weight = 0.05
    relative: Annotated[float, NotBool, Field(ge=0.0)] | None = 0.25


class Security(StrictModel):
    price: Price
    asset_class: str | dict[str, Weight] = Field(
        description="One asset class, or a split {class: fraction} for a multi-asset fund (sums to 1)."
    )
    wash_group: str | None = Field(
        default=None,
        description="Securities with the same wash_group are substantially identical; default: the security "
        "master's (the tracked index), else own ticker.",
    )
    yield_: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None, alias="yield", description="Yearly distribution yield, a fraction."
    )
    qualified_fraction: Weight | None = Field(default=None, description="Part of the yield taxed as qualified.")
    tax_exempt: bool | None = Field(default=None, description="true: municipal (federally tax-exempt) interest.")
    expense_ratio: Annotated[float, Field(ge=0.0, le=0.1)] | None = Field(default=None, description="A fraction.")
    plan_only: bool | None = Field(
        default=None,
        description="Only buyable inside employer plans (collective trusts, plan share classes); the security "
        "master marks known ones.",
    )

    def class_split(self) -> dict[str, float]:
        """The fraction of this security's value in each asset class."""
        if isinstance(self.asset_class, str):
            return {self.asset_class: 1.0}
        return dict(self.asset_class)


class Lot(StrictModel):
    """A tax lot: shares of one security bought on one day at one cost."""

    id: str | None = Field(default=None, description="Unique in the household; default '<account>:<n>'.")
    security: str
    shares: HeldShares
    cost_per_share: CostPerShare | None = None
    cost_total: NonNegativeDollars | None = None
    acquired: Date
    inherited: bool = Field(default=False, description="Inherited shares are always long-term.")

    @model_validator(mode="after")
    def _one_cost(self) -> Lot:
        if (self.cost_per_share is None) == (self.cost_total is None):
            raise ValueError("give exactly one of cost_per_share / cost_total")
        return self

    @property
    def cost_basis(self) -> float:
        """Total cost basis of the lot in dollars."""
        if self.cost_total is not None:
            return self.cost_total
        assert self.cost_per_share is not None
        return self.cost_per_share * self.shares

    @property
    def basis_per_share(self) -> float:
        # The given figure itself when there is one: 54.72 × 20 / 20 is 54.720000000000006, which made a
        # lot bought at today's price a loss lot (yearend.harvest_losses: false then forbade selling it).
        if self.cost_per_share is not None:
            return self.cost_per_share
        return self.cost_basis / self.shares


PlanKind = Literal[
    "401k", "403b", "457b", "tsp", "ira", "roth_ira", "sep_ira", "simple_ira", "rollover_ira", "hsa", "529", "brokerage"
]
EMPLOYER_PLANS = frozenset({"401k", "403b", "457b", "tsp"})
"""Plan kinds whose purchases are limited to the plan's fund menu."""


class Account(StrictModel):
    id: Annotated[str, Field(min_length=1)]
    type: AccountType
    cash: NonNegativeDollars = 0.0
    contribution: Dollars = Field(default=0.0, description="New money arriving now; negative = a withdrawal.")
    min_cash: NonNegativeDollars = 0.0
    lots: list[Lot] = Field(default_factory=list)
    holdings: dict[str, HeldShares] = Field(
        default_factory=dict, description="Shares per security (tax-advantaged accounts only)."
    )
    buyable: list[str] | None = Field(default=None, description="The fund menu; default: every security.")
    tradable: bool = Field(default=True, description="false: held away; counts in the allocation, never trades.")
    plan: PlanKind | None = Field(
        default=None,
        description="The kind of account where menu rules differ: an employer plan (401k, 403b, 457b, tsp) buys "
        "only from its buyable menu (default: the funds it holds); any other account buys no plan-only fund.",
    )
    source: str | None = Field(
        default=None, description="FORMAT:PATH of a broker export to read the holdings from (docs/import.md)."
    )
    broker_account: str | list[str] | None = Field(
        default=None, description="The account number(s) in broker exports that are this account."
    )

    @property
    def tax_advantaged(self) -> bool:
        return self.type != AccountType.TAXABLE


class RecentTrade(StrictModel):
    date: Date
    account: str
    security: str
    action: Literal["buy", "sell"]
    shares: Shares
    realized_gain: Dollars | None = Field(default=None, description="For sells: the gain (negative = loss).")


class PlannedPurchase(StrictModel):
    date: Date
    account: str
    security: str
    amount: PositiveDollars = Field(description="Dollars.")


class Costs(StrictModel):
    commission: NonNegativeDollars = Field(default=0.0, description="Dollars per trade.")
    spread_bps: Annotated[float, NotBool, Field(ge=0.0, le=MAX_SPREAD_BPS)] = Field(
        default=0.0, description="Half-spread paid on each trade, in bps."
    )


class Rules(StrictModel):
    contributions_first: bool = True
    wash_sales: Literal["avoid", "ignore"] = "avoid"
    min_trade: NonNegativeDollars = Field(default=0.0, description="Dollars.")
    whole_shares: bool = False
    max_trades: Annotated[int, NotBool, Field(ge=0, le=MAX_TRADES)] | None = None
    no_short_term_gains: bool = False
    max_realized_gain: Dollars | None = Field(default=None, description="Cap on the plan's net realized gain.")
    do_not_sell: list[str] = Field(default_factory=list, description="Securities or lot ids.")
    do_not_buy: list[str] = Field(default_factory=list, description="Securities.")
    costs: Costs = Field(default_factory=Costs)
    max_tracking_error: Annotated[float, NotBool, Field(gt=0.0, le=10.0)] | None = Field(
        default=None,
        description="A tracking-error budget (annualized, as reported: sqrt(d'Σd), or Σ|d| with tracking: "
        "absolute). With it the plan minimizes tax and costs subject to the budget instead of trading them "
        "off against tracking error.",
    )
    harvest_in_band: bool = Field(
        default=True,
        description="Consider tax-loss harvesting when every class is inside its band (false: such a household "
        "gets no_trade_needed).",
    )
    location: Annotated[Literal["on", "off"], BeforeValidator(_on_off)] = Field(
        default="off",
        description="on: the plan also weighs what holding each security costs in each account (tax on its "
        "distributions, tax owed later on tax-deferred growth, fees, return given up), so assets move to where "
        "they are taxed least when that beats the tax and costs of moving them (docs/location.md).",
    )


class RiskModel(StrictModel):
    """The covariance of asset-class returns, in one of two forms (not both).

    Volatility + correlation (per class, the shipped default fills gaps), or a factor model:
    Σ = B F Bᵀ + diag(specific_variance), with B the `loadings` of each class on the factors and F the
    `factor_covariance` (annual). Direct indexing makes each security its own class, named by its ticker,
    so the factor form is then per security. A class absent from the factor model carries no risk (cash).
    """

    volatility: dict[str, Annotated[float, NotBool, Field(ge=0.0, le=MAX_VOLATILITY)]] = Field(default_factory=dict)
    correlation: dict[str, Annotated[float, NotBool, Field(ge=-1.0, le=1.0)]] = Field(
        default_factory=dict, description="Keys 'classA.classB'."
    )
    loadings: dict[str, dict[str, Annotated[float, NotBool, Field(ge=-1e3, le=1e3)]]] = Field(
        default_factory=dict,
        description="Factor model: {class or ticker (direct indexing): {factor: loading}}; unlisted factors are 0.",
    )
    factor_covariance: dict[str, dict[str, Annotated[float, NotBool, Field(ge=-1e2, le=1e2)]]] = Field(
        default_factory=dict,
        description="Factor model: annual covariance {factor: {factor: value}}; one triangle is enough "
        "(the other is filled by symmetry), variances on the diagonal.",
    )
    specific_variance: dict[str, Annotated[float, NotBool, Field(ge=0.0, le=1e2)]] = Field(
        default_factory=dict,
        description="Factor model: annual variance of each class's own (idiosyncratic) return; default 0.",
    )

    @property
    def is_factor_model(self) -> bool:
        return bool(self.loadings or self.factor_covariance or self.specific_variance)

    @model_validator(mode="after")
    def _one_form(self) -> RiskModel:
        if self.is_factor_model and (self.volatility or self.correlation):
            raise ValueError(
                "give either volatility/correlation or the factor model (loadings, factor_covariance, "
                "specific_variance), not both"
            )
        return self


class Objective(StrictModel):
    tracking: Literal["quadratic", "absolute"] = "quadratic"
    tax_weight: ObjectiveWeight = Field(
        default=1.0, description="Weight on a dollar of tax relative to tracking error (see docs)."
    )
    risk_model: RiskModel | None = None
    location_horizon_years: Annotated[float, NotBool, Field(gt=0.0, le=50.0)] = Field(
        default=10.0,
        description="rules.location: years over which the cost of holding each security where it is held is "
        "counted (discounted).",
    )
    location_discount_rate: Annotated[float, NotBool, Field(ge=0.0, le=0.5)] = Field(
        default=0.04, description="rules.location: yearly rate that discounts those costs."
    )
    withdrawal_tax_rate: Rate | None = Field(
        default=None,
        description="rules.location: tax rate on withdrawals from tax-deferred accounts (federal + state); "
        "default: the household's marginal rate on ordinary income now.",
    )


class NextYear(StrictModel):
    """What the household expects next year, for next year's tax (how it uses this year's carryforward)."""

    ordinary_income: NonNegativeDollars | None = Field(default=None, description="Default: this year's.")
    qualified_dividends: NonNegativeDollars | None = Field(default=None, description="Default: this year's.")
    short_term: Dollars = Field(default=0.0, description="Gains (losses negative) expected next year, dollars.")
    long_term: Dollars = 0.0


class YearEnd(StrictModel):
    """Year-end tax planning (`rebal-opt yearend`): trades before 31 December for this year and next."""

    harvest_losses: bool = Field(default=True, description="Sell loss lots, buying a substitute in another group.")
    harvest_gains: bool = Field(
        default=True, description="Sell and buy back gain lots while the gain is taxed at 0% (basis step-up)."
    )
    pay_tax_for_step_up: bool = Field(
        default=False,
        description="Also realize gains taxed now when the basis step-up is worth more later (the deferred rate "
        "per dollar) than the two years' tax on them; default: a gain is realized for its step-up only while "
        "it adds no tax this year or next.",
    )
    target_net_realized: Dollars | None = Field(
        default=None,
        description="Aim the year's net realized result (so far plus the plan) at this amount, e.g. -3000.",
    )
    next_year: NextYear = Field(default_factory=NextYear)
    future_long_term_rate: Rate | None = Field(
        default=None,
        description="Rate at which gains left unrealized are taxed when finally sold; default: 15% (or "
        "the flat long-term rate) plus the state rate.",
    )
    years_until_sale: Annotated[float, NotBool, Field(ge=0.0, le=50.0)] = Field(
        default=10.0, description="When that future tax is paid, in years (for its present value)."
    )
    discount_rate: Annotated[float, NotBool, Field(ge=0.0, le=0.5)] = Field(
        default=0.04, description="Yearly rate to discount that future tax."
    )


class UnwindYear(StrictModel):
    """One tax year of an unwind plan."""

    ordinary_income: NonNegativeDollars | None = Field(
        default=None, description="Expected ordinary income that year; default: the tax section's."
    )
    gift_budget: NonNegativeDollars = Field(
        default=0.0, description="Dollars of long-term shares that may go to a charity or donor-advised fund."
    )


class PriceScenario(StrictModel):
    """A price path to stress an unwind plan: total moves over the horizon, spread evenly per period."""

    name: Annotated[str, Field(min_length=1)]
    security: Annotated[float, NotBool, Field(gt=-1.0, le=MAX_PRICE_MOVE)] = Field(
        description="Total move of the security, e.g. -0.40."
    )
    market: Annotated[float, NotBool, Field(gt=-1.0, le=MAX_PRICE_MOVE)] = Field(
        default=0.0, description="Total move of everything else."
    )


class Unwind(StrictModel):
    """A staged sale of a concentrated position over several tax years (`rebal-opt unwind`)."""

    security: str
    horizon_years: Annotated[int, NotBool, Field(ge=1, le=30)]
    periods_per_year: Annotated[Literal[1, 4, 12], NotBool] = 1
    max_weight: Weight = Field(
        default=0.0, description="The security's most weight in liquid wealth after the last period (0: sell out)."
    )
    max_per_period: Annotated[float, NotBool, Field(gt=0.0, le=MAX_SHARES)] | None = Field(
        default=None, description="Most sold (and gifted) a period."
    )
    min_per_period: Annotated[float, NotBool, Field(ge=0.0, le=MAX_SHARES)] | None = Field(
        default=None, description="Least sold a period (not blackout)."
    )
    per_period_unit: Literal["shares", "fraction"] = Field(
        default="shares", description="Unit of max/min_per_period: shares, or a fraction of the starting shares."
    )
    blackout: list[Annotated[int, NotBool, Field(ge=1)]] = Field(
        default_factory=list, description="Periods (1 = the first) in which nothing may be sold."
    )
    years: dict[int, UnwindYear] = Field(default_factory=dict, description="Per tax year: income, gift budget.")
    expected_return: Annotated[float, NotBool, Field(gt=-1.0, lt=1.0)] = Field(
        default=0.0, description="Expected yearly return of the security (prices grow by it each period)."
    )
    market_return: Annotated[float, NotBool, Field(gt=-1.0, lt=1.0)] = Field(
        default=0.0, description="Expected yearly return of every other security."
    )
    price_scenarios: list[PriceScenario] = Field(default_factory=list)
    discount_rate: Annotated[float, NotBool, Field(ge=0.0, le=0.5)] = Field(
        default=0.04, description="Yearly rate for the present value of taxes."
    )
    idiosyncratic_volatility: Annotated[float, NotBool, Field(ge=0.0, le=3.0)] = Field(
        default=0.30, description="The security's own risk beyond its asset class (yearly)."
    )
    risk_weight: ObjectiveWeight = Field(
        default=0.5,
        description="Dollars of tax the plan pays to carry one dollar of one-standard-deviation concentration "
        "risk for a year less.",
    )


class Approval(StrictModel):
    """When a proposal may still be approved (`rebal-opt approve`); without this section, any time."""

    period_days: Annotated[float, NotBool, Field(ge=0.0, le=36_500.0)] | None = Field(
        default=None, description="A proposal older than this many days must be re-solved before approval."
    )
    price_tolerance: Annotated[float, NotBool, Field(gt=0.0, lt=1.0)] | None = Field(
        default=None,
        description="A proposal whose prices differ from the current scenario file's by more than this "
        "fraction (any security) must be re-solved before approval, e.g. 0.02.",
    )


# The `simulate:` section (rebal-opt simulate, docs/simulate.md) --------------------------------------

Period = Literal["month", "quarter", "year"]


class SimulatedPrices(StrictModel):
    """Where the simulated prices come from: Monte Carlo paths from the risk model, or a history file.

    `expected_return`, `dividend_yield` and `qualified_fraction` are keyed by asset class or by ticker (a
    ticker overrides its classes); missing classes take the shipped defaults (models/data/
    market_assumptions.yaml).
    """

    source: Literal["monte_carlo", "history"] = "monte_carlo"
    expected_return: dict[str, Annotated[float, Field(gt=-1.0, lt=2.0)]] = Field(
        default_factory=dict, description="Yearly arithmetic total return (price + distributions) by class or ticker."
    )
    dividend_yield: dict[str, Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        default_factory=dict, description="Yearly distribution yield by class or ticker, paid quarterly."
    )
    qualified_fraction: dict[str, Weight] = Field(
        default_factory=dict, description="Part of the distributions taxed as qualified dividends."
    )
    history: str | None = Field(
        default=None,
        description="source: history — a CSV of dates × tickers (header 'date,TICKER,...'), relative to the "
        "scenario file; replayed as one path.",
    )
    history_adjusted: bool = Field(
        default=False,
        description="The history's prices already include distributions (total return): no dividends are paid.",
    )

    @model_validator(mode="after")
    def _history_file(self) -> SimulatedPrices:
        if (self.source == "history") != (self.history is not None):
            raise ValueError("give history: FILE.csv exactly when source is history")
        return self


class CashFlow(StrictModel):
    """A scheduled contribution (amount > 0) or withdrawal (amount < 0) of one account, every period.

    A flow more frequent than the simulation's step arrives summed at each step (monthly 1,000 with
    quarterly steps: 3,000 a step)."""

    account: str
    amount: float = Field(description="Dollars each period; negative = a withdrawal.")
    every: Period = "year"
    start: dt.date | None = Field(default=None, description="First date it may pay; default: the start.")
    end: dt.date | None = Field(default=None, description="Last date it may pay; default: the end.")


class SimulationPolicy(StrictModel):
    """A rebalancing policy: when it acts, how it trades, and whether it harvests losses between times."""

    name: Annotated[str, Field(min_length=1)]
    when: Literal["never", "calendar", "threshold", "hybrid"]
    every: Period | None = Field(
        default=None, description="calendar: rebalance every period; hybrid: check every period, act on breach."
    )
    how: Literal["optimizer", "naive"] = Field(
        default="optimizer",
        description="optimizer: rebal-opt's plan; naive: sell to target, highest-cost lots first, no harvesting.",
    )
    harvest: bool = Field(default=False, description="Look for tax losses to harvest at every step (optimizer).")
    harvest_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.05, description="A lot is a harvest candidate when its price is this fraction below its basis."
    )
    bands: Bands | None = Field(default=None, description="The bands this policy uses; default: the scenario's.")

    @model_validator(mode="after")
    def _consistent(self) -> SimulationPolicy:
        timed = self.when in ("calendar", "hybrid")
        if timed and self.every is None:
            raise ValueError(f"a {self.when} policy needs every: month, quarter or year")
        if not timed and self.every is not None:
            raise ValueError(f"every applies to calendar and hybrid policies, not {self.when}")
        if self.how == "naive" and self.harvest:
            raise ValueError("the naive rebalancer does not harvest; use how: optimizer or harvest: false")
        return self


def _default_policies() -> list[SimulationPolicy]:
    return [
        SimulationPolicy(name="never", when="never"),
        SimulationPolicy(name="naive-quarterly", when="calendar", every="quarter", how="naive"),
        SimulationPolicy(name="naive-bands", when="threshold", how="naive"),
        SimulationPolicy(name="optimizer-bands", when="threshold"),
        SimulationPolicy(name="optimizer-bands-harvest", when="threshold", harvest=True),
    ]


class Simulate(StrictModel):
    """A policy simulation (back-test) of this household over years (`rebal-opt simulate`)."""

    horizon_years: Annotated[int, Field(ge=1, le=50)] = 10
    step: Literal["month", "quarter"] = "month"
    paths: Annotated[int, Field(ge=1, le=100_000)] = 100
    seed: Annotated[int, Field(ge=0)] = 0
    prices: SimulatedPrices = Field(default_factory=SimulatedPrices)
    cash_flows: list[CashFlow] = Field(default_factory=list)
    dividends: Literal["reinvest", "cash", "pay_out"] = Field(
        default="cash",
        description="reinvest: buy more of the paying security (a new lot); cash: kept in the account; "
        "pay_out: leaves the household.",
    )
    taxes: Literal["portfolio", "outside"] = Field(
        default="portfolio",
        description="portfolio: each year's tax on the investments is paid from a taxable account early the "
        "next year (refunds paid in); outside: paid from other money.",
    )
    deferred_tax_rate: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Tax on tax-deferred balances at liquidation; default: the final year's marginal ordinary rate.",
    )
    policies: list[SimulationPolicy] = Field(default_factory=_default_policies)
    baseline: str | None = Field(
        default=None, description="The naive policy the others are compared with; default: the first naive one."
    )


class Scenario(StrictModel):
    """A household's plan: the whole scenario file."""

    name: str | None = None
    as_of: Date
    tax: TaxSection
    targets: dict[str, Weight]
    bands: Bands = Field(default_factory=Bands)
    securities: dict[str, Security]
    accounts: Annotated[list[Account], Field(min_length=1)]
    recent_trades: list[RecentTrade] = Field(default_factory=list)
    planned_purchases: list[PlannedPurchase] = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)
    objective: Objective = Field(default_factory=Objective)
    yearend: YearEnd | None = Field(default=None, description="Year-end planning (rebal-opt yearend).")
    unwind: Unwind | None = Field(default=None, description="A staged sale of a concentrated position.")
    simulate: Simulate | None = Field(default=None, description="A policy simulation (rebal-opt simulate).")
    whatif: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named variants for rebal-opt whatif: {name: {path: value}}, e.g. "
        "{tight-bands: {bands.absolute: 0.03}}; paths as for --set.",
    )
    approval: Approval | None = Field(default=None, description="Approval policy for proposals (rebal-opt approve).")

    _load_notes: tuple[str, ...] = PrivateAttr(default=())

    @property
    def load_notes(self) -> tuple[str, ...]:
        """What loading accepted but left out (lots and holdings of 0 shares), one line each, path first."""
        return self._load_notes

    def with_load_notes(self, notes: Sequence[str]) -> Scenario:
        if not notes:
            return self
        copy = self.model_copy()
        copy._load_notes = tuple(notes)
        return copy

    @model_validator(mode="after")
    def _name_lots(self) -> Scenario:
        # Lots without an id are named '<account>:<n>' (n counts from 1 within the account's list).
        for account in self.accounts:
            for n, lot in enumerate(account.lots, start=1):
                if lot.id is None:
                    object.__setattr__(lot, "id", auto_lot_id(account.id, n))
        return self

    @property
    def tax_year(self) -> int:
        return self.tax.year if self.tax.year is not None else self.as_of.year

    @property
    def label(self) -> str:
        return self.name or "scenario"

    def account(self, account_id: str) -> Account:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def wash_group(self, ticker: str) -> str:
        security = self.securities[ticker]
        return security.wash_group or ticker

    def target(self, asset_class: str) -> float:
        return self.targets.get(asset_class, 0.0)

    def asset_classes(self) -> list[str]:
        """Every class with a target, then any class used but untargeted (cash), in file order."""
        classes = list(self.targets)
        if CASH_CLASS not in classes:
            classes.append(CASH_CLASS)
        return classes
