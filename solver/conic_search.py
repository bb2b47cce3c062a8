"""Branch-and-bound over a security-level MILP's binaries, every node's relaxation solved with its cones exact.

Why: HiGHS sees the tracking cone only as tangent rows, added between its solves; on a direct-indexing
household (hundreds of securities, each its own class) every relaxation it solves — the root, each
rounding, the MILP after each refinement, which restarts it — takes rounds of LP re-solves of a few
seconds each, and the MILP was still 0.5% from proven after 60 s (bench/README.md, peers). An
interior-point solve of the same relaxation with the cone a true second-order cone (Clarabel) takes
0.05–0.35 s at those sizes and needs no refinement, so a plain best-first search over the binaries (the
wash-sale choices: buy the group back, or sell its loss lots) proves plans that HiGHS could not.

The search (`ConicSearch.run`):
* nodes differ only in their binaries' bounds; each node is one conic solve, whose dual objective is the
  node's bound (solver/conic.py, `ConicForm`, which substitutes the columns a node fixes out);
* best bound first; a node branches on its most fractional switch, else its most fractional binary among
  those that cannot be rounded without moving a row past its bound (`_free_rounding`: an interior-point
  optimum sits mid-face); both children are solved at once, side by side on the cores, and a child
  within the gap of the best plan is dropped;
* plans: the root and every `ROUND_EVERY`-th child are rounded as solver/warmstart.py rounds (used
  permissions up, wash-sale groups also to the nearest), a node whose switches have just become integral
  at once, and a node whose binaries all round freely is fixed there; each is solved once more with every
  binary fixed, and its cone values are made exact, so a plan's objective is its true one (solver/highs.py
  then moves the final plan to a vertex: `_at_a_vertex`);
* it ends when the best bound is within the gap of the best plan, at the deadline, or — with no plan by
  `GIVE_UP_SHARE` of the time, or a root that does not solve — hands back to HiGHS (solver/highs.py).

Measured on the peer benchmark (bench/README.md): 250 securities / 750 lots proven within $100 in 44 nodes
(4.3 s), 500 / 1,500 in 2 nodes (2.5 s with the vertex step), where HiGHS on the same model took 24 s.
Nothing here is trusted blindly: the plan goes through the same extraction and independent verifier as a
HiGHS plan, and tests/test_conic_search.py checks the search against brute force and against HiGHS.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import highspy
import numpy as np

from .cone import ExtendedRows, LazyRows
from .conic import ConicForm, ConicNode
from .warmstart import Start, leaf_roundings, past_deadline

log = logging.getLogger("rebal_opt.solver")

ROUND_EVERY = 5
"""Every this many children, one is rounded to a plan (the root always is): on 250 securities / 750 lots
the best plan came from these roundings, none from a child that was integral of itself."""

INTEGRAL = 1e-5
"""A binary within this of 0 or 1 is integral (interior-point values are never exactly 0 or 1)."""

ROW_SLACK = 1e-7
"""Relative: how far a row may move past its bound when a binary is rounded (the solve's own accuracy)."""

GIVE_UP_SHARE = 0.5
"""With no plan after this share of the time, the search stops and HiGHS gets the rest."""


def applies(lazy: LazyRows, integers: np.ndarray, binaries: np.ndarray) -> bool:
    """Whether the search is the one to run: a MILP with a cone refined on demand (a security-level household)
    and no general integers (whole shares are HiGHS's: rounding them needs its MIP search)."""
    return len(binaries) > 0 and len(integers) == 0 and any(isinstance(c, ExtendedRows) for c in lazy.cones)


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    lower: np.ndarray  # the binaries' bounds at this node
    upper: np.ndarray
    values: np.ndarray  # the binaries' values at the node's relaxed optimum


class ConicSearch:
    """One branch-and-bound run; `run()` returns what it found as a warmstart `Start` (method "conic")."""

    def __init__(
        self,
        form: ConicForm,
        lazy: LazyRows,
        binaries: np.ndarray,
        exclusive: np.ndarray | None,
        switches: np.ndarray | None,
        relative_gap: float,
        absolute_gap: float,
        deadline: float | None,
        lp: highspy.HighsLp,
    ) -> None:
        self.form, self.lazy, self.binaries = form, lazy, binaries
        self.exclusive = np.zeros(len(binaries), dtype=bool)
        if exclusive is not None and len(exclusive):
            self.exclusive = np.isin(binaries, exclusive)
        self.switch = np.zeros(len(binaries), dtype=bool)
        if switches is not None and len(switches):
            self.switch = np.isin(binaries, switches)
        self.relative_gap, self.absolute_gap = relative_gap, absolute_gap
        self.deadline = deadline
        self.lp = lp  # the compiled model (its packing rows bound the rounding up)
        self.started = time.perf_counter()
        self.give_up_at = None if deadline is None else self.started + GIVE_UP_SHARE * (deadline - self.started)
        self.best: np.ndarray | None = None
        self.best_value = np.inf
        self.closed = np.inf  # the least bound of the nodes dropped so far
        self.reserve_share = self.reserve_roots = 0.0
        self.solves = 0
        self.nodes = 0
        self.root: np.ndarray | None = None
        cores = min(2, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(cores) if cores > 1 else None
        self._order = itertools.count()

    # -- the search --------------------------------------------------------------------------------------

    def offer(self, point: np.ndarray) -> None:
        """A feasible point of the MILP (e.g. a prior plan): kept when it is the best so far."""
        plan = self.lazy.plan(point)
        if plan is not None:
            self._keep(plan)

    def reserve(self, share: float, roots: float) -> None:
        """Stop early enough to leave `share` of the time, or `roots` times the root's solve if more (at most
        half the time), for what the caller does with the plan."""
        self.reserve_share, self.reserve_roots = share, roots

    def run(self) -> Start:
        try:
            return self._search()
        finally:
            if self.pool is not None:
                self.pool.shutdown()

    def _search(self) -> Start:
        lower = np.maximum(self.form.col_lower[self.binaries], 0.0)
        upper = np.minimum(self.form.col_upper[self.binaries], 1.0)
        root = self._solve(lower, upper)
        if self.deadline is not None:
            left, spent = self.deadline - self.started, time.perf_counter() - self.started
            held = min(max(self.reserve_share * left, self.reserve_roots * spent), 0.5 * left)
            self.deadline -= held
            log.debug("conic search: root %.2f s, %.2f s held back", spent, held)
        if root.status != "solved" or root.point is None:
            return self._start("none", -np.inf)
        self.root = root.point
        log.debug("conic search: root bound %.6g", root.bound)
        queue: list[_Node] = []
        open_bounds: list[float] = []  # nodes whose solve failed: their parent's bound stands
        rounded, stuck = self._free_rounding(root.point)
        values = np.where(stuck, root.point[self.binaries], rounded)
        if not self._switching(values):
            self._round(values, lower, upper)
        self._push(queue, root.bound, lower, upper, values)
        while queue:
            if self._stop():
                break
            if self._prunable(queue[0].bound):  # the best bound is within the gap of the plan: proven
                break
            node = heapq.heappop(queue)
            j = self._branching(node.values)
            sides = []
            for side in (0.0, 1.0):
                lower, upper = node.lower.copy(), node.upper.copy()
                lower[j] = upper[j] = side
                sides.append((lower, upper))
            for (lower, upper), child in zip(sides, self._solve_all(sides), strict=True):
                self.nodes += 1
                if child.status == "infeasible":
                    continue
                if child.status != "solved" or child.point is None:
                    open_bounds.append(node.bound)
                    continue
                # A child's region is inside its parent's: its bound is at least the parent's (a solve that
                # stopped at Clarabel's reduced tolerances can report one a little under it).
                child = replace(child, bound=max(child.bound, node.bound))
                if child.bound >= self.best_value:
                    # No plan below it is better than the one in hand (a sibling's rounding may just have
                    # found it), so it is neither rounded nor kept. On 500 securities / 1,500 lots the tax
                    # switch's far side (1.4 k$ against −15.5) was rounded all the same: a conic solve, a
                    # fifth of the search. (Not merely within the gap: such a node's rounding can still
                    # improve the plan a little, which prunes later nodes — 52 nodes became 70 at 30 / 1,000.)
                    self.closed = min(self.closed, child.bound)
                    continue
                values = child.point[self.binaries]
                rounded, stuck = self._free_rounding(child.point)
                if not stuck.any():
                    # Every fractional binary can be rounded without moving the plan: the relaxation's optimum
                    # is a plan of the MILP, and the node is done once its fixed solve confirms it (if it
                    # does not, the node is branched on its values as they are).
                    self._fixed([rounded], lower, upper)
                    if self.best_value <= child.bound + self._tolerance():
                        self.closed = min(self.closed, child.bound)
                        continue
                else:
                    values = np.where(stuck, values, rounded)
                # A node whose switches have just become integral is rounded at once: its plans are the
                # first in the right tax regime (rounding with a switch fractional gave plans 17 k$ off).
                settled = self._switching(node.values) and not self._switching(values)
                if settled or (self.nodes % ROUND_EVERY == 0 and not self._switching(values)):
                    self._round(values, lower, upper)
                self._push(queue, child.bound, lower, upper, values)
        bound = min([n.bound for n in queue] + open_bounds + [self.closed, self.best_value])
        log.debug(
            "conic search: %d nodes, %d solves, %.2f s, plan %.6g, bound %.6g, %d nodes open",
            self.nodes, self.solves, time.perf_counter() - self.started, self.best_value, bound, len(queue),
        )
        if self.best is None:
            return self._start("bound" if np.isfinite(bound) else "none", bound)
        return self._start("found", bound)

    def _stop(self) -> bool:
        return past_deadline(self.deadline) or (self.best is None and past_deadline(self.give_up_at))

    def _push(self, queue: list[_Node], bound: float, lower: np.ndarray, upper: np.ndarray, values: np.ndarray) -> None:
        if not self._prunable(bound) and np.any(np.minimum(values, 1.0 - values) > INTEGRAL):
            heapq.heappush(queue, _Node(bound, next(self._order), lower, upper, values))
        else:  # dropped: within the gap of the plan, or its optimum is a plan; its bound still counts
            self.closed = min(self.closed, bound)

    def _tolerance(self) -> float:
        return max(self.absolute_gap, self.relative_gap * abs(self.best_value))

    def _prunable(self, bound: float) -> bool:
        return self.best is not None and bound >= self.best_value - self._tolerance()

    def _free_rounding(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The binaries rounded where the point's rows allow it, and which could not be.

        An interior-point optimum sits in the middle of its optimal face: a wash-sale group neither sold at
        a loss nor bought has its binary anywhere in [0, 1] (0.5 at the analytic centre), fractional but
        deciding nothing. Each fractional binary is moved to its nearest integer, else the other, when every
        row it is in stays within its bounds (the others as they are, earlier moves included) and its cost
        does not rise; those that cannot move are the ones worth branching on."""
        form = self.form
        values = point[self.binaries].copy()
        fraction = np.minimum(values, 1.0 - values)
        stuck = np.zeros(len(values), dtype=bool)
        activity = form.rows @ point
        slack = ROW_SLACK * (1.0 + np.abs(activity))
        for k in np.argsort(fraction):
            if fraction[k] <= INTEGRAL:
                values[k] = round(values[k])
                continue
            column = int(self.binaries[k])
            start, end = form.rows.indptr[column], form.rows.indptr[column + 1]
            rows, coefficients = form.rows.indices[start:end], form.rows.data[start:end]
            for target in (round(values[k]), 1.0 - round(values[k])):
                move = target - values[k]
                if form.cost[column] * move > 0:
                    continue
                moved = activity[rows] + coefficients * move
                within = (moved >= form.row_lower[rows] - slack[rows]) & (moved <= form.row_upper[rows] + slack[rows])
                if within.all():
                    activity[rows] = moved
                    values[k] = target
                    break
            else:
                stuck[k] = True
        return values, stuck

    def _switching(self, values: np.ndarray) -> bool:
        """Whether a switch is fractional at these values."""
        return bool(np.any(self.switch & (np.minimum(values, 1.0 - values) > INTEGRAL)))

    def _branching(self, values: np.ndarray) -> int:
        """The most fractional switch (which tax regime applies: where the relaxation is weakest, as
        solver/warmstart.py's SwitchTree found), else the most fractional binary. Pseudocost branching (the
        mean bound rise per unit move, learnt from the children) was measured against it on nine peer
        instances: fewer nodes on one, 1.5–3.5× more on four, the same on three (bench/README.md)."""
        fraction = np.minimum(values, 1.0 - values)
        switches = np.where(self.switch, fraction, 0.0)
        if switches.max() > INTEGRAL:
            return int(np.argmax(switches))
        return int(np.argmax(fraction))

    # -- plans -------------------------------------------------------------------------------------------

    def _round(self, values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Rounding as solver/warmstart.py's leaves do: permissions the relaxation used, up; wash-sale
        groups also to the nearest (rounding them up forbids a harvest the relaxation half made). Where
        both exist the nearest is solved first and the other only if it gives no plan: on eight peer
        instances every better plan the search found after its first came from the nearest (bench/README.md),
        and solving both side by side took half as long again as one."""
        *others, nearest = leaf_roundings(self.lp, self.binaries, values, self.exclusive)
        if not self._fixed([nearest], lower, upper) and others:
            self._fixed(others, lower, upper)

    def _fixed(self, roundings: list[np.ndarray], lower: np.ndarray, upper: np.ndarray) -> bool:
        """The plans with every binary at each rounding (kept within the node's bounds): a conic solve each.
        Whether one of them was a plan."""
        roundings = [np.clip(rounded, lower, upper) for rounded in roundings]
        found = False
        for rounded, node in zip(roundings, self._solve_all([(r, r) for r in roundings], plan=True), strict=True):
            if node.status != "solved" or node.point is None:
                continue
            point = np.clip(node.point, self.form.col_lower, self.form.col_upper)
            point[self.binaries] = rounded
            plan = self.lazy.plan(point)
            if plan is not None:
                found = True
                self._keep(plan)
        return found

    def _keep(self, plan: np.ndarray) -> None:
        value = float(self.form.cost @ plan) + self.form.offset
        if value < self.best_value:
            log.debug("conic search: plan %.6g at node %d", value, self.nodes)
            self.best, self.best_value = plan, value

    # -- one solve ---------------------------------------------------------------------------------------

    def _solve(self, lower: np.ndarray, upper: np.ndarray) -> ConicNode:
        return self._solve_all([(lower, upper)])[0]

    def _solve_all(self, bounds: list[tuple[np.ndarray, np.ndarray]], plan: bool = False) -> list[ConicNode]:
        """One conic solve per pair of binary bounds, side by side on the machine's cores (Clarabel gives up
        Python's lock while it solves: two children took 1.5× one's time, not 2×, on 2 cores)."""
        left = None if self.deadline is None else max(0.05, self.deadline - time.perf_counter())

        def one(pair: tuple[np.ndarray, np.ndarray]) -> ConicNode:
            col_lower, col_upper = self.form.col_lower.copy(), self.form.col_upper.copy()
            col_lower[self.binaries], col_upper[self.binaries] = pair
            return self.form.solve(col_lower, col_upper, left, plan)

        self.solves += len(bounds)
        if len(bounds) == 1 or self.pool is None:
            return [one(pair) for pair in bounds]
        return list(self.pool.map(one, bounds))

    def _start(self, status: str, bound: float) -> Start:
        seconds = time.perf_counter() - self.started
        if status == "found":
            return Start("found", bound, self.best, self.best_value, "conic", seconds, self.solves, self.nodes)
        return Start(status, bound if np.isfinite(bound) else None, seconds=seconds, runs=self.solves, nodes=self.nodes)
