"""The relaxation start (solver/warmstart.py) and the highspy driver (solver/highs.py): same optimum as
plain HiGHS, rounding that respects packing rows, and statuses that keep the SolveOutcome contract."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cvxpy as cp
import numpy as np
import pytest

from rebal_opt.models.loading import parse_scenario
from rebal_opt.solver.data import SCALE, build_data
from rebal_opt.solver.engine import build_problem, solve
from rebal_opt.solver.highs import ABSOLUTE_GAP, DEFAULT_MIP_GAP, compile_problem, relative_gap, run_highs
from rebal_opt.solver.model import BuildOptions
from rebal_opt.solver.warmstart import round_up

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from synthetic import household


def main_problem(securities: int = 10, lots: int = 200, **rules: Any) -> cp.Problem:
    """The main MILP (sales allowed, new cash spent) of a small synthetic household."""
    raw = household(securities, lots, seed=1)
    raw["rules"].update(rules)
    return build_problem(build_data(parse_scenario(raw)), BuildOptions(cash_spent=True)).problem


@pytest.mark.parametrize("rules", [{}, {"max_trades": 8}, {"min_trade": 2000}])
def test_start_reaches_the_optimum_of_plain_highs(rules: dict[str, Any]) -> None:
    warm = run_highs(main_problem(**rules), 60)
    plain = run_highs(main_problem(**rules), 60, warm_start=False)
    assert warm.status == plain.status == "optimal"
    assert warm.objective is not None and plain.objective is not None
    assert abs(warm.objective - plain.objective) <= 1e-4 * abs(plain.objective) + 1e-3
    assert warm.start != "milp"  # the relaxation gave a start
    assert warm.size is not None and warm.size.binaries > 0


def test_synthetic_household_is_proven_optimal_from_the_relaxation_alone() -> None:
    # At 30 / 1,000 (the benchmark's smallest size) the relaxation's bound is the optimum.
    outcome = run_highs(main_problem(30, 1000), 60)
    assert outcome.status == "optimal" and outcome.start == "rounded"
    assert outcome.mip_gap is not None and outcome.mip_gap <= 1e-4


def test_rounding_keeps_packing_rows() -> None:
    # Both sides of one security (z0 + z1 ≤ 1) and a trade budget (Σ z ≤ 2); the LP used every z.
    z = cp.Variable(4, boolean=True)
    x = cp.Variable(4, nonneg=True)
    problem = cp.Problem(cp.Minimize(-cp.sum(x)), [x <= z, z[0] + z[1] <= 1, cp.sum(z) <= 2])
    compiled = compile_problem(problem)
    position = {int(c): int(np.nonzero(compiled.binaries == c)[0][0]) for c in compiled.columns(z)}
    values = np.zeros(len(compiled.binaries))
    for c, v in zip(compiled.columns(z), [0.6, 0.4, 0.3, 0.7], strict=True):
        values[position[int(c)]] = v
    rounded = round_up(compiled.lp, compiled.binaries, values)
    picked = [rounded[position[int(c)]] for c in compiled.columns(z)]
    assert picked == [1.0, 0.0, 0.0, 1.0]  # largest first: z3 (0.7), z0 (0.6); z1 shares a row with z0


def test_infeasible_relaxation_is_infeasible() -> None:
    z = cp.Variable(boolean=True)
    y = cp.Variable(nonneg=True)
    outcome = run_highs(cp.Problem(cp.Minimize(y), [y + 2 * z >= 3, y <= 0.5]), 10)
    assert outcome.status == "infeasible" and not outcome.has_plan


def test_start_not_proven_goes_on_to_the_milp() -> None:
    # A knapsack whose relaxation is fractional: the rounded start is not within the gap, HiGHS finishes.
    weights = np.array([5.0, 4.0, 3.0, 2.0, 7.0])
    profits = np.array([10.0, 7.0, 6.0, 3.0, 13.0])
    z = cp.Variable(5, boolean=True)
    problem = cp.Problem(cp.Maximize(profits @ z), [weights @ z <= 10])
    outcome = run_highs(problem, 10)
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(19.0) and problem.value == pytest.approx(19.0)
    assert outcome.mip_gap is not None and outcome.mip_gap <= 1e-4


def test_pure_lp_is_solved_directly_with_duals() -> None:
    x = cp.Variable(2, nonneg=True)
    limit = x[0] + x[1] <= 4
    problem = cp.Problem(cp.Maximize(3 * x[0] + 2 * x[1]), [limit, x[0] <= 3])
    outcome = run_highs(problem, 10)
    assert outcome.status == "optimal" and outcome.start == "milp"
    assert problem.value == pytest.approx(11.0)
    assert limit.dual_value == pytest.approx(2.0)


def test_gap_is_highs_definition() -> None:
    assert relative_gap(100.0, 99.0) == pytest.approx(0.01)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(0.0, -1.0) == float("inf")


def test_solve_end_to_end_reports_the_start(capfd: pytest.CaptureFixture[str]) -> None:
    result = solve(parse_scenario(household(10, 200, seed=1)), time_limit=60)
    assert result.status == "optimal" and result.verified
    # Proven as the engine defines it: within the relative gap, or within the absolute gap in dollars.
    info = result.solver
    assert info.mip_gap is not None and info.gap_dollars is not None
    assert info.mip_gap <= DEFAULT_MIP_GAP or info.gap_dollars <= ABSOLUTE_GAP * SCALE
    assert "HiGHS" not in capfd.readouterr().out  # the banner stays off stdout


def taxable_problem() -> tuple[cp.Problem, Any]:
    """bench/frontier.py's household at 12 / 300: taxable only, lots at 45% of cost (gains to realize),
    enough of them that the plan's long-term gain crosses a bracket the tax encoding must choose."""
    raw = household(12, 300, seed=0)
    raw["accounts"] = [a for a in raw["accounts"] if a["type"] == "taxable"]
    for lot in raw["accounts"][0]["lots"]:
        lot["cost_per_share"] = round(lot["cost_per_share"] * 0.45, 2)
    built = build_problem(build_data(parse_scenario(raw)), BuildOptions(cash_spent=True))
    return built.problem, built.model


def test_switches_are_the_regime_binaries_not_the_trade_permissions() -> None:
    problem, model = taxable_problem()
    names = {v.name() for v in model.switches(problem)}
    assert names and not names & {"sell_trade", "buy_trade", "group_bought"}
    booleans = {v.name() for v in problem.variables() if v.attributes.get("boolean")}
    assert booleans - names == {"sell_trade", "buy_trade"} | ({"group_bought"} & booleans)


def test_branching_on_the_switches_proves_what_the_root_relaxation_cannot() -> None:
    # The tax encoding's regime binaries are where this household's relaxation is weak: with them
    # branched on, the start is proven within the gap and HiGHS's MILP is not run; the optimum is plain
    # HiGHS's.
    problem, model = taxable_problem()
    branched = run_highs(problem, 60, switches=model.switches(problem))
    problem, _ = taxable_problem()
    root_only = run_highs(problem, 60)
    problem, _ = taxable_problem()
    plain = run_highs(problem, 60, warm_start=False, mip_gap=1e-7)
    assert branched.status == root_only.status == plain.status == "optimal"
    assert "milp" in root_only.start  # the case is one the root relaxation alone cannot prove
    assert branched.objective is not None and plain.objective is not None and branched.bound is not None
    assert abs(branched.objective - plain.objective) <= 1e-4 * abs(plain.objective) + 1e-3
    assert branched.bound <= plain.objective + 1e-6 * abs(plain.objective)
    assert "milp" not in branched.start
