"""The tax / tracking-error frontier: the rebalance re-solved over a sweep of the weight on tax.

The problem is built once, with `tax_weight` as a cvxpy Parameter (DPP: re-compiling it for another
weight is nearly free), in the phase the scenario's rules select (contributions first, bands or least
violation): that phase's own solve is already the point at the scenario's weight.

Not every weight needs a solve. The optimal value V(w) = min over plans of a + w·b (a: tracking error
and tie-break, b: tax and costs, both fixed by the plan) is concave in w, since every plan adds a line
and V is their lower envelope. So between two solved weights V lies above the chord of their proven
bounds, and below the best line among the plans found so far. A weight where these two are within the
solver's gap is settled without a solve: the best known plan there is as good as a solve would prove.
The sweep solves the weight whose gap is widest until every weight is settled (the ends first). Each
solve starts from the best plan known at its weight, and every plan shown is verified like `solve`'s.
A point whose plan is beaten on both tax and tracking error by another point's plan (possible within
the gap) takes that plan, so the curve is monotone: less tax never comes with less tracking error.

The point at the scenario's own weight is `solve`'s plan: the chosen phase is solved there to `solve`'s
gap, from the same problem (the weight as a Parameter compiles to the same matrices), and extracted the
same way; neither the sweep's other plans nor the monotone repair replace it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from rebal_opt.models.result import Result, SolverInfo
from rebal_opt.models.scenario import Scenario

from .check import check
from .data import SCALE
from .engine import BuiltProblem, SolverFailure, _finish, run_phases
from .highs import ABSOLUTE_GAP, DEFAULT_MIP_GAP, SolveOutcome, relative_gap, run_highs
from .household import account_values
from .plan import extract_trades

FRONTIER_POINTS = 20
FRONTIER_MIP_GAP = 1e-3
"""Each point is settled to a 0.1% gap: the curve is for choosing a trade-off, and a point within 0.1%
of its optimum is indistinguishable on it; proving 0.01% at every point was measured to cost 2–3× more."""


def default_weights(points: int = FRONTIER_POINTS) -> list[float]:
    """0, then geometric from 0.05 to 20: from ignoring tax to weighing it 20× a dollar of tracking error."""
    return [0.0, *np.geomspace(0.05, 20.0, points - 1).round(6).tolist()]


def sweep_weights(scenario: Scenario, weights: list[float] | None) -> list[float]:
    """The weights asked for, in order; by default `default_weights()` and the scenario's own weight (the
    point where the curve meets `solve`)."""
    if weights is None:
        weights = [*default_weights(), scenario.objective.tax_weight]
    return sorted(set(weights))


@dataclass(frozen=True)
class FrontierPoint:
    tax_weight: float
    result: Result

    @property
    def tax_due(self) -> float:
        return self.result.tax.due_to_trades + self.result.costs

    @property
    def tracking_error(self) -> float:
        return self.result.tracking_error.after

    def as_json(self) -> dict[str, float | int | str | None]:
        return {
            "tax_weight": self.tax_weight,
            "tax_due_to_trades": self.result.tax.due_to_trades,
            "tracking_error": self.tracking_error,
            "costs": self.result.costs,
            "trades": len(self.result.trades),
            "status": self.result.status,
            "mip_gap": self.result.solver.mip_gap,
            "gap_dollars": self.result.solver.gap_dollars,
            "solved": self.result.solver.solves > 0,
        }


@dataclass(frozen=True)
class Frontier:
    scenario: str
    points: list[FrontierPoint]
    seconds: float
    solves: int
    notes: list[str]


@dataclass(frozen=True)
class PlanLine:
    """A plan some solve found: every problem variable's value, and its objective as a line in the
    weight, intercept + weight·slope (k$): intercept = tracking error (and tie-break), slope = tax + costs."""

    values: tuple[np.ndarray | None, ...]
    intercept: float
    slope: float

    def value(self, weight: float) -> float:
        return self.intercept + weight * self.slope


@dataclass(frozen=True)
class Settled:
    """A weight's best known plan, and the gap between its value and the proven lower bound there."""

    plan: int
    gap: float  # relative, as HiGHS reports it
    excess: float  # k$: the plan's value above the proven lower bound
    status: str  # optimal | time_limit
    solve: SolveOutcome | None  # the solve at this very weight, if there was one


class Sweep:
    """The state of a frontier sweep over one compiled problem: the plans found and the bounds proven."""

    def __init__(
        self, built: BuiltProblem, time_limit: float | None, mip_gap: float, abs_gap: float = ABSOLUTE_GAP
    ) -> None:
        self.built = built
        self.parameter = built.model.tax_weight
        assert isinstance(self.parameter, cp.Parameter)
        self.variables = built.problem.variables()
        self.switches = built.model.switches(built.problem)
        self.time_limit, self.mip_gap = time_limit, mip_gap
        self.abs_gap = abs_gap  # k$: a point within this of its bound is settled, whatever its relative gap
        self.plans: list[PlanLine] = []
        self.bounds: dict[float, float] = {}  # solved weight → proven lower bound on V(weight)
        self.solved: dict[float, SolveOutcome] = {}
        self.pinned: dict[float, int] = {}  # weight → the plan shown there whatever else is found (solve's)
        self.solves = 0

    def record(self, weight: float, outcome: SolveOutcome) -> None:
        """Keep the plan now in the problem's variables (the solve at `weight`) and its bound."""
        if not outcome.has_plan or outcome.bound is None:
            raise SolverFailure(f"the frontier point at tax_weight {weight:g} has no plan ({outcome.status})")
        objective = self.built.problem.objective
        self.parameter.value = 0.0
        intercept = float(objective.value)
        self.parameter.value = 1.0
        slope = float(objective.value) - intercept
        self.parameter.value = weight
        values = tuple(None if v.value is None else np.array(v.value, copy=True) for v in self.variables)
        self.plans.append(PlanLine(values, intercept, slope))
        self.bounds[weight] = outcome.bound
        self.solved[weight] = outcome

    def solve(self, weight: float) -> None:
        """Solve at `weight`, starting from the best plan known there."""
        self.load(self.best_plan(weight))
        self.parameter.value = weight
        # The parameter changes only the objective: cvxpy re-applies it to the cached compilation (DPP).
        outcome = run_highs(
            self.built.problem,
            self.time_limit,
            self.mip_gap,
            reuse_values=True,
            switches=self.switches,
            cones=self.built.model.cones,
            abs_gap=self.abs_gap,
        )
        self.solves += 1
        self.record(weight, outcome)

    def load(self, plan: int) -> None:
        for variable, value in zip(self.variables, self.plans[plan].values, strict=True):
            variable.value = value

    def best_plan(self, weight: float) -> int:
        """The known plan with the least objective at `weight` (ties: the one with less tax)."""
        return min(range(len(self.plans)), key=lambda p: (self.plans[p].value(weight), self.plans[p].slope))

    def lower_bound(self, weight: float) -> float:
        """A proven lower bound on V(weight): its own solve's, else the chord of the nearest solved
        weights on each side (V is concave, so it lies above every chord of lower bounds)."""
        if weight in self.bounds:
            return self.bounds[weight]
        below = [w for w in self.bounds if w < weight]
        above = [w for w in self.bounds if w > weight]
        if not below or not above:
            return -np.inf
        lo, hi = max(below), min(above)
        share = (weight - lo) / (hi - lo)
        return (1 - share) * self.bounds[lo] + share * self.bounds[hi]

    def _standing(self, weight: float) -> tuple[int, float, float, float]:
        """The best known plan at `weight`, its value, the proven lower bound there and the excess the
        solver's stopping rule accepts (the absolute gap, $1 by default, or the relative gap), all k$."""
        plan = self.best_plan(weight)
        upper = self.plans[plan].value(weight)
        return plan, upper, self.lower_bound(weight), max(self.abs_gap, self.mip_gap * abs(upper))

    def settle(self, weight: float) -> Settled:
        if weight in self.pinned:
            return self._pinned(weight)
        plan, upper, lower, tolerance = self._standing(weight)
        within = upper - lower <= tolerance
        excess = max(0.0, upper - lower)
        outcome = self.solved.get(weight)
        if outcome is not None and not within:
            return Settled(plan, relative_gap(upper, lower), excess, outcome.status, outcome)  # time-limited
        return Settled(plan, relative_gap(upper, lower), excess, "optimal" if within else "open", outcome)

    def _pinned(self, weight: float) -> Settled:
        """A pinned weight: its plan with its own solve's gap and status, as `solve` reports them."""
        plan, outcome = self.pinned[weight], self.solved[weight]
        upper = self.plans[plan].value(weight)
        lower = self.bounds[weight]
        gap = outcome.mip_gap if outcome.mip_gap is not None else relative_gap(upper, lower)
        status = "time_limit" if outcome.status == "time_limit" else "optimal"
        return Settled(plan, gap, max(0.0, gap * abs(upper)), status, outcome)

    def widest(self, weights: list[float]) -> float | None:
        """The unsolved weight whose gap is widest (relative to what the solver would accept), if any is
        not settled."""
        ratios = {}
        for w in weights:
            if w in self.solved:
                continue
            _, upper, lower, tolerance = self._standing(w)
            if upper - lower > tolerance:
                ratios[w] = (upper - lower) / tolerance
        return max(ratios, key=lambda w: ratios[w]) if ratios else None


def frontier(
    scenario: Scenario,
    weights: list[float] | None = None,
    time_limit: float | None = None,
    mip_gap: float = FRONTIER_MIP_GAP,
    solve_gap: float = DEFAULT_MIP_GAP,
    abs_gap_dollars: float = ABSOLUTE_GAP * SCALE,
) -> Frontier:
    """Sweep the weight on tax; each point is a verified plan, settled within `mip_gap` of its optimum or
    `abs_gap_dollars` of it (as `solve --abs-gap`) — except the point at the scenario's own weight, which is
    `solve`'s plan (solved to `solve_gap`, solve's default gap, and the same absolute gap)."""
    start = time.perf_counter()
    weights = sweep_weights(scenario, weights)
    # The chosen phase is solved at the scenario's weight exactly as `solve` solves it (same problem, same
    # gap): that plan is the curve's point there.
    abs_gap = abs_gap_dollars / SCALE
    phases = run_phases(scenario, time_limit, solve_gap, even_in_band=True, parametric=True, abs_gap=abs_gap)
    assert phases is not None
    sweep = Sweep(phases.built, time_limit, mip_gap, abs_gap=abs_gap)
    assert isinstance(sweep.parameter, cp.Parameter)
    own_weight = float(sweep.parameter.value)
    sweep.record(own_weight, phases.outcome)
    sweep.pinned[own_weight] = len(sweep.plans) - 1
    for end in (weights[0], weights[-1]):
        if end not in sweep.solved:
            sweep.solve(end)
    while (weight := sweep.widest(weights)) is not None:
        sweep.solve(weight)

    model = phases.built.model
    results: dict[int, Result] = {}  # neighbouring weights often share a plan: verify it once
    points = []
    for w in weights:
        settled = sweep.settle(w)
        if settled.plan not in results:
            sweep.load(settled.plan)
            sell, buy = model.traded()
            trades = extract_trades(model.data, sell, buy, intended_cash_k=model.cash_after().value)
            placeholder = SolverInfo(status="optimal", seconds=0.0)  # each point gets its own below
            results[settled.plan] = _finish(phases.data, trades, "optimal", placeholder, [])
        solve = settled.solve
        info = SolverInfo(
            status=settled.status,
            seconds=round(solve.seconds, 3) if solve else 0.0,
            mip_gap=settled.gap,
            gap_dollars=round(settled.excess * SCALE, 2) if np.isfinite(settled.excess) else None,
            solve_seconds=round(solve.solver_seconds, 3) if solve else 0.0,
            solves=1 if solve else 0,
        )
        status = "time_limit" if settled.status != "optimal" else "optimal"
        points.append(FrontierPoint(w, results[settled.plan].model_copy(update={"solver": info, "status": status})))
    solves = sweep.solves + phases.log.solves
    household = sum(account_values(scenario).values())
    seconds = time.perf_counter() - start
    notes = list(phases.notes)
    if not rebalance_asked(scenario):
        notes.append(
            "no rebalance is due (every class is inside its band, no new cash or withdrawal): `solve` trades "
            "nothing, or only harvests losses (rules.harvest_in_band); the curve shows what rebalancing "
            "would buy"
        )
    curve = monotone(points, household, keep=set(sweep.pinned))
    return Frontier(scenario.label, curve, seconds, solves, notes=notes)


def rebalance_asked(scenario: Scenario) -> bool:
    """Whether `solve` rebalances this household (a band is breached, or new cash or a withdrawal moves):
    then its phases are the frontier's, and the two agree at the scenario's weight."""
    flows = any(a.contribution != 0 and a.tradable for a in scenario.accounts)
    return flows or check(scenario).rebalance_due


def monotone(
    points: list[FrontierPoint], household_value: float, keep: set[float] | None = None
) -> list[FrontierPoint]:
    """Give each point the best plan found at any weight, judged by its own weight's objective
    (W·TE + w·(tax + costs), dollars): this removes any point dominated on both tax and tracking error.
    Points at the weights in `keep` (the scenario's own: `solve`'s plan) keep their plan; the others may
    take it."""

    def value(point: FrontierPoint, weight: float) -> float:
        return household_value * point.tracking_error + weight * point.tax_due

    out = []
    for p in points:
        if keep is not None and p.tax_weight in keep:
            out.append(p)
            continue
        # Ties (e.g. several plans on the target at weight 0) go to the one with less tax.
        best = min(points, key=lambda q: (round(value(q, p.tax_weight), 6), q.tax_due))
        better = (round(value(best, p.tax_weight), 6), best.tax_due) < (round(value(p, p.tax_weight), 6), p.tax_due)
        # The point keeps its own solver record: the better plan is within the gap its bound proved.
        kept = best.result.model_copy(update={"solver": p.result.solver})
        out.append(FrontierPoint(p.tax_weight, kept) if better else p)
    return out
