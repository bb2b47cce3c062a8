"""Multi-year unwind of a concentrated position: the rebalance engine over several periods, one MILP.

Each period is a `RebalanceModel` built from the household at that period's expected prices and date
(lots keep their ages: a lot turns long-term in the period after its anniversary). The periods are tied
together here:

* lots: every share of a lot is sold or gifted at most once over all periods;
  tax-advantaged positions: cumulative sales never exceed what was held plus what was bought;
* state: each period starts from the previous one — cash carried (`carried_cash`), holdings moved by
  earlier trades and gifts valued at this period's prices (`carried_holdings`);
* tax: one exact encoding per tax year over that year's periods, the loss carryforward chained from year
  to year (pinned by the encoding), each year with its own income and brackets (indexed past the last
  table);
* wash sales: the security (and its wash group) is never bought during the plan, and other taxable lots
  are not sold, so no loss sale can be washed across a period boundary by the plan itself; purchases
  outside the plan (recent trades, planned purchases) block loss sales in the periods they fall near;
* reinvestment: in every period the proceeds go where the household's tracking error says (new cash spent
  first, `CashSpent`), within menus, minimum trades, whole shares.

Objective (k$):
    Σ_y tax_weight·(T_y − T_y⁰)/(1 + r)^(y − y₀)  +  risk_weight·Σ_p Δt_p·(σ_idio·V_p + W_p·TE_p)
the present value of the tax the plan causes, plus the risk carried: V_p the position's value after
period p (its own risk σ_idio beyond its asset class), W_p·TE_p the household's tracking error in dollars,
each for the period's length Δt_p in years. End state: V_last ≤ max_weight · liquid wealth.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace

import cvxpy as cp
import numpy as np

from rebal_opt.models.result import SolverInfo, Trade
from rebal_opt.models.scenario import Account, Lot, PlannedPurchase, RecentTrade, Scenario, Unwind

from .data import SCALE, RebalanceData, build_data
from .engine import choose_blocks
from .highs import run_highs
from .lots import holding_term
from .model import BuildOptions, RebalanceModel, regime_binaries
from .plan import build_result, extract_trades
from .tax.encoding import CapitalGainsTaxEncoding
from .tax.evaluate import TaxSituation, evaluate_tax
from .taxes import situation_from_scenario
from .verify import verify


class UnwindError(Exception):
    """The unwind plan cannot be made: the end state is out of reach under the rules (infeasible)."""


class UnwindSolverFailure(Exception):
    """The solver failed, or ran out of time, without any unwind plan (not a conflict of rules)."""


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (clamped to the month's last day)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@dataclass(frozen=True)
class Period:
    index: int  # 0-based
    start: dt.date
    tax_year: int
    years_from_start: float
    length_years: float

    @property
    def number(self) -> int:
        return self.index + 1


def plan_periods(scenario: Scenario, plan: Unwind) -> list[Period]:
    step = 12 // plan.periods_per_year
    count = plan.horizon_years * plan.periods_per_year
    return [
        Period(
            p,
            add_months(scenario.as_of, p * step),
            add_months(scenario.as_of, p * step).year,
            p / plan.periods_per_year,
            1.0 / plan.periods_per_year,
        )
        for p in range(count)
    ]


def growth(
    plan: Unwind, ticker: str, years: float, security_return: float | None = None, market_return: float | None = None
) -> float:
    """Price factor after `years` at the plan's expected yearly returns."""
    rate = (
        (security_return if security_return is not None else plan.expected_return)
        if ticker == plan.security
        else (market_return if market_return is not None else plan.market_return)
    )
    return (1.0 + rate) ** years


def _scenario_at(scenario: Scenario, plan: Unwind, period: Period) -> Scenario:
    """The starting household seen at a period: prices grown, dated, contributions only at the start;
    taxable lots other than the security's are kept, the security's wash group is never bought."""
    securities = {
        t: s.model_copy(update={"price": s.price * growth(plan, t, period.years_from_start)})
        for t, s in scenario.securities.items()
    }
    keep = [
        lot.id
        for a in scenario.accounts
        if not a.tax_advantaged
        for lot in a.lots
        if lot.security != plan.security and lot.id is not None
    ]
    group = scenario.wash_group(plan.security)
    never_buy = [t for t in scenario.securities if scenario.wash_group(t) == group]
    rules = scenario.rules.model_copy(
        update={
            "do_not_sell": [*scenario.rules.do_not_sell, *keep],
            "do_not_buy": sorted({*scenario.rules.do_not_buy, *never_buy}),
        }
    )
    accounts = (
        scenario.accounts
        if period.index == 0
        else [a.model_copy(update={"contribution": 0.0}) for a in scenario.accounts]
    )
    return scenario.model_copy(
        update={"securities": securities, "as_of": period.start, "rules": rules, "accounts": accounts}
    )


@dataclass
class PeriodModel:
    period: Period
    data: RebalanceData
    model: RebalanceModel
    gifts: cp.Expression | None = None  # (G,) k$ gifted per eligible lot
    gift_shares: cp.Variable | None = None  # (G,) shares gifted (whole when the rules ask)
    gift_lots: list[str] = field(default_factory=list)
    security_value: cp.Expression | None = None  # k$ after the period


@dataclass
class UnwindPlan:
    """The optimized schedule with what the report needs."""

    scenario: Scenario
    periods: list[Period]
    trades: list[list[Trade]]  # per period
    gifts: list[dict[str, float]]  # per period: lot id -> shares
    status: str
    solver: SolverInfo
    verified: bool
    # Per period: the security's taxable lots the plan's rules let it sell then (not on do_not_sell, not a
    # short-term gain under no_short_term_gains, not a loss lot inside a wash-sale window; none in a
    # blackout period). The baselines (solver/unwind_report.py) sell by the same rules.
    sellable: list[frozenset[str]] = field(default_factory=list)


def sellable_lots(pm: PeriodModel, plan: Unwind) -> frozenset[str]:
    """The lots of the security that period's model may sell (the model bounds every other one at 0)."""
    if pm.period.number in plan.blackout:
        return frozenset()
    d = pm.data
    return frozenset(
        u.lot_id
        for u, value in zip(d.units, d.unit_value, strict=True)
        if u.taxable and u.security == plan.security and u.lot_id is not None and value > 0
    )


def _lot_index(scenario: Scenario) -> dict[str, tuple[Account, Lot]]:
    return {lot.id: (a, lot) for a in scenario.accounts for lot in a.lots if lot.id is not None}


def _tax_year_situation(scenario: Scenario, plan: Unwind, year: int) -> TaxSituation:
    """Year `year`'s situation without the plan: its own income; this year's realized-so-far and
    carryforward only in the first year (later years get the chained carryforward as an input)."""
    base = situation_from_scenario(scenario)
    override = plan.years.get(year)
    income = (
        override.ordinary_income
        if override is not None and override.ordinary_income is not None
        else base.ordinary_income
    )
    if year == base.year:
        return replace(base, ordinary_income=income)
    return replace(
        base,
        year=year,
        ordinary_income=income,
        short_term=0.0,
        long_term=0.0,
        carryforward_short=0.0,
        carryforward_long=0.0,
    )


def chained_taxes(
    scenario: Scenario, plan: Unwind, realized: dict[int, tuple[float, float]], years: list[int]
) -> list[tuple[int, float, tuple[float, float]]]:
    """Each year's total tax and the carryforward it leaves, given the plan's realized (short, long) per
    year, carryforwards chained from year to year by the exact evaluation."""
    carry = (0.0, 0.0)
    out = []
    for i, year in enumerate(years):
        situation = _tax_year_situation(scenario, plan, year)
        if i > 0:
            situation = replace(situation, carryforward_short=carry[0], carryforward_long=carry[1])
        short, long = realized.get(year, (0.0, 0.0))
        breakdown = evaluate_tax(
            replace(situation, short_term=situation.short_term + short, long_term=situation.long_term + long)
        )
        carry = (breakdown.carryforward_short_next, breakdown.carryforward_long_next)
        out.append((year, breakdown.total_tax, carry))
    return out


def _result_bounds(in_year: list[PeriodModel], mask_name: str) -> tuple[float, float]:
    """(lo, hi) k$ of a year's short- or long-term result: every loss sold, every gain sold."""
    lo = hi = 0.0
    for pm in in_year:
        d = pm.data
        ratio = d.unit_gain_ratio * d.unit_value * getattr(d, mask_name)
        lo += float(np.minimum(ratio, 0).sum())
        hi += float(np.maximum(ratio, 0).sum())
    return lo, hi


UNWIND_MIP_GAP = 1e-3
"""Multi-year plans stop at a 0.1% gap: their objective is a present value under assumed returns, far less
certain than 0.1%, and proving 0.01% was measured to take 20× longer (4 s against 90 s on the monthly
example)."""


def build_and_solve(scenario: Scenario, time_limit: float | None = None, mip_gap: float = UNWIND_MIP_GAP) -> UnwindPlan:
    plan = scenario.unwind
    assert plan is not None
    start = time.perf_counter()
    periods = plan_periods(scenario, plan)
    lots = _lot_index(scenario)
    models: list[PeriodModel] = []
    constraints: list[cp.Constraint] = []
    terms: list[cp.Expression] = []
    rules = scenario.rules
    for period in periods:
        data = build_data(_scenario_at(scenario, plan, period))
        sells_allowed = period.number not in plan.blackout
        model = RebalanceModel.create(data, BuildOptions(purpose="unwind", cash_spent=rules.contributions_first))
        if not sells_allowed:
            blocked = [j for j, u in enumerate(data.units) if u.security == plan.security]
            if blocked:
                constraints.append(model.sell[blocked] == 0)
        models.append(PeriodModel(period, data, model))

    # Gifts: long-term gain lots of the security in taxable accounts (a loss lot is sold, never gifted).
    for pm in models:
        if pm.period.number in plan.blackout:
            continue
        year = plan.years.get(pm.period.tax_year)
        if year is None or year.gift_budget <= 0:
            continue
        price = pm.data.scenario.securities[plan.security].price
        eligible = [
            lid
            for lid, (a, lot) in lots.items()
            if lot.security == plan.security
            and a.tradable
            and not a.tax_advantaged
            and holding_term(lot.acquired, pm.period.start, lot.inherited) == "long"
            and lot.basis_per_share < price
        ]
        if eligible:
            pm.gift_lots = eligible
            held = np.array([lots[lid][1].shares for lid in eligible])
            whole = scenario.rules.whole_shares
            shares = cp.Variable(
                len(eligible),
                name="gift_shares",
                integer=whole,
                bounds=[np.zeros(len(eligible)), np.floor(held) if whole else held],
            )
            pm.gift_shares = shares
            pm.gifts = shares * (price / SCALE)
    gift_by_year: dict[int, list[cp.Expression]] = defaultdict(list)
    for pm in models:
        if pm.gifts is not None:
            gift_by_year[pm.period.tax_year].append(cp.sum(pm.gifts))
    for year, amounts in gift_by_year.items():
        constraints.append(cp.sum(cp.hstack(amounts)) <= plan.years[year].gift_budget / SCALE)

    # Carried state: each period starts where the previous one ended, at its own prices.
    classes = models[0].data.classes
    for p, pm in enumerate(models):
        carried: list[cp.Expression] = []
        for q in range(p):
            earlier = models[q]
            d = earlier.data
            ratio_buy = np.array(
                [
                    pm.data.scenario.securities[s.security].price / d.scenario.securities[s.security].price
                    for s in d.buy_slots
                ]
            )
            ratio_sell = np.array(
                [
                    pm.data.scenario.securities[s.security].price / d.scenario.securities[s.security].price
                    for s in d.sell_slots
                ]
            )
            if len(d.buy_slots):
                carried.append(d.buy_slot_exposure @ cp.multiply(ratio_buy, earlier.model.buy))
            if len(d.sell_slots):
                carried.append(-(d.sell_slot_exposure @ cp.multiply(ratio_sell, earlier.model.sell_by_slot)))
        for q in range(p + 1):
            earlier = models[q]
            if earlier.gifts is not None:
                factor = (
                    pm.data.scenario.securities[plan.security].price
                    / earlier.data.scenario.securities[plan.security].price
                )
                exposure = np.zeros(len(classes))
                for asset_class, fraction in scenario.securities[plan.security].class_split().items():
                    exposure[classes.index(asset_class)] = fraction
                carried.append(-exposure * (factor * cp.sum(earlier.gifts)))
        if carried:
            pm.model.carried_holdings = cp.sum(cp.vstack(carried), axis=0) if len(carried) > 1 else carried[0]
        if p > 0:
            pm.model.carried_cash = models[p - 1].model.cash_after() - pm.data.cash_start

    # Per period, the engine's own blocks (choose_blocks with purpose "unwind": no bands, no per-period tax).
    for pm in models:
        chosen = choose_blocks(pm.data, pm.model.options)
        for block in chosen:
            block.add(pm.model)

    _no_whole_position_exceptions(models)

    # Lots sold or gifted once; tax-advantaged positions never oversold across periods.
    lot_parts: dict[str, list[cp.Expression]] = defaultdict(list)
    for pm in models:
        for j, unit in enumerate(pm.data.units):
            if unit.taxable and unit.lot_id is not None and unit.security == plan.security:
                price = pm.data.scenario.securities[unit.security].price
                lot_parts[unit.lot_id].append(pm.model.sell[j] * (SCALE / price))
        if pm.gifts is not None:
            price = pm.data.scenario.securities[plan.security].price
            for g, lid in enumerate(pm.gift_lots):
                lot_parts[lid].append(pm.gifts[g] * (SCALE / price))
    for lid, parts in lot_parts.items():
        constraints.append(cp.sum(cp.hstack(parts)) <= lots[lid][1].shares)
    held: dict[tuple[str, str], float] = defaultdict(float)
    protected = set(scenario.rules.do_not_sell)
    for a in scenario.accounts:
        if a.tax_advantaged:
            for lot in a.lots:
                # A protected lot's shares are never sold, in any period: not part of what all may sell.
                if lot.id not in protected:
                    held[(a.id, lot.security)] += lot.shares
            for t, n in a.holdings.items():
                held[(a.id, t)] += n
    running: dict[tuple[str, str], list[cp.Expression]] = defaultdict(list)
    for pm in models:
        d = pm.data
        for i, slot in enumerate(d.sell_slots):
            if scenario.account(slot.account).tax_advantaged:
                running[(slot.account, slot.security)].append(pm.model.sell_by_slot[i] * (SCALE / d.sell_slot_price[i]))
        for b, slot in enumerate(d.buy_slots):
            if scenario.account(slot.account).tax_advantaged:
                running[(slot.account, slot.security)].append(-pm.model.buy[b] * (SCALE / d.buy_slot_price[b]))
        for key, parts in running.items():
            if parts:
                constraints.append(cp.sum(cp.hstack(parts)) <= held.get(key, 0.0))

    # Shares of the security sold per period (min / max), and its value after each period.
    start_shares = sum(lot.shares for a, lot in lots.values() if lot.security == plan.security and a.tradable) + sum(
        a.holdings.get(plan.security, 0.0) for a in scenario.accounts if a.tradable
    )
    scale_unit = start_shares if plan.per_period_unit == "fraction" else 1.0
    sold_so_far: list[cp.Expression] = []
    for pm in models:
        d = pm.data
        price = d.scenario.securities[plan.security].price
        slots = [i for i, s in enumerate(d.sell_slots) if s.security == plan.security]
        sold = cp.sum(pm.model.sell_by_slot[slots]) * (SCALE / price) if slots else cp.Constant(0.0)
        gifted = cp.sum(pm.gifts) * (SCALE / price) if pm.gifts is not None else cp.Constant(0.0)
        if pm.period.number not in plan.blackout:
            if plan.max_per_period is not None:
                constraints.append(sold + gifted <= plan.max_per_period * scale_unit)
            if plan.min_per_period is not None:
                constraints.append(sold >= plan.min_per_period * scale_unit)
        sold_so_far.append(sold + gifted)
        pm.security_value = (start_shares - cp.sum(cp.hstack(sold_so_far))) * (price / SCALE)

    # End state: the position's weight in liquid wealth after the last period.
    last = models[-1]
    liquid = last.model.total_after() - float(last.data.untradable_class_value.sum())
    constraints.append(last.security_value <= plan.max_weight * liquid)

    # Tax per tax year, carryforwards chained; present value.
    years = sorted({p.tax_year for p in periods})
    first_year = years[0]
    carry: tuple[cp.Expression, cp.Expression] | None = None
    base_taxes = {year: tax for year, tax, _ in chained_taxes(scenario, plan, {}, years)}
    carry_bound = 0.0
    for i, year in enumerate(years):
        in_year = [pm for pm in models if pm.period.tax_year == year]
        short = cp.sum(cp.hstack([pm.model.realized_short for pm in in_year]))
        long = cp.sum(cp.hstack([pm.model.realized_long for pm in in_year]))
        short_lo, short_hi = _result_bounds(in_year, "unit_short")
        long_lo, long_hi = _result_bounds(in_year, "unit_long")
        situation = _tax_year_situation(scenario, plan, year)
        if carry is not None:
            short = short - carry[0]
            long = long - carry[1]
            short_lo -= carry_bound
            long_lo -= carry_bound
        encoding = CapitalGainsTaxEncoding(
            situation,
            short,
            long,
            short_bounds=(short_lo, short_hi),
            long_bounds=(long_lo, long_hi),
            scale=SCALE,
            pin_carryforwards=i < len(years) - 1,
            name=f"tax{year}_",
        )
        constraints += encoding.constraints
        if i < len(years) - 1:
            carry = (encoding.carryforward_short_next, encoding.carryforward_long_next)
            carry_bound = max(0.0, -(situation.net_short / SCALE + short_lo + situation.net_long / SCALE + long_lo))
        discount = (1.0 + plan.discount_rate) ** (year - first_year)
        terms.append(scenario.objective.tax_weight * (encoding.tax - base_taxes[year] / SCALE) / discount)

    for pm in models:
        tracking = pm.model.objective_terms.get("tracking")
        risk = plan.idiosyncratic_volatility * pm.security_value
        if tracking is not None:
            risk = risk + tracking
        terms.append(plan.risk_weight * pm.period.length_years * risk)
        for name in ("costs", "turnover"):
            if name in pm.model.objective_terms:
                terms.append(pm.model.objective_terms[name])

    for pm in models:  # last: the models' pinned auxiliaries are created on first use above
        constraints += pm.model.constraints
    problem = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), constraints)
    build_seconds = time.perf_counter() - start
    permissions = [v for pm in models for v in pm.model.permissions]
    cones = [cone for pm in models for cone in pm.model.cones]
    outcome = run_highs(problem, time_limit, mip_gap, switches=regime_binaries(problem, permissions), cones=cones)
    if not outcome.has_plan:
        if outcome.status == "infeasible":
            raise UnwindError(
                "no unwind plan meets the end state: unwind.max_weight cannot be reached within the "
                "horizon under the blackout periods, max_per_period and the other rules"
            )
        raise UnwindSolverFailure(f"the solver found no plan ({outcome.status}) {outcome.message}".strip())
    trades: list[list[Trade]] = []
    gifts: list[dict[str, float]] = []
    for pm in models:
        sell, buy = pm.model.traded()
        # The cents are repaired against the cash and positions the earlier periods' rounded trades leave
        # (taxes play no part: realized amounts and carryforwards are left at zero here).
        begins = state_at(scenario, plan, pm.period, trades, gifts, (0.0, 0.0), (0.0, 0.0)) if trades else None
        trades.append(
            extract_trades(
                pm.data,
                sell,
                buy,
                intended_cash_k=pm.model.cash_after().value,
                period_of_plan=True,
                period_start=begins,
            )
        )
        shares: dict[str, float] = {}
        if pm.gift_shares is not None and pm.gift_shares.value is not None:
            for g, lid in enumerate(pm.gift_lots):
                n = round(float(pm.gift_shares.value[g]), 6)
                if scenario.rules.whole_shares:
                    n = float(round(n))
                if n > 0:
                    shares[lid] = n
        gifts.append(shares)
    info = SolverInfo(
        status=outcome.status,
        seconds=round(time.perf_counter() - start, 3),
        mip_gap=outcome.mip_gap,
        build_seconds=round(build_seconds + outcome.seconds - outcome.solver_seconds, 3),
        solve_seconds=round(outcome.solver_seconds, 3),
        solves=1,
    )
    verified = verify_periods(scenario, plan, periods, trades, gifts)
    status = "time_limit" if outcome.status == "time_limit" else "optimal"
    sellable = [sellable_lots(pm, plan) for pm in models]
    return UnwindPlan(scenario, periods, trades, gifts, status, info, verified, sellable)


def _no_whole_position_exceptions(models: list[PeriodModel]) -> None:
    """A period model knows the position it sells as the household held it at the start: where an earlier
    period may buy more of it, "the whole position" is not what that model sees. So there a sale is at
    least rules.min_trade (no exception for a small position) and, with whole shares, never the fraction
    of a share (which only the sale of the whole position may include)."""
    bought: set[tuple[str, str]] = set()
    for pm in models:
        d, model = pm.data, pm.model
        grown = np.array([(s.account, s.security) in bought for s in d.sell_slots], dtype=bool)
        floor = d.scenario.rules.min_trade / SCALE
        if grown.any() and floor > 0 and model.sell_trade is not None:
            slots = np.flatnonzero(grown)
            model.constraints.append(model.sell_by_slot[slots] >= floor * model.sell_trade[slots])
        if model.whole_lot_rest is not None:
            units, rest = model.whole_lot_rest
            keys = [(d.units[j].account, d.units[j].security) for j in units]
            forbidden = [k for k, key in enumerate(keys) if key in bought]
            if forbidden:
                model.constraints.append(rest[forbidden] == 0)
        bought |= {(s.account, s.security) for s in d.buy_slots}


# Verification: each period's trades against the household as it stands at that period ----------------


def state_at(
    scenario: Scenario,
    plan: Unwind,
    period: Period,
    trades: list[list[Trade]],
    gifts: list[dict[str, float]],
    realized_this_year: tuple[float, float],
    carry_in: tuple[float, float],
) -> Scenario:
    """The household at the start of `period` after the plan's earlier trades and gifts."""
    priced = _scenario_at(scenario, plan, period)
    sold: dict[str, float] = defaultdict(float)
    for q in range(period.index):
        for t in trades[q]:
            for lot in t.lots or []:
                sold[lot.lot] += lot.shares
        for lid, n in gifts[q].items():
            sold[lid] += n
    cash: dict[str, float] = {
        a.id: a.cash + (max(a.contribution, 0.0) if period.index > 0 else 0.0) for a in scenario.accounts
    }
    if period.index > 0:
        for a in scenario.accounts:
            if a.contribution < 0:
                cash[a.id] += a.contribution
    position_change: dict[tuple[str, str], float] = defaultdict(float)
    new_lots: dict[str, list[Lot]] = defaultdict(list)
    recent: list[RecentTrade] = [
        r for r in scenario.recent_trades if period.start - dt.timedelta(days=30) <= r.date <= period.start
    ]
    for q in range(period.index):
        when = plan_periods(scenario, plan)[q].start
        for t in trades[q]:
            cash[t.account] += (t.amount if t.action == "sell" else -t.amount) - t.cost
            account = scenario.account(t.account)
            if account.tax_advantaged:
                position_change[(t.account, t.security)] += t.shares if t.action == "buy" else -t.shares
            elif t.action == "buy":
                new_lots[t.account].append(
                    Lot(
                        id=f"{t.account}:plan-{q + 1}-{t.security}",
                        security=t.security,
                        shares=t.shares,
                        cost_total=t.amount,
                        acquired=when,
                    )
                )
            if when >= period.start - dt.timedelta(days=30):
                gain = sum(lot.gain for lot in t.lots or []) if t.lots else None
                recent.append(
                    RecentTrade(
                        date=when,
                        account=t.account,
                        security=t.security,
                        action=t.action,
                        shares=t.shares,
                        realized_gain=gain,
                    )
                )
    accounts = []
    for a in priced.accounts:
        lots = []
        for lot in a.lots:
            left = lot.shares - sold.get(lot.id or "", 0.0)
            if left > 1e-9:
                lots.append(
                    lot.model_copy(update={"shares": left, "cost_per_share": lot.basis_per_share, "cost_total": None})
                )
        lots += new_lots.get(a.id, [])
        holdings = dict(a.holdings)
        for (account_id, ticker), change in position_change.items():
            if account_id == a.id:
                from_lots = sum(lot.shares for lot in lots if lot.security == ticker)
                total = holdings.get(ticker, 0.0) + from_lots + change
                holdings[ticker] = total - from_lots
                if holdings[ticker] <= 1e-9:
                    holdings.pop(ticker)
        accounts.append(
            a.model_copy(
                update={
                    "lots": lots,
                    "holdings": holdings,
                    "cash": max(0.0, cash[a.id]),
                    "contribution": 0.0 if period.index > 0 else a.contribution,
                }
            )
        )
    first_year = scenario.tax_year
    base_tax = priced.tax
    ytd = (
        base_tax.realized_ytd
        if period.tax_year == first_year
        else base_tax.realized_ytd.model_copy(update={"short_term": 0.0, "long_term": 0.0})
    )
    ytd = ytd.model_copy(
        update={
            "short_term": ytd.short_term + realized_this_year[0],
            "long_term": ytd.long_term + realized_this_year[1],
        }
    )
    carry = (
        base_tax.carryforward
        if period.tax_year == first_year
        else base_tax.carryforward.model_copy(update={"short_term": carry_in[0], "long_term": carry_in[1]})
    )
    override = plan.years.get(period.tax_year)
    income = (
        override.ordinary_income
        if override is not None and override.ordinary_income is not None
        else base_tax.ordinary_income
    )
    tax = base_tax.model_copy(
        update={"year": period.tax_year, "realized_ytd": ytd, "carryforward": carry, "ordinary_income": income}
    )
    planned: list[PlannedPurchase] = [pp for pp in scenario.planned_purchases if pp.date > period.start]
    return priced.model_copy(
        update={"accounts": accounts, "tax": tax, "recent_trades": recent, "planned_purchases": planned}
    )


def verify_periods(
    scenario: Scenario, plan: Unwind, periods: list[Period], trades: list[list[Trade]], gifts: list[dict[str, float]]
) -> bool:
    """Every period's trades pass the independent verifier against the household at that period."""
    realized: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    years = sorted({p.tax_year for p in periods})
    for period in periods:
        carry_in = (0.0, 0.0)
        if period.tax_year != years[0]:
            earlier = {y: (v[0], v[1]) for y, v in realized.items() if y < period.tax_year}
            chain = chained_taxes(scenario, plan, earlier, [y for y in years if y < period.tax_year])
            carry_in = chain[-1][2]
        so_far = realized[period.tax_year]
        state = state_at(scenario, plan, period, trades, gifts, (so_far[0], so_far[1]), carry_in)
        # An unwind sells by mandate, over tax years: the one-plan gain cap is not a rule of a period (the
        # period models leave it out, engine.choose_blocks), and contributions first is only steered there
        # (the period models spend cash with the state carried in at the planning prices, which the verifier's
        # per-period state does not reproduce to the dollar). Every other rule is checked per period.
        state = state.model_copy(
            update={
                "rules": state.rules.model_copy(
                    update={"contributions_first": False, "max_realized_gain": None, "max_tracking_error": None}
                )
            }
        )
        data = build_data(state)
        info = SolverInfo(status="optimal", seconds=0.0)
        result = build_result(data, trades[period.index], "optimal", info, [])
        verification = verify(state, result)
        if not verification.ok:
            verification.raise_if_failed()
        for t in trades[period.index]:
            for lot in t.lots or []:
                realized[period.tax_year][0 if lot.term == "short" else 1] += lot.gain
    return True
