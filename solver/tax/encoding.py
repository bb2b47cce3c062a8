"""Exact MILP encoding of the full-year tax as a function of the plan's extra realized gains.

Given a base TaxSituation and the plan's extra short- and long-term results x, y (cvxpy affine
expressions in `scale` dollars, with finite bounds), `CapitalGainsTaxEncoding` adds variables and
constraints such that the set of feasible (x, y, tax) is exactly {tax ≥ f(x, y)} on the bounds, with
f = evaluate_tax(base.with_gains(x·scale, y·scale)).total_tax / scale. Minimizing `tax` therefore
carries the exact tax, and `tax <= budget` is exact too. docs/tax.md derives the formulation; in brief
(all quantities scaled, S = S0 + x, L = L0 + y, N = S + L):

* netting: the capital result in AGI splits into an ordinary part Oc = max(−limit, min(N, S⁺)) and a
  preferential part Lp = max(0, min(L, N)) (Oc + Lp = max(N, −limit)). The tax is nondecreasing in each,
  so both are *relaxed* variables bounded from below: one binary each for the inner min (fewer when the
  bounds fix the sign of S, L or N);
* ordinary stack O = max(0, W − D + Oc), taxable income T = max(0, O_raw + Q + Lp);
* regular tax = min(F(O) − H(O) + H(T), F(T)) (F ordinary schedule, H long-term schedule): F(O), H(T),
  F(T) are convex epigraph rows; −H(O) needs one binary per long-term threshold inside O's range; the
  final min needs one binary only when O's range reaches below the top of the band where 15% exceeds
  the ordinary rate; O is pinned (one binary) only when O_raw changes sign and O's range meets that band;
* NIIT = rate × max(0, I + Q + min(0, W − I − threshold) + Oc + Lp): convex, rows only;
* state = state_rate × T;
* three valid inequalities tighten the LP relaxation of the netting (NettingBlock._tighten).

Flat-rates mode keeps the netting and the loss limit with flat rates in place of the schedules:
tax = (r_st + state) × Oc + (r_lt + state) × Lp, nondecreasing in both (rates ≥ 0), so the same relaxed
NettingBlock makes it exact (up to two binaries; none when the bounds fix the netting case).

`pin_carryforwards=True` adds `carryforward_short_next` / `carryforward_long_next`, equal to the
Capital Loss Carryover Worksheet at every feasible point (up to three more binaries); read them in
`scale` dollars. In flat mode the worksheet uses the whole allowance this year (evaluate.py).
"""

from __future__ import annotations

import cvxpy as cp

from .evaluate import TaxSituation, evaluate_tax
from .milp import (
    Affine,
    Bounded,
    Model,
    convex_epigraph,
    pinned_relu,
    relaxed_max,
    relaxed_max_of_min,
    relu_from_above,
)
from .piecewise import ConvexPiecewise

HIGHS_OPTIONS: dict[str, float | bool] = {
    "mip_feasibility_tolerance": 1e-7,
    "mip_heuristic_run_feasibility_jump": False,
}
"""HiGHS options for solving models that contain this encoding (pass as cvxpy solve kwargs, with
warm_start=False). Measured on 10,800 fixed-point solves (tests/test_tax_encoding.py's generator):
* mip_feasibility_tolerance 1e-7 (default 1e-6): rows may be violated by the tolerance in scaled units,
  and the violations add up along the epigraph chain — at 1e-6 with scale 1000 the encoded tax was up
  to $0.001 below the exact one and `tax <= budget` let the true tax exceed the budget by up to $0.012;
  at 1e-7 these were $0.0001 and $0.00003.
* the feasibility-jump heuristic returns points exactly at the tolerance edge, which HiGHS 1.16's final
  check then rejects ("MIP solver claims optimality, but with … primal infeasibilities", model status
  Solve error → cvxpy SolverError; HiGHS issues #2782/#2808): about 1 solve in 2,400 at any tolerance,
  none with it switched off.
"""


class StackingGap:
    """K(z) = F(z) − H(z) (dollars): what moving the stack boundary O to z costs, ordinary minus
    long-term schedule.

    The worksheet's stacked tax minus the all-ordinary tax is K(O) − K(T). K's slope is the ordinary
    rate minus the long-term rate; it is negative only where 15% exceeds the 12% bracket (from the 0%
    threshold to the top of the 12% bracket), which is what makes O non-monotone and the final min bind.
    """

    def __init__(self, ordinary: ConvexPiecewise, long_term: ConvexPiecewise) -> None:
        self.F, self.H = ordinary, long_term
        self.kinks = tuple(sorted({*ordinary.breakpoints, *long_term.breakpoints}))

    def value(self, z: float) -> float:
        return self.F.value(z) - self.H.value(z)

    def falls_within(self, lo: float, hi: float) -> bool:
        """Whether K decreases somewhere in (lo, hi)."""
        points = [lo, *(k for k in self.kinks if lo < k < hi), hi]
        return any(self.F.rate_at(a) < self.H.rate_at(a) for a in points[:-1] if a < hi)

    def largest_change(self, o_lo: float, o_hi: float, t_hi: float, sign: int) -> float:
        """max of sign × (K(o) − K(t)) over o in [o_lo, o_hi], t in [o, t_hi], and at least 0.

        sign +1: how far K can fall from O to T (stacked − all-ordinary tax); −1: how far it can rise.
        K is piecewise linear, so the extremes sit at kinks or ends.
        """
        points = sorted({o_lo, o_hi, t_hi, *(k for k in self.kinks if o_lo < k < t_hi)})
        values = {z: self.value(z) for z in points}
        return max(
            (sign * (values[o] - values[t]) for o in points if o <= o_hi for t in points if t >= o),
            default=0.0,
        )


class NettingBlock:
    """Schedule D netting as two relaxed quantities (scaled units).

    ordinary_capital Oc ≥ max(−limit, min(N, max(S, 0)))  — the capital result taxed at ordinary rates;
    preferential_gain Lp ≥ max(0, min(L, N))             — worksheet line 9 (before dividends).
    Oc + Lp = max(N, −limit) at their minima. A sign of S, L or N fixed by the bounds removes the binary.
    """

    def __init__(self, m: Model, short: Bounded, long: Bounded, limit: float) -> None:
        self.short, self.long, self.limit = short, long, limit
        self.total = short + long
        self.preferential_gain = self._preferential(m)
        self.ordinary_capital = self._ordinary(m)
        self._tighten(m)

    def _tighten(self, m: Model) -> None:
        """Valid inequalities that only cut off fractional netting choices (LP relaxation).

        Oc + Lp ≥ N (their sum is max(N, −limit)); Lp ≥ L + chord of min(0, S) and Oc ≥ S + chord of
        min(0, L) over the bounds: min(L, N) = L + min(0, S) and min(N, S⁺) ≥ S + min(0, L), and the
        concave min(0, ·) lies above its chord. The true (Oc, Lp) satisfy them, so exactness is kept.
        """
        oc, lp, s, lt, n = self.ordinary_capital, self.preferential_gain, self.short, self.long, self.total
        if oc.is_fixed and lp.is_fixed:
            return
        m.at_least(oc.expr + lp.expr, n.expr)
        if not lp.is_fixed and s.lo < 0 < s.hi:
            m.at_least(lp.expr, lt.expr + _chord_of_min_zero(s))
        if not oc.is_fixed and lt.lo < 0 < lt.hi:
            m.at_least(oc.expr, s.expr + _chord_of_min_zero(lt))

    def _preferential(self, m: Model) -> Bounded:
        s, lt, n = self.short, self.long, self.total
        zero = Bounded.constant(0.0)
        if lt.hi <= 0 or n.hi <= 0:
            return zero
        if s.lo >= 0:  # min(L, N) = L
            return relaxed_max(m, "pref_gain", [zero, lt])
        if s.hi <= 0:  # min(L, N) = N
            return relaxed_max(m, "pref_gain", [zero, n])
        hi = max(0.0, min(lt.hi, n.hi))
        return relaxed_max_of_min(m, "pref_gain", [zero], [lt], [n], hi)

    def _ordinary(self, m: Model) -> Bounded:
        s, lt, n = self.short, self.long, self.total
        floor = Bounded.constant(-self.limit)
        zero = Bounded.constant(0.0)
        if n.hi <= -self.limit:
            return floor
        hi = max(-self.limit, min(n.hi, max(s.hi, 0.0)))
        if lt.hi <= 0:  # N ≤ S ≤ S⁺
            return relaxed_max(m, "ord_capital", [floor, n])
        if s.lo >= 0 and lt.lo >= 0:  # min(N, S) = S
            return relaxed_max(m, "ord_capital", [floor, s])
        if s.hi <= 0:  # min(N, 0)
            if n.hi <= 0:
                return relaxed_max(m, "ord_capital", [floor, n])
            if n.lo >= 0:
                return zero
            return relaxed_max_of_min(m, "ord_capital", [floor], [n], [zero], hi)
        return relaxed_max_of_min(m, "ord_capital", [floor], [n], [s, zero], hi)


def _chord_of_min_zero(z: Bounded) -> Affine:
    """The chord of the concave min(0, z) over [z.lo < 0 < z.hi], below it everywhere:
    z.lo · (z.hi − z) / (z.hi − z.lo)."""
    return z.lo * (z.hi - z.expr) / (z.hi - z.lo)


class RegularTaxBlock:
    """Regular income tax min(F(O) − H(O) + H(T), F(T)) with the long-term stack on ordinary income.

    ordinary_raw O_raw = W − D + Oc and preferential_raw P_raw = Q + Lp (scaled). Exposes `tax`, the
    ordinary stack `ordinary` (O) and `taxable` (T, relaxed from above: everything grows with T).
    """

    def __init__(
        self,
        m: Model,
        ordinary_raw: Bounded,
        preferential_raw: Bounded,
        ordinary: ConvexPiecewise,
        long_term: ConvexPiecewise,
        scale: float,
    ) -> None:
        self.scale = scale
        self.F, self.H = ordinary, long_term
        self.gap = StackingGap(ordinary, long_term)
        self.ordinary, o_relaxed = self._ordinary_stack(m, ordinary_raw)
        stack_terms = [ordinary_raw + preferential_raw, Bounded.constant(0.0)]
        if o_relaxed:
            stack_terms.append(self.ordinary)  # keeps T ≥ O when O may sit above its true value
        self.taxable = relaxed_max(m, "taxable", stack_terms)
        self.tax = self._tax(m)

    def _ordinary_stack(self, m: Model, raw: Bounded) -> tuple[Bounded, bool]:
        """O = max(0, O_raw): pinned when it must be, relaxed where the tax is nondecreasing in O."""
        if raw.lo >= 0 or raw.hi <= 0:
            return pinned_relu(m, "ord_stack", raw), False
        if self.gap.falls_within(0.0, raw.hi * self.scale):
            return pinned_relu(m, "ord_stack", raw), False
        return relaxed_max(m, "ord_stack", [raw, Bounded.constant(0.0)]), True

    def _long_term_below(self, m: Model) -> Affine:
        """hO ≤ H(O): H(O) = Σ_j (rate_j − rate_{j−1}) max(0, O − B_j), each kink from above."""
        o, total = self.ordinary, 0.0
        rates = self.H.rates
        for j, threshold in enumerate(self.H.breakpoints):
            excess = relu_from_above(m, f"lt_excess{j}", o.shift(-threshold / self.scale))
            total = total + (rates[j + 1] - rates[j]) * excess.expr
        return total

    def _tax(self, m: Model) -> Affine:
        o, t, sc = self.ordinary, self.taxable, self.scale
        stacked = (
            convex_epigraph(m, "ord_tax_O", self.F, o, sc)
            - self._long_term_below(m)
            + convex_epigraph(m, "lt_tax_T", self.H, t, sc)
        )
        fall = self.gap.largest_change(o.lo * sc, o.hi * sc, t.hi * sc, +1) / sc
        if fall <= 0:
            return stacked  # F(T) ≥ stacked everywhere on the range: the worksheet's min never binds
        rise = self.gap.largest_change(o.lo * sc, o.hi * sc, t.hi * sc, -1) / sc
        all_ordinary = convex_epigraph(m, "ord_tax_T", self.F, t, sc)
        regular = m.var("regular_tax")
        mu = m.boolean("all_ordinary")
        # μ = 0: regular ≥ stacked; μ = 1: regular ≥ F(T). The big-Ms are the largest values of
        # stacked − F(T) = K(O) − K(T) and of its negative over the ranges.
        m.at_least(regular, stacked - fall * mu)
        m.at_least(regular, all_ordinary - rise * (1 - mu))
        return regular


class CarryforwardBlock:
    """Next year's loss carryforwards, pinned (scaled units).

    With limE = min(limit, max(0, W + Q − D)) (the part of the loss allowance that can reduce taxable
    income), the Capital Loss Carryover Worksheet reduces to
        total = max(0, −N − limE),  short = max(0, −max(S, N) − limE) = max(0, −(S + L⁺) − limE),
        long = total − short.
    """

    def __init__(self, m: Model, netting: NettingBlock, usable_allowance: float) -> None:
        s, lt, n = netting.short, netting.long, netting.total
        total = pinned_relu(m, "cf_total", (-n).shift(-usable_allowance))
        long_gain = pinned_relu(m, "cf_long_gain", lt)
        short = pinned_relu(m, "cf_short", (-(s + long_gain)).shift(-usable_allowance))
        self.short: Affine = short.expr
        self.long: Affine = total.expr - short.expr


class CapitalGainsTaxEncoding:
    """The exact full-year tax (federal + state, `scale` dollars) of a plan's extra realized gains.

    situation: the base year (ordinary income, realized-so-far results, carryforwards ...).
    extra_short, extra_long: cvxpy affine expressions, the plan's extra short-/long-term results in
        `scale` dollars (losses negative).
    short_bounds, long_bounds: finite (lo, hi) for them, same units; they are added as constraints, and
        every big-M is derived from them — tight bounds give a tight model.
    pin_carryforwards: also build carryforward_short_next / carryforward_long_next (exact at every
        feasible point; up to three more binaries).

    Attributes: constraints (list to add to the problem), tax (cvxpy expression), binaries (count),
    base_tax (tax without trades, scaled), carryforward_short_next / carryforward_long_next.
    """

    def __init__(
        self,
        situation: TaxSituation,
        extra_short: Affine,
        extra_long: Affine,
        short_bounds: tuple[float, float],
        long_bounds: tuple[float, float],
        scale: float = 1000.0,
        *,
        pin_carryforwards: bool = False,
        name: str = "tax_",
    ) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        for label, (lo, hi) in (("short_bounds", short_bounds), ("long_bounds", long_bounds)):
            if not (abs(lo) < float("inf") and abs(hi) < float("inf")) or lo > hi:
                raise ValueError(f"{label} must be finite with lo <= hi, got {(lo, hi)}")
        self.situation = situation
        self.scale = scale
        self._model = Model(name)
        self.base_tax = evaluate_tax(situation).total_tax / scale
        self._bound(extra_short, short_bounds)
        self._bound(extra_long, long_bounds)
        short = Bounded(extra_short, *short_bounds).shift(situation.net_short / scale)
        long = Bounded(extra_long, *long_bounds).shift(situation.net_long / scale)
        self._carry: CarryforwardBlock | None = None
        self.pin_carryforwards = pin_carryforwards
        self._netting = NettingBlock(self._model, short, long, situation.loss_limit / scale)
        tax = self._flat_tax() if situation.is_flat else self._bracket_tax()
        self.tax: cp.Expression = _expression(tax)

    @property
    def constraints(self) -> list[cp.Constraint]:
        return self._model.constraints

    @property
    def binaries(self) -> int:
        return self._model.binaries

    @property
    def carryforward_short_next(self) -> cp.Expression:
        return _expression(self._carried().short)

    @property
    def carryforward_long_next(self) -> cp.Expression:
        return _expression(self._carried().long)

    def _carried(self) -> CarryforwardBlock:
        if self._carry is None:
            raise RuntimeError(
                "carryforwards are pinned only with CapitalGainsTaxEncoding(..., pin_carryforwards=True)"
            )
        return self._carry

    def _pin_carryforwards(self) -> None:
        """The carryforward rows, when asked for. usable: the dollars of the loss allowance that can
        reduce taxable income (the worksheet's line 4 at most), min(limit, max(0, W − D + Q)); all of it
        in flat mode (see evaluate.py)."""
        if not self.pin_carryforwards:
            return
        s = self.situation
        usable = (
            s.loss_limit
            if s.is_flat
            else min(s.loss_limit, max(0.0, s.ordinary_income - s.deduction_amount + s.qualified_dividends))
        )
        self._carry = CarryforwardBlock(self._model, self._netting, usable / self.scale)

    def _bound(self, expr: Affine, bounds: tuple[float, float]) -> None:
        if isinstance(expr, cp.Expression) and expr.variables():
            lo, hi = bounds
            self._model.constraints += [expr >= lo, expr <= hi]

    def _flat_tax(self) -> Affine:
        """(r_st + state) × Oc + (r_lt + state) × Lp: nondecreasing in both, so the relaxed netting is exact."""
        s, netting = self.situation, self._netting
        assert s.flat_rates is not None
        rate_short, rate_long = s.flat_rates
        self._pin_carryforwards()
        return (rate_short + s.state_rate) * netting.ordinary_capital.expr + (
            rate_long + s.state_rate
        ) * netting.preferential_gain.expr

    def _bracket_tax(self) -> Affine:
        s, sc, m, netting = self.situation, self.scale, self._model, self._netting
        table = s.table
        income = s.ordinary_income - s.deduction_amount
        regular = RegularTaxBlock(
            m,
            netting.ordinary_capital.shift(income / sc),
            netting.preferential_gain.shift(s.qualified_dividends / sc),
            ConvexPiecewise.from_schedule(table.ordinary),
            ConvexPiecewise.from_schedule(table.long_term),
            sc,
        )
        # NIIT = rate × max(0, NII + min(0, MAGI − NII − threshold)); MAGI − NII = W − I is fixed.
        non_investment_room = min(0.0, s.ordinary_income - s.other_investment_income - table.niit.threshold)
        base = (s.other_investment_income + s.qualified_dividends + non_investment_room) / sc
        capital = netting.ordinary_capital + netting.preferential_gain
        niit_base = relaxed_max(m, "niit_base", [capital.shift(base), Bounded.constant(0.0)])
        self._pin_carryforwards()  # after the NIIT rows: the model's row order as it has always been
        return regular.tax + table.niit.rate * niit_base.expr + s.state_rate * regular.taxable.expr


def _expression(value: Affine) -> cp.Expression:
    """A cvxpy expression even where the bounds made the quantity a plain number."""
    return value if isinstance(value, cp.Expression) else cp.Constant(float(value))
