"""A primal start for the rebalance MILP from its LP relaxation: round, fix, re-solve.

Why: on the synthetic households (30–500 securities, 1,000–20,000 lots) the LP relaxation's value was
already the MILP optimum, yet HiGHS spent all its time (0.6 s, 3 s, 15 s — or found nothing in 30 s
before the tracking cone was rescaled) in root cut rounds before a sub-MIP heuristic found a plan. A
plan found here ends that search at once: either its value is within the gap of the relaxation's bound
(optimality is then proven without branching, and the MILP is not run at all), or HiGHS starts from it.

How (every step keeps the model exactly as it is; only column bounds change, on a copy):
1. the LP relaxation (integrality dropped): its value is a valid lower bound, and an infeasible
   relaxation proves the MILP infeasible;
2. a small branch-and-bound over the model's *switches* (`SwitchTree`): the few binaries that choose a
   regime (which tax bracket or netting case applies, whether the cash target has room). They are where
   the relaxation is weak; each is fixed both ways with warm-started LP re-solves, and every leaf (all
   switches integral) bounds its part of the MILP. The least bound over the leaves is the MILP's bound;
   on the frontier benchmark it was within 0.01% of the optimum where the plain relaxation was 0.4–0.9%
   under it;
3. *rounding up* at each leaf: every binary with a positive LP value is fixed to 1 (largest value
   first, as long as the packing rows among binaries allow), the others to 0, and the LP is re-solved
   (general integers, e.g. whole shares, stay integer: then a small MIP). The model's other binaries are
   permissions — a trade indicator lets a slot trade, a wash-sale group binary lets the group be bought —
   so granting every one the LP used keeps its plan nearly feasible: the re-solve only lifts trades
   below the minimum size or drops loss sales in groups the LP also bought;
4. when no leaf rounds to a plan (e.g. a maximum number of trades), a *RENS* sub-MIP: binaries the root
   LP left at 0 or 1 stay fixed there, the fractional ones are free, under a short time limit.

`relaxation_start` returns the bound, the best start found and the HiGHS time spent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import highspy
import numpy as np
import scipy.sparse as sp

from .cone import MAX_REFINEMENT_ROUNDS, LazyRows, nonzero_pattern

log = logging.getLogger("rebal_opt.solver")

ROUNDING_TOLERANCE = 1e-6
"""An LP value of a binary above this counts as used (rounded up to 1)."""

MAX_SWITCHES = 8
"""Most switches the tree branches on; with more, only the root is solved (the start as before the tree).
A 5-year unwind has 17: the 64 nodes left the gap wide open (the gap there is not in the switches) and
the plan rounded at a leaf was a worse start than RENS's, tripling HiGHS's time (0.5 s → 1.5 s)."""

MAX_SWITCH_NODES = 64
"""Most LP relaxations the switch tree solves; nodes left open keep their parent's bound (an LP that
ends undecided is left open too: a cold re-solve of one on a 12-period unwind took 3 s)."""

RENS_TIME_SHARE = 0.25
"""Share of the time left that the RENS sub-MIP may use."""

WHOLE_SHARE_SEARCH_SHARE = 0.6
"""Share of the time left that the whole-share search at a leaf may use. With the switches and permissions
fixed it is where whole-share plans are found: at 30/1,000 its plan at 2.5 s (0.50% above the bound) was
not bettered by 5 s of the full MILP after it, whose bound stays at the LP's."""

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
    nodes: int = 0  # branch-and-bound nodes, where a search made them (solver/conic_search.py)


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
    switches: np.ndarray | None = None,
    lazy: LazyRows | None = None,
    exclusive: np.ndarray | None = None,
) -> Start:
    """Bound and primal start for the MILP `lp` (binaries and general integers given by column).

    `options` are the HiGHS options of the MILP (tolerances, gaps, seed); `deadline` is a perf_counter
    time. `switches` (columns, a subset of `binaries`) are branched on first (`SwitchTree`). `lazy` holds
    the model's cones: every LP is refined until its point is within the cones' tolerance, and a start's
    cone values are exact (its objective is the plan's true one). `exclusive` (columns, a subset of
    `binaries`) are permissions whose 1 also forbids something (a wash-sale group bought: no loss sale in
    it): besides rounding them up with the rest, a leaf also rounds them to the nearest.
    """
    switches = np.empty(0, dtype=np.int64) if switches is None else np.asarray(switches, dtype=np.int64)
    if len(switches) > MAX_SWITCHES:
        switches = switches[:0]
    tree = SwitchTree(lp, binaries, integers, options, deadline, switches, lazy, exclusive)
    tree.search()
    if tree.infeasible:
        return Start("infeasible", seconds=tree.seconds, runs=tree.runs)
    if tree.root is None:
        return Start("none", seconds=tree.seconds, runs=tree.runs)
    bound = tree.bound()
    if tree.best is not None:
        return replace(tree.best, bound=bound, seconds=tree.seconds, runs=tree.runs)
    found = tree.rens()
    if found is not None:
        return replace(found, bound=bound, seconds=tree.seconds, runs=tree.runs)
    return Start("bound", bound=bound, seconds=tree.seconds, runs=tree.runs)


class SwitchTree:
    """A small branch-and-bound over the model's switches, with LP relaxations for everything else.

    Why: the few binaries that choose a regime of the model (which tax bracket or netting case applies)
    are where the LP relaxation is weak — on the frontier benchmark the relaxation was 0.4–0.9% under the
    optimum with them relaxed and exact with only them integer — while the many trade permissions round
    up well. HiGHS needed 0.15–0.3 s of root work per solve to close that gap; fixing each switch both
    ways costs a few warm-started LP re-solves. Each leaf (every switch integral) is an LP relaxation
    whose value bounds its part of the MILP and whose permissions are rounded up for a plan. The bound of
    the whole MILP is the least bound over leaves and pruned or unexplored nodes.
    """

    def __init__(
        self,
        lp: highspy.HighsLp,
        binaries: np.ndarray,
        integers: np.ndarray,
        options: dict[str, object],
        deadline: float | None,
        switches: np.ndarray,
        lazy: LazyRows | None = None,
        exclusive: np.ndarray | None = None,
    ) -> None:
        self.lp, self.binaries, self.integers, self.options = lp, binaries, integers, options
        self.deadline = deadline
        self.switches = switches
        self.lazy = lazy if lazy else None
        self.exclusive = np.zeros(len(binaries), dtype=bool)
        if exclusive is not None and len(exclusive):
            self.exclusive = np.isin(binaries, exclusive)
        self.relative_gap = float(options.get("mip_rel_gap", 0.0))  # type: ignore[arg-type]
        self.absolute_gap = float(options.get("mip_abs_gap", 0.0))  # type: ignore[arg-type]
        self.h = _relaxation(lp, options)
        self.rounder: highspy.Highs | None = None
        self.root: np.ndarray | None = None  # the root relaxation's point (RENS starts from it)
        self.best: Start | None = None
        self.closed: list[float] = []  # bounds of leaves and pruned nodes
        self.open: list[float] = []  # bounds of nodes left unexplored (time or node limit)
        self.seconds = 0.0
        self.runs = 0

    def _tolerance(self) -> float:
        """HiGHS's stopping rule around the best plan: a node bounded within it cannot beat the plan by more."""
        assert self.best is not None and self.best.objective is not None
        return max(self.absolute_gap, self.relative_gap * abs(self.best.objective))

    def _prunable(self, bound: float) -> bool:
        if self.best is None or self.best.objective is None:
            return False
        return bound >= self.best.objective - self._tolerance()

    def search(self) -> None:
        nodes: list[tuple[dict[int, float], float]] = [({}, -np.inf)]  # depth first: (fixed switches, parent bound)
        # With general integers (whole shares) rounding a leaf may mean a capped MIP search: the leaves are
        # rounded after the tree, best bound first, and one that cannot beat the plan in hand is skipped
        # (at 30/1,000 with whole shares, two leaves 3× above the optimum's bound took 4.4 of 10 s).
        pending: list[tuple[float, np.ndarray]] = []
        explored = 0
        while nodes:
            fixed, parent = nodes.pop()
            if self._prunable(parent):
                self.closed.append(parent)
                continue
            if explored >= MAX_SWITCH_NODES or past_deadline(self.deadline):
                self.open.append(parent)
                continue
            status, value, point = self._solve_node(fixed)
            explored += 1
            if status == highspy.HighsModelStatus.kInfeasible:
                continue
            if status != highspy.HighsModelStatus.kOptimal:
                self.open.append(parent)
                continue
            if self.root is None:
                self.root = point
            if self._prunable(value):
                self.closed.append(value)
                continue
            free = [j for j in self.switches if j not in fixed]
            fractional = [j for j in free if ROUNDING_TOLERANCE < point[j] < 1 - ROUNDING_TOLERANCE]
            if not fractional:
                self.closed.append(value)
                if len(self.integers):
                    pending.append((value, point))
                else:
                    self._round(point)
                continue
            j = max(fractional, key=lambda k: min(point[k], 1 - point[k]))
            near = float(round(point[j]))
            nodes.append(({**fixed, j: 1.0 - near}, value))
            nodes.append(({**fixed, j: near}, value))  # explored first: likelier to hold the optimum
        for value, point in sorted(pending, key=lambda leaf: leaf[0]):
            if not self._prunable(value) and not past_deadline(self.deadline):
                self._round(point)

    @property
    def infeasible(self) -> bool:
        """After the search: no leaf, no pruned and no unexplored node — every way of setting the switches
        is infeasible."""
        return not self.closed and not self.open

    def bound(self) -> float:
        bounds = self.closed + self.open
        return min(bounds) if bounds else np.inf

    def _run(self, h: highspy.Highs, cap: float | None = None) -> highspy.HighsModelStatus:
        """Run `h` within the deadline, counting the run and its time."""
        status, seconds = _run(h, self.deadline, cap)
        self.seconds += seconds
        self.runs += 1
        info = h.getInfo()
        log.debug(
            "%s run %d: %s, %.3f s, %d simplex iterations, objective %.6g",
            "relaxation" if h is self.h else "rounding",
            self.runs,
            status.name,
            seconds,
            info.simplex_iteration_count,
            info.objective_function_value,
        )
        return status

    def _solve(self, h: highspy.Highs, cap: float | None = None, mip: bool = False) -> highspy.HighsModelStatus:
        """Run `h`, then refine the cones at its point and run again until the point is within their
        tolerance (an LP re-solve from its basis; a MIP from the repaired point)."""
        if self.lazy is not None:
            self.lazy.sync(h)
        status = self._run(h, cap)
        for _ in range(MAX_REFINEMENT_ROUNDS):
            if self.lazy is None or past_deadline(self.deadline):
                break
            if status != highspy.HighsModelStatus.kOptimal and not _has_point(h, status):
                break
            point = np.asarray(h.getSolution().col_value, dtype=float)
            if not self.lazy.refine(h, point):
                break
            if mip:  # a MIP starts again from scratch: give it the repaired plan
                repaired = self.lazy.plan(point)
                if repaired is not None:
                    offer(h, repaired)
            status = self._run(h, cap)
        return status

    def _solve_node(self, fixed: dict[int, float]) -> tuple[highspy.HighsModelStatus, float, np.ndarray]:
        """The LP relaxation with these switches fixed (the others free in [0, 1]), warm started."""
        if len(self.switches):
            lower = np.array([fixed.get(j, 0.0) for j in self.switches])
            upper = np.array([fixed.get(j, 1.0) for j in self.switches])
            self.h.changeColsBounds(len(self.switches), self.switches.astype(np.int32), lower, upper)
        status = self._solve(self.h)
        if status != highspy.HighsModelStatus.kOptimal:
            return status, np.inf, np.empty(0)
        return status, float(self.h.getInfo().objective_function_value), np.asarray(self.h.getSolution().col_value)

    def _rounder(self) -> highspy.Highs:
        if self.rounder is None:
            self.rounder = _relaxation(self.lp, self.options)
            _set_integrality(self.rounder, self.integers, integer=True)
        return self.rounder

    def _round(self, point: np.ndarray) -> None:
        """Rounding up at a leaf: the LP's own permissions fixed (switches are integral there); the re-solve
        is a plan of the MILP. Presolving the fixed model from scratch was 6× faster (0.12 s against 0.70 s
        at 20,000 lots) than re-solving from the relaxation's basis, because presolve removes most trade
        variables. General integers (whole shares, per lot) are rounded down from that re-solve's LP and
        the LP solved once more with them fixed; only when that fails are they searched (a MIP).

        Exclusive permissions (a wash-sale group bought) are rounded both ways (`leaf_roundings`)."""
        for rounded in leaf_roundings(self.lp, self.binaries, point[self.binaries], self.exclusive):
            self._try(rounded)

    def _try(self, rounded: np.ndarray) -> None:
        """The plan with the binaries fixed at `rounded`; kept when it is the best so far."""
        h = self._rounder()
        _fix(h, self.binaries, rounded)
        found = self._round_down(h) if len(self.integers) else None
        if found is None:
            h.clearSolver()
            # Searching the whole shares is a MIP of its own: capped like RENS, so that a rounding that
            # misses leaves HiGHS the time (it took every second of a 20 s limit at 30/1,000 with whole shares).
            cap = self._search_cap(WHOLE_SHARE_SEARCH_SHARE) if len(self.integers) else None
            status = self._solve(h, cap, mip=len(self.integers) > 0)
            if status == highspy.HighsModelStatus.kOptimal or _has_point(h, status):
                found = _found(h, self.lp, "rounded", self.lazy)
        if found is not None and (self.best is None or (found.objective or 0.0) < (self.best.objective or 0.0)):
            self.best = found

    def _round_down(self, h: highspy.Highs) -> Start | None:
        """Whole shares by rounding down: the integers relaxed for one LP, then fixed at the floor of its
        values for another (fewer shares sold or bought never oversells a lot or overdraws cash; it can miss
        a band or a minimum trade, and then the caller searches instead). `h`'s integers are restored."""
        columns = self.integers.astype(np.int32)
        lower = np.asarray(self.lp.col_lower_)[self.integers]
        upper = np.asarray(self.lp.col_upper_)[self.integers]
        found: Start | None = None
        _set_integrality(h, self.integers, integer=False)
        h.clearSolver()
        status = self._solve(h)
        if status == highspy.HighsModelStatus.kOptimal:
            values = np.asarray(h.getSolution().col_value)[self.integers]
            floor = np.clip(np.floor(values + 1e-6), lower, upper)
            h.changeColsBounds(len(columns), columns, floor, floor)
            status = self._solve(h)
            if status == highspy.HighsModelStatus.kOptimal:
                found = _found(h, self.lp, "rounded", self.lazy)
        h.changeColsBounds(len(columns), columns, lower, upper)
        _set_integrality(h, self.integers, integer=True)
        return found

    def _search_cap(self, share: float = RENS_TIME_SHARE) -> float:
        """Seconds a sub-MIP of the start may take: RENS_TIME_CAP, and `share` of the time left."""
        left = None if self.deadline is None else self.deadline - time.perf_counter()
        return RENS_TIME_CAP if left is None else min(RENS_TIME_CAP, share * left)

    def rens(self) -> Start | None:
        """RENS, when no leaf rounded to a plan: binaries the root LP left at 0 or 1 stay fixed there, the
        fractional ones are searched, under a short time limit. When that neighbourhood holds no plan (the
        LP's zeros can be what makes it empty: under rules.max_trades a degenerate LP with several optima
        left some with none), once more with only the LP's ones fixed."""
        if self.root is None:
            return None
        values = self.root[self.binaries]
        ones = values >= 1 - ROUNDING_TOLERANCE
        zeros = values <= ROUNDING_TOLERANCE
        found = self._rens(ones, zeros)
        if found is None and zeros.any():
            found = self._rens(ones, np.zeros_like(zeros))
        return found

    def _rens(self, ones: np.ndarray, zeros: np.ndarray) -> Start | None:
        h = self._rounder()
        lower = np.where(ones, 1.0, 0.0)
        upper = np.where(zeros, 0.0, 1.0)
        if len(self.binaries):
            h.changeColsBounds(len(self.binaries), self.binaries.astype(np.int32), lower, upper)
        _set_integrality(h, self.binaries[~(ones | zeros)], integer=True)
        h.clearSolver()
        status = self._solve(h, self._search_cap(), mip=True)
        if status == highspy.HighsModelStatus.kOptimal or _has_point(h, status):
            return _found(h, self.lp, "rens", self.lazy)
        return None


def fixed_relaxation(
    lp: highspy.HighsLp, options: dict[str, object], columns: np.ndarray, values: np.ndarray
) -> highspy.Highs:
    """A HiGHS instance holding `lp` with every integrality dropped and `columns` fixed at `values`."""
    h = _relaxation(lp, options)
    _fix(h, columns, values)
    return h


def leaf_roundings(
    lp: highspy.HighsLp, binaries: np.ndarray, values: np.ndarray, exclusive: np.ndarray
) -> list[np.ndarray]:
    """The 0/1 settings a relaxation's `values` of the binaries are rounded to: the permissions it used, up
    (`round_up`); and where an exclusive permission (mask over `binaries`) is fractional, also with those
    rounded to the nearest. Rounding them up forbids every loss sale in a group the LP bought even a little
    of — where the LP harvested a loss and bought the group back at a fraction of the binary, the nearest
    keeps the harvest (a direct-indexing household at 30 securities: 4.90 rounded up, −6.8 nearest, against
    an optimum of −7.51 k$)."""
    up = round_up(lp, binaries, values)
    fractional = exclusive & (values > ROUNDING_TOLERANCE) & (values < 1 - ROUNDING_TOLERANCE)
    if not fractional.any():
        return [up]
    nearest = up.copy()
    nearest[exclusive] = np.round(values[exclusive])
    return [up, nearest]


def past_deadline(deadline: float | None) -> bool:
    """Whether a perf_counter deadline has passed (None: no deadline)."""
    return deadline is not None and time.perf_counter() >= deadline


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


def lp_matrix(lp: highspy.HighsLp) -> sp.csc_matrix:
    """`lp`'s constraint matrix (rows × columns), by column as HiGHS holds it."""
    return sp.csc_matrix(
        (np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_), np.asarray(lp.a_matrix_.start_)),
        shape=(int(lp.num_row_), int(lp.num_col_)),
    )


def _packing_rows(lp: highspy.HighsLp, binaries: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray] | None:
    """The packing rows among the binaries, as a (rows × binaries) CSC matrix and their upper bounds."""
    matrix = lp_matrix(lp)
    is_binary = np.zeros(lp.num_col_, dtype=bool)
    is_binary[binaries] = True
    rows = matrix.tocsr()
    entries_per_row = np.diff(rows.indptr)
    pattern = nonzero_pattern(rows)
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


def _found(h: highspy.Highs, lp: highspy.HighsLp, method: str, lazy: LazyRows | None) -> Start | None:
    """The plan at `h`'s point, its cone values exact and its objective the true one (with the offset);
    None when exact cone values break a row (a tracking-error budget the point only keeps approximately)."""
    solution = np.asarray(h.getSolution().col_value, dtype=float)
    if lazy is not None:
        repaired = lazy.plan(solution)
        if repaired is None:
            return None
        solution = repaired
    objective = float(np.asarray(lp.col_cost_) @ solution) + float(lp.offset_)
    return Start("found", -np.inf, solution, objective, method)


def offer(h: highspy.Highs, point: np.ndarray) -> None:
    """Give `h` a feasible point to start its MIP from."""
    solution = highspy.HighsSolution()
    solution.col_value = point
    solution.value_valid = True
    h.setSolution(solution)
