"""Convex piecewise-linear functions of one variable, built from a progressive rate schedule.

A schedule with rates r_0 < r_1 < … < r_m and bracket tops b_0 < … < b_{m−1} gives the cumulative tax

    F(z) = Σ_k r_k × |[0, z] ∩ [b_{k−1}, b_k)|        (b_{−1} = 0, b_m = ∞; dollars → dollars)

which for z ≥ 0 equals max_k (c_k + r_k × z) with intercepts c_k = F(b_{k−1}) − r_k × b_{k−1}: the
rates increase, so F is convex and each bracket's line lies below F elsewhere. The evaluator uses
`value`; the MILP encoding uses `pieces` (epigraph rows) and `breakpoints`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from rebal_opt.models.tax_tables import RateSchedule


@dataclass(frozen=True)
class Piece:
    """The line c + slope × z (units of the schedule: dollars in, dollars out)."""

    intercept: float
    slope: float

    def at(self, z: float) -> float:
        return self.intercept + self.slope * z


@dataclass(frozen=True)
class ConvexPiecewise:
    """F(z) = Σ_k rate_k × |[0, z] ∩ bracket_k| for z ≥ 0 (and F(z) = 0 for z ≤ 0)."""

    breakpoints: tuple[float, ...]
    rates: tuple[float, ...]

    @classmethod
    def from_schedule(cls, schedule: RateSchedule) -> ConvexPiecewise:
        return cls(breakpoints=schedule.breakpoints, rates=schedule.rates)

    def __post_init__(self) -> None:
        if len(self.rates) != len(self.breakpoints) + 1:
            raise ValueError("need one rate more than breakpoints")

    def value(self, z: float) -> float:
        """F(z), summing bracket by bracket (exact: no subtraction of large intercepts)."""
        total = 0.0
        lower = 0.0
        for rate, upper in zip(self.rates, (*self.breakpoints, float("inf")), strict=True):
            if z <= lower:
                break
            total += rate * (min(z, upper) - lower)
            lower = upper
        return total

    def rate_at(self, z: float) -> float:
        """The slope of F just right of z (the marginal rate of the next dollar)."""
        return self.rates[bisect_right(self.breakpoints, z)] if z >= 0 else 0.0

    def pieces(self, lo: float = 0.0, hi: float = float("inf")) -> tuple[Piece, ...]:
        """The lines whose bracket meets [lo, hi]; their maximum equals F on [max(lo, 0), hi].

        Leaving out brackets outside the range keeps the epigraph rows few: on [lo, hi] a line of a
        bracket entirely left (right) of the range is dominated by the range's first (last) line.
        """
        lows = (0.0, *self.breakpoints)
        highs = (*self.breakpoints, float("inf"))
        out = []
        for rate, low, high in zip(self.rates, lows, highs, strict=True):
            if high < lo or low > hi:
                continue
            out.append(Piece(intercept=self.value(low) - rate * low, slope=rate))
        return tuple(out)

    def breakpoints_inside(self, lo: float, hi: float) -> tuple[float, ...]:
        """Breakpoints strictly inside (lo, hi): the kinks a variable ranging over [lo, hi] can cross."""
        return tuple(b for b in self.breakpoints if lo < b < hi)
