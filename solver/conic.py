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

import highspy
import numpy as np
import scipy.sparse as sp

from .cone import ExtendedRows, LazyRows

SEED_TIME_SHARE = 0.2
"""Most of the time left that the conic solve may take."""


def seed_extended_cones(lp: highspy.HighsLp, binaries: np.ndarray, lazy: LazyRows, deadline: float | None) -> float:
    """Solve `lp` with integrality dropped and its extended cones exact; add each cone's tangents at that
    point to `lazy`'s pool. Returns the seconds spent (0 when the problem has no extended cone)."""
    cones = [c for c in lazy.cones if isinstance(c, ExtendedRows)]
    if not cones:
        return 0.0
    start = time.perf_counter()
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
    """The optimal point of `lp` (binaries in [0, 1]) with ||leaves|| ≤ root for each cone, or None.

    Clarabel's form: A x + s = b, s in a product of cones; rows L ≤ a·x ≤ U become a zero cone where L = U
    and nonnegative slacks U − a·x, a·x − L otherwise; finite column bounds the same way.
    """
    import clarabel

    n = int(lp.num_col_)
    matrix = sp.csc_matrix(
        (np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_), np.asarray(lp.a_matrix_.start_)),
        shape=(int(lp.num_row_), n),
    ).tocsr()
    lower, upper = np.asarray(lp.row_lower_, dtype=float), np.asarray(lp.row_upper_, dtype=float)
    col_lower, col_upper = np.asarray(lp.col_lower_, dtype=float), np.asarray(lp.col_upper_, dtype=float)
    col_lower, col_upper = col_lower.copy(), col_upper.copy()
    col_lower[binaries] = np.maximum(col_lower[binaries], 0.0)
    col_upper[binaries] = np.minimum(col_upper[binaries], 1.0)
    inf = highspy.kHighsInf
    equal = np.flatnonzero(lower == upper)
    below = np.flatnonzero((upper < inf) & (lower != upper))
    above = np.flatnonzero((lower > -inf) & (lower != upper))
    identity = sp.identity(n, format="csr")
    col_below = np.flatnonzero(col_upper < inf)
    col_above = np.flatnonzero(col_lower > -inf)
    blocks = [matrix[equal], matrix[below], -matrix[above], identity[col_below], -identity[col_above]]
    rhs = [upper[equal], upper[below], -lower[above], col_upper[col_below], -col_lower[col_above]]
    inequalities = len(below) + len(above) + len(col_below) + len(col_above)
    kinds = [clarabel.ZeroConeT(len(equal)), clarabel.NonnegativeConeT(inequalities)]
    for cone in cones:
        columns = np.concatenate([[cone.values[-1]], cone.values[: cone.size]])
        blocks.append(-identity[columns])
        rhs.append(np.zeros(len(columns)))
        kinds.append(clarabel.SecondOrderConeT(len(columns)))
    a = sp.vstack(blocks).tocsc()
    b = np.concatenate(rhs)
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    if time_limit is not None:
        settings.time_limit = max(0.05, time_limit)
    solver = clarabel.DefaultSolver(sp.csc_matrix((n, n)), np.asarray(lp.col_cost_, dtype=float), a, b, kinds, settings)
    solution = solver.solve()
    if str(solution.status) not in ("Solved", "AlmostSolved"):
        return None
    return np.asarray(solution.x, dtype=float)
