"""The switch tree of the relaxation start (solver/warmstart.py: `relaxation_start`, `SwitchTree`) against
brute force: for every 0/1 assignment of all binaries the LP with them fixed is solved, and the least value
is the exact MILP optimum. The tree's bound must never exceed it, and a plan it reports must be a plan."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from unittest import mock

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal_opt.solver import warmstart
from rebal_opt.solver.highs import highs_options
from rebal_opt.solver.warmstart import MAX_SWITCHES, Start, relaxation_start

INF = highspy.kHighsInf
FEASIBILITY = 1e-6


@dataclass(frozen=True)
class Milp:
    """A small MILP in dense form: min c·x + offset, row_lower ≤ A x ≤ row_upper, lower ≤ x ≤ upper,
    the `binaries` columns 0/1; `switches` is the subset given to the tree."""

    cost: np.ndarray
    offset: float
    matrix: np.ndarray  # (rows, cols)
    row_lower: np.ndarray
    row_upper: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    binaries: np.ndarray
    switches: np.ndarray

    def highs_lp(self, lower: np.ndarray | None = None, upper: np.ndarray | None = None) -> highspy.HighsLp:
        """The model as a HighsLp (column-wise, binaries marked integer as compile_problem does)."""
        lp = highspy.HighsLp()
        rows, cols = self.matrix.shape
        lp.num_col_, lp.num_row_ = cols, rows
        lp.col_cost_ = self.cost.astype(float)
        lp.offset_ = float(self.offset)
        lp.col_lower_ = (self.lower if lower is None else lower).astype(float)
        lp.col_upper_ = (self.upper if upper is None else upper).astype(float)
        lp.row_lower_ = self.row_lower.astype(float)
        lp.row_upper_ = self.row_upper.astype(float)
        starts, indices, values = [0], [], []
        for j in range(cols):
            nonzero = np.nonzero(self.matrix[:, j])[0]
            indices.extend(nonzero.tolist())
            values.extend(self.matrix[nonzero, j].tolist())
            starts.append(len(indices))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(indices, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(values, dtype=float)
        kinds = [highspy.HighsVarType.kContinuous] * cols
        for j in self.binaries:
            kinds[int(j)] = highspy.HighsVarType.kInteger
        lp.integrality_ = kinds
        return lp

    def lp_value(self, fixed: dict[int, float] | None = None, relaxed: bool = True) -> float | None:
        """The LP optimum with these columns fixed (integrality dropped), None if infeasible."""
        lower, upper = self.lower.astype(float).copy(), self.upper.astype(float).copy()
        for j, v in (fixed or {}).items():
            lower[j] = upper[j] = v
        lp = self.highs_lp(lower, upper)
        if relaxed:
            lp.integrality_ = []
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return float(h.getInfo().objective_function_value)
        assert status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible), (
            f"oracle LP ended {status}"  # every column is bounded: never unbounded
        )
        return None

    def brute_force(self) -> float | None:
        """The exact MILP optimum: the least LP value over every 0/1 assignment of all binaries."""
        best: float | None = None
        for assignment in itertools.product((0.0, 1.0), repeat=len(self.binaries)):
            value = self.lp_value(dict(zip(self.binaries.tolist(), assignment, strict=True)))
            if value is not None and (best is None or value < best):
                best = value
        return best

    def start(self, switches: np.ndarray | None = None) -> Start:
        chosen = self.switches if switches is None else switches
        empty = np.empty(0, dtype=np.int64)
        return relaxation_start(self.highs_lp(), self.binaries, empty, highs_options(1e-4), None, chosen)

    def assert_plan(self, start: Start, optimum: float) -> None:
        """`start` is a feasible point of the MILP whose objective is c·x + offset and not below the optimum."""
        assert start.solution is not None and start.objective is not None
        x = start.solution
        assert x.shape == self.cost.shape
        assert np.all(x >= self.lower - FEASIBILITY) and np.all(x <= self.upper + FEASIBILITY), x
        activity = self.matrix @ x
        assert np.all(activity >= self.row_lower - FEASIBILITY), (activity, self.row_lower)
        assert np.all(activity <= self.row_upper + FEASIBILITY), (activity, self.row_upper)
        z = x[self.binaries]
        assert np.all(np.minimum(np.abs(z), np.abs(z - 1)) <= FEASIBILITY), z
        tolerance = 1e-6 * (1 + abs(optimum))
        assert start.objective == pytest.approx(float(self.cost @ x) + self.offset, abs=tolerance)
        assert start.objective >= optimum - tolerance


@st.composite
def milps(draw: st.DrawFn, max_binaries: int = 6) -> Milp:
    """3–12 bounded continuous columns, then 2–6 binaries (the first 1–4 are switches); big-M links
    x_i ≤ M·z_j (or x_i ≤ M·(1 − z_j): a switch choosing a regime), random ≤ rows over every column with
    coefficients of both signs (so also ≥ rows: infeasible models are drawn too), sometimes a packing row
    among binaries; costs of both signs. Small integers (halves) keep the LPs numerically clean."""
    n_cont = draw(st.integers(3, 12))
    n_bin = draw(st.integers(2, max_binaries))
    n_switch = draw(st.integers(1, min(4, n_bin)))
    cols = n_cont + n_bin
    half = st.integers(-20, 20).map(lambda k: k / 2)
    lower = np.array([draw(st.sampled_from([0.0, 0.0, -1.0, -2.5])) for _ in range(n_cont)] + [0.0] * n_bin)
    upper = np.array([lower[i] + draw(st.integers(1, 10)) for i in range(n_cont)] + [1.0] * n_bin)
    cost = np.array([draw(half) for _ in range(cols)])
    offset = draw(half)
    binaries = np.arange(n_cont, cols)
    rows: list[np.ndarray] = []
    row_upper: list[float] = []
    row_lower: list[float] = []

    def add(row: np.ndarray, upper_bound: float, lower_bound: float = -INF) -> None:
        rows.append(row)
        row_upper.append(upper_bound)
        row_lower.append(lower_bound)

    for _ in range(draw(st.integers(1, 2 * n_cont))):  # big-M links
        i = draw(st.integers(0, n_cont - 1))
        j = int(binaries[draw(st.integers(0, n_bin - 1))])
        big_m = float(max(upper[i], 0.0)) + draw(st.sampled_from([0.0, 0.0, 3.0]))
        row = np.zeros(cols)
        row[i] = 1.0
        if draw(st.booleans()):  # x_i ≤ M z_j
            row[j] = -big_m
            add(row, 0.0)
        else:  # x_i ≤ M (1 − z_j)
            row[j] = big_m
            add(row, big_m)
    for _ in range(draw(st.integers(1, 4))):  # random rows, ≤ (sometimes two-sided)
        members = draw(st.lists(st.integers(0, cols - 1), min_size=1, max_size=min(5, cols), unique=True))
        row = np.zeros(cols)
        for k in members:
            row[k] = draw(st.integers(-5, 5).filter(lambda v: v != 0))
        rhs = draw(st.integers(-10, 20)) / 2
        two_sided = draw(st.integers(0, 3)) == 0
        add(row, rhs, rhs - draw(st.integers(2, 30)) if two_sided else -INF)
    if n_bin >= 3 and draw(st.booleans()):  # a packing row among binaries: at most k of them
        members = draw(st.lists(st.sampled_from(binaries.tolist()), min_size=2, max_size=n_bin, unique=True))
        row = np.zeros(cols)
        row[members] = 1.0
        add(row, float(draw(st.integers(1, len(members) - 1))))
    return Milp(
        cost=cost,
        offset=offset,
        matrix=np.array(rows),
        row_lower=np.array(row_lower),
        row_upper=np.array(row_upper),
        lower=lower,
        upper=upper,
        binaries=binaries,
        switches=binaries[:n_switch],
    )


def check_against_brute_force(milp: Milp, start: Start) -> float | None:
    """The tree's answer against the exact optimum (returned; None when the MILP is infeasible)."""
    optimum = milp.brute_force()
    if optimum is None:
        # An infeasible MILP: never a plan; "bound" may carry +inf (every leaf infeasible) or any bound.
        assert start.status in ("infeasible", "bound", "none"), start.status
        assert start.solution is None
        return None
    assert start.status != "infeasible", "a feasible MILP was declared infeasible"
    if start.status == "none":  # the relaxation did not solve (no deadline here: should not happen)
        pytest.fail("the relaxation of a bounded feasible model did not solve")
    assert start.bound is not None
    assert start.bound <= optimum + 1e-6 * (1 + abs(optimum)), (start.bound, optimum)
    if start.status == "found":
        milp.assert_plan(start, optimum)
        assert start.objective is not None and start.bound <= start.objective + 1e-6 * (1 + abs(optimum))
    return optimum


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(milps())
def test_switch_tree_bound_and_plan_against_brute_force(milp: Milp) -> None:
    check_against_brute_force(milp, milp.start())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(milps(max_binaries=5))
def test_with_every_binary_a_switch_the_tree_is_exact_within_its_gap(milp: Milp) -> None:
    # At most 2^6 − 1 = 63 nodes: the whole tree fits in MAX_SWITCH_NODES, every leaf is a 0/1 assignment
    # of all binaries, so the bound and the plan are the optimum up to the pruning tolerance.
    assert 2 ** (len(milp.binaries) + 1) - 1 <= warmstart.MAX_SWITCH_NODES
    start = milp.start(switches=milp.binaries)
    optimum = check_against_brute_force(milp, start)
    if optimum is None:
        return
    assert start.status == "found" and start.objective is not None and start.bound is not None
    gap = max(1e-3, 1e-4 * abs(start.objective)) + 1e-6 * (1 + abs(optimum))  # highs_options(1e-4)
    assert start.bound >= optimum - gap, (start.bound, optimum)
    assert start.objective <= optimum + gap, (start.objective, optimum)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(milps(), st.integers(1, 3))
def test_nodes_left_open_at_the_node_limit_keep_the_bound_valid(milp: Milp, limit: int) -> None:
    # Past MAX_SWITCH_NODES the nodes still to explore are left open with their parent's bound.
    with mock.patch.object(warmstart, "MAX_SWITCH_NODES", limit):
        start = milp.start()
    check_against_brute_force(milp, start)


def two_regimes(offset: float = 2.5) -> Milp:
    """Demand 4 met by x1 (unit cost 1, regime fee 5 when the switch z = 1) or x2 (unit cost 3, only when
    z = 0); p is a free permission for x1. Columns: x1, x2, z, p.

        min x1 + 3 x2 + 5 z + offset   s.t.  x1 + x2 ≥ 4,  x1 ≤ 10 z,  x2 ≤ 10 (1 − z),  x1 ≤ 10 p

    MILP: z = 1 costs 4 + 5 = 9, z = 0 costs 12: the optimum is 9. The LP takes z = 0.4 (x1 = 4 = 10 z)
    and pays 4 + 2 = 6: weak only because of the switch."""
    matrix = np.array(
        [
            [-1.0, -1.0, 0.0, 0.0],  # −x1 − x2 ≤ −4
            [1.0, 0.0, -10.0, 0.0],  # x1 − 10 z ≤ 0
            [0.0, 1.0, 10.0, 0.0],  # x2 + 10 z ≤ 10
            [1.0, 0.0, 0.0, -10.0],  # x1 − 10 p ≤ 0
        ]
    )
    return Milp(
        cost=np.array([1.0, 3.0, 5.0, 0.0]),
        offset=offset,
        matrix=matrix,
        row_lower=np.full(4, -INF),
        row_upper=np.array([-4.0, 0.0, 10.0, 0.0]),
        lower=np.zeros(4),
        upper=np.array([10.0, 10.0, 1.0, 1.0]),
        binaries=np.array([2, 3]),
        switches=np.array([2]),
    )


def test_a_switch_closes_the_gap_the_relaxation_leaves() -> None:
    milp = two_regimes()
    optimum = milp.brute_force()
    root = milp.lp_value()
    assert optimum == pytest.approx(9.0 + 2.5) and root == pytest.approx(6.0 + 2.5)

    without = milp.start(switches=np.empty(0, dtype=np.int64))
    assert without.bound == pytest.approx(root)  # root only: the plain relaxation

    start = milp.start()
    assert start.bound is not None and start.bound > root + 1.0  # strictly tighter than the root LP
    assert start.bound == pytest.approx(optimum, abs=1e-7)
    assert start.status == "found" and start.objective == pytest.approx(optimum, abs=1e-7)
    milp.assert_plan(start, optimum)


def fixed_charges(n: int) -> Milp:
    """n facilities, each a switch z_i with fee 5 letting x_i ≤ 10 z_i serve a shared demand of 4 at unit
    cost 1 + i/10. The relaxation opens 0.4 of facility 0 for 2; the optimum opens it fully: 4 + 5 = 9."""
    cols = 2 * n
    matrix = np.zeros((n + 1, cols))
    matrix[0, :n] = -1.0  # −Σ x ≤ −4
    for i in range(n):
        matrix[1 + i, i] = 1.0
        matrix[1 + i, n + i] = -10.0  # x_i − 10 z_i ≤ 0
    return Milp(
        cost=np.concatenate([1.0 + np.arange(n) / 10, np.full(n, 5.0)]),
        offset=0.0,
        matrix=matrix,
        row_lower=np.full(n + 1, -INF),
        row_upper=np.concatenate([[-4.0], np.zeros(n)]),
        lower=np.zeros(cols),
        upper=np.concatenate([np.full(n, 10.0), np.ones(n)]),
        binaries=np.arange(n, cols),
        switches=np.arange(n, cols),
    )


def test_more_switches_than_the_tree_takes_fall_back_to_the_root() -> None:
    milp = fixed_charges(MAX_SWITCHES + 1)
    optimum = milp.brute_force()
    root = milp.lp_value()
    assert optimum == pytest.approx(9.0) and root == pytest.approx(6.0)
    start = milp.start()  # all MAX_SWITCHES + 1 designated
    assert start.bound is not None
    assert start.bound == pytest.approx(root, abs=1e-7)  # only the root: still a valid bound
    assert start.bound <= optimum + 1e-9
    if start.status == "found":
        milp.assert_plan(start, optimum)
    # One switch fewer is within the limit: the tree runs and closes the gap.
    within = milp.start(switches=milp.switches[:MAX_SWITCHES])
    assert within.bound is not None and within.bound <= optimum + 1e-9
    assert within.bound > root + 1.0


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_node_limit_on_a_deep_tree(limit: int) -> None:
    # Six switches whose relaxation always opens the next facility by 0.4: the limit stops the dive.
    milp = fixed_charges(6)
    optimum = milp.brute_force()
    assert optimum is not None
    with mock.patch.object(warmstart, "MAX_SWITCH_NODES", limit):
        start = milp.start()
    root = milp.lp_value()
    assert start.bound is not None and root is not None
    assert root - 1e-9 <= start.bound <= optimum + 1e-9
    if start.status == "found":
        milp.assert_plan(start, optimum)


def test_a_deadline_already_past_gives_no_start() -> None:
    milp = two_regimes()
    empty = np.empty(0, dtype=np.int64)
    start = relaxation_start(milp.highs_lp(), milp.binaries, empty, highs_options(1e-4), 0.0, milp.switches)
    assert start.status == "none" and start.solution is None and start.bound is None
