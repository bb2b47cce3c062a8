"""Running HiGHS on a cvxpy problem: compile once, start from the LP relaxation, solve, unpack.

cvxpy compiles the problem (`get_problem_data`) and HiGHS is driven directly through highspy, the way
cvxpy's own interface passes the model (`cvxpy/reductions/solvers/conic_solvers/highs_conif.py`), so
that the MILP can be given a primal start (`solver.warmstart`) — cvxpy's interface only warm-starts from
its own cache of an earlier solve. The solution goes back into the cvxpy variables through
`problem.unpack_results`, as after `problem.solve`. Also here: options, timing, status, and keeping
stdout clean.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import cvxpy as cp
import cvxpy.settings as cvx_status
import highspy
import numpy as np
from cvxpy.reductions.solvers.conic_solvers.conic_solver import dims_to_solver_dict

from . import conic_search, progress
from .cone import MAX_REFINEMENT_ROUNDS, ExtendedRows, LazyRows, SecondOrderCone, tangents_seeded_over
from .conic import ConicForm, seed_extended_cones
from .tax.encoding import HIGHS_OPTIONS as TAX_HIGHS_OPTIONS
from .warmstart import Start, fixed_relaxation, lp_matrix, offer, past_deadline, relaxation_start

log = logging.getLogger("rebal_opt.solver")

DEFAULT_MIP_GAP = 1e-4
ABSOLUTE_GAP = 1e-3
"""k$: a plan within a dollar of the optimum's objective is optimal. The objective is in dollars; on a
household already near its target it can be a few dollars, where a relative gap alone asked HiGHS to
prove optimality to a fraction of a cent (sarah-70-30: 19,000 nodes and 11 s, against 0.3 s)."""


SOLVER_LOG_ENV = "REBAL_OPT_SOLVER_LOG"

START_MADE_REDUNDANT = (
    "mip_heuristic_run_rins",
    "mip_heuristic_run_rens",
    "mip_heuristic_run_root_reduced_cost",
)
"""HiGHS's primal heuristics switched off when the relaxation start gave it a plan (solve_compiled)."""


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
class ModelSize:
    """Rows, columns, nonzeros and discrete columns of a compiled model."""

    rows: int
    cols: int
    nonzeros: int
    binaries: int
    integers: int


@dataclass(frozen=True)
class Step:
    """Where part of a solve's time went: `name` (conic search, vertex step, relaxation start, MILP), its
    seconds and what it did (nodes, relaxations, LPs)."""

    name: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class SolveOutcome:
    """What one MILP solve gave: `status` is optimal | time_limit | infeasible | failed.

    bound: the best proven lower bound (the objective itself for an LP). seconds: the whole call (cvxpy
    compile included); solver_seconds: HiGHS's own run time, every run
    (relaxation, start, MILP) added; compile_seconds: cvxpy's part. `start` says where the plan came
    from: "rounded" / "rens" (the relaxation start, proven within the gap without running the MILP),
    "rounded+milp" / "rens+milp" (HiGHS started from it), "milp" (HiGHS alone), "" (no plan).
    """

    status: str
    seconds: float
    solver_seconds: float
    mip_gap: float | None
    objective: float | None
    message: str = ""
    compile_seconds: float = 0.0
    start: str = ""
    size: ModelSize | None = None
    bound: float | None = None  # a proven lower bound on the objective (with its offset), when there is one
    steps: list[Step] = field(default_factory=list)  # where solver_seconds went, in order

    @property
    def has_plan(self) -> bool:
        return self.status in ("optimal", "time_limit")


@dataclass
class CompiledProblem:
    """A cvxpy problem compiled for HiGHS: the HighsLp and what maps its solution back."""

    problem: cp.Problem
    data: dict[str, Any]
    chain: Any
    inverse_data: Any
    lp: highspy.HighsLp
    binaries: np.ndarray  # column indices
    integers: np.ndarray  # general integers (whole shares)
    offset: float  # objective constant: the cvxpy objective is c'x + offset
    seconds: float
    lazy: LazyRows  # the problem's cones and the tangent rows added to them (solver/cone.py)

    @property
    def size(self) -> ModelSize:
        return ModelSize(
            rows=int(self.lp.num_row_),
            cols=int(self.lp.num_col_),
            nonzeros=int(self.data[cvx_status.A].nnz),
            binaries=len(self.binaries),
            integers=len(self.integers),
        )

    @property
    def is_mip(self) -> bool:
        return bool(len(self.binaries) or len(self.integers))

    def columns(self, variable: cp.Variable) -> np.ndarray:
        """The HiGHS columns of a cvxpy variable (column-major, as cvxpy stacks them)."""
        first = self.data[cvx_status.PARAM_PROB].var_id_to_col[variable.id]
        return np.arange(first, first + variable.size)

    def holds(self, variable: cp.Variable) -> bool:
        """Whether the variable has columns: cvxpy compiles away one no row or cost uses (e.g. empty)."""
        return variable.id in self.data[cvx_status.PARAM_PROB].var_id_to_col

    def binary_columns(self, variables: Sequence[cp.Variable]) -> np.ndarray:
        """The binary columns of these variables (those the compiled problem holds)."""
        columns = [self.columns(v) for v in variables if self.holds(v)]
        stacked = np.concatenate(columns) if columns else np.empty(0, dtype=np.int64)
        return np.intersect1d(stacked, self.binaries)


def compile_problem(problem: cp.Problem, cones: Sequence[SecondOrderCone] = ()) -> CompiledProblem:
    """cvxpy's compile to a HighsLp, as its HiGHS interface does (rows: equalities, then ≤ rows).

    The objective constant goes into the HighsLp's offset, so that HiGHS's gap is the gap of the
    objective the caller sees.
    """
    start = time.perf_counter()
    data, chain, inverse_data = problem.get_problem_data(cp.HIGHS)
    inf = highspy.kHighsInf
    dims = dims_to_solver_dict(data[cvx_status.DIMS])
    matrix = data[cvx_status.A].tocsc()
    upper = np.asarray(data[cvx_status.B], dtype=float)
    equalities = dims[cvx_status.EQ_DIM]
    lp = highspy.HighsLp()
    lp.num_col_ = matrix.shape[1]
    lp.num_row_ = matrix.shape[0]
    offset = float(inverse_data[-1][cvx_status.OFFSET])
    lp.offset_ = offset
    lp.col_cost_ = np.asarray(data[cvx_status.C], dtype=float)
    lp.row_lower_ = np.concatenate([upper[:equalities], np.full(len(upper) - equalities, -inf)])
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    n = matrix.shape[1]
    lower_bounds, upper_bounds = data[cvx_status.LOWER_BOUNDS], data[cvx_status.UPPER_BOUNDS]
    col_lower = np.full(n, -inf) if lower_bounds is None else np.asarray(lower_bounds, dtype=float).copy()
    col_upper = np.full(n, inf) if upper_bounds is None else np.asarray(upper_bounds, dtype=float).copy()
    binaries = np.asarray(data[cvx_status.BOOL_IDX], dtype=np.int64)
    integers = np.asarray(data[cvx_status.INT_IDX], dtype=np.int64)
    col_lower[binaries] = np.maximum(col_lower[binaries], 0.0)
    col_upper[binaries] = np.minimum(col_upper[binaries], 1.0)
    if len(binaries) or len(integers):
        kinds = np.full(n, highspy.HighsVarType.kContinuous)
        kinds[binaries] = highspy.HighsVarType.kInteger
        kinds[integers] = highspy.HighsVarType.kInteger
        lp.integrality_ = list(kinds)
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    var_to_col = data[cvx_status.PARAM_PROB].var_id_to_col
    bound = [
        cone.rows(
            _columns_of(var_to_col, cone.y),
            _columns_of(var_to_col, cone.values),
            None if cone.limit is None else int(_columns_of(var_to_col, cone.limit[1])[0]),
        )
        for cone in cones
        if cone.y.id in var_to_col and cone.values.id in var_to_col
    ]
    lazy = LazyRows(bound)
    return CompiledProblem(
        problem, data, chain, inverse_data, lp, binaries, integers, offset, time.perf_counter() - start, lazy
    )


def _columns_of(var_to_col: dict[int, int], variable: cp.Variable) -> np.ndarray:
    first = var_to_col[variable.id]
    return np.arange(first, first + variable.size)


def highs_options(mip_gap: float, abs_gap: float = ABSOLUTE_GAP) -> dict[str, object]:
    """Options of every HiGHS run on a rebalance model.

    The tax encoding's settings (tighter feasibility, no feasibility-jump heuristic) were measured in
    solver/tax/encoding.py to keep the encoded tax within cents of the exact one.
    """
    verbose = bool(os.environ.get(SOLVER_LOG_ENV))
    return {
        **TAX_HIGHS_OPTIONS,
        "mip_rel_gap": mip_gap,
        "mip_abs_gap": abs_gap,
        "random_seed": 0,
        "output_flag": verbose,
    }


def relative_gap(objective: float, bound: float) -> float:
    """HiGHS's gap: |objective − bound| / |objective| (0 when both are 0, inf when only the objective is)."""
    if objective == 0.0:
        return 0.0 if bound == 0.0 else float("inf")
    return abs(objective - bound) / abs(objective)


def within_gap(objective: float | None, bound: float | None, mip_gap: float, abs_gap: float = ABSOLUTE_GAP) -> bool:
    """HiGHS's stopping rule: objective − bound within the relative gap or the absolute gap (k$; a dollar
    unless the caller says otherwise)."""
    if objective is None or bound is None:
        return False
    return objective - bound <= max(abs_gap, mip_gap * abs(objective))


def run_highs(
    problem: cp.Problem,
    time_limit: float | None,
    mip_gap: float = DEFAULT_MIP_GAP,
    warm_start: bool = True,
    reuse_values: bool = False,
    switches: Sequence[cp.Variable] = (),
    cones: Sequence[SecondOrderCone] = (),
    exclusive: Sequence[cp.Variable] = (),
    abs_gap: float = ABSOLUTE_GAP,
    give_up: float | None = None,
) -> SolveOutcome:
    """Compile and solve with HiGHS; a time-limited run that found a plan is `time_limit` with its gap.

    `give_up` (seconds): a MILP that has found no plan by then stops there ("failed"), leaving the rest
    of the time to a caller that has another way to a plan (the engine's soft bands).

    `warm_start=False` skips the relaxation start (plain HiGHS on the MILP: for measurements).
    `reuse_values=True` also offers the variables' current values as a start: a re-solve of the same
    problem after a parameter changed only the objective (the frontier) starts from the last plan.
    `switches` are the binaries the relaxation start branches on (RebalanceModel.switches); `cones` the
    model's second-order cones, refined on demand (solver/cone.py); `exclusive` the permissions the start
    also rounds to the nearest (RebalanceModel.exclusive).
    """
    start = time.perf_counter()
    deadline = None if time_limit is None else start + max(time_limit, 0.01)
    try:
        with solver_output_off_stdout():
            compiled = compile_problem(problem, cones)
            prior = current_point(compiled) if reuse_values else None
            outcome = solve_compiled(
                compiled,
                deadline,
                mip_gap,
                warm_start,
                prior,
                compiled.binary_columns(switches),
                compiled.binary_columns(exclusive),
                abs_gap,
                None if give_up is None else start + give_up,
            )
    except (cp.error.SolverError, ValueError) as exc:
        return SolveOutcome("failed", time.perf_counter() - start, 0.0, None, None, str(exc))
    return _replace_seconds(outcome, time.perf_counter() - start)


def _replace_seconds(outcome: SolveOutcome, seconds: float) -> SolveOutcome:
    return SolveOutcome(**{**outcome.__dict__, "seconds": seconds})


def current_point(compiled: CompiledProblem) -> np.ndarray | None:
    """The problem's variables' current values as a HiGHS column vector, or None if any has no value."""
    point = np.zeros(int(compiled.lp.num_col_))
    for variable in compiled.problem.variables():
        if not compiled.holds(variable):
            continue
        if variable.value is None:
            return None
        point[compiled.columns(variable)] = np.asarray(variable.value, dtype=float).flatten(order="F")
    return point


def _with_prior(compiled: CompiledProblem, start: Start, prior: np.ndarray | None) -> Start:
    """The better of the relaxation start and a prior feasible point (same constraints, new objective)."""
    if prior is not None:
        prior = compiled.lazy.plan(prior)
    if prior is None:
        return start
    value = float(np.asarray(compiled.lp.col_cost_) @ prior) + compiled.offset
    if start.status == "found" and start.objective is not None and start.objective <= value:
        return start
    if start.status not in ("found", "bound"):
        return start
    return Start(
        "found",
        bound=start.bound,
        solution=prior,
        objective=value,
        method="prior",
        seconds=start.seconds,
        runs=start.runs,
    )


def solve_compiled(
    compiled: CompiledProblem,
    deadline: float | None,
    mip_gap: float = DEFAULT_MIP_GAP,
    warm_start: bool = True,
    prior: np.ndarray | None = None,
    switches: np.ndarray | None = None,
    exclusive: np.ndarray | None = None,
    abs_gap: float = ABSOLUTE_GAP,
    give_up_at: float | None = None,
) -> SolveOutcome:
    """Solve a compiled problem (the caller keeps stdout safe); fills the cvxpy variables when a plan exists.

    A MILP first gets its relaxation start; a start within the gap of the relaxation's bound is the
    answer (status optimal, no MILP run). Otherwise HiGHS solves the MILP from that start. If HiGHS then
    stops without a plan of its own (time, or a failed final check) the start is returned, with its gap.
    """
    options = highs_options(mip_gap, abs_gap)
    steps: list[Step] = []  # every outcome below carries it (through `common`), filled as the solve goes
    common: dict[str, Any] = {"compile_seconds": compiled.seconds, "size": compiled.size, "steps": steps}
    start = Start("none")
    conic = Start("none")
    if compiled.is_mip and warm_start and conic_search.applies(compiled.lazy, compiled.integers, compiled.binaries):
        conic, root = _conic_search(compiled, mip_gap, abs_gap, deadline, prior, exclusive, switches)
        steps.append(Step("conic search", conic.seconds, f"{conic.nodes} nodes, {conic.runs} relaxations"))
        if conic.status == "found":
            searched = conic
            conic = _at_a_vertex(compiled, conic, options, deadline)
            moved = "plan moved" if conic.solution is not searched.solution else "plan kept as found"
            steps.append(Step("vertex step", conic.seconds - searched.seconds, f"one LP; {moved}"))
        if progress.watching():
            progress.figures(f"conic search ({conic.runs} solves)", conic.objective, conic.bound)
        if conic.status == "found" and (_proven(compiled, conic, mip_gap, abs_gap) or past_deadline(deadline)):
            return _start_outcome(compiled, conic, conic.seconds, mip_gap, "", common, abs_gap)
        if root is not None:
            seed_extended_cones(compiled.lp, compiled.binaries, compiled.lazy, deadline, root)
    elif not os.environ.get("REBAL_OPT_NO_SEED"):
        seeded = seed_extended_cones(compiled.lp, compiled.binaries, compiled.lazy, deadline)
        if seeded and progress.watching():
            progress.figures(f"conic seed {seeded:.2f} s", None, None)
    if conic.status == "found":
        start = conic  # not proven in the search's share of the time: HiGHS goes on from its plan and bound
    elif compiled.is_mip and warm_start:
        start = relaxation_start(
            compiled.lp, compiled.binaries, compiled.integers, options, deadline, switches, compiled.lazy, exclusive
        )
        steps.append(Step("relaxation start", start.seconds, f"{start.runs} LPs"))
        start = replace(start, seconds=start.seconds + conic.seconds)
        if conic.bound is not None and start.bound is not None:
            start = replace(start, bound=max(start.bound, conic.bound))
        start = _with_prior(compiled, start, prior)
        if progress.watching():
            progress.figures("relaxation start", start.objective, start.bound)
        if start.status == "infeasible":
            message = "the LP relaxation is infeasible under every setting of the switches"
            return SolveOutcome("infeasible", 0.0, start.seconds, None, None, message, **common)
        if start.status == "found" and _proven(compiled, start, mip_gap, abs_gap):
            return _start_outcome(compiled, start, start.seconds, mip_gap, "", common, abs_gap)
    lazy = compiled.lazy
    if compiled.is_mip and progress.watching():
        progress.figures("MILP", start.objective, start.bound)
    h, status, point, seconds = _milp(compiled, options, start.solution, deadline, give_up_at)
    if start.solution is not None and point is not None and _misreported(h, compiled, point):
        # HiGHS 1.16 can report, for a MILP given a start, an objective and a bound shifted by a constant from
        # its own point's (seen: −548.79 against the point's 41.21, "optimal", on a household whose LP bound
        # was 36.44). Neither can be used; the same MILP without the start reports them right.
        h, status, point, more = _milp(compiled, options, None, deadline, give_up_at)
        seconds += more
    steps.append(Step("MILP" if compiled.is_mip else "LP", seconds, "HiGHS"))
    seconds += start.seconds
    info = h.getInfo()
    origin = f"{start.method}+milp" if start.method else "milp"
    plan = lazy.plan(point) if point is not None else None
    if plan is not None:
        value = float(np.asarray(compiled.lp.col_cost_) @ plan) + compiled.offset
        bound = float(info.mip_dual_bound) if compiled.is_mip else float(info.objective_function_value)
        if not math.isfinite(bound):
            bound = -math.inf
        if start.bound is not None:
            bound = max(bound, start.bound)
        if start.status == "found" and start.objective is not None and start.objective < value:
            # HiGHS kept a plan worse than its start in true terms (its cone values were approximate).
            return _start_outcome(compiled, replace(start, bound=bound), seconds, mip_gap, "", common, abs_gap)
        gap = relative_gap(value, bound)
        objective = _unpack(compiled, plan, value, seconds, h)
        # Optimal means proven: the plan's true objective within the gap of a valid bound, whatever HiGHS's
        # own status says about the point it was given or found.
        allowance = lazy.allowance(plan, np.asarray(compiled.lp.col_cost_))
        label = "optimal" if within_gap(value - allowance, bound, mip_gap, abs_gap) else "time_limit"
        return SolveOutcome(label, 0.0, seconds, gap, objective, start=origin, bound=bound, **common)
    if status == highspy.HighsModelStatus.kInfeasible:
        return SolveOutcome("infeasible", 0.0, seconds, None, None, **common)
    if start.status == "found":
        milp_bound = float(info.mip_dual_bound) if compiled.is_mip else -math.inf
        if math.isfinite(milp_bound) and start.bound is not None and milp_bound > start.bound:
            start = replace(start, bound=milp_bound)
        message = f"HiGHS stopped with {status.name}"
        return _start_outcome(compiled, start, seconds, mip_gap, message, common, abs_gap)
    message = "no plan found within the time limit" if status in _LIMITS else f"HiGHS status {status.name}"
    return SolveOutcome("failed", 0.0, seconds, None, None, message, **common)


def _conic_search(
    compiled: CompiledProblem,
    mip_gap: float,
    abs_gap: float,
    deadline: float | None,
    prior: np.ndarray | None,
    exclusive: np.ndarray | None,
    switches: np.ndarray | None,
) -> tuple[Start, np.ndarray | None]:
    """solver/conic_search.py on the compiled problem: its result, and the root relaxation's point."""
    cones = [c for c in compiled.lazy.cones if isinstance(c, ExtendedRows)]
    form = ConicForm(compiled.lp, cones)
    search = conic_search.ConicSearch(
        form, compiled.lazy, compiled.binaries, exclusive, switches, mip_gap, abs_gap, deadline, compiled.lp
    )
    search.reserve(POLISH_SHARE, POLISH_ROOTS)  # time left at the end for moving the plan to a vertex
    if prior is not None:
        search.offer(prior)
    return search.run(), search.root


POLISH_SHARE = 0.1
"""Share of the time left that the conic search leaves for moving its plan to a vertex (`_at_a_vertex`)..."""

POLISH_ROOTS = 8.0
"""... or this many times its root's solve, if more (at most half the time left): by simplex the vertex step
took 6–9× the root's conic solve (10–13 s, one LP and a refinement) at 1,000 / 50,000, where 10% of a 60 s
limit was too little and the plan kept 109 crumbs; by interior point and crossover its LP takes 3.5× (5.1 s),
2.6× at 500 / 20,000 — 8× leaves room for a refinement round."""


VERTEX_LP_OPTIONS: dict[str, object] = {"solver": "ipm", "run_crossover": "on"}
"""The vertex step's LP by interior point and crossover rather than simplex from a cold basis: 0.46 s against
0.87 s at 500 securities / 1,500 lots, 0.19 against 0.36 at 250 / 750 (bench/README.md); crossover ends at a
vertex all the same."""


def _at_a_vertex(compiled: CompiledProblem, plan: Start, options: dict[str, object], deadline: float | None) -> Start:
    """The conic search's plan moved to a vertex: the LP with every binary fixed at the plan's values, solved
    by HiGHS (`VERTEX_LP_OPTIONS`; cones refined, their tangents seeded at the plan, so one or two LPs
    suffice; fixing also the columns the plan has at a bound did not shorten it). An interior-point plan sits
    mid-face and spreads a sale over lots of equal merit in crumbs (5–9 trade rows under $1 a plan on the peer
    benchmark). The vertex is kept when its exact objective is no worse than
    the cones' tolerance allows; else, or when it does not solve in time, the plan as it was."""
    assert plan.solution is not None and plan.objective is not None
    before = time.perf_counter()
    seed_extended_cones(compiled.lp, compiled.binaries, compiled.lazy, deadline, plan.solution)
    h = fixed_relaxation(compiled.lp, options, compiled.binaries, plan.solution[compiled.binaries])
    # The extended cones' starting tangents (INITIAL_RATIOS and the hint: eight a leaf) are far from the
    # plan wherever the seed has just put three at it: without those the LP has 4,032 rows fewer (of
    # 10,161 at 500 securities / 1,500 lots, of 14,671 at 500 / 20,000) and its interior-point solve takes
    # 0.48 → 0.44 s and 1.14 → 0.57 s.
    cones = [c for c in compiled.lazy.cones if isinstance(c, ExtendedRows)]
    if cones:
        far = tangents_seeded_over(lp_matrix(compiled.lp).tocsr(), cones, plan.solution)
        h.deleteRows(len(far), far.astype(np.int32))
    for name, value in VERTEX_LP_OPTIONS.items():
        h.setOptionValue(name, value)
    compiled.lazy.sync(h)
    status, point, _ = _run_refined(h, compiled.lazy, deadline, mip=False)
    moved = compiled.lazy.plan(point) if status == highspy.HighsModelStatus.kOptimal and point is not None else None
    seconds = plan.seconds + time.perf_counter() - before
    log.debug("vertex step: %.2f s, %s", time.perf_counter() - before, "moved" if moved is not None else "failed")
    if moved is None:
        return replace(plan, seconds=seconds)
    value = float(np.asarray(compiled.lp.col_cost_) @ moved) + compiled.offset
    allowance = compiled.lazy.allowance(moved, np.asarray(compiled.lp.col_cost_))
    if value > plan.objective + allowance + 1e-9:
        return replace(plan, seconds=seconds)
    return replace(plan, solution=moved, objective=value, seconds=seconds)


def _milp(
    compiled: CompiledProblem,
    options: dict[str, object],
    start: np.ndarray | None,
    deadline: float | None,
    give_up_at: float | None = None,
) -> tuple[highspy.Highs, highspy.HighsModelStatus, np.ndarray | None, float]:
    """HiGHS on the compiled problem (from `start` when given), its cones refined: the instance, its status,
    its last point and its run time. Interrupted at `give_up_at` (perf_counter) if it has no plan by then."""
    h = highspy.Highs()
    for name, value in options.items():
        h.setOptionValue(name, value)
    h.passModel(compiled.lp)
    compiled.lazy.sync(h)
    if start is not None:
        offer(h, start)
        # With a plan in hand, HiGHS's own sub-MIP searches for one were most of its time: 14 sub-MIPs took
        # 14 of 20 s on a 30-stock direct-indexing household whose optimum a rounding had found at 1.3 s
        # (6.0 → 1.6 CPU s without them, same 5 nodes).
        for name in START_MADE_REDUNDANT:
            h.setOptionValue(name, False)
    if compiled.is_mip and progress.watching():
        h.cbMipInterrupt.subscribe(progress.MipReporter("MILP"))
    if compiled.is_mip and give_up_at is not None and start is None:
        h.cbMipInterrupt.subscribe(_GiveUp(give_up_at))
    status, point, seconds = _run_refined(h, compiled.lazy, deadline, compiled.is_mip)
    return h, status, point, seconds


class _GiveUp:
    """A MIP interrupt callback: stop at `at` (perf_counter) when HiGHS has no plan yet."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self, event: Any) -> None:
        if time.perf_counter() >= self.at and float(event.data_out.mip_primal_bound) >= 1e29:
            event.interrupt()


def _misreported(h: highspy.Highs, compiled: CompiledProblem, point: np.ndarray) -> bool:
    """Whether HiGHS's objective for its point is not the point's own (c·x + offset, on HiGHS's rows)."""
    reported = float(h.getInfo().objective_function_value)
    lp = h.getLp()
    own = float(np.asarray(lp.col_cost_) @ point) + float(lp.offset_)
    return abs(reported - own) > 1e-6 * max(1.0, abs(own))


def _left(deadline: float) -> float:
    return max(0.01, deadline - time.perf_counter())


def _run_refined(
    h: highspy.Highs, lazy: LazyRows, deadline: float | None, mip: bool
) -> tuple[highspy.HighsModelStatus, np.ndarray | None, float]:
    """Run `h` (within the deadline); while its point is off a cone by more than the tolerance, add the
    tangents it needs and run again from the repaired point. Returns the status, the last point (None when
    HiGHS has none) and HiGHS's time."""
    seconds = 0.0
    status = highspy.HighsModelStatus.kNotset
    point: np.ndarray | None = None
    for _ in range(MAX_REFINEMENT_ROUNDS):
        h.setOptionValue("time_limit", float(highspy.kHighsInf if deadline is None else _left(deadline)))
        h.run()
        seconds += h.getRunTime()
        status = h.getModelStatus()
        if not (status == highspy.HighsModelStatus.kOptimal or (status in _LIMITS and _has_primal(h))):
            return status, None, seconds
        point = np.asarray(h.getSolution().col_value, dtype=float)
        if status != highspy.HighsModelStatus.kOptimal or (deadline is not None and time.perf_counter() >= deadline):
            break
        if not lazy.refine(h, point):
            break
        repaired = lazy.plan(point)
        if mip and repaired is not None:
            offer(h, repaired)
    return status, point, seconds


def _has_primal(h: highspy.Highs) -> bool:
    return h.getInfo().primal_solution_status == 2


def _proven(compiled: CompiledProblem, start: Start, mip_gap: float, abs_gap: float = ABSOLUTE_GAP) -> bool:
    """The start's true objective is within the gap of its bound, give or take the cones' tolerance."""
    assert start.solution is not None and start.objective is not None
    allowance = compiled.lazy.allowance(start.solution, np.asarray(compiled.lp.col_cost_))
    return within_gap(start.objective - allowance, start.bound, mip_gap, abs_gap)


def _start_outcome(
    compiled: CompiledProblem,
    start: Start,
    seconds: float,
    mip_gap: float,
    message: str,
    common: dict[str, Any],
    abs_gap: float = ABSOLUTE_GAP,
) -> SolveOutcome:
    """The relaxation start as the answer: optimal when within the gap of the relaxation's bound."""
    assert start.solution is not None and start.objective is not None and start.bound is not None
    gap = relative_gap(start.objective, start.bound)
    objective = _unpack(compiled, start.solution, start.objective, seconds)
    label = "optimal" if _proven(compiled, start, mip_gap, abs_gap) else "time_limit"
    return SolveOutcome(label, 0.0, seconds, gap, objective, message, start=start.method, bound=start.bound, **common)


_LIMITS = (
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit,
    highspy.HighsModelStatus.kInterrupt,
)


def _unpack(
    compiled: CompiledProblem, values: np.ndarray, objective: float, seconds: float, h: highspy.Highs | None = None
) -> float | None:
    """Put a HiGHS point into the cvxpy variables (cvxpy's own inversion); the problem's value.

    `objective` includes the offset; cvxpy adds its offset itself, so it is given the value without.
    Duals are unpacked only for a pure LP solved by `h`.
    """
    iterations = {
        key: 0
        for key in (
            "ipm_iteration_count",
            "crossover_iteration_count",
            "pdlp_iteration_count",
            "qp_iteration_count",
            "simplex_iteration_count",
        )
    }
    info = SimpleNamespace(objective_function_value=objective - compiled.offset, mip_gap=None, **iterations)
    solution: Any = SimpleNamespace(col_value=values)
    if not compiled.is_mip and h is not None:
        solution = h.getSolution()  # with its duals; the values are ours (cone values made exact)
        solution.col_value = values
    results = {"solution": solution, "info": info, "model_status": "kOptimal", "run_time": seconds}
    compiled.problem.unpack_results(results, compiled.chain, compiled.inverse_data)
    return compiled.problem.value
