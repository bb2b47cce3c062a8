"""Flat-rates mode: Schedule D netting, the capital-loss limit and the carryover worksheet at flat rates.

The oracle below is written independently of solver/tax/evaluate.py, case by case as the Schedule D
instructions read (both nets gains, one a loss, a net loss limited to 3,000 / 1,500 and carried over
with its character), in exact rational arithmetic; the hand-computed vectors come from the same
instructions and us-tax.md's C1–C3.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_opt.models.tax_tables import FILING_STATUSES
from rebal_opt.solver.tax import TaxSituation, evaluate_tax

CENT = 0.01
RATES = (0.35, 0.20)


@dataclass(frozen=True)
class FlatScheduleD:
    """What the forms say for a flat-rate household (dollars)."""

    federal: Fraction
    state: Fraction
    carry_short: Fraction
    carry_long: Fraction


def schedule_d_flat(s: TaxSituation) -> FlatScheduleD:
    """Schedule D and its Capital Loss Carryover Worksheet, one case at a time, at flat rates.

    The flat ordinary rate stands for the household's income, so the worksheet's taxable income
    (line 1) is taken as large: the whole deducted loss is used this year (line 4 = line 2).
    """
    assert s.flat_rates is not None
    r_st, r_lt = (Fraction(r) for r in s.flat_rates)
    state_rate = Fraction(s.state_rate)
    limit = Fraction(1_500 if s.filing_status == "married_separate" else 3_000)
    short = Fraction(s.short_term) - Fraction(s.carryforward_short)  # Part I, line 7
    long = Fraction(s.long_term) - Fraction(s.carryforward_long)  # Part II, line 15
    net = short + long  # line 16
    zero = Fraction(0)
    at_ordinary, at_long_rate = zero, zero
    carry_short, carry_long = zero, zero
    if net >= 0:
        if short >= 0 and long >= 0:  # both gains: each keeps its character
            at_ordinary, at_long_rate = short, long
        elif short < 0:  # short-term loss absorbed by the long-term gain: the rest is long-term
            at_long_rate = net
        else:  # long-term loss absorbed by the short-term gain: the rest is short-term
            at_ordinary = net
    else:  # line 21: the smaller of the loss and the limit offsets ordinary income
        deducted = min(-net, limit)
        at_ordinary = -deducted
        if short < 0 and long < 0:  # worksheet: the deduction uses short-term loss first
            carry_short = max(zero, -short - deducted)
            carry_long = -long - max(zero, deducted + short)
        elif short < 0:  # the long-term gain (if any) first absorbed part of the short-term loss
            carry_short = -net - deducted
        else:
            carry_long = -net - deducted
    capital = at_ordinary + at_long_rate
    return FlatScheduleD(
        federal=r_st * at_ordinary + r_lt * at_long_rate,
        state=state_rate * capital,
        carry_short=carry_short,
        carry_long=carry_long,
    )


def flat(
    short: float = 0.0,
    long: float = 0.0,
    *,
    status: str = "single",
    year: int = 2026,
    rates: tuple[float, float] = RATES,
    **kwargs: float,
) -> TaxSituation:
    return TaxSituation(status, year, short_term=short, long_term=long, flat_rates=rates, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "situation", "federal", "carry_short", "carry_long"),
    [
        # The case: a 50,000 long-term loss was worth 10,000 this year; 3,000 at 35% now.
        ("50k long-term loss", flat(long=-50_000), -1_050.0, 0.0, 47_000.0),
        ("50k short-term loss", flat(-50_000), -1_050.0, 47_000.0, 0.0),
        ("ST loss against a larger LT gain", flat(-5_000, 10_000), 0.20 * 5_000, 0.0, 0.0),
        ("LT loss against a larger ST gain", flat(10_000, -4_000), 0.35 * 6_000, 0.0, 0.0),
        ("both gains", flat(2_000, 7_000), 0.35 * 2_000 + 0.20 * 7_000, 0.0, 0.0),
        ("C1: ST loss beyond an LT gain", flat(-10_000, 2_000), -1_050.0, 5_000.0, 0.0),
        ("C2: both losses", flat(-2_000, -5_000), -1_050.0, 0.0, 4_000.0),
        ("C3: LT loss beyond an ST gain", flat(4_000, -10_000), -1_050.0, 0.0, 3_000.0),
        ("both small losses", flat(-1_000, -1_000), -0.35 * 2_000, 0.0, 0.0),
        ("exactly the limit", flat(-3_000), -1_050.0, 0.0, 0.0),
        ("married separately", flat(-10_000, status="married_separate"), -0.35 * 1_500, 8_500.0, 0.0),
        ("carryforward in", flat(long=20_000, carryforward_short=5_000), 0.20 * 15_000, 0.0, 0.0),
        (
            "carryforwards beyond the year",
            flat(1_000, carryforward_short=4_000, carryforward_long=9_000),
            -1_050.0,
            0.0,
            9_000.0,
        ),
        ("year before the first table", flat(-50_000, year=2020), -1_050.0, 47_000.0, 0.0),
    ],
)
def test_hand_computed_vectors(
    name: str, situation: TaxSituation, federal: float, carry_short: float, carry_long: float
) -> None:
    result = evaluate_tax(situation)
    assert result.mode == "flat"
    assert result.federal_tax == pytest.approx(federal, abs=CENT)
    assert result.carryforward_short_next == pytest.approx(carry_short, abs=CENT)
    assert result.carryforward_long_next == pytest.approx(carry_long, abs=CENT)
    assert result.niit == 0.0


def test_state_tax_follows_the_capital_result_in_agi() -> None:
    result = evaluate_tax(flat(-50_000, state_rate=0.05))
    assert result.state_tax == pytest.approx(-150.0)
    assert result.total_tax == pytest.approx(-1_200.0)
    assert result.taxable_income == pytest.approx(-3_000.0)  # the capital result C, the state's base here
    assert evaluate_tax(flat(-4_000, 9_000, state_rate=0.05)).state_tax == pytest.approx(250.0)


def test_marginal_rates_follow_the_netting() -> None:
    # Beyond the limit another dollar of gain only shrinks the carryforward: nothing this year.
    beyond = evaluate_tax(flat(-50_000))
    assert (beyond.marginal_short, beyond.marginal_long) == (0.0, 0.0)
    # A short-term dollar against a short-term loss sheltering a long-term gain frees a long-term dollar.
    sheltered = evaluate_tax(flat(-5_000, 10_000, state_rate=0.05))
    assert (sheltered.marginal_short, sheltered.marginal_long) == (pytest.approx(0.25), pytest.approx(0.25))
    gains = evaluate_tax(flat(1_000, 1_000))
    assert (gains.marginal_short, gains.marginal_long) == (pytest.approx(0.35), pytest.approx(0.20))


@pytest.mark.parametrize("wages", [0.0, 10_000.0, 2_000_000.0])
def test_income_dividends_and_deduction_stay_out(wages: float) -> None:
    """The flat rates price them; the whole allowance is used whatever the income (unlike bracket mode's
    C4, where $10,000 of wages leave nothing for the loss to reduce and all of it carries)."""
    plain = evaluate_tax(flat(-5_000))
    other = evaluate_tax(flat(-5_000, ordinary_income=wages, qualified_dividends=40_000, deduction=90_000))
    assert other.total_tax == plain.total_tax == pytest.approx(-1_050.0)
    assert other.carryforward_short_next == plain.carryforward_short_next == pytest.approx(2_000.0)
    assert other.loss_benefit_used == other.allowed_loss == 3_000.0


cents = st.integers(min_value=-40_000_000, max_value=40_000_000).map(lambda c: c / 100)
carried = st.sampled_from([0.0, 0.0]) | st.integers(0, 8_000_000).map(lambda c: c / 100)
rate = st.integers(0, 99).map(lambda r: r / 100)


@st.composite
def flat_situations(draw: st.DrawFn) -> TaxSituation:
    # Small amounts make the limit and the sign cases matter as often as large ones.
    amount = cents | st.integers(-800_000, 800_000).map(lambda c: c / 100)
    return TaxSituation(
        filing_status=draw(st.sampled_from(FILING_STATUSES)),
        year=draw(st.sampled_from([2019, 2025, 2026, 2030])),
        ordinary_income=draw(st.sampled_from([0.0, 85_000.0, 1_200_000.0])),
        short_term=draw(amount),
        long_term=draw(amount),
        carryforward_short=draw(carried),
        carryforward_long=draw(carried),
        state_rate=draw(st.sampled_from([0.0, 0.05, 0.133])),
        flat_rates=(draw(rate), draw(rate)),
    )


@settings(max_examples=400, deadline=None)
@given(flat_situations())
def test_evaluation_equals_the_case_by_case_oracle(s: TaxSituation) -> None:
    result = evaluate_tax(s)
    oracle = schedule_d_flat(s)
    assert result.federal_tax == pytest.approx(float(oracle.federal), abs=1e-6)
    assert result.state_tax == pytest.approx(float(oracle.state), abs=1e-6)
    assert result.total_tax == pytest.approx(float(oracle.federal + oracle.state), abs=1e-6)
    assert result.carryforward_short_next == pytest.approx(float(oracle.carry_short), abs=1e-6)
    assert result.carryforward_long_next == pytest.approx(float(oracle.carry_long), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(flat_situations())
def test_no_loss_is_lost_or_created(s: TaxSituation) -> None:
    """Every net loss is deducted this year (up to the limit) or carried forward; never both."""
    r = evaluate_tax(s)
    net = r.net_short_term + r.net_long_term
    assert r.allowed_loss == r.loss_benefit_used == pytest.approx(min(s.loss_limit, max(0.0, -net)))
    assert r.carryforward_short_next + r.carryforward_long_next == pytest.approx(
        max(0.0, -net) - r.allowed_loss, abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(flat_situations(), st.floats(0, 100_000), st.floats(0, 100_000))
def test_tax_is_nondecreasing_in_gains(s: TaxSituation, more_short: float, more_long: float) -> None:
    """What makes the relaxed MILP netting exact in flat mode too."""
    base = evaluate_tax(s).total_tax
    assert evaluate_tax(s.with_gains(more_short, 0)).total_tax >= base - 1e-6
    assert evaluate_tax(s.with_gains(0, more_long)).total_tax >= base - 1e-6
