"""The unwind schedule as a report: per period what is sold and gifted, each year's tax with and without
the plan (exact evaluation, carryforwards chained), totals and present value, the two baselines (sell
everything now, equal installments) and the plan under other price paths."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

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


def _lots(scenario: Scenario, plan: Unwind) -> list[tuple[str, str, float, float, object, bool]]:
    """(account, lot id, shares, basis per share, acquired, inherited) of the security, tradable taxable."""
    return [
        (a.id, lot.id or "", lot.shares, lot.basis_per_share, lot.acquired, lot.inherited)
        for a in scenario.accounts
        if a.tradable and not a.tax_advantaged
        for lot in a.lots
        if lot.security == plan.security
    ]


def schedule_tax(
    scenario: Scenario, plan: Unwind, periods: list[Period], sales: list[LotShares], gifts: list[LotShares]
) -> ScheduleTax:
    """Exact taxes of selling `sales[p]` shares of each lot in period p (at the plan's price path)."""
    lots = {
        lid: (shares, basis, acquired, inherited)
        for _, lid, shares, basis, acquired, inherited in _lots(scenario, plan)
    }
    base_price = scenario.securities[plan.security].price
    realized: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    sold_total = gifted_total = 0.0
    for period, sold, gifted in zip(periods, sales, gifts, strict=True):
        price = base_price * growth(plan, plan.security, period.years_from_start)
        for lid, n in sold.items():
            _, basis, acquired, inherited = lots[lid]
            term = holding_term(acquired, period.start, inherited)  # type: ignore[arg-type]
            realized[period.tax_year][0 if term == "short" else 1] += n * (price - basis)
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


def _take(lots: list[tuple[str, str, float, float, object, bool]], left: dict[str, float], shares: float) -> LotShares:
    """Sell `shares` from the lots with the highest basis first (the least gain per share)."""
    out: LotShares = {}
    for _, lid, _, _basis, _, _ in sorted(lots, key=lambda item: -item[3]):
        if shares <= 1e-9:
            break
        n = min(left[lid], shares)
        if n > 0:
            out[lid] = n
            left[lid] -= n
            shares -= n
    return out


def baseline_sell_now(scenario: Scenario, plan: Unwind, periods: list[Period], total: float) -> list[LotShares]:
    """`total` shares sold in the first period where sales are allowed, highest basis first."""
    lots = _lots(scenario, plan)
    left = {lid: shares for _, lid, shares, *_ in lots}
    first = next((p.index for p in periods if p.number not in plan.blackout), 0)
    return [_take(lots, left, total) if p.index == first else {} for p in periods]


def baseline_equal_installments(
    scenario: Scenario, plan: Unwind, periods: list[Period], total: float
) -> list[LotShares]:
    """`total` shares in equal parts over the allowed periods (whole shares when the rules ask), highest
    basis first."""
    lots = _lots(scenario, plan)
    allowed = [p for p in periods if p.number not in plan.blackout]
    left = {lid: shares for _, lid, shares, *_ in lots}
    per = total / len(allowed)
    if scenario.rules.whole_shares:
        per = float(np.floor(per))
    out: list[LotShares] = []
    sold = 0.0
    for p in periods:
        if p.number in plan.blackout:
            out.append({})
            continue
        amount = per if p is not allowed[-1] else total - sold
        out.append(_take(lots, left, amount))
        sold += amount
    return out


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
    lots = {lid: account for account, lid, *_ in _lots(scenario, plan)}
    base_price = scenario.securities[plan.security].price
    rows = []
    for period, trades, gifted, weight in zip(periods, result.trades, result.gifts, weights, strict=True):
        price = base_price * growth(plan, plan.security, period.years_from_start)
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
    # The baselines end where the plan ends: they sell as many shares as the plan sells and gifts.
    reduced = taxes.shares_sold + taxes.shares_gifted
    no_gifts: list[LotShares] = [{} for _ in periods]
    baselines = {
        "sell_now": schedule_tax(
            scenario, plan, periods, baseline_sell_now(scenario, plan, periods, reduced), no_gifts
        ).totals(),
        "equal_installments": schedule_tax(
            scenario, plan, periods, baseline_equal_installments(scenario, plan, periods, reduced), no_gifts
        ).totals(),
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
        baselines=baselines,
        tax_by_year={
            y: WithAndWithout(without_plan=round(taxes.without_plan[y], 2), with_plan=round(taxes.with_plan[y], 2))
            for y in taxes.with_plan
        },
        price_scenarios=stressed,
        solver=result.solver,
        verified=result.verified,
        notes=notes,
    )
