"""Tracking error at security level: the factor risk model, the cone's error bound, the budget, and the
time-limit fallback (issue 11).

Oracles: the covariance B F Bᵀ + diag(s) and every tracking error are computed here with numpy from the
scenario file's numbers; the cone's bound is checked against the exact norm.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.risk import class_risk
from rebal_opt.models.scenario import Scenario
from rebal_opt.models.yaml_io import read_yaml_file
from rebal_opt.solver import engine
from rebal_opt.solver.cone import (
    FULL_ROWS_LIMIT,
    INITIAL_RATIOS,
    ExtendedCone,
    SecondOrderCone,
    Tree,
    extended_form_rows,
    second_order_cone,
    tangent_count,
    tangents_seeded_over,
)
from rebal_opt.solver.engine import InfeasiblePlan, solve
from rebal_opt.solver.highs import SolveOutcome, compile_problem, run_highs
from rebal_opt.solver.objective import TRACKING_TOLERANCE
from rebal_opt.solver.verify import verify
from rebal_opt.solver.warmstart import lp_matrix

HOUSEHOLD = Path(__file__).parent / "data" / "tracking" / "direct-indexing.yaml"


def raw() -> dict[str, Any]:
    return read_yaml_file(HOUSEHOLD)


def household(**rules: Any) -> Scenario:
    data = raw()
    data.setdefault("rules", {}).update(rules)
    return parse_scenario(data)


def covariance(data: dict[str, Any], classes: list[str]) -> np.ndarray:
    """B F Bᵀ + diag(s) over `classes`, written out from the file's numbers."""
    model = data["objective"]["risk_model"]
    factors = sorted({f for row in model["factor_covariance"].values() for f in row} | set(model["factor_covariance"]))
    f = np.zeros((len(factors), len(factors)))
    for a, row in model["factor_covariance"].items():
        for b, value in row.items():
            f[factors.index(a), factors.index(b)] = f[factors.index(b), factors.index(a)] = value
    b = np.array([[model["loadings"].get(c, {}).get(k, 0.0) for k in factors] for c in classes])
    return b @ f @ b.T + np.diag([model["specific_variance"].get(c, 0.0) for c in classes])


def exact_te(data: dict[str, Any], weights: dict[str, float], targets: dict[str, float]) -> float:
    classes = list(weights)
    drift = np.array([weights[c] - targets.get(c, 0.0) for c in classes])
    return float(np.sqrt(drift @ covariance(data, classes) @ drift))


def test_the_factor_form_is_the_covariance_written_out() -> None:
    s = household()
    classes = s.asset_classes()
    assert np.allclose(class_risk(classes, s.objective.risk_model).covariance, covariance(raw(), classes), atol=1e-15)


def test_the_reported_tracking_error_is_the_exact_one() -> None:
    result = solve(household())
    targets = raw()["targets"]
    for when in ("before", "after"):
        weights = {c: getattr(a, when) for c, a in result.allocation.items()}
        assert getattr(result.tracking_error, when) == pytest.approx(exact_te(raw(), weights, targets), rel=1e-9)


def test_factor_form_and_dense_form_give_the_same_plan() -> None:
    """The same covariance as volatility + correlation (built here from B F Bᵀ + diag(s)): same plan value."""
    data = raw()
    classes = [*data["targets"], "cash"]
    c = covariance(data, classes)
    vol = np.sqrt(np.diag(c))
    dense = {
        "volatility": {k: float(v) for k, v in zip(classes, vol, strict=True)},
        "correlation": {
            f"{a}.{b}": float(c[i, j] / (vol[i] * vol[j]))
            for i, a in enumerate(classes)
            for j, b in enumerate(classes)
            if i < j and vol[i] > 0 and vol[j] > 0
        },
    }
    data["objective"]["risk_model"] = dense
    factor, written = (
        solve(household(max_tracking_error=0.006)),
        solve(parse_scenario({**data, "rules": {**data.get("rules", {}), "max_tracking_error": 0.006}})),
    )
    assert factor.tax.due_to_trades == pytest.approx(written.tax.due_to_trades, abs=1.0)
    assert factor.tracking_error.after == pytest.approx(written.tracking_error.after, rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    size=st.sampled_from([1, 2, 3, 7, 16, 40, 129, 600]),
    seed=st.integers(0, 10_000),
    scale=st.sampled_from([1e-3, 1.0, 250.0]),
    form=st.sampled_from([SecondOrderCone, ExtendedCone]),
)
def test_the_cone_bound_is_valid_and_within_its_tolerance(size: int, seed: int, scale: float, form: type) -> None:
    """min t over the outer approximation with y fixed: (1 − tolerance)·||y|| ≤ bound ≤ ||y||, whether the cone
    gets every tangent up front (small), is a tower refined on demand (large), or the extended form."""
    y = np.random.default_rng(seed).normal(size=size) * scale
    x = cp.Variable(size)
    cone = form(x, size, TRACKING_TOLERANCE)
    problem = cp.Problem(cp.Minimize(cone.top), [x == y, *cone.constraints])
    outcome = run_highs(problem, 30.0, cones=[cone])
    exact = float(np.linalg.norm(y))
    assert outcome.bound is not None
    assert (1 - TRACKING_TOLERANCE) * exact - 1e-6 <= outcome.bound <= exact * (1 + 1e-9) + 1e-9
    assert outcome.objective == pytest.approx(exact, rel=1e-9, abs=1e-9)  # the plan's cone values are exact


def test_large_cones_start_coarse_and_small_ones_complete() -> None:
    small, large = Tree.over(9), Tree.over(600)
    assert small.internal * tangent_count(small.depth, TRACKING_TOLERANCE) <= FULL_ROWS_LIMIT
    assert not SecondOrderCone(cp.Variable(9), 9, TRACKING_TOLERANCE).refined
    assert SecondOrderCone(cp.Variable(600), 600, TRACKING_TOLERANCE).refined
    assert large.internal * tangent_count(large.depth, TRACKING_TOLERANCE) > FULL_ROWS_LIMIT
    assert isinstance(second_order_cone(cp.Variable(9), 9, TRACKING_TOLERANCE), SecondOrderCone)
    assert isinstance(second_order_cone(cp.Variable(600), 600, TRACKING_TOLERANCE), ExtendedCone)


@settings(max_examples=25, deadline=None)
@given(size=st.sampled_from([2, 5, 40, 300]), seed=st.integers(0, 10_000), seeded=st.booleans())
def test_the_extended_cone_finds_the_exact_optimum_within_its_tolerance(size: int, seed: int, seeded: bool) -> None:
    """min ||x − p|| + c·x over a box, y free: the MILP machinery on the extended form (with or without the
    conic seed) against Clarabel on the exact second-order cone. The plan's value is its exact one and
    within the tolerance of the true optimum; the bound is never above it."""
    import os

    rng = np.random.default_rng(seed)
    p, c = rng.normal(size=size) * 10.0, rng.normal(size=size) * 0.3
    x = cp.Variable(size)
    exact = cp.Problem(cp.Minimize(cp.norm(x - p) + c @ x), [x >= -5.0, x <= 5.0])
    exact.solve(solver=cp.CLARABEL)
    cone = ExtendedCone(x - p, size, TRACKING_TOLERANCE, hint=-p)
    problem = cp.Problem(cp.Minimize(cone.top + c @ x), [x >= -5.0, x <= 5.0, *cone.constraints])
    saved = os.environ.pop("REBAL_OPT_NO_SEED", None)
    if not seeded:
        os.environ["REBAL_OPT_NO_SEED"] = "1"
    try:
        outcome = run_highs(problem, 30.0, cones=[cone])
    finally:
        os.environ.pop("REBAL_OPT_NO_SEED", None)
        if saved is not None:
            os.environ["REBAL_OPT_NO_SEED"] = saved
    assert outcome.objective is not None and outcome.bound is not None
    plan = np.asarray(x.value)
    assert outcome.objective == pytest.approx(float(np.linalg.norm(plan - p) + c @ plan), rel=1e-7, abs=1e-7)
    optimum = float(exact.value)
    slack = TRACKING_TOLERANCE * float(np.linalg.norm(p)) + 1e-5 * (1 + abs(optimum))
    assert optimum - slack <= outcome.objective <= optimum + slack
    assert outcome.bound <= optimum + 1e-5 * (1 + abs(optimum))


@pytest.mark.parametrize("budget", [0.012, 0.008, 0.005])
def test_a_budget_is_kept_exactly_and_costs_tax_as_it_tightens(budget: float) -> None:
    result = solve(household(max_tracking_error=budget))
    assert verify(household(max_tracking_error=budget), result).ok
    targets = raw()["targets"]
    weights = {c: a.after for c, a in result.allocation.items()}
    assert exact_te(raw(), weights, targets) <= budget + 1e-12
    looser = solve(household(max_tracking_error=budget * 1.5))
    assert result.tax.due_to_trades + result.costs >= looser.tax.due_to_trades + looser.costs - 0.02


def test_an_impossible_budget_names_the_conflict() -> None:
    """AAA is far overweight once its lots may not be sold: no plan reaches a 0.1% tracking error."""
    with pytest.raises(InfeasiblePlan) as caught:
        solve(household(max_tracking_error=0.001, do_not_sell=["AAA", "CCC", "FFF"]))
    assert "rules.max_tracking_error (0.1000%)" in caught.value.conflicts
    assert any(name.startswith("rules.do_not_sell") for name in caught.value.conflicts)


def test_when_time_runs_out_before_any_plan_trading_nothing_is_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A household inside its bands (the harvest phase runs) whose solve finds nothing in time: the verified
    no-trade plan comes back with status time_limit, not a failure."""
    data = raw()
    data["accounts"][0]["cash"] = 500
    scenario = parse_scenario(data)

    def out_of_time(*args: Any, **kwargs: Any) -> SolveOutcome:
        time.sleep(0.02)
        return SolveOutcome("failed", 0.02, 0.02, None, None, "no plan found within the time limit")

    monkeypatch.setattr(engine, "run_highs", out_of_time)
    result = solve(scenario, time_limit=0.01)
    assert result.status == "time_limit" and result.trades == [] and result.verified
    assert any("trading nothing" in note for note in result.notes)


@settings(max_examples=15, deadline=None)
@given(size=st.sampled_from([3, 40, 300]), seed=st.integers(0, 10_000))
def test_a_budget_on_the_extended_cone_is_kept_exactly(size: int, seed: int) -> None:
    """min c·x subject to ||x − p|| ≤ B·w (w = 1), the budget row of the extended form, against Clarabel on
    the exact cone: the plan keeps the budget exactly and its value is within the cone's tolerance."""
    rng = np.random.default_rng(seed)
    p, c = rng.normal(size=size) * 10.0, rng.normal(size=size)
    budget = 0.5 * float(np.linalg.norm(p))
    x, w = cp.Variable(size), cp.Variable()
    exact = cp.Problem(cp.Minimize(c @ x), [cp.norm(x - p) <= budget, x >= -50.0, x <= 50.0])
    exact.solve(solver=cp.CLARABEL)
    cone = ExtendedCone(x - p, size, TRACKING_TOLERANCE, hint=-p)
    constraints = [*cone.constraints, cone.bound_by(budget, w), w == 1.0, x >= -50.0, x <= 50.0]
    outcome = run_highs(cp.Problem(cp.Minimize(c @ x), constraints), 30.0, cones=[cone])
    assert outcome.objective is not None
    plan = np.asarray(x.value)
    assert float(np.linalg.norm(plan - p)) <= budget + 1e-6
    optimum = float(exact.value)
    # The row t ≤ (1 − tolerance)·B can cost up to the tolerance's share of the budget.
    assert optimum - 1e-5 * (1 + abs(optimum)) <= outcome.objective
    assert outcome.objective <= optimum + 2 * TRACKING_TOLERANCE * budget * float(np.linalg.norm(c)) + 1e-5


def test_the_extended_forms_own_rows_are_told_from_the_models() -> None:
    """The rows the exact cone replaces (solver/conic.py) and the vertex step thins (solver/highs.py): every
    starting tangent (a ratio per leaf, and the hint) holds one square, Σ sᵢ ≤ t holds them all, and no
    other row — the leaves' |y| rows, the model's own rows — is taken for either. Tangents of a leaf that
    is zero at the point stay (the seed gives it none)."""
    size = 6
    p = np.arange(1.0, size + 1.0)
    x = cp.Variable(size)
    cone = ExtendedCone(x - p, size, TRACKING_TOLERANCE, hint=-p)
    problem = cp.Problem(cp.Minimize(cone.top + cp.sum(x)), [x >= -5.0, x <= 5.0, cp.sum(x) <= 3.0, *cone.constraints])
    compiled = compile_problem(problem, [cone])
    rows = lp_matrix(compiled.lp).tocsr()
    counts = extended_form_rows(rows, list(compiled.lazy.cones))
    assert np.sum(counts == 1) == size * (len(INITIAL_RATIOS) + 1)
    assert np.sum(counts == size) == 1
    assert np.sum(counts > 0) == size * (len(INITIAL_RATIOS) + 1) + 1
    point = np.zeros(rows.shape[1])
    leaves = compiled.lazy.cones[0].values[:size]
    point[leaves] = [1.0, 2.0, 0.0, 3.0, 0.0, 1.0]
    far = tangents_seeded_over(rows, list(compiled.lazy.cones), point)
    assert len(far) == 4 * (len(INITIAL_RATIOS) + 1)
    assert np.all(counts[far] == 1)
