"""The conic branch-and-bound (solver/conic_search.py) against independent answers.

* Brute force: small MILPs with a second-order cone in the objective, built with the extended cone the
  engine uses; every 0/1 assignment of the binaries is solved by cvxpy with the cone exact (cp.norm, its own
  Clarabel path, not the search's), and the least value is the optimum. The search's plan must be a plan of
  the exact problem, its value within the gap of that optimum, its bound never above it.
* A second solver: a direct-indexing household (tests/data/tracking/peer-8x40.yaml) solved by the engine
  with the search and with HiGHS alone (the search switched off); both proven to a tight gap, so their
  objectives agree within it, and each plan passes the verifier.
* The path: 12- and 20-leaf households (peer-8x40, peer-16x80) take the search by default, and the fixed
  tower with HiGHS (REBAL_OPT_TOWER) proves the same optimum.
* A relaxation Clarabel does not finish without iterative refinement is solved again with it.
* The time limit: with no plan by its share of the time the search hands over to HiGHS; stopped with a plan,
  the plan comes back with its gap (status time_limit).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import clarabel
import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.yaml_io import read_yaml_file
from rebal_opt.solver import blocks, conic_search, engine, highs
from rebal_opt.solver import cone as cone_module
from rebal_opt.solver.cone import ExtendedCone, ExtendedRows
from rebal_opt.solver.conic import ConicForm
from rebal_opt.solver.engine import solve
from rebal_opt.solver.highs import SolveOutcome, compile_problem, run_highs
from rebal_opt.solver.objective import TRACKING_TOLERANCE
from rebal_opt.solver.verify import verify

HOUSEHOLD = Path(__file__).parent / "data" / "tracking" / "peer-8x40.yaml"
BANDED = Path(__file__).parent / "data" / "tracking" / "peer-16x80.yaml"
PEERS_250 = Path(__file__).parent / "data" / "tracking" / "peer-250x750.yaml"


def harvest_problem(size: int, seed: int) -> dict[str, Any]:
    """min ||M (x − p)|| − c·s: per position a sale s_i (a loss, worth c_i each) and a purchase b_i, not both
    (z_i = 1 lets it buy, 0 lets it sell: the wash-sale choice), the position x_i = h_i − s_i + b_i."""
    rng = np.random.default_rng(seed)
    held = rng.uniform(1.0, 4.0, size)
    target = held + rng.normal(0.0, 1.0, size)
    mix = np.eye(size) + rng.normal(0.0, 0.3, (size, size))
    worth = rng.uniform(0.05, 0.6, size)  # tax saved per unit of loss sold
    return {"held": held, "target": target, "mix": mix, "worth": worth}


def exact_optimum(spec: dict[str, Any]) -> float:
    """Every 0/1 assignment, the continuous problem with the cone exact (cvxpy, cp.norm)."""
    size = len(spec["held"])
    best = np.inf
    for choice in itertools.product((0.0, 1.0), repeat=size):
        z = np.array(choice)
        sell, buy = cp.Variable(size, nonneg=True), cp.Variable(size, nonneg=True)
        position = spec["held"] - sell + buy
        objective = cp.norm(spec["mix"] @ position - spec["mix"] @ spec["target"]) - spec["worth"] @ sell
        problem = cp.Problem(cp.Minimize(objective), [sell <= spec["held"] * (1 - z), buy <= 5.0 * z])
        problem.solve(solver=cp.CLARABEL)
        best = min(best, float(problem.value))
    return best


def searched(spec: dict[str, Any]) -> tuple[SolveOutcome, float]:
    """The same MILP with the engine's extended cone, through run_highs (the search applies: an extended
    cone and binaries); the outcome and the plan's value recomputed exactly from its variables."""
    size = len(spec["held"])
    z = cp.Variable(size, boolean=True)
    sell, buy = cp.Variable(size, nonneg=True), cp.Variable(size, nonneg=True)
    position = spec["held"] - sell + buy
    drift = spec["mix"] @ position - spec["mix"] @ spec["target"]
    te = ExtendedCone(drift, size, TRACKING_TOLERANCE, hint=None)
    problem = cp.Problem(
        cp.Minimize(te.top - spec["worth"] @ sell),
        [sell <= cp.multiply(spec["held"], 1 - z), buy <= 5.0 * z, *te.constraints],
    )
    outcome = run_highs(problem, 60.0, mip_gap=1e-6, cones=[te], exclusive=[z], abs_gap=1e-5)
    s, b = np.asarray(sell.value), np.asarray(buy.value)
    x = spec["held"] - s + b
    value = float(np.linalg.norm(spec["mix"] @ (x - spec["target"])) - spec["worth"] @ s)
    assert np.all(np.minimum(s, b) <= 1e-6), "a position both sold and bought"
    return outcome, value


@settings(max_examples=20, deadline=None)
@given(size=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_the_search_finds_the_brute_force_optimum(size: int, seed: int) -> None:
    spec = harvest_problem(size, seed)
    optimum = exact_optimum(spec)
    outcome, value = searched(spec)
    assert outcome.start == "conic", "the plan is not the conic search's"
    assert outcome.status == "optimal" and outcome.objective is not None and outcome.bound is not None
    assert outcome.objective == pytest.approx(value, abs=1e-6)  # the reported value is the plan's exact one
    slack = TRACKING_TOLERANCE * float(np.linalg.norm(spec["mix"] @ spec["target"])) + 1e-5 * (1 + abs(optimum))
    assert optimum - slack <= value <= optimum + slack
    assert outcome.bound <= optimum + 1e-5 * (1 + abs(optimum))


def _outcomes(monkeypatch: pytest.MonkeyPatch) -> list[SolveOutcome]:
    """Record every SolveOutcome the engine gets."""
    seen: list[SolveOutcome] = []
    original = engine.run_highs

    def recording(*args: Any, **kwargs: Any) -> SolveOutcome:
        outcome = original(*args, **kwargs)
        seen.append(outcome)
        return outcome

    monkeypatch.setattr(engine, "run_highs", recording)
    return seen


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cone in the extended form (a household this small would get the fixed tower)."""
    monkeypatch.setattr(cone_module, "FULL_ROWS_LIMIT", 0)


def test_the_search_and_highs_agree_on_a_direct_indexing_household(
    extended: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(HOUSEHOLD)
    seen = _outcomes(monkeypatch)
    with_search = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    searched_outcome = seen[-1]
    monkeypatch.setattr(conic_search, "applies", lambda *args: False)
    without = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    highs_outcome = seen[-1]
    assert searched_outcome.start == "conic" and highs_outcome.start != "conic"
    assert with_search.status == without.status == "optimal"
    assert verify(scenario, with_search).ok and verify(scenario, without).ok
    assert with_search.trades, "the household harvests: the plan trades"
    a, b = searched_outcome, highs_outcome
    assert a.objective is not None and b.objective is not None and a.bound is not None and b.bound is not None
    tolerance = 2e-5 + 1e-6 * abs(b.objective) + TRACKING_TOLERANCE * abs(b.objective)
    assert abs(a.objective - b.objective) <= tolerance
    assert a.bound <= b.objective + tolerance and b.bound <= a.objective + tolerance


@pytest.mark.parametrize("path", [HOUSEHOLD, BANDED], ids=["12 leaves", "20 leaves"])
def test_from_eleven_leaves_the_search_runs_and_agrees_with_the_tower(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 (16) securities and 4 factors: a 12- (20-) leaf cone, past the tower's 500 rows, so the default path
    is the search; the fixed tower (HiGHS, as before) must find the same optimum."""
    scenario = load_scenario(path)
    seen = _outcomes(monkeypatch)
    searched = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    a = seen[-1]
    monkeypatch.setenv("REBAL_OPT_TOWER", "1")
    towered = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    b = seen[-1]
    assert a.start == "conic" and b.start != "conic"
    assert searched.status == towered.status == "optimal"
    assert verify(scenario, searched).ok and verify(scenario, towered).ok
    assert a.objective is not None and b.objective is not None
    tolerance = 2e-5 + 1e-6 * abs(b.objective) + 2 * TRACKING_TOLERANCE * abs(b.objective)
    assert abs(a.objective - b.objective) <= tolerance


def test_with_no_plan_in_its_share_of_the_time_the_search_hands_over_to_highs(
    extended: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conic_search, "GIVE_UP_SHARE", 0.0)
    monkeypatch.setattr(conic_search.ConicSearch, "_round", lambda self, values, lower, upper: None)
    scenario = load_scenario(HOUSEHOLD)
    seen = _outcomes(monkeypatch)
    result = solve(scenario, time_limit=60)
    assert seen[-1].start != "conic"  # HiGHS found the plan
    assert result.status == "optimal" and result.verified and verify(scenario, result).ok


def test_stopped_with_a_plan_the_search_returns_it_with_its_gap(
    extended: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline passes as soon as the search has a plan: that plan is the answer, status time_limit."""
    monkeypatch.setattr(conic_search.ConicSearch, "_stop", lambda self: self.best is not None)
    monkeypatch.setattr(highs, "past_deadline", lambda deadline: True)
    scenario = load_scenario(HOUSEHOLD)
    seen = _outcomes(monkeypatch)
    result = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    assert seen[-1].start == "conic"
    assert result.status == "time_limit" and result.verified and verify(scenario, result).ok
    assert result.solver.gap_dollars is not None and result.solver.gap_dollars > 0.01


@pytest.mark.parametrize("band", [0.005, 0.01])
def test_the_band_floor_row_cuts_off_no_plan(band: float, extended: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The perspective's band-floor row (blocks.WashSalePerspective) only tightens the relaxation: with bands
    where it binds (its root bound moves), the household's proven optimum is the same with it and without."""
    data = read_yaml_file(BANDED)
    data["bands"] = {"absolute": band, "relative": None}
    scenario = parse_scenario(data)
    seen = _outcomes(monkeypatch)
    with_row = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    a = seen[-1]
    monkeypatch.setattr(blocks.WashSalePerspective, "band_floor", False)
    without_row = solve(scenario, time_limit=60, mip_gap=1e-6, abs_gap_dollars=0.01)
    b = seen[-1]
    assert with_row.status == without_row.status == "optimal"
    assert verify(scenario, with_row).ok and verify(scenario, without_row).ok
    assert a.objective is not None and b.objective is not None
    assert a.objective == pytest.approx(b.objective, abs=2e-5 + TRACKING_TOLERANCE * abs(b.objective))


def test_a_direct_indexing_plan_is_proven_and_has_no_crumbs() -> None:
    """250 stocks (the extended cone, as the engine chooses it): proven within $100, verified, and no trade
    row or lot line under $1 or 0.001 shares unless it sells its whole lot, nor a lot left with such a crumb
    (the peer benchmark's dust rule, bench/peers/compare.py)."""
    scenario = load_scenario(PEERS_250)
    result = solve(scenario, time_limit=120, mip_gap=1e-3, abs_gap_dollars=100)
    assert result.status == "optimal" and result.verified and verify(scenario, result).ok
    # The vertex step may give back up to the cone's tolerance (0.05% of the tracking term, ~$7 here).
    assert result.solver.gap_dollars is not None and result.solver.gap_dollars <= 110
    held = {lot.id: lot.shares for account in scenario.accounts for lot in account.lots}
    price = {ticker: security.price for ticker, security in scenario.securities.items()}
    crumbs = []
    for trade in result.trades:
        if trade.action == "buy":
            if trade.amount < 1.0 or trade.shares < 1e-3:
                crumbs.append(trade)
            continue
        for line in trade.lots or []:
            left = held[line.lot] - line.shares
            small = line.shares * price[trade.security] < 1.0 or line.shares < 1e-3
            crumb_left = left > 1e-9 and (left < 1e-3 or left * price[trade.security] < 1.0)
            if (small and left > 1e-9) or crumb_left:
                crumbs.append(trade)
    assert not crumbs, crumbs[:3]


@pytest.mark.parametrize("first_answer", ["AlmostSolved", "PrimalInfeasible", "MaxIterations"])
def test_a_relaxation_not_solved_without_refinement_is_solved_again_with_it(
    first_answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ConicForm solves first without Clarabel's iterative refinement and takes only a Solved from it: any
    other answer — an infeasibility verdict included — is replaced by a solve with refinement, whose node
    is the same as when the first solve succeeds."""
    spec = harvest_problem(4, 7)
    size = len(spec["held"])
    z = cp.Variable(size, boolean=True)
    sell, buy = cp.Variable(size, nonneg=True), cp.Variable(size, nonneg=True)
    te = ExtendedCone(spec["mix"] @ (spec["held"] - sell + buy - spec["target"]), size, TRACKING_TOLERANCE)
    rows = [sell <= cp.multiply(spec["held"], 1 - z), buy <= 5.0 * z, *te.constraints]
    problem = cp.Problem(cp.Minimize(te.top - spec["worth"] @ sell), rows)
    compiled = compile_problem(problem, [te])
    form = ConicForm(compiled.lp, [c for c in compiled.lazy.cones if isinstance(c, ExtendedRows)])
    lower, upper = form.col_lower.copy(), form.col_upper.copy()
    lower[compiled.binaries], upper[compiled.binaries] = 0.0, 1.0
    expected = form.solve(lower, upper)
    assert expected.status == "solved"

    real = clarabel.DefaultSolver
    refinements: list[bool] = []

    class Unrefined:
        """Clarabel, but a solve without refinement answers `first_answer`."""

        def __init__(self, *args: Any) -> None:
            self.refine = bool(args[-1].iterative_refinement_enable)
            refinements.append(self.refine)
            self.solver = real(*args)

        def solve(self) -> Any:
            solution = self.solver.solve()
            if self.refine:
                return solution
            return type("Answer", (), {"status": first_answer})()

    monkeypatch.setattr(clarabel, "DefaultSolver", Unrefined)
    node = form.solve(lower, upper)
    assert refinements == [False, True]
    assert node.status == "solved"
    assert node.bound == pytest.approx(expected.bound, rel=1e-6, abs=1e-6)
    assert node.value == pytest.approx(expected.value, rel=1e-6, abs=1e-6)
