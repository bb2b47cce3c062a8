"""t ≥ ||y|| inside a MILP: a polyhedral outer approximation, refined where a solution needs it.

HiGHS solves MILPs, not cones, so the tracking error sqrt(d'Σd) = ||M d|| is represented by a tree of
2-D cones (Ben-Tal and Nemirovski's tower): leaves u_i ≥ |y_i|, and each internal node r ≥ ||(a, b)||
over its two children, replaced by tangent rows r ≥ cos θ·a + sin θ·b (children are non-negative, so
angles in [0, π/2] suffice). The root is t. Every tangent row is valid, so any set of them is an outer
approximation: the relaxation's value is a valid lower bound whatever rows it has.

Two ways to get enough rows:
* a small cone (class-level households: 8–20 classes) gets every tangent up front — K per node with
  cos(π/(4(K−1)))^depth ≥ 1 − tolerance — and is accurate everywhere, as the fixed approximation always
  was;
* a large cone (security-level households: hundreds of classes, a factor model) would need tens of
  thousands of such rows, and HiGHS's LPs on them were measured at 3.7 s (250 classes) and 25 s (500);
  it starts with three tangents a node and gets more only at nodes where a solution is off: a tangent at
  the node's own angle (`ConeRows.cuts`). Each node is a 1-D problem (its angle), so a few rounds settle
  it.

Either way a point is accepted only when every node is within its share of the tolerance: r ≥
(1 − ε)·||(a, b)|| with (1 − ε)^depth = 1 − tolerance, so t ≥ (1 − tolerance)·||y||. And any point's cone
values can be recomputed exactly (`ConeRows.repair`): the plan's objective is then its true one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

FULL_ROWS_LIMIT = 500
"""Most tangent rows a cone gets up front; a larger one starts coarse and is refined on demand — and, in a
MILP without whole shares, is solved by the conic search (solver/conic_search.py). 500 rows: a cone of up
to 10 leaves (a class-level household: bench/synthetic.py's eight classes and cash, the harness's ≤ 9)
keeps its tower; from 11 (a direct-indexing household) the search was faster on the peer benchmark's
instances (0.1% / $100, best of three). At 4,000 → 1,000 rows (from 20 leaves): 30 / 1,000 1.00 → 0.33 s and
0.80 → 0.22 s, 24 / 300 0.75 → 0.36 and 0.58 → 0.20, 40 / 800 2.44 → 1.32 and 2.20 → 2.14, 60 / 1,200
6.50 → 1.53 but 11.2 → 14.7, 20 / 400 0.21 → 0.15 and 0.15 → 0.15. At 1,000 → 500 (from 11 leaves; ten
securities and four factors are 14): 10 / 100 seeds 0–3 0.18 → 0.12, 0.17 → 0.11, 0.14 → 0.10,
0.18 → 0.14 s; 12 / 150 seeds 1–3 0.12 → 0.10, 0.19 → 0.12, 0.23 → 0.13 s."""

INITIAL_TANGENTS = 3
"""Tangents per node of a cone refined on demand: the axes and the diagonal."""

CUT_SLACK = 1e-6
"""k$: a node short of its tolerance by less than this is HiGHS's feasibility noise, not a missing tangent."""


def tangent_count(depth: int, tolerance: float) -> int:
    """Tangents per node so that `depth` nested 2-D approximations lose at most `tolerance` anywhere.

    With K tangents at angles 0..π/2 the largest angle to the nearest tangent is δ = π/(4(K−1)), and the
    polygon underestimates the 2-D norm by at most the factor cos δ; nesting multiplies the factors.
    """
    if depth == 0:
        return 1
    delta = math.acos((1.0 - tolerance) ** (1.0 / depth))
    return math.ceil(math.pi / (4.0 * delta)) + 1


@dataclass(frozen=True)
class Tree:
    """The pairing of `size` leaves into a binary tree: node j (≥ size) has children left[j−size],
    right[j−size]; nodes are numbered leaves first, then level by level, so children come before parents."""

    size: int
    left: np.ndarray
    right: np.ndarray

    @classmethod
    def over(cls, size: int) -> Tree:
        left: list[int] = []
        right: list[int] = []
        level = list(range(size))
        next_node = size
        while len(level) > 1:
            parents: list[int] = []
            for i in range(0, len(level) - 1, 2):
                left.append(level[i])
                right.append(level[i + 1])
                parents.append(next_node)
                next_node += 1
            if len(level) % 2:
                parents.append(level[-1])
            level = parents
        return cls(size, np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))

    @property
    def internal(self) -> int:
        return len(self.left)

    @property
    def nodes(self) -> int:
        return self.size + self.internal

    @property
    def depth(self) -> int:
        return math.ceil(math.log2(self.size)) if self.size > 1 else 0


class _BudgetedCone:
    """What both cone forms share: the root `top`, the budget row on it and the limit it binds."""

    tolerance: float
    limit: tuple[float, cp.Variable] | None

    @property
    def top(self) -> cp.Expression:
        raise NotImplementedError

    def bound_by(self, scale: float, variable: cp.Variable) -> cp.Constraint:
        """||y|| ≤ scale·variable: the row t ≤ (1 − tolerance)·scale·variable (so that every accepted point,
        t ≥ (1 − tolerance)·||y||, keeps it exactly), and the exact check a plan must pass."""
        self.limit = (scale, variable)
        return self.top <= (1.0 - self.tolerance) * scale * variable

    def _limit(self, limit_column: int | None) -> ConeLimit | None:
        if self.limit is None or limit_column is None:
            return None
        return ConeLimit(limit_column, self.limit[0])


class SecondOrderCone(_BudgetedCone):
    """t ≥ (1 − tolerance)·||y|| with t = `top`, as tangent rows over a tree of 2-D cones (module docstring).

    `y` (pinned to the expression given) and `values` (leaves, then internal nodes; the last is the root)
    are the cone's variables; `rows(compiled)` binds them to a compiled problem's columns for refinement.
    """

    def __init__(
        self, expression: cp.Expression, size: int, tolerance: float, name: str = "te", hint: np.ndarray | None = None
    ) -> None:
        """`hint`: a value of y the solution is likely near (the household before trading); a cone refined
        on demand also gets, at each node, the tangent at that point's angle."""
        self.tree = Tree.over(size)
        self.tolerance = tolerance
        depth = self.tree.depth
        self.node_tolerance = 1.0 - (1.0 - tolerance) ** (1.0 / depth) if depth else 0.0
        full = tangent_count(depth, tolerance)
        self.refined = self.tree.internal * full > FULL_ROWS_LIMIT
        angles = np.linspace(0.0, math.pi / 2, INITIAL_TANGENTS if self.refined else full)
        self.y = cp.Variable(size, name=f"{name}_y")
        self.values = cp.Variable(self.tree.nodes, nonneg=True, name=f"{name}_cone")
        self.limit: tuple[float, cp.Variable] | None = None
        leaves = self.values[:size]
        self.constraints: list[cp.Constraint] = [self.y == expression, leaves >= self.y, leaves >= -self.y]
        if self.tree.internal:
            self.constraints.append(self._tangents(angles))
            if self.refined and hint is not None:
                self.constraints.append(self._at(node_angles(self.tree, hint)))

    @property
    def top(self) -> cp.Expression:
        return self.values[self.tree.nodes - 1]

    def _tangents(self, angles: np.ndarray) -> cp.Constraint:
        """Rows r_j ≥ cos θ·left_j + sin θ·right_j for every internal node j and angle θ, as one block."""
        n = self.tree.internal
        rows = np.arange(len(angles) * n)
        return self._rows(angles[rows // n], rows % n)

    def _at(self, angles: np.ndarray) -> cp.Constraint:
        """One tangent row per internal node, node j's at angles[j]."""
        return self._rows(angles, np.arange(self.tree.internal))

    def _rows(self, angle: np.ndarray, node: np.ndarray) -> cp.Constraint:
        tree = self.tree
        rows = np.arange(len(node))
        matrix = sp.csr_matrix(
            (
                np.concatenate([np.ones(len(node)), -np.cos(angle), -np.sin(angle)]),
                (np.tile(rows, 3), np.concatenate([tree.size + node, tree.left[node], tree.right[node]])),
            ),
            shape=(len(node), tree.nodes),
        )
        return matrix @ self.values >= 0

    def rows(self, y_columns: np.ndarray, value_columns: np.ndarray, limit_column: int | None = None) -> ConeRows:
        limit = self._limit(limit_column)
        return ConeRows(self.tree, y_columns, value_columns, self.node_tolerance, self.tolerance, limit)


@dataclass(frozen=True)
class ConeLimit:
    """||y|| ≤ scale·x[column]: a bound on the cone's root by a variable (the budget's W_after)."""

    column: int
    scale: float


def node_angles(tree: Tree, y: np.ndarray) -> np.ndarray:
    """Each internal node's angle atan2(right, left) at the exact subtree norms of `y`."""
    values = subtree_norms(tree, y)
    return np.arctan2(values[tree.right], values[tree.left])


def subtree_norms(tree: Tree, y: np.ndarray) -> np.ndarray:
    """The value of every node at the exact norms: leaves |y_i|, each internal node ||(left, right)||; children
    precede parents, so one pass up the tree."""
    values = np.empty(tree.nodes)
    values[: tree.size] = np.abs(y)
    for j in range(tree.internal):
        values[tree.size + j] = math.hypot(values[tree.left[j]], values[tree.right[j]])
    return values


@dataclass(frozen=True)
class ConeRows:
    """A cone bound to the columns of a compiled problem: exact repair and cuts at a point."""

    tree: Tree
    y: np.ndarray  # columns of y
    values: np.ndarray  # columns of the node values (leaves, internal nodes)
    node_tolerance: float
    tolerance: float  # of the root: t ≥ (1 − tolerance)·||y|| at every accepted point
    limit: ConeLimit | None = None  # ||y|| ≤ scale·x[column] (a tracking-error budget), checked exactly

    def exact_values(self, point: np.ndarray) -> np.ndarray:
        """The node values ||·|| of each subtree at `point`'s y (leaves |y_i|): the root is ||y||."""
        return subtree_norms(self.tree, point[self.y])

    def repair(self, point: np.ndarray) -> np.ndarray:
        """`point` with the cone's values set exactly: feasible for every tangent row, objective true."""
        fixed = point.copy()
        fixed[self.values] = self.exact_values(point)
        return fixed

    def cuts(self, point: np.ndarray) -> sp.csr_matrix | None:
        """Tangent rows (value column space, ≥ 0) at the nodes where `point` is off by more than a node's
        share of the tolerance: r < (1 − ε)·||(left, right)|| with the point's own child values. None when
        the point is within the tolerance everywhere."""
        tree = self.tree
        if not tree.internal:
            return None
        values = point[self.values]
        a, b = values[tree.left], values[tree.right]
        a, b = np.maximum(a, 0.0), np.maximum(b, 0.0)
        norm = np.hypot(a, b)
        parent = values[tree.size :]
        off = np.flatnonzero(parent < (1.0 - self.node_tolerance) * norm - CUT_SLACK)
        if not len(off):
            return None
        # The tangent at the point's own angle, and one either side: each covers ±√(2ε) of angle within
        # the node's tolerance, so the next solution, which moves a little, is covered too.
        spread = 2.0 * math.acos(1.0 - self.node_tolerance)
        theta = np.arctan2(b[off], a[off])
        theta = np.clip(np.concatenate([theta, theta - spread, theta + spread]), 0.0, math.pi / 2)
        nodes = np.tile(off, 3)
        rows = np.arange(len(nodes))
        columns = np.concatenate(
            [self.values[tree.size + nodes], self.values[tree.left[nodes]], self.values[tree.right[nodes]]]
        )
        data = np.concatenate([np.ones(len(nodes)), -np.cos(theta), -np.sin(theta)])
        return sp.csr_matrix((data, (np.tile(rows, 3), columns)), shape=(len(nodes), int(point.shape[0])))


class ExtendedCone(_BudgetedCone):
    """t ≥ (1 − tolerance)·||y|| for a large cone, in the extended (disaggregated) form refined on demand.

    ||y|| ≤ t ⇔ Σᵢ yᵢ²/t ≤ t: leaves uᵢ ≥ |yᵢ|, one sᵢ ≥ uᵢ²/t per leaf, and Σ sᵢ ≤ t. Each sᵢ ≥ uᵢ²/t is a
    convex function of two variables whose tangent planes are the rows sᵢ ≥ 2a·uᵢ − a²·t (a = uᵢ/t at the
    point of contact), so every row is valid and each leaf is refined on its own, in one dimension: no
    tree, no tolerance shared down a depth. Vielma, Dunning, Huchette and Lubin (Extended formulations in
    mixed integer conic quadratic programming, 2017) found this form needed far fewer cuts than the
    aggregated one in outer-approximation solvers. `values` holds the leaves, then the sᵢ, then t (the
    root, last, as in SecondOrderCone), so the same LazyRows drives both.
    """

    def __init__(
        self, expression: cp.Expression, size: int, tolerance: float, name: str = "te", hint: np.ndarray | None = None
    ) -> None:
        self.size = size
        self.tolerance = tolerance
        self.refined = True
        self.y = cp.Variable(size, name=f"{name}_y")
        self.values = cp.Variable(2 * size + 1, nonneg=True, name=f"{name}_cone")
        self.limit: tuple[float, cp.Variable] | None = None
        leaves, squares = self.values[:size], self.values[size : 2 * size]
        self.constraints: list[cp.Constraint] = [
            self.y == expression,
            leaves >= self.y,
            leaves >= -self.y,
            cp.sum(squares) <= self.top,
        ]
        ratios = [np.full(size, a) for a in INITIAL_RATIOS]
        if hint is not None and float(np.linalg.norm(hint)) > 0:
            ratios.append(np.abs(hint) / float(np.linalg.norm(hint)))
        ratio = np.concatenate(ratios)
        leaf = np.tile(np.arange(size), len(ratios))
        self.constraints.append(self._rows(ratio, leaf) @ self.values >= 0)

    @property
    def top(self) -> cp.Expression:
        return self.values[2 * self.size]

    def _rows(self, ratio: np.ndarray, leaf: np.ndarray) -> sp.csr_matrix:
        return extended_tangents(self.size, ratio, leaf, np.arange(2 * self.size + 1), 2 * self.size + 1)

    def rows(self, y_columns: np.ndarray, value_columns: np.ndarray, limit_column: int | None = None) -> ExtendedRows:
        return ExtendedRows(self.size, y_columns, value_columns, self.tolerance, self._limit(limit_column))


INITIAL_RATIOS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
"""Tangents every leaf of an extended cone starts with: uᵢ/t, the leaf's share of the norm."""


def extended_tangents(size: int, ratio: np.ndarray, leaf: np.ndarray, columns: np.ndarray, width: int) -> sp.csr_matrix:
    """Rows sᵢ − 2a·uᵢ + a²·t ≥ 0 (one per (ratio a, leaf i)), over `width` columns where the cone's values
    (leaves, squares, root) sit at `columns`."""
    rows = np.arange(len(leaf))
    data = np.concatenate([np.ones(len(leaf)), -2.0 * ratio, ratio**2])
    cols = np.concatenate([columns[size + leaf], columns[leaf], np.full(len(leaf), columns[2 * size])])
    return sp.csr_matrix((data, (np.tile(rows, 3), cols)), shape=(len(leaf), width))


def extended_form_rows(rows: sp.csr_matrix, cones: list[ExtendedRows]) -> np.ndarray:
    """Per row of `rows`, how many of the cones' squares sᵢ it holds when it holds nothing but the cones'
    values (leaves, squares, root), else 0: 1 for a tangent sᵢ ≥ 2a·uᵢ − a²·t, the cone's size for
    Σ sᵢ ≤ t. Both are the extended form's polyhedral stand-in for ||u|| ≤ t."""
    member = np.zeros(rows.shape[1], dtype=bool)
    square = np.zeros(rows.shape[1], dtype=bool)
    for cone in cones:
        member[cone.values] = True
        square[cone.values[cone.size : 2 * cone.size]] = True
    pattern = nonzero_pattern(rows)
    outside = pattern @ (~member).astype(float)
    squares = np.rint(pattern @ square.astype(float)).astype(np.int64)
    return np.where(outside > 0, 0, squares)


def tangents_seeded_over(rows: sp.csr_matrix, cones: list[ExtendedRows], point: np.ndarray) -> np.ndarray:
    """The tangent rows among `rows` (`extended_form_rows` 1) of leaves that `seed(point)` gives tangents of
    its own: with those seeded, the rest of a leaf's tangents touch it far from the point."""
    seeded = np.zeros(rows.shape[1])
    for cone in cones:
        seeded[cone.values[cone.size + cone.seeded(point)]] = 1.0
    tangent = extended_form_rows(rows, cones) == 1
    return np.flatnonzero(tangent & (nonzero_pattern(rows) @ seeded > 0))


def nonzero_pattern(rows: sp.csr_matrix) -> sp.csr_matrix:
    """`rows` with every stored entry 1."""
    return sp.csr_matrix((np.ones(rows.nnz), rows.indices, rows.indptr), shape=rows.shape)


@dataclass(frozen=True)
class ExtendedRows:
    """An ExtendedCone bound to the columns of a compiled problem: exact repair and cuts at a point."""

    size: int
    y: np.ndarray  # columns of y
    values: np.ndarray  # columns of leaves, squares, root
    tolerance: float
    limit: ConeLimit | None = None

    def exact_values(self, point: np.ndarray) -> np.ndarray:
        """Leaves |yᵢ|, squares yᵢ²/||y|| (0 when y = 0), root ||y||."""
        leaves = np.abs(point[self.y])
        norm = float(np.linalg.norm(leaves))
        squares = leaves**2 / norm if norm > 0 else np.zeros(self.size)
        return np.concatenate([leaves, squares, [norm]])

    def repair(self, point: np.ndarray) -> np.ndarray:
        fixed = point.copy()
        fixed[self.values] = self.exact_values(point)
        return fixed

    def seed(self, point: np.ndarray) -> sp.csr_matrix | None:
        """Tangent rows at every leaf's ratio at `point` (a solution with the cone exact), and either side."""
        leaves = np.maximum(point[self.values[: self.size]], 0.0)
        leaf = self.seeded(point)
        if not len(leaf):
            return None
        return self._tangents(leaves[leaf] / float(np.linalg.norm(leaves)), leaf, int(point.shape[0]))

    def seeded(self, point: np.ndarray) -> np.ndarray:
        """The leaves `seed(point)` puts tangents at: those not zero at the point."""
        leaves = np.maximum(point[self.values[: self.size]], 0.0)
        norm = float(np.linalg.norm(leaves))
        return np.flatnonzero(leaves > 1e-9 * norm) if norm > 0.0 else np.zeros(0, dtype=np.int64)

    def _tangents(self, ratio: np.ndarray, leaf: np.ndarray, width: int) -> sp.csr_matrix:
        # A tangent at a is within the tolerance of the leaf for ratios a·(1 ± √tolerance): with one either
        # side of the point's own, the next solution, which moves a little, is covered too.
        spread = 2.0 * math.sqrt(self.tolerance)
        ratios = np.concatenate([ratio, ratio * (1.0 - spread), ratio * (1.0 + spread)])
        return extended_tangents(self.size, ratios, np.tile(leaf, 3), self.values, width)

    def cuts(self, point: np.ndarray) -> sp.csr_matrix | None:
        """Tangent rows at the leaves whose sᵢ is short of its share when the root is short of the tolerance:
        t < (1 − tolerance)·||u||. Each row touches the cone at the point's own ratio uᵢ/||u||, the point of
        the boundary nearest it, so the next solution is cut off and each leaf converges on its own."""
        values = point[self.values]
        leaves = np.maximum(values[: self.size], 0.0)
        squares = values[self.size : 2 * self.size]
        root = float(values[-1])
        norm = float(np.linalg.norm(leaves))
        if root >= (1.0 - self.tolerance) * norm - CUT_SLACK:
            return None
        ratio = leaves / norm
        # A leaf is short when its sᵢ is under its exact share uᵢ²/||u|| by more than the tolerance (relative):
        # only those get rows, so leaves that are already accurate do not grow the LP.
        exact = leaves * ratio
        leaf = np.flatnonzero(squares < (1.0 - self.tolerance) * exact - CUT_SLACK / self.size)
        if not len(leaf):
            leaf = np.array([int(np.argmax(exact - squares))])
        return self._tangents(ratio[leaf], leaf, int(point.shape[0]))


def second_order_cone(
    expression: cp.Expression, size: int, tolerance: float, name: str = "te", hint: np.ndarray | None = None
) -> SecondOrderCone | ExtendedCone:
    """The cone t ≥ (1 − tolerance)·||y||: every tangent up front when that is few enough rows (a
    class-level household), else the extended form refined on demand (a security-level one)."""
    import os

    tree = Tree.over(size)
    if tree.internal * tangent_count(tree.depth, tolerance) <= FULL_ROWS_LIMIT or os.environ.get("REBAL_OPT_TOWER"):
        return SecondOrderCone(expression, size, tolerance, name, hint)
    return ExtendedCone(expression, size, tolerance, name, hint)


FEASIBILITY_SLACK = 1e-6
"""k$: how far a plan's exact cone value may exceed its limit (HiGHS's own feasibility tolerance is 1e-7)."""

MAX_REFINEMENT_ROUNDS = 40
"""Most rounds of adding tangents at one LP or MILP point before its (valid, coarser) value is used as is."""


class LazyRows:
    """The cones of one compiled problem and the tangent rows added to them so far (a pool shared by every
    HiGHS instance that solves the problem: node LPs, rounding re-solves, the MILP).

    `refine(h, point)` adds the tangents `point` needs to the pool and to `h`; `sync(h)` brings an
    instance up to date with the pool; `repair(point)` sets every cone's values exactly.
    """

    def __init__(self, cones: list[ConeRows]) -> None:
        self.cones = cones
        self.pool: list[sp.csr_matrix] = []
        self.added: dict[int, int] = {}  # id(Highs instance) -> pool blocks it has

    def __bool__(self) -> bool:
        return bool(self.cones)

    @property
    def rows(self) -> int:
        return sum(block.shape[0] for block in self.pool)

    def sync(self, h: object) -> None:
        import highspy

        assert isinstance(h, highspy.Highs)
        have = self.added.get(id(h), 0)
        for block in self.pool[have:]:
            block = block.tocsr()
            h.addRows(
                block.shape[0],
                np.zeros(block.shape[0]),
                np.full(block.shape[0], highspy.kHighsInf),
                block.nnz,
                block.indptr[:-1].astype(np.int32),
                block.indices.astype(np.int32),
                block.data,
            )
        self.added[id(h)] = len(self.pool)

    def cuts(self, point: np.ndarray) -> sp.csr_matrix | None:
        blocks = [c for c in (cone.cuts(point) for cone in self.cones) if c is not None]
        return sp.vstack(blocks).tocsr() if blocks else None

    def refine(self, h: object, point: np.ndarray) -> bool:
        """Add the tangents `point` needs (to the pool and to `h`); False when it needs none."""
        block = self.cuts(point)
        if block is None:
            return False
        self.pool.append(block)
        self.sync(h)
        return True

    def repair(self, point: np.ndarray) -> np.ndarray:
        for cone in self.cones:
            point = cone.repair(point)
        return point

    def allowance(self, point: np.ndarray, costs: np.ndarray) -> float:
        """The objective the approximation may miss at `point` (exact cone values): each cone's root cost
        times its tolerance times ||y||. A plan within the gap of a bound, give or take this, is as proven
        as the approximation allows (the same guarantee the fixed approximation gave)."""
        total = 0.0
        for cone in self.cones:
            root = cone.values[-1]
            total += max(0.0, float(costs[root])) * cone.tolerance * float(point[root])
        return total

    def plan(self, point: np.ndarray, tolerance: float = FEASIBILITY_SLACK) -> np.ndarray | None:
        """`point` with exact cone values, or None when a cone's limit is broken by its exact value (a
        tracking-error budget that the point keeps only within the approximation: refine and solve again)."""
        for cone in self.cones:
            if cone.limit is not None:
                root = cone.exact_values(point)[-1]
                if root > cone.limit.scale * float(point[cone.limit.column]) + tolerance:
                    return None
        return self.repair(point)
