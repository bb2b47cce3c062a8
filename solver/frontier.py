"""The tax / tracking-error frontier: the rebalance re-solved over a sweep of the weight on tax.

The problem is built once with `tax_weight` as a cvxpy Parameter (DPP: re-compiling it for another
weight is nearly free) in the phase the scenario's rules select (contributions first, bands or least
violation); each point is solved like `solve`'s (relaxation start, then HiGHS) and verified like it.
A point whose plan is beaten on both tax and tracking error by another point's plan (possible within
the optimality gap) takes that plan, so the curve is monotone: less tax never comes with less tracking
error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cvxpy as cp
import numpy as np

from rebal_opt.models.result import Result, SolverInfo
from rebal_opt.models.scenario import Scenario

from .engine import SolverFailure, _finish, build_problem, run_phases
from .highs import run_highs
from .household import account_values
from .plan import extract_trades

FRONTIER_POINTS = 20
FRONTIER_MIP_GAP = 1e-3
"""Each point stops at a 0.1% gap: the curve is for choosing a trade-off, and a point within 0.1% of its
optimum is indistinguishable on it; proving 0.01% at every point was measured to cost 2–3× more."""


def default_weights(points: int = FRONTIER_POINTS) -> list[float]:
    """0, then geometric from 0.05 to 20: from ignoring tax to weighing it 20× a dollar of tracking error."""
    return [0.0, *np.geomspace(0.05, 20.0, points - 1).round(6).tolist()]


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

    def as_json(self) -> dict[str, float | int | str]:
        return {
            "tax_weight": self.tax_weight,
            "tax_due_to_trades": self.result.tax.due_to_trades,
            "tracking_error": self.tracking_error,
            "costs": self.result.costs,
            "trades": len(self.result.trades),
            "status": self.result.status,
        }


@dataclass(frozen=True)
class Frontier:
    scenario: str
    points: list[FrontierPoint]
    seconds: float
    solves: int
    notes: list[str]


def frontier(
    scenario: Scenario,
    weights: list[float] | None = None,
    time_limit: float | None = None,
    mip_gap: float = FRONTIER_MIP_GAP,
) -> Frontier:
    """Sweep the weight on tax; each point is a verified plan."""
    start = time.perf_counter()
    weights = sorted(default_weights() if weights is None else weights)
    phases = run_phases(scenario, time_limit, mip_gap, even_in_band=True)
    assert phases is not None
    options = replace(phases.built.model.options, tax_weight_parameter=True)
    arrays = phases.built.model.data
    built = build_problem(arrays, options)
    parameter = built.model.tax_weight
    assert isinstance(parameter, cp.Parameter)
    notes = list(phases.notes)
    verified: dict[tuple, Result] = {}  # neighbouring weights often give the same plan: verify it once
    solved: dict[int, FrontierPoint] = {}
    runs = [0]

    values: dict[int, list] = {}  # each solved point's variable values: the start for its neighbours

    def point(i: int) -> FrontierPoint:
        if i in solved:
            return solved[i]
        if values:
            nearest = min(values, key=lambda k: abs(k - i))
            for variable, value in zip(built.problem.variables(), values[nearest], strict=True):
                variable.value = value
        parameter.value = weights[i]
        # The parameter changes only the objective: cvxpy re-applies it to the cached compilation (DPP).
        outcome = run_highs(built.problem, time_limit, mip_gap, reuse_values=bool(values))
        runs[0] += 1
        values[i] = [variable.value for variable in built.problem.variables()]
        model = built.model
        if not outcome.has_plan or model.sell.value is None or model.buy.value is None:
            raise SolverFailure(f"the frontier point at tax_weight {weights[i]} has no plan ({outcome.status})")
        trades = extract_trades(model.data, model.sell.value, model.buy.value, intended_cash_k=model.cash_after().value)
        info = SolverInfo(
            status=outcome.status,
            seconds=round(outcome.seconds, 3),
            mip_gap=outcome.mip_gap,
            solve_seconds=round(outcome.solver_seconds, 3),
        )
        key = plan_key(trades)
        if key not in verified:
            verified[key] = _finish(phases.data, trades, outcome.status, info, [])
        solved[i] = FrontierPoint(weights[i], verified[key].model_copy(update={"solver": info}))
        return solved[i]

    def sweep(i: int, j: int) -> None:
        """Points strictly between i and j. The optimal value V(w) = min_x TE(x)·W + w·tax(x) is concave
        in w; a plan optimal at both w_i and w_j is optimal on the whole interval (the line through two
        points of a concave function lies below it between them, and V is at most that line): the
        interior takes it without a solve."""
        if j - i < 2:
            return
        if same_plan(point(i), point(j)):
            for k in range(i + 1, j):
                solved[k] = FrontierPoint(weights[k], point(i).result)
            return
        middle = (i + j) // 2
        point(middle)
        sweep(i, middle)
        sweep(middle, j)

    point(0)
    point(len(weights) - 1)
    sweep(0, len(weights) - 1)
    points = [solved[i] for i in range(len(weights))]
    solves = runs[0] + phases.log.solves
    household = sum(account_values(scenario).values())
    return Frontier(scenario.label, monotone(points, household), time.perf_counter() - start, solves, notes)


def same_plan(a: FrontierPoint, b: FrontierPoint) -> bool:
    """The same plan, or one the solver could not tell from it: equal trades, or tax within a dollar (or
    the optimality gap) and tracking error within 1e-7."""
    if plan_key(a.result.trades) == plan_key(b.result.trades):
        return True
    tax_close = abs(a.tax_due - b.tax_due) <= max(1.0, FRONTIER_MIP_GAP * abs(a.tax_due))
    return tax_close and abs(a.tracking_error - b.tracking_error) <= 1e-7


def plan_key(trades: list) -> tuple:
    """What makes two plans the same: every trade's account, security, side, shares and lots."""
    return tuple(
        (t.account, t.security, t.action, t.shares, tuple((lot.lot, lot.shares) for lot in t.lots or []))
        for t in trades
    )


def monotone(points: list[FrontierPoint], household_value: float) -> list[FrontierPoint]:
    """Give each point the best plan found at any weight, judged by its own weight's objective
    (W·TE + w·(tax + costs), dollars): this removes any point dominated on both tax and tracking error."""

    def value(point: FrontierPoint, weight: float) -> float:
        return household_value * point.tracking_error + weight * point.tax_due

    out = []
    for p in points:
        # Ties (e.g. several plans on the target at weight 0) go to the one with less tax.
        best = min(points, key=lambda q: (round(value(q, p.tax_weight), 6), q.tax_due))
        better = (round(value(best, p.tax_weight), 6), best.tax_due) < (round(value(p, p.tax_weight), 6), p.tax_due)
        out.append(FrontierPoint(p.tax_weight, best.result) if better else p)
    return out
