"""Running HiGHS through cvxpy: options, timing, status, and keeping stdout clean."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cvxpy as cp
import cvxpy.settings as cvx_status

from .tax.encoding import HIGHS_OPTIONS as TAX_HIGHS_OPTIONS

DEFAULT_MIP_GAP = 1e-4
ABSOLUTE_GAP = 1e-3
"""k$: a plan within a dollar of the optimum's objective is optimal. The objective is in dollars; on a
household already near its target it can be a few dollars, where a relative gap alone asked HiGHS to
prove optimality to a fraction of a cent (sarah-70-30: 19,000 nodes and 11 s, against 0.3 s)."""


SOLVER_LOG_ENV = "REBAL_OPT_SOLVER_LOG"


@contextlib.contextmanager
def solver_output_off_stdout() -> Iterator[None]:
    """Keep HiGHS's output off stdout while it runs.

    HiGHS prints its banner at the C level, which `contextlib.redirect_stdout` cannot catch, and
    `--json` must leave only JSON on stdout. File descriptor 1 goes to /dev/null, or to stderr when
    REBAL_OPT_SOLVER_LOG=1 (with HiGHS's log switched on).
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use): nothing to protect
        yield
        return
    sink = os.open(os.devnull, os.O_WRONLY) if not os.environ.get(SOLVER_LOG_ENV) else os.dup(2)
    try:
        os.dup2(sink, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)


@dataclass(frozen=True)
class SolveOutcome:
    """What one MILP solve gave: `status` is optimal | time_limit | infeasible | failed."""

    status: str
    seconds: float
    solver_seconds: float
    mip_gap: float | None
    objective: float | None
    message: str = ""

    @property
    def has_plan(self) -> bool:
        return self.status in ("optimal", "time_limit")


def run_highs(problem: cp.Problem, time_limit: float | None, mip_gap: float = DEFAULT_MIP_GAP) -> SolveOutcome:
    """Solve with HiGHS; a time-limited run that found a plan is `time_limit` with its gap, not an error."""
    # The tax encoding's HiGHS settings (tighter feasibility, no feasibility-jump heuristic): measured
    # in solver/tax/encoding.py to keep the encoded tax within cents of the exact one.
    options: dict[str, object] = {**TAX_HIGHS_OPTIONS, "mip_rel_gap": mip_gap, "mip_abs_gap": ABSOLUTE_GAP, "random_seed": 0}
    if time_limit is not None:
        options["time_limit"] = float(max(time_limit, 0.01))
    start = time.perf_counter()
    try:
        with solver_output_off_stdout():
            problem.solve(solver=cp.HIGHS, verbose=bool(os.environ.get(SOLVER_LOG_ENV)), **options)
    except cp.error.SolverError as exc:
        return SolveOutcome("failed", time.perf_counter() - start, 0.0, None, None, str(exc))
    seconds = time.perf_counter() - start
    stats = problem.solver_stats
    solver_seconds = float(stats.solve_time or 0.0) if stats is not None else 0.0
    info = stats.extra_stats if stats is not None else None
    gap = getattr(info, "mip_gap", None) if info is not None else None
    gap = None if gap is None or gap != gap or gap > 1e30 else max(0.0, float(gap))
    status = problem.status
    if status == cvx_status.OPTIMAL:
        return SolveOutcome("optimal", seconds, solver_seconds, gap, problem.value)
    if (
        status in (cvx_status.USER_LIMIT, cvx_status.OPTIMAL_INACCURATE)
        and problem.value is not None
        and problem.value < 1e30
    ):
        return SolveOutcome("time_limit", seconds, solver_seconds, gap, problem.value)
    if status in (
        cvx_status.INFEASIBLE,
        cvx_status.INFEASIBLE_INACCURATE,
        cvx_status.INFEASIBLE_OR_UNBOUNDED,
    ):
        return SolveOutcome("infeasible", seconds, solver_seconds, gap, None)
    return SolveOutcome("failed", seconds, solver_seconds, gap, None, f"solver status {status}")
