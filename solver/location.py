"""Asset location (rules.location): what holding one dollar of a security costs in each kind of account.

The optimizer counts the allocation in pre-tax dollars: a dollar in a traditional IRA weighs as much as a
dollar in a brokerage account or a Roth. Measured against a dollar of the security's asset class held in a
Roth (no tax, no fee, the class's expected return), a dollar of security s loses each year

    taxable        g_s + f_s + y_s·((1 − q_s)·r_ord + q_s·r_qual)      (y_s·r_exempt for municipal interest)
    tax_deferred   g_s + f_s + r_wd·(R_s − f_s)
    tax_exempt     g_s + f_s

with y the distribution yield, q its qualified part, f the expense ratio, R the expected total return,
g = R_class − R_s the return given up against its asset class (a municipal fund earns less than the
taxable bonds of its class: that is the price of its exemption, paid wherever it is held), r_ord / r_qual
the household's marginal rates on interest and on qualified dividends now (federal, NIIT, state), r_exempt
the state's rate, r_wd the rate on withdrawals. A tax-deferred dollar is worth (1 − r_wd) after tax and its
growth is untaxed beyond that (the usual view): per pre-tax dollar the household keeps (1 − r_wd) of the
growth, so against a Roth dollar it loses r_wd·(growth) — owed at withdrawal, taken as the end of the
horizon. Price growth in a taxable account is not charged: its tax waits for a sale, which the capital-gains
term prices when the plan makes one, and may never come (a step-up at death, a gift to charity).

Over the horizon H at discount rate ρ, a yearly cost c paid each year is worth c·A, A = Σ_{k=1..H} (1+ρ)^-k,
and the deferred tax r_wd·(R − f) accrued each year but owed at the end is worth r_wd·(R − f)·H·(1+ρ)^-H.

The MILP term (objective.HoldingCost) prices every dollar of a class against a reference cost of the class:
the cost of the class held pro rata in every account (the accounts' value shares), so that the term
chooses *where* and *in which security* a class is held and leaves *how much of it* to the targets and the
tracking error (a term in absolute costs would pull the allocation toward classes that are cheap to hold).
A pure move between accounts is priced the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from rebal_opt.models.market import HoldingFigures, cash_figures, class_figure, holding_figures, market_prices
from rebal_opt.models.result import AccountLocation, LocationRates, LocationSummary
from rebal_opt.models.scenario import AccountType, Scenario

from .household import PositionKey, account_values, starting_cash, starting_shares, withdrawals
from .tax.evaluate import TaxSituation, evaluate_tax, tax_with_gains
from .taxes import next_year_situation, situation_from_scenario, with_carryforward

RATE_STEP = 1_000.0
"""Dollars of extra income over which the marginal rates are measured: the tax on the next $1,000."""


def _rate(situation: TaxSituation, **more: float) -> float:
    """Tax on RATE_STEP more of the given incomes, per dollar (the exact engine, federal + NIIT + state)."""
    base = evaluate_tax(situation).total_tax
    bumped = replace(situation, **{k: getattr(situation, k) + v * RATE_STEP for k, v in more.items()})
    return round((evaluate_tax(bumped).total_tax - base) / RATE_STEP, 9)


def location_rates(scenario: Scenario) -> LocationRates:
    """The household's marginal rates on each kind of distribution and on tax-deferred withdrawals.

    Interest and non-qualified dividends are ordinary income and investment income (NIIT); qualified
    dividends stack like long-term gains; municipal interest pays the flat state rate only; a withdrawal is
    ordinary income, not investment income (it can still raise the NIIT through MAGI: the engine counts it),
    unless objective.withdrawal_tax_rate says otherwise. With flat rates (tax.rates) the short-term rate
    plus the state rate is the ordinary rate and the long-term rate plus the state rate the qualified one.
    """
    s = situation_from_scenario(scenario)
    state = scenario.tax.state_rate
    if s.flat_rates is not None:
        ordinary, qualified = s.flat_rates[0] + state, s.flat_rates[1] + state
        withdrawal = ordinary
    else:
        ordinary = _rate(s, ordinary_income=1.0, other_investment_income=1.0)
        qualified = _rate(s, qualified_dividends=1.0)
        withdrawal = _rate(s, ordinary_income=1.0)
    if scenario.objective.withdrawal_tax_rate is not None:
        withdrawal = scenario.objective.withdrawal_tax_rate
    return LocationRates(ordinary=ordinary, qualified=qualified, tax_exempt=state, withdrawal=withdrawal)


@dataclass(frozen=True)
class HoldingCosts:
    """Per dollar held: the yearly cost and its value over the horizon, per security and account type."""

    scenario: Scenario
    rates: LocationRates
    figures: dict[str, HoldingFigures]
    missing: dict[str, str]  # securities without market figures -> the figure nobody gives
    cash: HoldingFigures

    @property
    def horizon(self) -> float:
        return self.scenario.objective.location_horizon_years

    @cached_property
    def annuity(self) -> float:
        """A = Σ_{k=1..H} (1+ρ)^-k: the value of a dollar a year over the horizon."""
        rho = self.scenario.objective.location_discount_rate
        h = self.horizon
        return h if rho == 0 else (1 - (1 + rho) ** -h) / rho

    @cached_property
    def at_horizon(self) -> float:
        """H·(1+ρ)^-H: a dollar a year accrued over the horizon, owed at its end."""
        return self.horizon * (1 + self.scenario.objective.location_discount_rate) ** -self.horizon

    def parts(self, kind: AccountType, f: HoldingFigures) -> tuple[float, float]:
        """(paid every year, accrued and owed at withdrawal), as fractions of a dollar held."""
        r = self.rates
        yearly = (f.class_return - f.expected_return) + f.expense_ratio
        if kind == AccountType.TAXABLE:
            if f.tax_exempt:
                yearly += f.dividend_yield * r.tax_exempt
            else:
                q = f.qualified_fraction
                yearly += f.dividend_yield * ((1 - q) * r.ordinary + q * r.qualified)
            return yearly, 0.0
        if kind == AccountType.TAX_DEFERRED:
            return yearly, r.withdrawal * (f.expected_return - f.expense_ratio)
        return yearly, 0.0

    def _of(self, ticker: str | None) -> HoldingFigures | None:
        return self.cash if ticker is None else self.figures.get(ticker)

    def yearly(self, kind: AccountType, ticker: str | None) -> float:
        """Cost a year of a dollar of `ticker` (None: uninvested cash); 0 without figures."""
        f = self._of(ticker)
        return 0.0 if f is None else sum(self.parts(kind, f))

    def present_value(self, kind: AccountType, ticker: str | None) -> float:
        """The cost over the horizon, discounted, of a dollar held there now."""
        f = self._of(ticker)
        return 0.0 if f is None else self._discounted(kind, f)

    def _discounted(self, kind: AccountType, f: HoldingFigures) -> float:
        paid, owed = self.parts(kind, f)
        return paid * self.annuity + owed * self.at_horizon

    @cached_property
    def reference(self) -> dict[str, float]:
        """Per asset class: the present value of holding a dollar of the class (its market figures, no fee)
        pro rata in every account, by the accounts' value shares; 0 for a class without figures."""
        s = self.scenario
        values = account_values(s)
        for account_id, amount in withdrawals(s).items():
            values[account_id] -= amount
        total = sum(v for v in values.values() if v > 0)
        share = {a.id: max(values[a.id], 0.0) / total if total > 0 else 0.0 for a in s.accounts}
        prices = market_prices(s)
        out: dict[str, float] = {}
        for asset_class in s.asset_classes():
            figures = [class_figure(n, asset_class, prices) for n in ("dividend_yield", "qualified_fraction")]
            ret = class_figure("expected_return", asset_class, prices)
            if ret is None or figures[0] is None or figures[1] is None:
                out[asset_class] = 0.0
                continue
            f = HoldingFigures(figures[0], figures[1], False, 0.0, ret, ret)
            out[asset_class] = sum(share[a.id] * self._discounted(a.type, f) for a in s.accounts)
        return out

    @cached_property
    def fee_above_cheapest(self) -> dict[str, float]:
        """Per security with a known expense ratio: how much it exceeds the cheapest known one of its wash
        group (the other share classes of the same portfolio)."""
        s = self.scenario
        cheapest: dict[str, float] = {}
        for ticker, security in s.securities.items():
            if security.expense_ratio is not None:
                group = s.wash_group(ticker)
                cheapest[group] = min(cheapest.get(group, security.expense_ratio), security.expense_ratio)
        return {
            t: sec.expense_ratio - cheapest[s.wash_group(t)]
            for t, sec in s.securities.items()
            if sec.expense_ratio is not None
        }

    def relative(self, kind: AccountType, ticker: str | None) -> float:
        """The MILP's coefficient per dollar: the present value, with the fee counted only above the cheapest
        share class of its wash group, less the reference of the security's classes (fund split); 0 for a
        security without figures (its location is not priced).

        Fees choose between share classes of one portfolio (VTI or VTSAX), where they are the only
        difference. Between different portfolios of a class the household's choice stands: the class-level
        risk model cannot see what else differs between them (a single stock has no fee and would win
        against every index fund), and an unknown fee would count as none."""
        if ticker is None:
            return self.present_value(kind, None) - self.reference.get("cash", 0.0)
        f = self.figures.get(ticker)
        if f is None:
            return 0.0
        f = replace(f, expense_ratio=self.fee_above_cheapest.get(ticker, 0.0))
        split = self.scenario.securities[ticker].class_split()
        return self._discounted(kind, f) - sum(w * self.reference.get(c, 0.0) for c, w in split.items())


def holding_costs(scenario: Scenario) -> HoldingCosts:
    figures, missing = holding_figures(scenario)
    return HoldingCosts(scenario, location_rates(scenario), figures, missing, cash_figures(scenario))


def _by_account(
    costs: HoldingCosts, shares: dict[PositionKey, float], cash: dict[str, float], value_of: str
) -> dict[str, float]:
    """Per account: Σ dollars held × (yearly cost, or the MILP's relative present value) per dollar."""
    s = costs.scenario
    per = costs.yearly if value_of == "yearly" else costs.relative
    out = {a.id: cash.get(a.id, 0.0) * per(a.type, None) for a in s.accounts}
    kinds = {a.id: a.type for a in s.accounts}
    for (account_id, ticker), n in shares.items():
        out[account_id] += n * s.securities[ticker].price * per(kinds[account_id], ticker)
    return out


def location_summary(
    scenario: Scenario, shares_after: dict[PositionKey, float], cash_after: dict[str, float]
) -> LocationSummary:
    """The yearly cost of holding before the plan (contributions in, withdrawals out) and after it, per
    account, and what the change is worth over the horizon as the optimizer counts it (each class against
    its reference, fees above the cheapest share class: a change of allocation alone is worth nothing)."""
    costs = holding_costs(scenario)
    shares_before = starting_shares(scenario)
    cash_before = starting_cash(scenario)
    for account_id, amount in withdrawals(scenario).items():
        cash_before[account_id] -= amount
    before = _by_account(costs, shares_before, cash_before, "yearly")
    after = _by_account(costs, shares_after, cash_after, "yearly")
    pv_before = _by_account(costs, shares_before, cash_before, "relative")
    pv_after = _by_account(costs, shares_after, cash_after, "relative")
    return LocationSummary(
        before=round(sum(before.values()), 2),
        after=round(sum(after.values()), 2),
        by_account={a: AccountLocation(before=round(before[a], 2), after=round(after[a], 2)) for a in before},
        horizon_years=costs.horizon,
        present_value=round(sum(pv_before.values()) - sum(pv_after.values()), 2),
        rates=costs.rates,
        not_counted=sorted(costs.missing),
    )


def harvest_value(scenario: Scenario, short: float, long: float) -> float:
    """Dollars of tax a harvest of these short- and long-term losses (≤ 0) saves, this year and next (a loss
    past this year's limit carries forward), by the exact engine."""
    this_year = situation_from_scenario(scenario)
    following = next_year_situation(scenario)

    def two_years(extra_short: float, extra_long: float) -> float:
        now = tax_with_gains(this_year, extra_short, extra_long)
        later = with_carryforward(following, now.carryforward_short_next, now.carryforward_long_next)
        return now.total_tax + evaluate_tax(later).total_tax

    return max(0.0, two_years(0.0, 0.0) - two_years(short, long))
