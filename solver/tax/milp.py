"""Small exact MILP building blocks over scalar affine expressions with known ranges.

Every block documents whether it is *pinned* (the new quantity equals the function at every feasible
point) or *relaxed* (it is only bounded from one side and equals the function at an optimum because
the tax it feeds is monotone in it). Big-M constants are derived from the ranges (`Bounded.lo/hi`), so
they are as tight as the ranges are: the ranges must hold at every feasible point, which the encoding
guarantees by constraining the decision expressions to their bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cvxpy as cp

from .piecewise import ConvexPiecewise

Affine = cp.Expression | float


@dataclass(frozen=True)
class Bounded:
    """An affine scalar `expr` known to lie in [lo, hi] at every feasible point (scaled units)."""

    expr: Affine
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if self.lo > self.hi + 1e-12:
            raise ValueError(f"empty range [{self.lo}, {self.hi}]")

    @classmethod
    def constant(cls, value: float) -> Bounded:
        return cls(float(value), float(value), float(value))

    @property
    def is_fixed(self) -> bool:
        return self.hi - self.lo <= 1e-12

    def shift(self, c: float) -> Bounded:
        return Bounded(self.expr + c, self.lo + c, self.hi + c)

    def __add__(self, other: Bounded) -> Bounded:
        return Bounded(self.expr + other.expr, self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: Bounded) -> Bounded:
        return Bounded(self.expr - other.expr, self.lo - other.hi, self.hi - other.lo)

    def __neg__(self) -> Bounded:
        return Bounded(-self.expr, -self.hi, -self.lo)


class Model:
    """Collects the variables' constraints and counts the binaries of one encoding."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.constraints: list[cp.Constraint] = []
        self.binaries = 0

    def var(self, name: str) -> cp.Variable:
        return cp.Variable(name=f"{self.prefix}{name}")

    def boolean(self, name: str) -> cp.Variable:
        self.binaries += 1
        return cp.Variable(boolean=True, name=f"{self.prefix}{name}")

    def at_least(self, lhs: Affine, rhs: Affine) -> None:
        """lhs >= rhs; skipped when both sides are plain numbers (then it must already hold)."""
        if isinstance(lhs, cp.Expression) or isinstance(rhs, cp.Expression):
            self.constraints.append(lhs >= rhs)
        elif lhs < rhs - 1e-9:
            raise ValueError(f"constant constraint {lhs} >= {rhs} does not hold")

    def bounded_var(self, name: str, lo: float, hi: float) -> cp.Variable:
        """A variable with column bounds [lo, hi] (passed to HiGHS as bounds, not as rows)."""
        return cp.Variable(name=f"{self.prefix}{name}", bounds=[lo, hi])


def relaxed_max(m: Model, name: str, terms: Sequence[Bounded]) -> Bounded:
    """v ≥ max(terms), v ≤ max(term.hi). Relaxed: v = max(terms) only where smaller v is preferred.

    A term that is at or below another term's lower bound everywhere is dropped; a single remaining
    term is returned as is (no variable).
    """
    floor = max(t.lo for t in terms)
    kept = [t for t in terms if t.hi > floor]
    if not kept:
        return Bounded.constant(floor)
    if len(kept) == 1 and kept[0].lo >= floor:
        return kept[0]
    hi = max(t.hi for t in kept)
    v = m.bounded_var(name, floor, hi)
    for t in kept:
        if not t.is_fixed:  # a constant term is at most the floor, which the bounds already impose
            m.at_least(v, t.expr)
    return Bounded(v, floor, hi)


def relaxed_max_of_min(
    m: Model,
    name: str,
    floor: Sequence[Bounded],
    first: Sequence[Bounded],
    second: Sequence[Bounded],
    hi: float,
) -> Bounded:
    """v ≥ max(floor), and v ≥ max(first) or v ≥ max(second); v ≤ hi — one binary δ.

    So v ≥ max(max(floor), min(max(first), max(second))) exactly (relaxed from above, like
    relaxed_max). Rows: v ≥ a − M_a δ (a in first), v ≥ b − M_b (1 − δ) (b in second) with
    M = term.hi − max(floor.lo), the most a term can exceed the floor v always satisfies.
    """
    lo = max(f.lo for f in floor)
    v = m.bounded_var(name, lo, hi)
    for f in floor:
        if not f.is_fixed:  # a constant floor is the lower bound of v already
            m.at_least(v, f.expr)
    delta = m.boolean(f"{name}_choice")
    for terms, active_at_zero in ((first, True), (second, False)):
        for t in terms:
            big_m = t.hi - lo
            if big_m <= 0:
                continue  # the floor already implies v >= t
            slack = big_m * delta if active_at_zero else big_m * (1 - delta)
            m.at_least(v, t.expr - slack)
    return Bounded(v, lo, hi)


def relu_from_above(m: Model, name: str, x: Bounded) -> Bounded:
    """0 ≤ u ≤ max(0, x) with u = max(0, x) reachable: the hypograph of a convex kink, one binary w.

    u ≤ x + (−x.lo)(1 − w), u ≤ x.hi w, u ≥ 0: w = 1 allows u up to x (and needs x ≥ 0), w = 0 forces
    u = 0. Used where the tax *decreases* in u, so the optimum takes u at its maximum max(0, x); u
    cannot exceed it, so the encoded tax never undercuts the true one. Without a sign change of x no
    binary is needed (u = x or u = 0).
    """
    if x.lo >= 0:
        return x
    if x.hi <= 0:
        return Bounded.constant(0.0)
    u = m.bounded_var(name, 0.0, x.hi)
    w = m.boolean(f"{name}_on")
    m.at_least(x.expr - x.lo * (1 - w), u)
    m.at_least(x.hi * w, u)
    return Bounded(u, 0.0, x.hi)


def pinned_relu(m: Model, name: str, x: Bounded) -> Bounded:
    """v = max(0, x) at every feasible point: relu_from_above plus the row v ≥ x (one binary ω).

    ω = 1 forces v = x ≥ 0, ω = 0 forces v = 0 ≥ x.
    """
    v = relu_from_above(m, name, x)
    if x.lo < 0 < x.hi:  # v is relu_from_above's new variable, not x itself or the constant 0
        m.at_least(v.expr, x.expr)
    return v


def convex_epigraph(m: Model, name: str, fn: ConvexPiecewise, z: Bounded, scale: float) -> Affine:
    """r ≥ fn(z·scale)/scale for z ≥ 0 (scaled units), one row per bracket that z's range meets.

    Relaxed from above; exact where smaller r is preferred. A single bracket gives the affine
    expression itself, a fixed z the constant.
    """
    if z.is_fixed:
        return fn.value(z.lo * scale) / scale
    pieces = fn.pieces(z.lo * scale, z.hi * scale)
    if len(pieces) == 1:
        return pieces[0].intercept / scale + pieces[0].slope * z.expr
    r = m.var(name)
    for piece in pieces:
        m.at_least(r, piece.intercept / scale + piece.slope * z.expr)
    return r
