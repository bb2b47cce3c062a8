"""A primal start for the rebalance MILP from its LP relaxation: round, fix, re-solve.

Why: on the synthetic households (30–500 securities, 1,000–20,000 lots) the LP relaxation's value was
already the MILP optimum, yet HiGHS spent all its time (0.6 s, 3 s, 15 s — or found nothing in 30 s
before the tracking cone was rescaled) in root cut rounds before a sub-MIP heuristic found a plan. A
plan found here ends that search at once: either its value is within the gap of the relaxation's bound
(optimality is then proven without branching, and the MILP is not run at all), or HiGHS starts from it.

How (every step keeps the model exactly as it is; only column bounds change, on a copy):
1. the LP relaxation (integrality dropped): its value is a valid lower bound, and an infeasible
   relaxation proves the MILP infeasible;
2. *rounding up*: every binary with a positive LP value is fixed to 1 (largest value first, as long
   as the packing rows among binaries allow), the others to 0, and the LP is re-solved (general
   integers, e.g. whole shares, stay integer: then a small MIP). The model's binaries are permissions
   — a trade indicator lets a slot trade, a wash-sale group binary lets the group be bought — so
   granting every one the LP used keeps its plan nearly feasible: the re-solve only lifts trades below
   the minimum size or drops loss sales in groups the LP also bought;
3. when that is infeasible (e.g. a maximum number of trades), a *RENS* sub-MIP: binaries the LP left at
   0 or 1 stay fixed there, the fractional ones are free, under a short time limit.

`relaxation_start` returns the bound, the best start found and the HiGHS time spent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

ROUNDING_TOLERANCE = 1e-6
"""An LP value of a binary above this counts as used (rounded up to 1)."""

RENS_TIME_SHARE = 0.25
"""Share of the time left that the RENS sub-MIP may use."""

RENS_TIME_CAP = 10.0
"""Seconds: most the RENS sub-MIP may use whatever the limit."""


@dataclass(frozen=True)
class Start:
    """What the relaxation gave.

    status: "infeasible" (the relaxation is, so the MILP is too), "found" (`solution` is a feasible
    point of the MILP), "bound" (a bound but no start) or "none" (the relaxation did not solve in time).
    bound / objective: the relaxation's value and the start's, both with the model's objective offset.
    """

    status: str
    bound: float | None = None
    solution: np.ndarray | None = None
    objective: float | None = None
    method: str = ""
    seconds: float = 0.0
    runs: int = 0


def _run(h: highspy.Highs, deadline: float | None, cap: float | None = None) -> tuple[highspy.HighsModelStatus, float]:
    """Run `h` within the deadline (and `cap` seconds); the model status and HiGHS's own run time."""
    limit = highspy.kHighsInf if deadline is None else max(0.01, deadline - time.perf_counter())
    if cap is not None:
        limit = min(limit, cap)
    h.setOptionValue("time_limit", float(limit))
    before = h.getRunTime()
    h.run()
    return h.getModelStatus(), h.getRunTime() - before


def _set_integrality(h: highspy.Highs, columns: np.ndarray, integer: bool) -> None:
    if len(columns):
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        values = np.full(len(columns), int(kind), dtype=np.uint8)
        h.changeColsIntegrality(len(columns), columns.astype(np.int32), values)


def _fix(h: highspy.Highs, columns: np.ndarray, values: np.ndarray) -> None:
    if len(columns):
        h.changeColsBounds(len(columns), columns.astype(np.int32), values, values)


def relaxation_start(
    lp: highspy.HighsLp,
    binaries: np.ndarray,
    integers: np.ndarray,
    options: dict[str, object],
    deadline: float | None,
) -> Start:
    """Bound and primal start for the MILP `lp` (binaries and general integers given by column).

    `options` are the HiGHS options of the MILP (tolerances, seed); `deadline` is a perf_counter time.
    """
    h = _relaxation(lp, options)
    status, seconds = _run(h, deadline)
    runs = 1
    if status == highspy.HighsModelStatus.kInfeasible:
        return Start("infeasible", seconds=seconds, runs=runs)
    if status != highspy.HighsModelStatus.kOptimal:
        return Start("none", seconds=seconds, runs=runs)
    bound = float(h.getInfo().objective_function_value)
    relaxed = np.asarray(h.getSolution().col_value)
    lp_binaries = relaxed[binaries]

    # Rounding up: the LP's own permissions, fixed; general integers stay integer. The relaxation's
    # basis is dropped: re-solving from it skipped presolve and took 6× longer (0.70 s against 0.12 s
    # at 20,000 lots) than presolving the fixed model, which removes most of the trade variables.
    _fix(h, binaries, round_up(lp, binaries, lp_binaries))
    h.clearSolver()
    _set_integrality(h, integers, integer=True)
    status, spent = _run(h, deadline)
    seconds += spent
    runs += 1
    if status == highspy.HighsModelStatus.kOptimal or _has_point(h, status):
        return _found(h, bound, "rounded", seconds, runs)

    # RENS: binaries the LP left integral stay fixed there, the fractional ones are searched.
    integral = (lp_binaries <= ROUNDING_TOLERANCE) | (lp_binaries >= 1 - ROUNDING_TOLERANCE)
    free = binaries[~integral]
    lower = np.where(integral, np.round(lp_binaries), 0.0)
    upper = np.where(integral, np.round(lp_binaries), 1.0)
    if len(binaries):
        h.changeColsBounds(len(binaries), binaries.astype(np.int32), lower, upper)
    _set_integrality(h, free, integer=True)
    left = None if deadline is None else deadline - time.perf_counter()
    cap = RENS_TIME_CAP if left is None else min(RENS_TIME_CAP, RENS_TIME_SHARE * left)
    status, spent = _run(h, deadline, cap)
    seconds += spent
    runs += 1
    if status == highspy.HighsModelStatus.kOptimal or _has_point(h, status):
        return _found(h, bound, "rens", seconds, runs)
    return Start("bound", bound=bound, seconds=seconds, runs=runs)


def _relaxation(lp: highspy.HighsLp, options: dict[str, object]) -> highspy.Highs:
    """A HiGHS instance holding `lp` with every integrality dropped."""
    h = highspy.Highs()
    for name, value in options.items():
        h.setOptionValue(name, value)
    h.passModel(lp)
    if len(lp.integrality_):
        _set_integrality(h, np.arange(lp.num_col_), integer=False)
    return h


def relaxation_lp_seconds(lp: highspy.HighsLp, options: dict[str, object]) -> float:
    """HiGHS's run time on the LP relaxation of `lp`: the benchmarks' machine baseline for this model."""
    _, seconds = _run(_relaxation(lp, options), None)
    return seconds


def round_up(lp: highspy.HighsLp, binaries: np.ndarray, values: np.ndarray) -> np.ndarray:
    """0/1 per binary: 1 where the LP used it, as long as no packing row among the binaries overflows.

    Packing rows are rows over binaries only, with non-negative coefficients and only an upper bound:
    "not both sides of a security" (z_sell + z_buy ≤ 1) and "at most max_trades trades" (Σ z ≤ k).
    Rounding every used binary up would break them wherever the LP used both sides fractionally; so
    binaries are taken greedily, largest LP value first, and skipped when a packing row is full.
    """
    rounded = np.zeros(len(binaries))
    order = np.argsort(-values, kind="stable")
    order = order[values[order] > ROUNDING_TOLERANCE]
    packing = _packing_rows(lp, binaries)
    if packing is None:
        rounded[order] = 1.0
        return rounded
    matrix, upper = packing  # (rows, binaries) CSC over the binaries
    activity = np.zeros(len(upper))
    for k in order:
        rows = matrix.indices[matrix.indptr[k] : matrix.indptr[k + 1]]
        coefficients = matrix.data[matrix.indptr[k] : matrix.indptr[k + 1]]
        if np.all(activity[rows] + coefficients <= upper[rows] + 1e-9):
            activity[rows] += coefficients
            rounded[k] = 1.0
    return rounded


def _packing_rows(lp: highspy.HighsLp, binaries: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray] | None:
    """The packing rows among the binaries, as a (rows × binaries) CSC matrix and their upper bounds."""
    matrix = sp.csc_matrix(
        (np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_), np.asarray(lp.a_matrix_.start_)),
        shape=(lp.num_row_, lp.num_col_),
    )
    is_binary = np.zeros(lp.num_col_, dtype=bool)
    is_binary[binaries] = True
    rows = matrix.tocsr()
    entries_per_row = np.diff(rows.indptr)
    pattern = rows.copy()
    pattern.data = np.ones_like(pattern.data)
    binary_entries = pattern @ is_binary.astype(float)
    pattern.data = (rows.data < 0).astype(float)
    negative = pattern @ np.ones(lp.num_col_)
    lower = np.asarray(lp.row_lower_)
    upper = np.asarray(lp.row_upper_)
    keep = (entries_per_row > 0) & (binary_entries == entries_per_row) & (negative == 0)
    keep &= (lower <= -highspy.kHighsInf) & (upper < highspy.kHighsInf)
    if not keep.any():
        return None
    chosen = np.nonzero(keep)[0]
    sub = rows[chosen][:, binaries].tocsc()
    return sub, upper[chosen]


def _has_point(h: highspy.Highs, status: highspy.HighsModelStatus) -> bool:
    """A time-limited MIP that still found a feasible point."""
    return status == highspy.HighsModelStatus.kTimeLimit and h.getInfo().primal_solution_status == 2


def _found(h: highspy.Highs, bound: float, method: str, seconds: float, runs: int) -> Start:
    solution = np.asarray(h.getSolution().col_value, dtype=float)
    objective = float(h.getInfo().objective_function_value)
    return Start("found", bound, solution, objective, method, seconds, runs)
