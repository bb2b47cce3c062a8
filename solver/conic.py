"""The continuous relaxation with its cones exact (Clarabel), to place a large cone's tangents up front.

Why: a security-level household's tracking cone (hundreds of leaves, solver/cone.py `ExtendedCone`) is
refined on demand, and each HiGHS instance that solves a relaxation of the MILP (the LP, the rounding
re-solves, the MILP's root) needed 5–8 rounds of LP re-solves before its point was within the tolerance
(on 500 securities / 1,500 lots: 42 of 63 s before the MILP's first node). An interior-point solve of the
same relaxation with each cone as a true second-order cone takes a fraction of one LP, and its point shows
where every leaf's tangent belongs: seeded there, the LPs start within about a round of the tolerance.

The seed only adds valid tangent rows; nothing here decides a plan or a bound (the HiGHS relaxation that
follows is still the bound), so a Clarabel failure or time-out only means no seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from .cone import ExtendedRows, LazyRows, extended_form_rows
from .warmstart import lp_matrix

SEED_TIME_SHARE = 0.2
"""Most of the time left that the conic solve may take."""


def seed_extended_cones(
    lp: highspy.HighsLp,
    binaries: np.ndarray,
    lazy: LazyRows,
    deadline: float | None,
    point: np.ndarray | None = None,
) -> float:
    """Solve `lp` with integrality dropped and its extended cones exact (or take that solution, `point`, when
    the caller has it); add each cone's tangents at that point to `lazy`'s pool. Returns the seconds spent
    (0 when the problem has no extended cone)."""
    cones = [c for c in lazy.cones if isinstance(c, ExtendedRows)]
    if not cones:
        return 0.0
    start = time.perf_counter()
    if point is None:
        limit = None if deadline is None else SEED_TIME_SHARE * max(0.0, deadline - start)
        point = conic_relaxation(lp, binaries, cones, limit)
    if point is not None:
        blocks = [cone.seed(point) for cone in cones]
        blocks = [b for b in blocks if b is not None]
        if blocks:
            lazy.pool.append(sp.vstack(blocks).tocsr())
    return time.perf_counter() - start


def conic_relaxation(
    lp: highspy.HighsLp, binaries: np.ndarray, cones: list[ExtendedRows], time_limit: float | None
) -> np.ndarray | None:
    """The optimal point of `lp` (binaries in [0, 1]) with ||leaves|| ≤ root for each cone, or None."""
    form = ConicForm(lp, cones)
    lower, upper = form.col_lower.copy(), form.col_upper.copy()
    lower[binaries] = np.maximum(lower[binaries], 0.0)
    upper[binaries] = np.minimum(upper[binaries], 1.0)
    node = form.solve(lower, upper, time_limit)
    return node.point if node.status == "solved" else None


BOUND_SLACK = 1e-7
"""Relative (and k$ absolute) slack taken off Clarabel's dual objective before it is used as a bound: its
duality gap and dual residuals are within 1e-8 (relative) at status Solved."""

ALMOST_SOLVED_SLACK = 1e-4
"""The same at status AlmostSolved (Clarabel's reduced tolerances)."""


@dataclass(frozen=True)
class ConicNode:
    """One conic solve: status solved | infeasible | unknown; bound (a lower bound on the objective, with the
    offset), value (the point's objective, with the offset) and point, when solved."""

    status: str
    bound: float = -np.inf
    value: float = np.inf
    point: np.ndarray | None = None


class ConicForm:
    """`lp` with its extended cones exact, for Clarabel: A x + s = b, s in a product of cones.

    Rows L ≤ a·x ≤ U become a zero cone where L = U and nonnegative slacks U − a·x, a·x − L otherwise;
    finite column bounds the same way. Each solve takes its own column bounds (a branch-and-bound node only
    moves those): columns they fix are substituted out, with the rows and bound rows they empty, so a
    node deep in the tree is a smaller problem, and a fixed binary is not a pair of opposite inequalities
    with no interior between them (on small models Clarabel then stopped short of Solved).
    """

    def __init__(self, lp: highspy.HighsLp, cones: list[ExtendedRows]) -> None:
        n = int(lp.num_col_)
        self.n = n
        self.offset = float(lp.offset_)
        self.cost = np.asarray(lp.col_cost_, dtype=float)
        matrix = lp_matrix(lp)
        lower, upper = np.asarray(lp.row_lower_, dtype=float), np.asarray(lp.row_upper_, dtype=float)
        self.col_lower = np.asarray(lp.col_lower_, dtype=float).copy()
        self.col_upper = np.asarray(lp.col_upper_, dtype=float).copy()
        inf = highspy.kHighsInf
        rows = matrix.tocsr()
        # The extended form's tangent rows and Σ sᵢ ≤ t are implied by the exact cone: left out, and the
        # squares they alone hold fixed at 0 (a plan's cone values are set exactly afterwards: LazyRows.repair).
        # At 500 securities / 1,500 lots they were 4,033 of 10,161 rows: the root solve 0.19 → 0.12 s.
        implied = extended_form_rows(rows, cones) > 0
        for cone in cones:
            squares = cone.values[cone.size : 2 * cone.size]
            self.col_lower[squares] = self.col_upper[squares] = 0.0
        equal = np.flatnonzero((lower == upper) & ~implied)
        below = np.flatnonzero((upper < inf) & (lower != upper) & ~implied)
        above = np.flatnonzero((lower > -inf) & (lower != upper) & ~implied)
        self.equalities = len(equal)
        self.stacked = sp.vstack([rows[equal], rows[below], -rows[above]]).tocsc()
        self.stacked_rhs = np.concatenate([upper[equal], upper[below], -lower[above]])
        self.cone_columns = [np.concatenate([[cone.values[-1]], cone.values[: cone.size]]) for cone in cones]
        self.rows = matrix  # the model's own rows, by column (for rounding checks)
        self.row_lower, self.row_upper = lower, upper

    def solve(
        self, lower: np.ndarray, upper: np.ndarray, time_limit: float | None = None, plan: bool = False
    ) -> ConicNode:
        """The relaxation with these column bounds. `plan`: its point becomes a plan (every binary fixed), so
        it is solved with Clarabel's iterative refinement from the start (see below)."""
        import clarabel

        inf = highspy.kHighsInf
        fixed = (upper - lower <= 0.0) & np.isfinite(lower)
        free = np.flatnonzero(~fixed)
        value_of = np.where(fixed, lower, 0.0)
        rhs = self.stacked_rhs - self.stacked @ value_of
        a = self.stacked[:, free].tocsr()
        used = np.diff(a.indptr) > 0
        # Rows every column of which is fixed: a plain check, not a row.
        slack = 1e-9 * (1.0 + np.abs(self.stacked_rhs))
        is_equal = np.arange(len(rhs)) < self.equalities
        broken = ~used & np.where(is_equal, np.abs(rhs) > slack, rhs < -slack)
        if broken.any():
            return ConicNode("infeasible")
        keep_equal = np.flatnonzero(used[: self.equalities])
        keep_inequal = self.equalities + np.flatnonzero(used[self.equalities :])
        position = np.full(self.n, -1)
        position[free] = np.arange(len(free))
        identity = sp.identity(len(free), format="csr")
        col_upper, col_lower = upper[free], lower[free]
        below = np.flatnonzero(col_upper < inf)
        above = np.flatnonzero(col_lower > -inf)
        blocks = [a[keep_equal], a[keep_inequal], identity[below], -identity[above]]
        parts = [rhs[keep_equal], rhs[keep_inequal], col_upper[below], -col_lower[above]]
        kinds = [
            clarabel.ZeroConeT(len(keep_equal)),
            clarabel.NonnegativeConeT(len(keep_inequal) + len(below) + len(above)),
        ]
        for columns in self.cone_columns:
            # s = x over the cone's columns: −I on the free ones, and a fixed one's value in b.
            rows_of_free = np.flatnonzero(position[columns] >= 0)
            block = sp.csr_matrix(
                (-np.ones(len(rows_of_free)), (rows_of_free, position[columns[rows_of_free]])),
                shape=(len(columns), len(free)),
            )
            blocks.append(block)
            parts.append(np.where(position[columns] >= 0, 0.0, value_of[columns]))
            kinds.append(clarabel.SecondOrderConeT(len(columns)))
        constant = self.offset + float(self.cost[fixed] @ lower[fixed])
        matrix, rhs_all = sp.vstack(blocks).tocsc(), np.concatenate(parts)
        started = time.perf_counter()
        zero = sp.csc_matrix((len(free), len(free)))  # no quadratic term
        solution = None
        for refine in (True,) if plan else (False, True):
            # A node's relaxation without iterative refinement of each step's linear solve first: the same
            # iterations and a third less time a solve (0.12 → 0.075 s at 500 securities / 1,500 lots,
            # 0.036 → 0.022 at 100 / 3,000). Clarabel judges Solved on the iterate's own residuals, so its
            # bound stands; any other answer (infeasible included) is taken only from the solve with
            # refinement, as before. Not for a plan: without refinement its rows hold only to ~4e-6 k$
            # (~1e-7 with it), and a 24-stock household of the harness came out with a purchase that its
            # wash-sale binary forbids beside a loss sale in the group (the verifier rejected the plan).
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            settings.iterative_refinement_enable = refine
            if time_limit is not None:
                settings.time_limit = max(0.05, time_limit - (time.perf_counter() - started))
            solution = clarabel.DefaultSolver(zero, self.cost[free], matrix, rhs_all, kinds, settings).solve()
            if str(solution.status) == "Solved":
                break
        assert solution is not None
        status = str(solution.status)
        if status == "PrimalInfeasible":
            return ConicNode("infeasible")
        if status not in ("Solved", "AlmostSolved"):
            return ConicNode("unknown")
        point = value_of.copy()
        point[free] = np.asarray(solution.x, dtype=float)
        value = float(solution.obj_val) + constant
        # AlmostSolved: within Clarabel's reduced tolerances (gap 5e-5, residuals 1e-4, relative), so its
        # bound gives up that much more.
        slack = BOUND_SLACK if status == "Solved" else ALMOST_SOLVED_SLACK
        bound = min(value, float(solution.obj_val_dual) + constant) - slack * (1.0 + abs(value))
        return ConicNode("solved", bound, value, point)
