"""Exact evaluation of a household's full-year US federal + state income tax.

All amounts are dollars; rates are fractions. The computation follows the IRS forms:

1. **Netting (Schedule D).** S = short_term − carryforward_short, L = long_term − carryforward_long,
   N = S + L. Capital result in AGI (line 21): C = max(N, −limit), limit = 3,000 (1,500 married filing
   separately). The loss actually deducted is allowed_loss = max(0, −C).
2. **Income.** AGI = ordinary_income + qualified_dividends + C. Taxable income T = max(0, AGI − D) with
   D the standard deduction of the table, or the itemized amount when `deduction` is given.
3. **Regular tax (Qualified Dividends and Capital Gain Tax Worksheet).**
   P = min(T, qualified_dividends + max(0, min(L, N))) is taxed at 0/15/20% stacked on top of the
   ordinary part O = T − P. With F the ordinary schedule and H the long-term schedule (cumulative tax,
   see `piecewise`), regular tax = min(F(O) + H(T) − H(O), F(T)). H(T) − H(O) is the worksheet's
   0% part max(0, min(T, B0) − O), 15% part min(P − 0%part, max(0, min(T, B15) − max(O, B0))) and
   20% rest, written as one integral of the long-term rate from O to T. The final min is line 25 of the
   worksheet ("tax on all taxable income"); it only binds when P sits where 15% exceeds the ordinary
   rate (between B0 and the top of the 12% bracket).
4. **NIIT (Form 8960).** NII = max(0, other_investment_income + qualified_dividends + C) (the allowed
   −3,000 counts), MAGI = AGI; niit = rate × min(NII, max(0, MAGI − threshold)).
5. **State.** state_rate × T: a flat rate on the federal taxable-income base (AGI minus the same
   deduction), an approximation — real states have their own bases and brackets.
6. **Carryforwards (Capital Loss Carryover Worksheet, Schedule D instructions).** See `carryover`.

Flat-rates mode (`flat_rates=(r_st, r_lt)`, for users who give marginal rates, and for years without a
table) keeps Schedule D: the same netting, loss limit and carryover worksheet, with flat rates in place
of the schedules. With Oc = max(−limit, min(N, max(S, 0))) the part of the capital result taxed at
ordinary rates (a deducted loss included) and Lp = max(0, min(L, N)) the preferential part
(Oc + Lp = C): federal = r_st × Oc + r_lt × Lp, state = state_rate × (Oc + Lp). The carryover
worksheet takes the whole allowed loss as used this year (its line 4 = line 2): a flat ordinary rate
states that there is ordinary taxable income for the deducted loss to reduce. Ordinary income,
qualified dividends and the deduction do not enter: at a flat marginal rate the trades do not change
their tax. The loss limit is statutory and not indexed; a year before the first table uses the first
table's.

Not modelled: AMT, additional Medicare tax, credits, itemized-deduction limits, phase-outs, QBI,
state brackets (docs/tax.md lists them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from rebal_opt.models.tax_tables import (
    DEFAULT_INDEXING_RATE,
    FILING_STATUSES,
    FIRST_TABLE_YEAR,
    TaxTable,
    tax_table,
)

from .piecewise import ConvexPiecewise

MARGINAL_STEP = 1.0
"""Dollars of extra gain used for the marginal rates: the tax on exactly one more dollar."""

MARGINAL_DIGITS = 9
"""Marginal rates are rounded to this many decimals: a $1 difference of two ~1e6 floats carries ~1e-10
of noise, far below any rate a schedule can produce."""


@dataclass(frozen=True)
class TaxSituation:
    """A household's full-year tax inputs (dollars; rates as fractions).

    ordinary_income: everything taxed at ordinary rates (wages, interest, IRA withdrawals,
        non-qualified dividends), before deductions.
    other_investment_income: the part of ordinary_income that is investment income for the NIIT.
    short_term / long_term: the year's realized results from all sources (gains +, losses −).
    carryforward_short / carryforward_long: losses carried in from earlier years (positive numbers).
    deduction: None = the table's standard deduction; otherwise the itemized total used as given.
    flat_rates: (short, long) marginal federal rates instead of the brackets (see module docstring).
    """

    filing_status: str
    year: int
    ordinary_income: float = 0.0
    other_investment_income: float = 0.0
    qualified_dividends: float = 0.0
    deduction: float | None = None
    short_term: float = 0.0
    long_term: float = 0.0
    carryforward_short: float = 0.0
    carryforward_long: float = 0.0
    state_rate: float = 0.0
    flat_rates: tuple[float, float] | None = None
    indexing_rate: float = DEFAULT_INDEXING_RATE

    def __post_init__(self) -> None:
        if str(self.filing_status) not in FILING_STATUSES:
            raise ValueError(f"unknown filing status {self.filing_status!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value}")
        for name in (
            "other_investment_income",
            "qualified_dividends",
            "carryforward_short",
            "carryforward_long",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.deduction is not None and self.deduction < 0:
            raise ValueError(f"deduction must be >= 0 or None, got {self.deduction}")
        if not 0.0 <= self.state_rate < 1.0:
            raise ValueError(f"state_rate must be in [0, 1), got {self.state_rate}")
        if self.flat_rates is not None and not all(0.0 <= r < 1.0 for r in self.flat_rates):
            raise ValueError(f"flat rates must be in [0, 1), got {self.flat_rates}")

    @property
    def is_flat(self) -> bool:
        return self.flat_rates is not None

    @property
    def table(self) -> TaxTable:
        """The year's table (ValueError before the first shipped year)."""
        return tax_table(self.year, str(self.filing_status), self.indexing_rate)

    @property
    def loss_limit(self) -> float:
        """The capital-loss limit (3,000; 1,500 married filing separately). Statutory and not indexed, so
        a year before the first table (flat-rates mode) uses the first table's figure."""
        table = tax_table(max(self.year, FIRST_TABLE_YEAR), str(self.filing_status), self.indexing_rate)
        return table.capital_loss_limit

    @property
    def deduction_amount(self) -> float:
        return self.table.standard_deduction if self.deduction is None else self.deduction

    @property
    def net_short(self) -> float:
        """S = short_term − carryforward_short (Schedule D line 7)."""
        return self.short_term - self.carryforward_short

    @property
    def net_long(self) -> float:
        """L = long_term − carryforward_long (Schedule D line 15)."""
        return self.long_term - self.carryforward_long

    def with_gains(self, extra_short: float, extra_long: float) -> TaxSituation:
        """The same situation with more realized short-/long-term results (dollars, losses negative)."""
        return replace(self, short_term=self.short_term + extra_short, long_term=self.long_term + extra_long)


@dataclass(frozen=True)
class TaxBreakdown:
    """The evaluated tax of a TaxSituation (dollars; marginal rates as fractions).

    ordinary_tax + preferential_tax is the regular income tax (worksheet line 25 or the plain schedule);
    federal_tax = regular tax + niit; total_tax = federal_tax + state_tax. In flat mode ordinary_taxable
    is Oc (the capital result at ordinary rates, a deducted loss negative), preferential_income Lp,
    ordinary_tax r_st × Oc, preferential_tax r_lt × Lp, taxable_income the capital result in AGI
    C = Oc + Lp (the base of the state tax) and niit 0.
    """

    mode: str
    agi: float
    taxable_income: float
    ordinary_taxable: float
    preferential_income: float
    ordinary_tax: float
    preferential_tax: float
    niit: float
    state_tax: float
    federal_tax: float
    total_tax: float
    net_short_term: float
    net_long_term: float
    allowed_loss: float
    loss_benefit_used: float
    carryforward_short_next: float
    carryforward_long_next: float
    marginal_short: float = 0.0
    marginal_long: float = 0.0


@dataclass(frozen=True)
class CapitalNetting:
    """Schedule D netting. S, L: nets after carryforward; limit: the ordinary-loss limit (dollars).

    capital_in_agi = max(S + L, −limit); allowed_loss = max(0, −capital_in_agi);
    preferential_gain = max(0, min(L, S + L)) (worksheet line 7 floored at 0);
    ordinary_capital = capital_in_agi − preferential_gain = max(−limit, min(S + L, max(S, 0))), the part
    taxed at ordinary rates.
    """

    net_short: float
    net_long: float
    limit: float

    @property
    def net_total(self) -> float:
        return self.net_short + self.net_long

    @property
    def capital_in_agi(self) -> float:
        return max(self.net_total, -self.limit)

    @property
    def allowed_loss(self) -> float:
        return max(0.0, -self.capital_in_agi)

    @property
    def preferential_gain(self) -> float:
        return max(0.0, min(self.net_long, self.net_total))

    @property
    def ordinary_capital(self) -> float:
        return max(-self.limit, min(self.net_total, max(self.net_short, 0.0)))


@dataclass(frozen=True)
class Carryover:
    """Result of the Capital Loss Carryover Worksheet (dollars, positive)."""

    benefit_used: float
    short_next: float
    long_next: float


def carryover(netting: CapitalNetting, taxable_before_loss: float) -> Carryover:
    """The Capital Loss Carryover Worksheet, line by line.

    taxable_before_loss is line 3 before its floor: taxable income (unfloored, may be negative) plus
    the allowed loss. The 3,000 is charged against short-term loss first, and only the part of it that
    reduced taxable income (line 4) is used up; the rest carries forward with its character.
    """
    s, lt = netting.net_short, netting.net_long
    line2 = netting.allowed_loss
    line4 = min(line2, max(0.0, taxable_before_loss))
    line5 = max(0.0, -s)
    line6 = max(0.0, lt)
    short_next = max(0.0, line5 - (line4 + line6))
    line9 = max(0.0, -lt)
    line10 = max(0.0, s)
    line11 = max(0.0, line4 - line5)
    long_next = max(0.0, line9 - (line10 + line11))
    return Carryover(benefit_used=line4, short_next=short_next, long_next=long_next)


@dataclass(frozen=True)
class RegularTax:
    """Regular income tax split into its ordinary and preferential parts (dollars)."""

    ordinary: float
    preferential: float


def regular_tax(table: TaxTable, taxable_income: float, preferential_income: float) -> RegularTax:
    """min(F(O) + H(T) − H(O), F(T)) with O = T − P (Qualified Dividends and Capital Gain Worksheet)."""
    ordinary_schedule = ConvexPiecewise.from_schedule(table.ordinary)
    long_schedule = ConvexPiecewise.from_schedule(table.long_term)
    t = taxable_income
    o = t - preferential_income
    stacked_ordinary = ordinary_schedule.value(o)
    stacked_preferential = long_schedule.value(t) - long_schedule.value(o)
    all_ordinary = ordinary_schedule.value(t)
    if all_ordinary < stacked_ordinary + stacked_preferential:
        return RegularTax(ordinary=all_ordinary, preferential=0.0)
    return RegularTax(ordinary=stacked_ordinary, preferential=stacked_preferential)


def net_investment_income_tax(table: TaxTable, nii: float, magi: float) -> float:
    """rate × min(max(0, NII), max(0, MAGI − threshold)) (Form 8960 lines 12–17)."""
    return table.niit.rate * min(max(0.0, nii), max(0.0, magi - table.niit.threshold))


def _evaluate_brackets(s: TaxSituation) -> TaxBreakdown:
    table = s.table
    netting = CapitalNetting(s.net_short, s.net_long, table.capital_loss_limit)
    capital = netting.capital_in_agi
    agi = s.ordinary_income + s.qualified_dividends + capital
    deduction = s.deduction_amount
    taxable = max(0.0, agi - deduction)
    preferential = min(taxable, s.qualified_dividends + netting.preferential_gain)
    regular = regular_tax(table, taxable, preferential)
    niit = net_investment_income_tax(table, s.other_investment_income + s.qualified_dividends + capital, agi)
    state = s.state_rate * taxable
    carry = carryover(netting, agi - deduction + netting.allowed_loss)
    return _breakdown(
        "brackets",
        netting,
        carry,
        agi=agi,
        taxable_income=taxable,
        ordinary_taxable=taxable - preferential,
        preferential_income=preferential,
        ordinary_tax=regular.ordinary,
        preferential_tax=regular.preferential,
        niit=niit,
        state_tax=state,
    )


def _evaluate_flat(s: TaxSituation) -> TaxBreakdown:
    assert s.flat_rates is not None
    rate_short, rate_long = s.flat_rates
    netting = CapitalNetting(s.net_short, s.net_long, s.loss_limit)
    ordinary_capital, preferential = netting.ordinary_capital, netting.preferential_gain
    capital = ordinary_capital + preferential
    # A flat ordinary rate says there is ordinary taxable income for the deducted loss to reduce: the
    # worksheet's taxable income before the loss is taken as unlimited, so the whole allowance is used.
    carry = carryover(netting, math.inf)
    return _breakdown(
        "flat",
        netting,
        carry,
        agi=s.ordinary_income + s.qualified_dividends + capital,
        taxable_income=capital,
        ordinary_taxable=ordinary_capital,
        preferential_income=preferential,
        ordinary_tax=rate_short * ordinary_capital,
        preferential_tax=rate_long * preferential,
        niit=0.0,
        state_tax=s.state_rate * capital,
    )


def _breakdown(
    mode: str,
    netting: CapitalNetting,
    carry: Carryover,
    *,
    agi: float,
    taxable_income: float,
    ordinary_taxable: float,
    preferential_income: float,
    ordinary_tax: float,
    preferential_tax: float,
    niit: float,
    state_tax: float,
) -> TaxBreakdown:
    """The breakdown of either mode: the totals and the Schedule D fields are formed the same way."""
    federal = ordinary_tax + preferential_tax + niit
    return TaxBreakdown(
        mode=mode,
        agi=agi,
        taxable_income=taxable_income,
        ordinary_taxable=ordinary_taxable,
        preferential_income=preferential_income,
        ordinary_tax=ordinary_tax,
        preferential_tax=preferential_tax,
        niit=niit,
        state_tax=state_tax,
        federal_tax=federal,
        total_tax=federal + state_tax,
        net_short_term=netting.net_short,
        net_long_term=netting.net_long,
        allowed_loss=netting.allowed_loss,
        loss_benefit_used=carry.benefit_used,
        carryforward_short_next=carry.short_next,
        carryforward_long_next=carry.long_next,
    )


def _evaluate_without_marginals(s: TaxSituation) -> TaxBreakdown:
    return _evaluate_flat(s) if s.is_flat else _evaluate_brackets(s)


def evaluate_tax(situation: TaxSituation) -> TaxBreakdown:
    """The full-year tax of `situation`, with the marginal rates on one more dollar of ST / LT gain.

    marginal_short = f(short_term + 1) − f(short_term) on total_tax (likewise long), i.e. the exact tax
    on the next dollar, including stacking, NIIT, netting and loss-limit effects.
    """
    base = _evaluate_without_marginals(situation)
    up_short = _evaluate_without_marginals(situation.with_gains(MARGINAL_STEP, 0.0))
    up_long = _evaluate_without_marginals(situation.with_gains(0.0, MARGINAL_STEP))
    return replace(
        base,
        marginal_short=round((up_short.total_tax - base.total_tax) / MARGINAL_STEP, MARGINAL_DIGITS),
        marginal_long=round((up_long.total_tax - base.total_tax) / MARGINAL_STEP, MARGINAL_DIGITS),
    )


def tax_with_gains(base: TaxSituation, extra_short: float, extra_long: float) -> TaxBreakdown:
    """evaluate_tax of `base` with extra realized short-/long-term results (dollars; losses negative).

    tax_with_gains(base, 0, 0) is the tax without trades; with the plan's realized results it is the
    tax with trades, so both come from the same code.
    """
    return evaluate_tax(base.with_gains(extra_short, extra_long))
