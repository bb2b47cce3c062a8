"""The MILP encoding against the exact evaluator, and optimizations whose answer needs its binaries.

Solves use HiGHS with HIGHS_OPTIONS and warm_start=False: cvxpy's default warm start hands HiGHS 1.16
the previous solution as a MIP start, and after a parameter change HiGHS then returned that stale
start, with its objective, as "optimal" (reproduced on these models; see docs/tax.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import cvxpy as cp
import numpy as np
import pytest

from rebal_opt.models.tax_tables import FILING_STATUSES
from rebal_opt.solver.tax import (
    HIGHS_OPTIONS,
    CapitalGainsTaxEncoding,
    TaxSituation,
    evaluate_tax,
    tax_with_gains,
)

SCALE = 1000.0
CENT = 0.01


def solve(problem: cp.Problem) -> float:
    problem.solve(solver=cp.HIGHS, warm_start=False, **HIGHS_OPTIONS)
    assert problem.status == cp.OPTIMAL, problem.status
    return float(problem.value)


@dataclass(frozen=True)
class Case:
    """A base situation, bounds for the plan's extra results (scaled), and points inside them."""

    situation: TaxSituation
    short_bounds: tuple[float, float]
    long_bounds: tuple[float, float]
    points: tuple[tuple[float, float], ...]


FLAT_RATES = ((0.35, 0.2), (0.24, 0.15), (0.37, 0.238), (0.12, 0.0), (0.0, 0.0))


def random_cases(n: int, points: int, seed: int, *, flat: bool = False) -> Iterator[Case]:
    """Every status, 2025–2027, ordinary income from 0 to 1.5M, realized results and carryforwards of
    both signs, dividends, NIIT-region incomes, state tax, flat rates; bounds from tight to ±$1M.

    flat: every case in flat-rates mode (rates from FLAT_RATES or random, years from 2020)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        income = float(rng.choice([0.0, rng.uniform(0, 80_000), rng.uniform(0, 400_000), rng.uniform(0, 1_500_000)]))
        situation = TaxSituation(
            filing_status=FILING_STATUSES[i % 4],
            year=int(rng.choice([2025, 2026, 2027])),
            ordinary_income=round(income, 2),
            other_investment_income=round(income * float(rng.choice([0.0, rng.uniform(0, 0.3)])), 2),
            qualified_dividends=float(rng.choice([0.0, round(rng.uniform(0, 30_000), 2)])),
            deduction=round(float(rng.uniform(10_000, 60_000)), 2) if rng.random() < 0.2 else None,
            short_term=float(rng.choice([0.0, round(rng.uniform(-30_000, 30_000), 2)])),
            long_term=float(rng.choice([0.0, round(rng.uniform(-30_000, 80_000), 2)])),
            carryforward_short=float(rng.choice([0.0, 0.0, round(rng.uniform(0, 40_000), 2)])),
            carryforward_long=float(rng.choice([0.0, 0.0, round(rng.uniform(0, 40_000), 2)])),
            state_rate=float(rng.choice([0.0, 0.0, 0.05])),
            flat_rates=(0.32, 0.15) if i % 25 == 24 else None,
        )
        width = float(rng.choice([20.0, 200.0, 1000.0]))
        short_bounds = tuple(sorted(rng.uniform(-width / 2, width, 2)))
        long_bounds = tuple(sorted(rng.uniform(-width / 2, width, 2)))
        inside = [(float(rng.uniform(*short_bounds)), float(rng.uniform(*long_bounds))) for _ in range(points)]
        corners = [(short_bounds[0], long_bounds[1]), (short_bounds[1], long_bounds[0])]
        if flat:  # drawn after the rest, so the bracket cases stay what they were
            pick = int(rng.integers(len(FLAT_RATES) + 1))
            rates = FLAT_RATES[pick] if pick < len(FLAT_RATES) else tuple(np.round(rng.uniform(0, 0.5, 2), 3))
            year = int(rng.choice([2020, 2025, 2026, 2031]))
            situation = replace(situation, flat_rates=rates, year=year)  # type: ignore[arg-type]
        yield Case(situation, short_bounds, long_bounds, tuple(corners + inside))  # type: ignore[arg-type]


class FixedPointProblem:
    """One compiled MILP per case: x == p_x, y == p_y (parameters), minimize the encoded tax."""

    def __init__(self, case: Case, pin_carryforwards: bool = False) -> None:
        self.x, self.y = cp.Variable(name="x"), cp.Variable(name="y")
        self.px, self.py = cp.Parameter(), cp.Parameter()
        self.encoding = CapitalGainsTaxEncoding(
            case.situation,
            self.x,
            self.y,
            case.short_bounds,
            case.long_bounds,
            SCALE,
            pin_carryforwards=pin_carryforwards,
        )
        fix = [self.x == self.px, self.y == self.py]
        self.constraints = self.encoding.constraints + fix
        self._problems: dict[tuple[int, str], cp.Problem] = {}

    def minimum(self, objective: cp.Expression, point: tuple[float, float], sense: str = "min") -> float:
        """The optimum at `point`; one compiled Problem per objective, re-solved with new parameters."""
        self.px.value, self.py.value = point
        key = (id(objective), sense)
        if key not in self._problems:
            goal = cp.Minimize(objective) if sense == "min" else cp.Maximize(objective)
            self._problems[key] = cp.Problem(goal, self.constraints)
        return solve(self._problems[key])


ENCODING_CASES = list(random_cases(50, points=10, seed=7))
FLAT_CASES = list(random_cases(25, points=10, seed=13, flat=True))


def case_id(case: Case) -> str:
    mode = "flat-" if case.situation.is_flat else ""
    return f"{mode}{case.situation.filing_status}-{case.situation.year}"


@pytest.mark.parametrize("case", ENCODING_CASES + FLAT_CASES, ids=case_id)
def test_encoded_tax_equals_evaluation(case: Case) -> None:
    fixed = FixedPointProblem(case)
    self_check = cp.Problem(cp.Minimize(fixed.encoding.tax), fixed.constraints)
    assert self_check.is_dcp() and self_check.is_dpp()
    for point in case.points:
        fixed.px.value, fixed.py.value = point
        encoded = solve(self_check) * SCALE
        exact = tax_with_gains(case.situation, point[0] * SCALE, point[1] * SCALE).total_tax
        assert encoded == pytest.approx(exact, abs=CENT), (case.situation, point)


def test_enough_fixed_points_and_few_binaries() -> None:
    assert sum(len(c.points) for c in ENCODING_CASES) >= 500
    binaries = [FixedPointProblem(c).encoding.binaries for c in ENCODING_CASES]
    assert max(binaries) <= 6
    assert sum(b > 0 for b in binaries) >= 25  # the cases do exercise the non-convex parts


PIN_CASES = list(random_cases(20, points=4, seed=11))
FLAT_PIN_CASES = list(random_cases(10, points=4, seed=17, flat=True))


@pytest.mark.parametrize("case", PIN_CASES + FLAT_PIN_CASES, ids=case_id)
def test_pinned_carryforwards_equal_the_worksheet(case: Case) -> None:
    """Min and max of each pinned carryforward at a fixed point are both the worksheet value, and the
    pinning leaves the encoded tax exact."""
    fixed = FixedPointProblem(case, pin_carryforwards=True)
    assert fixed.encoding.binaries <= (5 if case.situation.is_flat else 9)
    short, long = fixed.encoding.carryforward_short_next, fixed.encoding.carryforward_long_next
    for point in case.points:
        exact = tax_with_gains(case.situation, point[0] * SCALE, point[1] * SCALE)
        for expression, value in ((short, exact.carryforward_short_next), (long, exact.carryforward_long_next)):
            for sense in ("min", "max"):
                assert fixed.minimum(expression, point, sense) * SCALE == pytest.approx(value, abs=CENT)
        assert fixed.minimum(fixed.encoding.tax, point) * SCALE == pytest.approx(exact.total_tax, abs=CENT)


def test_flat_cases_exercise_the_netting() -> None:
    """The flat fixed points cross the netting cases: sign changes of S, L, N and the loss limit."""
    binaries = [FixedPointProblem(c).encoding.binaries for c in FLAT_CASES]
    assert max(binaries) <= 2
    assert sum(b > 0 for b in binaries) >= 8
    limited = 0
    for case in FLAT_CASES:
        for x, y in case.points:
            r = tax_with_gains(case.situation, x * SCALE, y * SCALE)
            limited += r.carryforward_short_next + r.carryforward_long_next > 0
    assert limited >= 50


def grid_case(situation: TaxSituation, steps: tuple[float, ...]) -> Case:
    """Bounds ±10 (k$) around zero nets, and every pair of steps: each netting case, inside the limit
    and beyond it, with both signs of S, L and N (the random cases rarely land on small net losses)."""
    points = tuple((x, y) for x in steps for y in steps)
    return Case(situation, (-10.0, 10.0), (-10.0, 10.0), points)


@pytest.mark.parametrize("status", ["single", "married_separate"])
def test_flat_encoding_on_a_grid_across_every_netting_case(status: str) -> None:
    case = grid_case(TaxSituation(status, 2026, flat_rates=(0.35, 0.2), state_rate=0.05), (-8, -1, -0.5, 0, 0.5, 1, 8))
    fixed = FixedPointProblem(case)
    assert fixed.encoding.binaries == 2
    for point in case.points:
        exact = tax_with_gains(case.situation, point[0] * SCALE, point[1] * SCALE).total_tax
        assert fixed.minimum(fixed.encoding.tax, point) * SCALE == pytest.approx(exact, abs=CENT), point


def test_flat_pinned_carryforwards_on_a_grid() -> None:
    case = grid_case(TaxSituation("single", 2020, flat_rates=(0.24, 0.15)), (-8, -1, 0.5, 8))
    test_pinned_carryforwards_equal_the_worksheet(case)


class Plan:
    """x, y as free variables within bounds (scaled), with the encoding of one base situation."""

    def __init__(
        self, situation: TaxSituation, short_bounds: tuple[float, float], long_bounds: tuple[float, float]
    ) -> None:
        self.x, self.y = cp.Variable(name="x"), cp.Variable(name="y")
        self.encoding = CapitalGainsTaxEncoding(situation, self.x, self.y, short_bounds, long_bounds)
        self.base_tax = evaluate_tax(situation).total_tax / SCALE

    def argmax(self, objective: cp.Expression, budget: float) -> tuple[float, float]:
        """Maximize objective s.t. tax ≤ tax without trades + budget (dollars); (x, y) in dollars."""
        limit = [self.encoding.tax <= self.base_tax + budget / SCALE]
        solve(cp.Problem(cp.Maximize(objective), self.encoding.constraints + limit))
        return float(self.x.value) * SCALE, float(self.y.value) * SCALE


def test_t6_zero_percent_band_is_filled_exactly() -> None:
    """Joint 2025, $80k wages: 48,200 of long-term gain costs $0, the next dollars 15%."""
    plan = Plan(TaxSituation("married_joint", 2025, ordinary_income=80_000), (0, 0), (0, 200))
    # With the ordinary stack fixed, the tax is convex in the long-term gain (0%, then 15%): rows only.
    assert plan.encoding.binaries == 0
    _, long = plan.argmax(plan.y, budget=0.0)
    assert long == pytest.approx(48_200, abs=1.0)
    _, long = plan.argmax(plan.y, budget=150.0)
    assert long == pytest.approx(49_200, abs=1.0)


def test_t5_single_zero_percent_band() -> None:
    plan = Plan(TaxSituation("single", 2025, ordinary_income=40_000), (0, 0), (0, 100))
    _, long = plan.argmax(plan.y, budget=0.0)
    assert long == pytest.approx(24_100, abs=1.0)


def test_short_term_loss_shelters_long_term_gain_up_to_its_size() -> None:
    """With up to $20k of short-term loss available, long-term gain is free up to $20k: beyond the
    3,000 the loss is worth nothing this year, below N = 0 it offsets gain first."""
    plan = Plan(TaxSituation("single", 2025, ordinary_income=150_000), (-20, 0), (0, 100))
    short, long = plan.argmax(plan.y, budget=0.0)
    assert long == pytest.approx(20_000, abs=1.0)
    assert short == pytest.approx(-20_000, abs=1.0)


def test_realized_loss_shelters_long_term_gain_until_the_limit_stops_binding() -> None:
    """$20k of short-term loss already realized: the first 17k of long-term gain only eats loss the
    3,000 limit would have carried forward anyway, so it is free; the next dollars cost 24%."""
    plan = Plan(TaxSituation("single", 2025, ordinary_income=150_000, short_term=-20_000), (0, 0), (0, 100))
    _, long = plan.argmax(plan.y, budget=0.0)
    assert long == pytest.approx(17_000, abs=1.0)
    _, long = plan.argmax(plan.y, budget=240.0)
    assert long == pytest.approx(18_000, abs=1.0)


def test_harvesting_stops_at_the_loss_limit() -> None:
    """Harvesting short-term loss saves 24% up to the 3,000 limit and nothing after: with a tiny cost
    per dollar harvested the optimum harvests exactly 3,000."""
    plan = Plan(TaxSituation("single", 2025, ordinary_income=150_000), (-50, 0), (0, 0))
    solve(cp.Problem(cp.Minimize(plan.encoding.tax - 1e-4 * plan.x), plan.encoding.constraints))
    assert float(plan.x.value) * SCALE == pytest.approx(-3_000, abs=1.0)
    assert plan.encoding.tax.value * SCALE == pytest.approx(
        tax_with_gains(TaxSituation("single", 2025, ordinary_income=150_000), -3_000, 0).total_tax, abs=CENT
    )


def test_short_term_gain_at_27_percent_where_it_pushes_gains_out_of_the_zero_band() -> None:
    """Single 2025, $50k wages, $20k long-term gain: each short-term dollar costs 12% + 15% = 27%,
    then 12% again above the 0% threshold — a concave kink, so a binary."""
    plan = Plan(TaxSituation("single", 2025, ordinary_income=50_000, long_term=20_000), (0, 50), (0, 0))
    assert plan.encoding.binaries >= 1
    short, _ = plan.argmax(plan.x, budget=270.0)
    assert short == pytest.approx(1_000, abs=1.0)
    # 14,100 at 27% (3,807) and the next 125 at 12% (15) before the 22% bracket.
    short, _ = plan.argmax(plan.x, budget=3_807.0 + 15.0)
    assert short == pytest.approx(14_225, abs=1.0)


def test_the_worksheet_min_with_all_ordinary_tax() -> None:
    """Joint 2026 with the stack just under the 0% threshold: where 15% exceeds the 12% bracket the
    worksheet takes the ordinary tax on everything (its final "smaller of" line); the encoding needs
    that min to reproduce it for every split between short- and long-term results."""
    situation = TaxSituation("married_joint", 2026, ordinary_income=32_200 + 98_000)
    plan = Plan(situation, (-5, 5), (0, 5))
    assert plan.encoding.binaries >= 2
    for short, long in ((0, 1_500), (500, 1_500), (1_000, 800), (-2_000, 4_000)):
        fixed = [plan.x == short / SCALE, plan.y == long / SCALE]
        encoded = solve(cp.Problem(cp.Minimize(plan.encoding.tax), plan.encoding.constraints + fixed))
        assert encoded * SCALE == pytest.approx(tax_with_gains(situation, short, long).total_tax, abs=CENT)


def test_flat_rates_without_a_netting_choice_need_no_binaries() -> None:
    """Both nets stay gains on the bounds: the flat tax is linear, (r + state) per dollar."""
    situation = TaxSituation("single", 2020, short_term=1_000, flat_rates=(0.35, 0.15), state_rate=0.05)
    plan = Plan(situation, (0, 10), (0, 10))
    assert plan.encoding.binaries == 0
    solve(cp.Problem(cp.Minimize(plan.encoding.tax), [*plan.encoding.constraints, plan.x == 2, plan.y == 3]))
    assert plan.encoding.tax.value * SCALE == pytest.approx(0.40 * 3_000 + 0.20 * 3_000)


def test_flat_harvesting_stops_at_the_loss_limit() -> None:
    """At flat rates too, a loss beyond the 3,000 limit is worth nothing this year: with a tiny cost per
    dollar harvested the optimum harvests exactly 3,000 (the old linear flat tax harvested all 50,000)."""
    situation = TaxSituation("single", 2020, flat_rates=(0.35, 0.2))
    plan = Plan(situation, (-50, 0), (-50, 0))
    solve(cp.Problem(cp.Minimize(plan.encoding.tax - 1e-4 * (plan.x + plan.y)), plan.encoding.constraints))
    assert float(plan.x.value + plan.y.value) * SCALE == pytest.approx(-3_000, abs=1.0)
    assert plan.encoding.tax.value * SCALE == pytest.approx(-1_050.0, abs=CENT)


def test_flat_short_term_loss_shelters_long_term_gain_at_the_long_term_rate() -> None:
    """$10k of short-term loss already realized: the first 7,000 of long-term gain only eats loss the
    limit would carry forward (free), the next 3,000 give back the deduction at 35%, then 20%."""
    situation = TaxSituation("single", 2026, short_term=-10_000, flat_rates=(0.35, 0.2))
    plan = Plan(situation, (0, 0), (0, 100))
    _, long = plan.argmax(plan.y, budget=0.0)
    assert long == pytest.approx(7_000, abs=1.0)
    _, long = plan.argmax(plan.y, budget=1_050.0 + 0.2 * 1_000)
    assert long == pytest.approx(11_000, abs=1.0)


def test_flat_pinned_carryforwards_chain_into_next_year() -> None:
    """Year-end planning's chain in flat mode: harvesting 20,000 of short-term loss now uses 3,000 this
    year and carries 17,000 into next year, where it shelters next year's 17,000 of long-term gain."""
    situation = TaxSituation("single", 2026, flat_rates=(0.35, 0.2))
    x = cp.Variable()
    current = CapitalGainsTaxEncoding(situation, x, 0.0, (-20, 0), (0, 0), pin_carryforwards=True)
    following = CapitalGainsTaxEncoding(
        replace(situation, year=2027, long_term=17_000),
        -current.carryforward_short_next,
        -current.carryforward_long_next,
        (-20, 0),
        (-20, 0),
    )
    problem = cp.Problem(
        cp.Minimize(current.tax + following.tax), [*current.constraints, *following.constraints, x == -20]
    )
    assert solve(problem) * SCALE == pytest.approx(-1_050.0, abs=CENT)
    assert current.carryforward_short_next.value * SCALE == pytest.approx(17_000, abs=CENT)
    assert following.tax.value * SCALE == pytest.approx(0.0, abs=CENT)


def test_constant_extra_results_are_accepted() -> None:
    situation = TaxSituation("single", 2025, ordinary_income=100_000)
    y = cp.Variable()
    encoding = CapitalGainsTaxEncoding(situation, 0.0, y, (0, 0), (0, 50))
    solve(cp.Problem(cp.Minimize(encoding.tax), [*encoding.constraints, y == 20]))
    assert encoding.tax.value * SCALE == pytest.approx(16_449.0, abs=CENT)
    fixed = CapitalGainsTaxEncoding(situation, 0.0, 0.0, (0, 0), (0, 0), pin_carryforwards=True)
    assert isinstance(fixed.tax, cp.Expression)
    assert fixed.tax.value * SCALE == pytest.approx(evaluate_tax(situation).total_tax)
    assert fixed.binaries == 0 and fixed.constraints == []


def test_unpinned_carryforwards_are_refused() -> None:
    encoding = CapitalGainsTaxEncoding(TaxSituation("single", 2025), cp.Variable(), cp.Variable(), (-1, 1), (-1, 1))
    with pytest.raises(RuntimeError, match="pin_carryforwards=True"):
        _ = encoding.carryforward_short_next


@pytest.mark.parametrize("bounds", [(-np.inf, 1.0), (2.0, 1.0)])
def test_bounds_must_be_finite_and_ordered(bounds: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="short_bounds"):
        CapitalGainsTaxEncoding(TaxSituation("single", 2025), cp.Variable(), cp.Variable(), bounds, (0, 1))


@pytest.mark.parametrize("scale", [1.0, 100.0, 10_000.0])
def test_other_scales(scale: float) -> None:
    situation = TaxSituation(
        "married_joint",
        2026,
        ordinary_income=120_000,
        short_term=-8_000,
        carryforward_long=2_000,
        qualified_dividends=3_000,
    )
    x, y = cp.Variable(), cp.Variable()
    span = 300_000 / scale
    encoding = CapitalGainsTaxEncoding(situation, x, y, (-span, span), (-span, span), scale)
    for dx, dy in ((0, 0), (-20_000, 90_000), (12_345.67, -4_000), (150_000, 250_000)):
        problem = cp.Problem(cp.Minimize(encoding.tax), [*encoding.constraints, x == dx / scale, y == dy / scale])
        assert solve(problem) * scale == pytest.approx(tax_with_gains(situation, dx, dy).total_tax, abs=CENT)
