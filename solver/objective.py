"""Objective terms of the rebalance MILP, all in k$ so that they add up.

    minimize  W·TE(d)  +  tax_weight·(tax caused by the plan + trading costs)  +  ε·turnover

W·TE is the tracking error in dollars (one standard deviation a year of the gap between the household
and its target portfolio, W the household's value); with `tax_weight = 1` a dollar of tax weighs as
much as a dollar of that yearly tracking-error standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from rebal_opt.models.risk import ClassRisk, class_risk
from rebal_opt.models.scenario import Scenario, YearEnd

from .cone import second_order_cone
from .data import SCALE, RebalanceData
from .location import harvest_value, holding_costs
from .model import RebalanceModel
from .tax.encoding import CapitalGainsTaxEncoding
from .tax.evaluate import evaluate_tax, tax_with_gains
from .taxes import next_year_situation, situation_from_scenario, with_carryforward

TRACKING_TOLERANCE = 5e-4
"""Relative error of the polyhedral tracking-error cone: MILP value ≥ (1 − 5e-4)·sqrt(d'Σd)."""

TURNOVER_TIE_BREAK = 1e-6
"""k$ per k$ traded: breaks ties between equally good plans in favour of trading less."""

COSTS_WITHOUT_TAX_WEIGHT = 1.0
"""Weight of trading costs when tax_weight is 0 (otherwise they weigh tax_weight, as tax does)."""


def cone_factor(covariance: np.ndarray) -> np.ndarray:
    """F with F'F = Σ (rows for the positive eigenvalues only), so sqrt(d'Σd) = ||F d||."""
    eigenvalues, vectors = np.linalg.eigh(covariance)
    keep = eigenvalues > 1e-12 * max(1.0, float(eigenvalues.max(initial=0.0)))
    factor = (vectors[:, keep] * np.sqrt(eigenvalues[keep])).T
    # Round-off entries (1e-17) would only reach HiGHS as "tiny matrix values" warnings.
    factor[np.abs(factor) < 1e-12 * np.abs(factor).max(initial=0.0)] = 0.0
    return factor


def cone_rows(risk: ClassRisk) -> np.ndarray | sp.csr_matrix:
    """A matrix M with ||M d||² = d'Σd: the eigen-factor of a dense Σ, or for a factor model the k factor
    rows F^½Bᵀ stacked on one sparse row √s_i per class with specific risk (k·n + n entries, not n²)."""
    if risk.factors is None:
        return cone_factor(risk.covariance)
    root = risk.factors.root[np.abs(risk.factors.root).max(axis=1, initial=0.0) > 0]
    specific = np.flatnonzero(risk.factors.specific > 0)
    diagonal = sp.csr_matrix(
        (np.sqrt(risk.factors.specific[specific]), (np.arange(len(specific)), specific)),
        shape=(len(specific), len(risk.classes)),
    )
    return sp.vstack([sp.csr_matrix(root), diagonal]).tocsr()


def dollar_drift(model: RebalanceModel) -> cp.Expression:
    """(C,) k$ away from target per class: V_c − t_c·W_after = W_ref·drift_c.

    The tracking terms are W_ref·TE(drift) = TE(W_ref·drift) (both norms are positively homogeneous),
    written on this k$ form rather than on weights: with drift's 1/W_ref in every row the cone's
    coefficients fell to 1e-9 at 20,000 lots, below HiGHS's matrix tolerance — HiGHS dropped them and
    solved a different (wrong) problem, and its feasibility tolerance became W_ref·1e-7 k$ of objective.
    """
    d = model.data
    return model.class_after() - d.target * model.total_after()


@dataclass
class QuadraticTracking:
    """W·sqrt(d'Σd), through a polyhedral outer approximation of the cone refined on demand (solver/cone.py).

    With `rules.max_tracking_error` B the cone is a constraint instead: sqrt(d'Σd) ≤ B in exact weights
    (the drift's numerator and W_after are both exact, and the norm is homogeneous), enforced as
    t ≤ (1 − tolerance)·B·W_after so that t ≥ (1 − tolerance)·||M d|| leaves the true value within B.
    """

    name: str = "tracking error (quadratic)"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        risk = class_risk(d.classes, d.scenario.objective.risk_model)
        factor = cone_rows(risk)
        if factor.shape[0] == 0:
            return
        before = d.class_value_start - d.target * d.total_after_flows  # the drift if nothing trades (k$)
        cone = second_order_cone(
            factor @ dollar_drift(model), factor.shape[0], TRACKING_TOLERANCE, hint=np.asarray(factor @ before)
        )
        model.constraints += cone.constraints
        model.cones.append(cone)
        if risk.factors is not None:
            # The specific-risk rows of M follow the factor rows: leaf k + j is class specific[j]'s.
            specific = np.flatnonzero(risk.factors.specific > 0)
            first = factor.shape[0] - len(specific)
            model.specific_leaf_values = cone.values
            model.specific_leaves = {
                int(c): (first + j, float(np.sqrt(risk.factors.specific[c]))) for j, c in enumerate(specific)
            }
        budget = tracking_budget(model)
        model.tracking_error = cone.top
        if budget is not None:
            model.constraints.append(cone.bound_by(budget, model.total_after()))
        else:
            model.objective_terms["tracking"] = cone.top


@dataclass
class AbsoluteTracking:
    """W·Σ|d_c|: the dollars away from target, summed over classes (or Σ|d_c| ≤ B with a budget)."""

    name: str = "tracking error (absolute)"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        drift = dollar_drift(model)
        gap = cp.Variable(len(d.classes), nonneg=True, name="abs_drift")
        model.constraints += [gap >= drift, gap >= -drift]
        budget = tracking_budget(model)
        model.tracking_error = cp.sum(gap)
        if budget is not None:
            model.constraints.append(cp.sum(gap) <= budget * model.total_after())
        else:
            model.objective_terms["tracking"] = cp.sum(gap)


def tracking_budget(model: RebalanceModel) -> float | None:
    """rules.max_tracking_error, when it applies: then the tracking error is a constraint (≤ B·W_after, in
    exact weights) and the plan minimizes tax and costs within it. Unwind periods track the target freely."""
    budget = model.data.scenario.rules.max_tracking_error
    return None if model.options.purpose == "unwind" else budget


@dataclass
class CapitalGainsTax:
    """tax_weight·(tax caused by the plan), by the exact MILP encoding of the tax.

    When the plan can change next year's loss carryforward (carryforward_in_play), the tax is this year's
    plus next year's (`two_year_tax`, as year-end planning counts it): a loss this year cannot use is worth
    what it saves next year, and a gain that uses up a carryforward costs next year's tax on it. Otherwise
    it is this year's full-year tax with the plan minus without it.
    """

    name: str = "capital-gains tax"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        weight = model.tax_weight
        if carryforward_in_play(d):
            total, without = two_year_tax(model)
        else:
            base = situation_from_scenario(d.scenario)
            short_bounds, long_bounds = _gain_bounds(d)
            encoding = CapitalGainsTaxEncoding(
                base,
                model.realized_short,
                model.realized_long,
                short_bounds=short_bounds,
                long_bounds=long_bounds,
                scale=SCALE,
            )
            model.constraints += encoding.constraints
            model.tax = total = encoding.tax
            without = evaluate_tax(base).total_tax / SCALE
        if isinstance(weight, cp.Parameter) or weight > 0:
            model.objective_terms["tax"] = weight * (total - without)


@dataclass
class TradingCosts:
    """tax_weight·(spread + commissions), k$."""

    name: str = "trading costs"

    def add(self, model: RebalanceModel) -> None:
        costs = cp.sum(model.cost_by_account())
        weight = model.tax_weight
        if not isinstance(costs, cp.Expression):
            return
        if isinstance(weight, cp.Parameter) or weight > 0:
            model.objective_terms["costs"] = weight * costs
        else:
            # tax_weight 0 ignores tax, not costs: they count at face value. Weightless, a plan paid $20
            # commissions on one-cent purchases every period of an unwind (burning overweight cash lowered its
            # tracking error), and a $1 commission per cent trade to leave no cash idle under a budget.
            model.objective_terms["costs"] = COSTS_WITHOUT_TAX_WEIGHT * costs


@dataclass
class TurnoverTieBreak:
    """ε·(Σ sells + Σ buys): among equally good plans, the one that trades least."""

    name: str = "turnover tie-break"

    def add(self, model: RebalanceModel) -> None:
        model.objective_terms["turnover"] = TURNOVER_TIE_BREAK * (cp.sum(model.sell) + cp.sum(model.buy))


@dataclass
class HoldingCost:
    """rules.location: tax_weight·Σ κ_{a,s}·(V_after − V_before) over every (account, security) the plan
    trades and every account's cash, k$ (solver/location.py states the costs and their assumptions).

    κ_{a,s} = PV_{type(a)}(s) − Σ_c E_{c,s}·ĉ_c: the present value over the horizon of what a dollar of s
    costs to hold in an account of a's type (tax on distributions, tax owed later on tax-deferred growth,
    fees, return given up against its class), less its classes' reference ĉ (the class held pro rata in
    every account), so that the term prices where and in what a class is held, not how much of it. Linear
    in the plan: V_after − V_before is a buy, minus a sale, or the change of an account's cash.
    """

    name: str = "holding cost (rules.location)"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        weight = model.tax_weight
        if not (isinstance(weight, cp.Parameter) or weight > 0):
            return
        costs = holding_costs(d.scenario)
        kind = {a.id: a.type for a in d.scenario.accounts}
        buy = np.array([costs.relative(kind[b.account], b.security) for b in d.buy_slots])
        sell = np.array([costs.relative(kind[s.account], s.security) for s in d.sell_slots])
        cash = np.array([costs.relative(kind[a], None) for a in d.accounts])
        change: cp.Expression = cash @ (model.cash_after() - d.cash_start)
        if len(d.buy_slots):
            change = change + buy @ model.buy
        if len(d.sell_slots):
            change = change - sell @ model.sell_by_slot
        model.objective_terms["location"] = weight * change


DUPLICATE_PURCHASE_CHARGE = 5.0
"""Dollars charged for each security bought in one account beyond the first of its wash group (rules.location)."""


@dataclass
class DuplicatePurchases:
    """rules.location: no two securities of one wash group bought in one account unless it is worth
    DUPLICATE_PURCHASE_CHARGE dollars (unweighted, like the turnover tie-break, but larger).

    Two share classes of one fund (VTI and VTSAX) give the same exposure: a second one buys only
    granularity — whole shares that fit a band edge or the leftover cash a little better, worth cents to a
    few dollars of tracking error. Per (account, group) with two or more buy slots: binaries z_b (the trade
    indicators when the model has them) with y_b ≤ ȳ_b·z_b, an excess e ≥ Σ z_b − 1, e ≥ 0, and
    charge·e in the objective. A charge rather than a rule: a plan that needs the second purchase (a band
    met only with it, a minimum trade) still makes it, and no household becomes infeasible.
    """

    name: str = "duplicate purchases (rules.location)"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        s = d.scenario
        groups: dict[tuple[str, str], list[int]] = {}
        for b, slot in enumerate(d.buy_slots):
            groups.setdefault((slot.account, s.wash_group(slot.security)), []).append(b)
        shared = [slots for slots in groups.values() if len(slots) > 1]
        if not shared:
            return
        members = sorted(b for slots in shared for b in slots)
        if model.buy_trade is not None:
            trade = model.buy_trade
            column = {b: b for b in members}
        else:
            trade = cp.Variable(len(members), boolean=True, name="group_purchase")
            model.permissions.append(trade)
            column = {b: k for k, b in enumerate(members)}
            limit = model.buy_limit[members]
            model.constraints.append(model.buy[members] <= cp.multiply(limit, trade))
        excess = cp.Variable(len(shared), nonneg=True, name="duplicate_purchases")
        for k, slots in enumerate(shared):
            model.constraints.append(excess[k] >= cp.sum(trade[[column[b] for b in slots]]) - 1)
        model.objective_terms["duplicates"] = DUPLICATE_PURCHASE_CHARGE / SCALE * cp.sum(excess)


@dataclass
class ForgoneHarvest:
    """rules.location, buy-only phases: a purchase in a wash group whose taxable loss lots could be harvested
    blocks that harvest for 30 days, so it is charged the tax the harvest would save now:
    tax_weight·H_g·β_g, Σ_{b∈g} y_b ≤ ȳ_g·β_g, β_g binary, H_g by the exact engine this year and next.

    Where the plan may sell, the harvest is a choice of the same MILP (the tax term saves it, WashSales
    excludes it from a purchase in its group), so the objective already compares the two; in a buy-only
    phase (contributions first: nothing is sold) it is not, and a purchase could block a loss worth more than
    what the purchase does — a substitute in another group, or no purchase, is chosen when cheaper.
    """

    name: str = "forgone harvest (rules.location)"

    def add(self, model: RebalanceModel) -> None:
        d = model.data
        s = d.scenario
        weight = model.tax_weight
        if not (isinstance(weight, cp.Parameter) or weight > 0) or not d.harvest_by_group:
            return
        buys: dict[str, list[int]] = {}
        for b, slot in enumerate(d.buy_slots):
            group = s.wash_group(slot.security)
            if group in d.harvest_by_group:
                buys.setdefault(group, []).append(b)
        values = {g: harvest_value(s, *d.harvest_by_group[g]) / SCALE for g in buys}
        groups = [g for g in buys if values[g] > 0]
        if not groups:
            return
        bought = cp.Variable(len(groups), boolean=True, name="harvest_blocked")
        model.permissions.append(bought)
        model.exclusive.append(bought)
        for k, group in enumerate(groups):
            slots = buys[group]
            model.constraints.append(cp.sum(model.buy[slots]) <= float(model.buy_limit[slots].sum()) * bought[k])
        model.objective_terms["forgone_harvest"] = weight * (np.array([values[g] for g in groups]) @ bought)


@dataclass
class IdleCashTerm:
    """k$ of cash left uninvested where it could be spent: the phase that finds how far contributions first
    can go when the tracking-error budget stops investing all of it."""

    name: str = "idle cash"

    def add(self, model: RebalanceModel) -> None:
        from .blocks import idle_cash

        model.objective_terms["idle_cash"] = idle_cash(model)


@dataclass
class BandViolationTerm:
    """Σ v_c: the first phase when bands cannot all be met — the least total violation (k$)."""

    name: str = "band violation"

    def add(self, model: RebalanceModel) -> None:
        assert model.band_violation is not None
        model.objective_terms["band_violation"] = cp.sum(model.band_violation)


def _gain_bounds(d: RebalanceData) -> tuple[tuple[float, float], tuple[float, float]]:
    """(lo, hi) in k$ of the plan's short- and long-term results: all losses sold, all gains sold."""
    ratio = d.unit_gain_ratio * d.unit_value

    def bounds(mask: np.ndarray) -> tuple[float, float]:
        return float(np.minimum(ratio[mask], 0).sum()), float(np.maximum(ratio[mask], 0).sum())

    return bounds(d.unit_short), bounds(d.unit_long)


@dataclass
class YearEndTax:
    """Year-end planning: this year's tax + next year's + the present value of the tax left for later.

        tax_weight·[ (T₁(S, L) − T₁⁰) + (T₂(−c_S, −c_L) − T₂⁰) − ρ·Λ − κ ]

    T₁ is this year's exact tax of the plan's results S, L (encoded with pinned carryforwards c_S, c_L);
    T₂ is next year's exact tax given the expected next-year results, with this year's carryforward
    entering as short/long losses (Schedule D nets carryforwards exactly like losses of the same term).
    ρ = future long-term rate / (1 + discount)^years: a dollar realized now is a dollar of basis stepped up
    (gain) or down (loss), so it moves the tax paid when the position is finally sold by ρ.

    Λ ≤ 0 is the plan's realized losses: each costs ρ later, which is why a loss is harvested only when
    the two years' saving beats that cost. κ is the step-up credit of the plan's realized gains Γ ≥ 0:

    * by default a gain earns ρ only while it is free — there is no carryforward for it to use up, the
      two years' tax is not above the tax without the plan, and the plan sells no loss (whose value the
      gain would take): κ ≤ ρ·Γ and κ ≤ ρ·Γ_max·z with one binary z that, when set, imposes the last two
      (the first is known before the solve: free_gains_possible; without it κ = 0 and there is no z).
      So a gain taxed at 0% is harvested exactly up to the top of the 0% band, and a gain that would raise
      the two years' tax is never realized for its step-up (it is realized only when rebalancing needs it);
    * with `yearend.pay_tax_for_step_up` κ = ρ·Γ: a gain is realized whenever its two-year tax per dollar
      is below ρ (paying tax now for a higher basis later);
    * with `yearend.harvest_gains: false` κ = 0.
    """

    name: str = "year-end tax"

    def add(self, model: RebalanceModel) -> None:
        s = model.data.scenario
        yearend = s.yearend
        assert yearend is not None
        total, base = two_year_tax(model)
        deferred = deferred_rate(s)
        later: cp.Expression
        if yearend.harvest_gains and pays_tax_for_step_up(yearend):
            # Every realized dollar moves the basis, gain or loss: −ρ·(Γ + Λ) = −ρ·(S + L).
            later = -deferred * (model.realized_short + model.realized_long)
        else:
            gains, losses = _realized_gains_and_losses(model)
            later = -deferred * losses
            if yearend.harvest_gains and gains is not None and free_gains_possible(s):
                later = later - _free_gain_credit(model, total - base, gains, losses, deferred)
        model.objective_terms["tax"] = s.objective.tax_weight * (total - base + later)


def pays_tax_for_step_up(yearend: YearEnd) -> bool:
    """yearend.pay_tax_for_step_up (default false)."""
    return yearend.pay_tax_for_step_up


def _realized_gains_and_losses(model: RebalanceModel) -> tuple[cp.Variable | None, cp.Expression | float]:
    """Γ ≥ 0 and Λ ≤ 0 (k$): the plan's realized gains and losses, each one variable pinned to its sum over
    the taxable lots (as model.realized_short). Γ is None when no lot could be sold at a gain."""
    d = model.data
    ratio = d.unit_gain_ratio
    gain_units, loss_units = np.flatnonzero(ratio > 0), np.flatnonzero(ratio < 0)
    losses: cp.Expression | float = 0.0
    if len(loss_units):
        losses = cp.Variable(nonpos=True, name="realized_losses")
        model.constraints.append(losses == ratio[loss_units] @ model.sell[loss_units])
    if not len(gain_units) or not (d.unit_value[gain_units] > 0).any():
        return None, losses
    gains = cp.Variable(nonneg=True, name="realized_gains")
    model.constraints.append(gains == ratio[gain_units] @ model.sell[gain_units])
    return gains, losses


FREE_GAIN_PROBE = 100.0
"""Dollars of gain realized to see whether the household's first gains are taxed at all (free_gains_possible)."""


def free_gains_possible(scenario: Scenario) -> bool:
    """Whether a gain could be free for this household: no carryforward to use up (a gain nets against it
    first), and this year's first $100 of short- or long-term gain adds no tax (the tax only grows with
    gains, so if the first dollars are taxed every gain is; with no carryforward next year is unchanged).
    When not, the step-up credit is 0 and the model needs no binary for it."""
    if sum(carryforward_without_plan(scenario)) > 0:
        return False
    this_year = situation_from_scenario(scenario)
    without = evaluate_tax(this_year).total_tax
    probes = ((FREE_GAIN_PROBE, 0.0), (0.0, FREE_GAIN_PROBE))
    return any(tax_with_gains(this_year, *probe).total_tax <= without + 1e-6 for probe in probes)


def _free_gain_credit(
    model: RebalanceModel,
    added_tax: cp.Expression,
    gains: cp.Variable,
    losses: cp.Expression | float,
    deferred: float,
) -> cp.Variable:
    """κ (k$): ρ per dollar of realized gain, earned only when the binary `free_gains` is set, which imposes
    that the plan adds no tax over the two years and sells no loss. (free_gains_possible has made sure
    there is no carryforward for a gain to use up, so next year's tax moves only with the plan's losses.)

    Big-M's from the household: the most tax the plan could add (every gain sold, no carryforward left
    next year), every gain and every loss there is."""
    d = model.data
    s = d.scenario
    value = d.unit_gain_ratio * d.unit_value
    most_gain = float(value[value > 0].sum())
    most_loss = float(-value[value < 0].sum())
    this_year = situation_from_scenario(s)
    short_bounds, long_bounds = _gain_bounds(d)
    most_added = (
        tax_with_gains(this_year, short_bounds[1] * SCALE, long_bounds[1] * SCALE).total_tax
        + evaluate_tax(with_carryforward(next_year_situation(s), 0.0, 0.0)).total_tax
        - evaluate_tax(this_year).total_tax
        - evaluate_tax(with_carryforward(next_year_situation(s), *carryforward_without_plan(s))).total_tax
    ) / SCALE + 1.0
    free = cp.Variable(boolean=True, name="free_gains")
    credit = cp.Variable(nonneg=True, name="step_up_credit")
    model.constraints += [
        credit <= deferred * gains,
        credit <= deferred * most_gain * free,
        added_tax <= most_added * (1 - free),
    ]
    if most_loss > 0:
        model.constraints.append(-losses <= most_loss * (1 - free))
    return credit


def two_year_tax(model: RebalanceModel) -> tuple[cp.Expression, float]:
    """T₁(S, L) + T₂(−c_S, −c_L) in k$ (this year's exact tax with pinned carryforwards, and next year's
    exact tax with them coming in), and the same without the plan. Sets model.tax, model.next_year_tax
    and model.carryforward_next."""
    d = model.data
    s = d.scenario
    this_year = situation_from_scenario(s)
    short_bounds, long_bounds = _gain_bounds(d)
    current = CapitalGainsTaxEncoding(
        this_year,
        model.realized_short,
        model.realized_long,
        short_bounds=short_bounds,
        long_bounds=long_bounds,
        scale=SCALE,
        pin_carryforwards=True,
        name="tax_",
    )
    next_year = next_year_situation(s)
    # Carryforwards can't exceed every loss there could be: the year's nets at their lowest.
    lowest_short = this_year.net_short / SCALE + short_bounds[0]
    lowest_total = lowest_short + this_year.net_long / SCALE + long_bounds[0]
    max_short = max(0.0, -lowest_short)
    max_total = max(0.0, -lowest_total, max_short)
    following = CapitalGainsTaxEncoding(
        next_year,
        -current.carryforward_short_next,
        -current.carryforward_long_next,
        short_bounds=(-max_short, 0.0),
        long_bounds=(-max_total, 0.0),
        scale=SCALE,
        name="tax_next_",
    )
    model.constraints += current.constraints + following.constraints
    model.tax = current.tax
    model.next_year_tax = following.tax
    model.carryforward_next = (current.carryforward_short_next, current.carryforward_long_next)
    base = (
        evaluate_tax(this_year).total_tax / SCALE
        + evaluate_tax(with_carryforward(next_year, *carryforward_without_plan(s))).total_tax / SCALE
    )
    return current.tax + following.tax, base


def carryforward_in_play(d: RebalanceData) -> bool:
    """Whether the plan can change next year's loss carryforward: there is one without the plan (a gain
    realized now would use it up), or selling every loss lot could push the year below the loss limit."""
    base = situation_from_scenario(d.scenario)
    now = evaluate_tax(base)
    if now.carryforward_short_next + now.carryforward_long_next > 0:
        return True
    short_bounds, long_bounds = _gain_bounds(d)
    lowest = tax_with_gains(base, short_bounds[0] * SCALE, long_bounds[0] * SCALE)
    return lowest.carryforward_short_next + lowest.carryforward_long_next > 0


def carryforward_without_plan(scenario: Scenario) -> tuple[float, float]:
    """This year's carryforward into next year if the plan trades nothing (dollars)."""
    breakdown = evaluate_tax(situation_from_scenario(scenario))
    return breakdown.carryforward_short_next, breakdown.carryforward_long_next


def deferred_rate(scenario: Scenario) -> float:
    """ρ: present value of the future tax moved by one dollar realized now (see YearEndTax)."""
    yearend = scenario.yearend
    assert yearend is not None
    return future_long_term_rate(scenario) / (1.0 + yearend.discount_rate) ** yearend.years_until_sale


def future_long_term_rate(scenario: Scenario) -> float:
    """The rate on gains left for later: yearend.future_long_term_rate, else 15% (the long-term rate of
    most households when they sell; the flat long-term rate in flat-rates mode) plus the state rate."""
    assert scenario.yearend is not None
    if scenario.yearend.future_long_term_rate is not None:
        return scenario.yearend.future_long_term_rate
    federal = scenario.tax.rates.long_term if scenario.tax.rates is not None else 0.15
    return federal + scenario.tax.state_rate
