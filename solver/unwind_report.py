"""The unwind schedule as a report: per period what is sold and gifted, each year's tax with and without
the plan (exact evaluation, carryforwards chained), totals and present value, the two baselines (sell
everything now, equal installments) and the plan under other price paths."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from rebal_opt.models.result import (
    PriceScenarioOutcome,
    Realized,
    UnwindGift,
    UnwindLotSale,
    UnwindPeriod,
    UnwindResult,
    UnwindTotals,
    WithAndWithout,
)
from rebal_opt.models.scenario import Scenario, Unwind

from .execution import SHARE_TOLERANCE
from .lots import holding_term
from .unwind import UNWIND_MIP_GAP, Period, UnwindPlan, build_and_solve, chained_taxes, growth, state_at

LotShares = dict[str, float]  # lot id -> shares


@dataclass(frozen=True)
class ScheduleTax:
    """Taxes of a sale schedule: per year with and without it, the total it causes, its present value."""

    realized: dict[int, tuple[float, float]]
    with_plan: dict[int, float]
    without_plan: dict[int, float]
    due: float
    present_value: float
    shares_sold: float
    shares_gifted: float

    def totals(self) -> UnwindTotals:
        short = sum(v[0] for v in self.realized.values())
        long = sum(v[1] for v in self.realized.values())
        return UnwindTotals(
            tax_due_to_plan=round(self.due, 2),
            present_value=round(self.present_value, 2),
            shares_sold=round(self.shares_sold, 6),
            shares_gifted=round(self.shares_gifted, 6),
            realized=Realized(short_term=round(short, 2), long_term=round(long, 2)),
        )


class PositionLot(NamedTuple):
    """A taxable lot of the unwound security."""

    account: str
    lot: str
    shares: float
    basis: float  # per share
    acquired: dt.date
    inherited: bool


def _lots(scenario: Scenario, plan: Unwind) -> list[PositionLot]:
    """The security's lots in tradable taxable accounts."""
    return [
        PositionLot(a.id, lot.id or "", lot.shares, lot.basis_per_share, lot.acquired, lot.inherited)
        for a in scenario.accounts
        if a.tradable and not a.tax_advantaged
        for lot in a.lots
        if lot.security == plan.security
    ]


def schedule_tax(
    scenario: Scenario, plan: Unwind, periods: list[Period], sales: list[LotShares], gifts: list[LotShares]
) -> ScheduleTax:
    """Exact taxes of selling `sales[p]` shares of each lot in period p (at the plan's price path)."""
    lots = {lot.lot: lot for lot in _lots(scenario, plan)}
    realized: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    sold_total = gifted_total = 0.0
    for period, sold, gifted in zip(periods, sales, gifts, strict=True):
        price = _price(scenario, plan, period)
        for lid, n in sold.items():
            lot = lots[lid]
            term = holding_term(lot.acquired, period.start, lot.inherited)
            realized[period.tax_year][0 if term == "short" else 1] += n * (price - lot.basis)
            sold_total += n
        gifted_total += sum(gifted.values())
    years = sorted({p.tax_year for p in periods})
    flat = {y: (v[0], v[1]) for y, v in realized.items()}
    with_plan = {y: tax for y, tax, _ in chained_taxes(scenario, plan, flat, years)}
    without = {y: tax for y, tax, _ in chained_taxes(scenario, plan, {}, years)}
    first = years[0]
    due = sum(with_plan[y] - without[y] for y in years)
    pv = sum((with_plan[y] - without[y]) / (1.0 + plan.discount_rate) ** (y - first) for y in years)
    return ScheduleTax(flat, with_plan, without, due, pv, sold_total, gifted_total)


def _price(scenario: Scenario, plan: Unwind, period: Period) -> float:
    """The security's expected price in `period`."""
    return scenario.securities[plan.security].price * growth(plan, plan.security, period.years_from_start)


def baseline_schedule(
    scenario: Scenario, plan: Unwind, periods: list[Period], sellable: list[frozenset[str]], wanted: list[float]
) -> list[LotShares]:
    """Sell `wanted[p]` shares in period p, plus what earlier periods could not sell, by the plan's rules.

    Only lots the plan itself may sell in that period (`sellable[p]`: no do_not_sell lot, no loss lot
    inside a wash-sale window, no short-term gain under no_short_term_gains, nothing in a blackout period),
    highest basis first (the least gain per share); with whole_shares every lot line is a whole number of
    shares, or the whole of a fractional lot; an account's sale worth less than rules.min_trade waits for a
    later period, unless it sells everything that account may sell then. What no period can sell stays
    unsold (the baseline's shares_sold shows it).
    """
    rules = scenario.rules
    lots = sorted(_lots(scenario, plan), key=lambda lot: -lot.basis)
    left = {lot.lot: lot.shares for lot in lots}
    owed = 0.0
    out: list[LotShares] = []
    for period, shares in zip(periods, wanted, strict=True):
        owed += shares
        may = [lot for lot in lots if lot.lot in sellable[period.index] and left[lot.lot] > SHARE_TOLERANCE]
        take: LotShares = {}
        for lot in may:
            if owed <= SHARE_TOLERANCE:
                break
            n = _lot_line(left[lot.lot], owed, rules.whole_shares)
            if n > 0:
                take[lot.lot] = n
                owed -= n
        price = _price(scenario, plan, period)
        for account in sorted({lot.account for lot in may}):
            mine = [lot.lot for lot in may if lot.account == account and lot.lot in take]
            value = sum(take[lid] for lid in mine) * price
            sells_all = all(
                take.get(lot.lot, 0.0) >= left[lot.lot] - SHARE_TOLERANCE for lot in may if lot.account == account
            )
            if mine and value < rules.min_trade - 0.005 and not sells_all:
                owed += sum(take.pop(lid) for lid in mine)
        for lid, n in take.items():
            left[lid] -= n
        out.append(take)
    return out


def _lot_line(held: float, owed: float, whole_shares: bool) -> float:
    """Shares to sell from a lot holding `held` when `owed` are still to be sold: all of it if that is not
    more than owed, else what is owed (whole shares with whole_shares)."""
    if held <= owed + SHARE_TOLERANCE:
        return held
    return float(np.floor(owed + SHARE_TOLERANCE)) if whole_shares else owed


def _allowed(plan: Unwind, periods: list[Period]) -> list[Period]:
    return [p for p in periods if p.number not in plan.blackout] or periods[:1]


def baseline_sell_now(
    scenario: Scenario, plan: Unwind, periods: list[Period], sellable: list[frozenset[str]], total: float
) -> list[LotShares]:
    """`total` shares sold in the first period where sales are allowed; a lot the rules hold back then
    (a loss lot inside a wash-sale window) is sold as soon as they let it go."""
    first = _allowed(plan, periods)[0].index
    wanted = [total if p.index == first else 0.0 for p in periods]
    return baseline_schedule(scenario, plan, periods, sellable, wanted)


def baseline_equal_installments(
    scenario: Scenario, plan: Unwind, periods: list[Period], sellable: list[frozenset[str]], total: float
) -> list[LotShares]:
    """`total` shares in equal parts over the allowed periods (whole shares when the rules ask; the last
    part takes the rest); what a period cannot sell by the rules is carried to the next."""
    allowed = _allowed(plan, periods)
    per = total / len(allowed)
    if scenario.rules.whole_shares:
        per = float(np.floor(per))
    last = allowed[-1].index
    wanted = [0.0] * len(periods)
    for p in allowed:
        wanted[p.index] = per if p.index != last else total - per * (len(allowed) - 1)
    return baseline_schedule(scenario, plan, periods, sellable, wanted)


def _plan_sales(plan_result: UnwindPlan, plan: Unwind) -> list[LotShares]:
    out = []
    for trades in plan_result.trades:
        sold: LotShares = defaultdict(float)
        for t in trades:
            if t.action == "sell" and t.security == plan.security:
                for lot in t.lots or []:
                    sold[lot.lot] += lot.shares
        out.append(dict(sold))
    return out


def _weights_after(scenario: Scenario, plan: Unwind, result: UnwindPlan) -> list[float]:
    """The security's weight in liquid wealth after each period (expected prices)."""
    weights = []
    for period in result.periods:
        after = replace(period, index=period.index + 1)  # the state once this period's trades are done
        state = state_at(scenario, plan, after, result.trades, result.gifts, (0.0, 0.0), (0.0, 0.0))
        price = {t: s.price for t, s in state.securities.items()}
        liquid = security = 0.0
        for a in state.accounts:
            if not a.tradable:
                continue
            liquid += a.cash
            for lot in a.lots:
                liquid += lot.shares * price[lot.security]
                security += lot.shares * price[lot.security] if lot.security == plan.security else 0.0
            for t, n in a.holdings.items():
                liquid += n * price[t]
                security += n * price[t] if t == plan.security else 0.0
        weights.append(security / liquid if liquid > 0 else 0.0)
    return weights


def unwind(scenario: Scenario, time_limit: float | None = None, mip_gap: float = UNWIND_MIP_GAP) -> UnwindResult:
    """Optimize the unwind and report it against the baselines (`rebal-opt unwind`)."""
    plan = scenario.unwind
    assert plan is not None
    result = build_and_solve(scenario, time_limit=time_limit, mip_gap=mip_gap)
    periods = result.periods
    sales = _plan_sales(result, plan)
    taxes = schedule_tax(scenario, plan, periods, sales, result.gifts)
    weights = _weights_after(scenario, plan, result)
    lots = {lot.lot: lot.account for lot in _lots(scenario, plan)}
    rows = []
    for period, trades, gifted, weight in zip(periods, result.trades, result.gifts, weights, strict=True):
        price = _price(scenario, plan, period)
        sold = [
            UnwindLotSale(
                account=t.account, lot=lot.lot, shares=lot.shares, price=round(price, 4), gain=lot.gain, term=lot.term
            )
            for t in trades
            if t.action == "sell" and t.security == plan.security
            for lot in t.lots or []
        ]
        short = sum(s.gain for s in sold if s.term == "short")
        long = sum(s.gain for s in sold if s.term == "long")
        rows.append(
            UnwindPeriod(
                period=period.number,
                start=period.start,
                tax_year=period.tax_year,
                sold=sold,
                gifted=[
                    UnwindGift(account=lots[lid], lot=lid, shares=n, value=round(n * price, 2))
                    for lid, n in gifted.items()
                ],
                realized=Realized(short_term=round(short, 2), long_term=round(long, 2)),
                tax=WithAndWithout(
                    without_plan=round(taxes.without_plan[period.tax_year], 2),
                    with_plan=round(taxes.with_plan[period.tax_year], 2),
                ),
                weight_after=weight,
                trades=trades,
            )
        )
    # The baselines end where the plan ends: they sell as many shares as the plan sells and gifts, by the
    # plan's rules, and are taxed by the same evaluation.
    reduced = taxes.shares_sold + taxes.shares_gifted
    no_gifts: list[LotShares] = [{} for _ in periods]
    baselines = {
        name: schedule_tax(scenario, plan, periods, make(scenario, plan, periods, result.sellable, reduced), no_gifts)
        for name, make in (("sell_now", baseline_sell_now), ("equal_installments", baseline_equal_installments))
    }
    stressed = []
    for path in plan.price_scenarios:
        horizon = plan.horizon_years
        alt = plan.model_copy(
            update={
                "expected_return": (1 + path.security) ** (1 / horizon) - 1,
                "market_return": (1 + path.market) ** (1 / horizon) - 1,
            }
        )
        alt_tax = schedule_tax(scenario, alt, periods, sales, result.gifts)
        last = periods[-1]
        sec_factor = growth(alt, plan.security, last.years_from_start) / growth(
            plan, plan.security, last.years_from_start
        )
        mkt_factor = growth(alt, "", last.years_from_start) / growth(plan, "", last.years_from_start)
        w = weights[-1]
        weight = w * sec_factor / (w * sec_factor + (1 - w) * mkt_factor) if w > 0 else 0.0
        stressed.append(
            PriceScenarioOutcome(
                name=path.name,
                tax_due_to_plan=round(alt_tax.due, 2),
                present_value=round(alt_tax.present_value, 2),
                weight_after=weight,
            )
        )
    notes = [
        "gifts realize no gain; their deduction (market value, up to 30% of AGI, when itemizing) is not in the tax",
        "purchases made during the plan are not sold again within it; other taxable lots are kept",
    ]
    return UnwindResult(
        scenario=scenario.label,
        status=result.status,  # type: ignore[arg-type]
        security=plan.security,
        periods=rows,
        totals=taxes.totals(),
        baselines={name: tax.totals() for name, tax in baselines.items()},
        tax_by_year={
            y: WithAndWithout(without_plan=round(taxes.without_plan[y], 2), with_plan=round(taxes.with_plan[y], 2))
            for y in taxes.with_plan
        },
        price_scenarios=stressed,
        solver=result.solver,
        verified=result.verified,
        notes=notes,
    )
