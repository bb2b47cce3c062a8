"""The frontier's points (solver/frontier.py) against independent solves at each weight.

The frontier solves only some weights and settles the others by the chord of proven bounds (V(w) is
concave). The oracle builds the same phase problem separately (`run_phases`) and solves it at every weight
with plain HiGHS (no relaxation start, no switch tree) to a 1e-7 gap: its value is an upper bound on the
true optimum V(w) and its dual bound a lower one. The plan the frontier shows at a weight, evaluated in the
model's objective at that weight, must lie within the frontier's gap above the first and never below the
second (it is a real plan: its variables are loaded back into the problem and its constraints checked).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import Result
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver import frontier as frontier_module
from rebal_opt.solver.engine import BuiltProblem, run_phases
from rebal_opt.solver.frontier import FRONTIER_MIP_GAP, Frontier, FrontierPoint, Sweep, default_weights, frontier
from rebal_opt.solver.highs import ABSOLUTE_GAP, run_highs

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from frontier import taxable_household  # bench/frontier.py

DATA = Path(__file__).parent / "data" / "frontier" / "taxable-gains.yaml"
FEASIBILITY = 1e-6  # k$ (HiGHS runs at mip_feasibility_tolerance 1e-7)


@dataclass
class Recorded:
    """A frontier run with what it decided inside: its Sweep, and the points before the monotone repair."""

    curve: Frontier
    sweep: Sweep
    settled_points: list[FrontierPoint]


@dataclass(frozen=True)
class Optimum:
    """The oracle at one weight: `value` is a plan's objective (≥ V(w)), `bound` its proven bound (≤ V(w))."""

    value: float
    bound: float


Oracle = dict[float, Optimum]


def record_frontier(scenario: Scenario) -> Recorded:
    """`frontier(scenario)` on the default weights, keeping its Sweep and its points before `monotone`
    (observed only: the recording subclass and wrapper change nothing)."""
    sweeps: list[Sweep] = []
    settled: list[FrontierPoint] = []

    class RecordingSweep(Sweep):
        def __init__(self, built: BuiltProblem, time_limit: float | None, mip_gap: float, **gaps: float) -> None:
            super().__init__(built, time_limit, mip_gap, **gaps)
            sweeps.append(self)

    def recording_monotone(
        points: list[FrontierPoint], household_value: float, keep: set[float] | None = None
    ) -> list[FrontierPoint]:
        settled.extend(points)
        return monotone(points, household_value, keep)

    monotone = frontier_module.monotone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frontier_module, "Sweep", RecordingSweep)
        patch.setattr(frontier_module, "monotone", recording_monotone)
        curve = frontier(scenario)
    assert len(sweeps) == 1 and len(settled) == len(curve.points)
    return Recorded(curve, sweeps[0], settled)


def oracle(scenario: Scenario, weights: list[float]) -> Oracle:
    """Plain HiGHS at each weight on the phase problem built independently of the frontier."""
    phases = run_phases(scenario, None, 1e-4, even_in_band=True, parametric=True)
    assert phases is not None
    parameter = phases.built.model.tax_weight
    assert isinstance(parameter, cp.Parameter)
    optima = {}
    for w in weights:
        parameter.value = w
        outcome = run_highs(phases.built.problem, None, 1e-7, warm_start=False)
        assert outcome.status == "optimal" and outcome.objective is not None and outcome.bound is not None
        assert outcome.bound <= outcome.objective + 1e-9
        optima[w] = Optimum(outcome.objective, outcome.bound)
    return optima


SCENARIOS = {
    "taxable-gains": lambda: load_scenario(DATA),
    "synthetic-8-60": lambda: taxable_household(8, 60, seed=0),
    "synthetic-8-60-seed2": lambda: taxable_household(8, 60, seed=2),
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[Recorded, Oracle]]:
    scenario = SCENARIOS[request.param]()
    recorded = record_frontier(scenario)
    yield recorded, oracle(scenario, [p.tax_weight for p in recorded.curve.points])


def plan_value(sweep: Sweep, plan: int, weight: float) -> float:
    """The plan's objective at `weight`, evaluated by cvxpy on the problem with the plan loaded, after
    checking the plan is a point of the MILP (constraints and integrality)."""
    sweep.load(plan)
    problem = sweep.built.problem
    for constraint in problem.constraints:
        violation = np.max(np.atleast_1d(constraint.violation()), initial=0.0)
        assert violation <= FEASIBILITY, f"plan {plan} violates {constraint} by {violation}"
    for variable in problem.variables():
        if variable.attributes.get("boolean") or variable.attributes.get("integer"):
            assert variable.value is not None
            values = np.atleast_1d(variable.value)
            assert np.all(np.abs(values - np.round(values)) <= FEASIBILITY), variable
    sweep.parameter.value = weight
    value = float(problem.objective.value)
    # The line the sweep keeps for the plan is the same value (intercept + weight·slope).
    assert sweep.plans[plan].value(weight) == pytest.approx(value, rel=1e-9, abs=1e-9)
    return value


def plan_of(result: Result) -> dict[str, object]:
    """A result without its solver record and status (which `monotone` may take from the point)."""
    return result.model_dump(exclude={"solver", "status"})


def shown_from(recorded: Recorded, point: FrontierPoint) -> float:
    """The weight whose settled plan `point` shows: its own, unless `monotone` gave it another's."""
    own = next(p for p in recorded.settled_points if p.tax_weight == point.tax_weight)
    candidates = [own, *recorded.settled_points]
    return next(p.tax_weight for p in candidates if plan_of(p.result) == plan_of(point.result))


def assert_within_frontier_gap(value: float, optimum: Optimum, what: str) -> None:
    """Within the frontier's gap above the oracle's plan, and not below its proven bound."""
    allowed = max(ABSOLUTE_GAP, FRONTIER_MIP_GAP * abs(optimum.value), FRONTIER_MIP_GAP * abs(value)) + 1e-6
    assert value <= optimum.value + allowed, f"{what}: {value} above the optimum {optimum.value} by more than {allowed}"
    below = optimum.bound - 1e-6 * (1 + abs(optimum.value))
    assert value >= below, f"{what}: {value} below the optimum's proven bound {optimum.bound}"


def test_every_point_is_within_the_gap_of_an_independent_solve(case: tuple[Recorded, Oracle]) -> None:
    recorded, truth = case
    sweep, points = recorded.sweep, recorded.curve.points
    # The sweep's own proven bounds at the weights it solved are valid.
    for w, bound in sweep.bounds.items():
        if w in truth:
            assert bound <= truth[w].value + 1e-6 * (1 + abs(bound)), (w, bound)
    for point in points:
        w = point.tax_weight
        optimum = truth[w]
        # The plan the sweep settled this weight with (its best known plan there).
        settled = sweep.settle(w)
        assert_within_frontier_gap(plan_value(sweep, settled.plan, w), optimum, f"settled plan at weight {w}")
        # The chord: every proven lower bound the sweep uses is below the true optimum.
        assert sweep.lower_bound(w) <= optimum.value + 1e-6 * (1 + abs(optimum.value)), w
        # The plan shown: `monotone` may have given this weight another weight's plan.
        shown = sweep.settle(shown_from(recorded, point)).plan
        assert_within_frontier_gap(plan_value(sweep, shown, w), optimum, f"plan shown at weight {w}")


def test_the_chord_settles_some_weights_and_every_plan_is_verified(case: tuple[Recorded, Oracle]) -> None:
    recorded, _ = case
    points, sweep = recorded.curve.points, recorded.sweep
    weights = default_weights()
    assert [p.tax_weight for p in points] == weights
    assert all(p.result.verified for p in points)
    solved = [w for w in weights if w in sweep.solved]
    assert len(solved) < len(points), f"every weight was solved: {solved}"
    # As the points report it (before the monotone repair, which may hand a point another's result).
    assert sum(p.result.solver.solves for p in recorded.settled_points) == len(solved)
    assert sum(p.result.solver.solves for p in points) < len(points)
    for p in recorded.settled_points:
        assert p.result.solver.solves == (1 if p.tax_weight in sweep.solved else 0)


def test_tax_falls_and_tracking_error_rises_with_the_weight(case: tuple[Recorded, Oracle]) -> None:
    points = case[0].curve.points
    for before, after in itertools.pairwise(points):
        assert after.tax_weight > before.tax_weight
        assert after.tax_due <= before.tax_due + 1e-9, (before.tax_weight, after.tax_weight)
        assert after.result.tax.due_to_trades <= before.result.tax.due_to_trades + 1e-9
        assert after.tracking_error >= before.tracking_error - 1e-12, (before.tax_weight, after.tax_weight)
    # The curve has a shape: the ends differ on both axes.
    assert points[0].tax_due > points[-1].tax_due and points[0].tracking_error < points[-1].tracking_error
