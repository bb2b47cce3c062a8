"""The reference vectors of us-tax.md (T1–T10, C1–C5) and the evaluator's documented behaviour.

Independent of taxcalc: the expected numbers are the ones printed in /work/shared/reference/us-tax.md.
"""

from __future__ import annotations

import pytest

from rebal_opt.solver.tax import TaxSituation, evaluate_tax, tax_with_gains

CENT = 0.01


def situation(
    status: str, year: int, wages: float, short: float = 0.0, long: float = 0.0, **kwargs: float
) -> TaxSituation:
    return TaxSituation(status, year, ordinary_income=wages, short_term=short, long_term=long, **kwargs)


@pytest.mark.parametrize(
    ("vector", "status", "year", "wages", "short", "long", "dividends", "federal"),
    [
        ("T1", "single", 2025, 100_000, 0, 20_000, 0, 16_449.0),
        ("T2", "married_joint", 2025, 300_000, 10_000, 50_000, 0, 62_314.0),
        ("T3", "single", 2026, 100_000, 0, 20_000, 0, 16_170.0),
        ("T4", "married_joint", 2026, 300_000, 10_000, 50_000, 0, 61_648.0),
        ("T5", "single", 2025, 40_000, 0, 30_000, 0, 3_556.5),
        ("T6 x=0", "married_joint", 2025, 80_000, 0, 0, 0, 5_343.0),
        ("T6 x=48,200", "married_joint", 2025, 80_000, 0, 48_200, 0, 5_343.0),
        ("T6 x=49,200", "married_joint", 2025, 80_000, 0, 49_200, 0, 5_493.0),
        ("T7", "single", 2025, 190_000, 0, 30_000, 0, 39_927.0),
        ("T8", "married_joint", 2025, 700_000, 0, 100_000, 0, 196_869.5),
        ("T9", "single", 2025, 100_000, 0, 20_000, 5_000, 17_199.0),
        ("T10", "single", 2025, 80_000, -2_000, -5_000, 0, 8_389.0),
    ],
)
def test_tax_vectors(
    vector: str, status: str, year: int, wages: float, short: float, long: float, dividends: float, federal: float
) -> None:
    result = evaluate_tax(situation(status, year, wages, short, long, qualified_dividends=dividends))
    assert result.federal_tax == pytest.approx(federal, abs=CENT), vector
    assert result.total_tax == pytest.approx(federal, abs=CENT)  # no state rate given


def test_t1_marginal_long_is_15_percent() -> None:
    assert evaluate_tax(situation("single", 2025, 100_000, 0, 20_000)).marginal_long == pytest.approx(0.15)


def test_t2_niit_and_marginal_long() -> None:
    result = evaluate_tax(situation("married_joint", 2025, 300_000, 10_000, 50_000))
    assert result.niit == pytest.approx(2_280.0, abs=CENT)
    assert result.marginal_long == pytest.approx(0.188)


def test_t5_zero_and_fifteen_percent_parts() -> None:
    result = evaluate_tax(situation("single", 2025, 40_000, 0, 30_000))
    # 24,100 at 0% and 5,900 at 15%.
    assert result.preferential_tax == pytest.approx(0.15 * 5_900, abs=CENT)
    assert result.ordinary_taxable == pytest.approx(40_000 - 15_750)


def test_t7_niit() -> None:
    assert evaluate_tax(situation("single", 2025, 190_000, 0, 30_000)).niit == pytest.approx(760.0, abs=CENT)


def test_t8_marginal_long_is_23_8_percent() -> None:
    result = evaluate_tax(situation("married_joint", 2025, 700_000, 0, 100_000))
    assert result.marginal_long == pytest.approx(0.238)


def test_t10_allowed_loss() -> None:
    result = evaluate_tax(situation("single", 2025, 80_000, -2_000, -5_000))
    assert result.allowed_loss == pytest.approx(3_000.0)


@pytest.mark.parametrize(
    ("vector", "wages", "short", "long", "allowed", "used", "carry_short", "carry_long"),
    [
        ("C1", 80_000, -10_000, 2_000, 3_000, 3_000, 5_000, 0),
        ("C2", 80_000, -2_000, -5_000, 3_000, 3_000, 0, 4_000),
        ("C3", 80_000, 4_000, -10_000, 3_000, 3_000, 0, 3_000),
        ("C4", 10_000, -5_000, 0, 3_000, 0, 5_000, 0),
        ("C5", 17_000, -1_000, -6_000, 3_000, 1_250, 0, 5_750),
    ],
)
def test_carryforward_vectors(
    vector: str,
    wages: float,
    short: float,
    long: float,
    allowed: float,
    used: float,
    carry_short: float,
    carry_long: float,
) -> None:
    result = evaluate_tax(situation("single", 2025, wages, short, long))
    assert result.allowed_loss == pytest.approx(allowed), vector
    assert result.loss_benefit_used == pytest.approx(used), vector
    assert result.carryforward_short_next == pytest.approx(carry_short), vector
    assert result.carryforward_long_next == pytest.approx(carry_long), vector


def test_carryforwards_in_are_netted_first() -> None:
    # C2 expressed as last year's carryforwards against a quiet year gives the same worksheet.
    carried = situation("single", 2025, 80_000, carryforward_short=2_000, carryforward_long=5_000)
    result = evaluate_tax(carried)
    assert (result.net_short_term, result.net_long_term) == (-2_000, -5_000)
    assert (result.carryforward_short_next, result.carryforward_long_next) == (0, 4_000)


def test_married_separate_loss_limit_is_1500() -> None:
    result = evaluate_tax(situation("married_separate", 2025, 80_000, -10_000, 0))
    assert result.allowed_loss == 1_500
    assert result.carryforward_short_next == 8_500


@pytest.mark.parametrize(
    ("wages", "marginal"),
    # us-tax.md: single 2025 with $20k of long-term gains, the marginal rate on extra ordinary income is
    # 12%, then 27% (each dollar pushes a gain dollar out of the 0% band), then 12%, then 22%.
    [(30_000, 0.12), (50_000, 0.27), (64_200, 0.12), (70_000, 0.22)],
)
def test_stacking_makes_short_term_marginal_27_percent(wages: float, marginal: float) -> None:
    assert evaluate_tax(situation("single", 2025, wages, 0, 20_000)).marginal_short == pytest.approx(marginal)


def test_final_min_with_all_ordinary_tax() -> None:
    # 2026 joint: the 0% band ends at 98,900 but the 12% bracket at 100,800; a preferential stack
    # inside that band would cost 15% on the worksheet but 12% at ordinary rates: line 25 takes the
    # smaller.
    base = situation("married_joint", 2026, 32_200 + 99_000, 0, 1_000)
    result = evaluate_tax(base)
    all_ordinary = evaluate_tax(situation("married_joint", 2026, 32_200 + 100_000)).federal_tax
    assert result.preferential_tax == 0.0
    assert result.federal_tax == pytest.approx(all_ordinary)


def test_state_tax_is_flat_on_taxable_income() -> None:
    result = evaluate_tax(situation("single", 2025, 100_000, 0, 20_000, state_rate=0.05))
    assert result.state_tax == pytest.approx(0.05 * (120_000 - 15_750))
    assert result.total_tax == pytest.approx(16_449.0 + result.state_tax)


def test_itemized_deduction_replaces_standard() -> None:
    result = evaluate_tax(situation("single", 2025, 100_000, 0, 20_000, deduction=25_000))
    assert result.taxable_income == pytest.approx(95_000)


def test_qualified_dividends_and_interest_are_investment_income() -> None:
    result = evaluate_tax(situation("single", 2025, 250_000, other_investment_income=10_000, qualified_dividends=5_000))
    assert result.niit == pytest.approx(0.038 * 15_000)


def test_tax_with_gains_matches_evaluating_the_changed_situation() -> None:
    base = situation("married_joint", 2026, 300_000, 10_000, 0)
    assert tax_with_gains(base, 0, 50_000) == evaluate_tax(situation("married_joint", 2026, 300_000, 10_000, 50_000))
    assert tax_with_gains(base, 0, 0) == evaluate_tax(base)


def test_flat_rates_net_like_schedule_d_and_include_state() -> None:
    """ST −4,000 against LT 10,000 − 1,000 carried: Schedule D leaves 5,000 long-term, at the long-term
    rate (not −4,000 at 35% and 9,000 at 15%); the next short-term dollar frees a long-term one."""
    base = situation(
        "single", 2020, 100_000, -4_000, 10_000, flat_rates=(0.35, 0.15), state_rate=0.05, carryforward_long=1_000
    )
    result = evaluate_tax(base)
    assert result.mode == "flat"
    assert result.federal_tax == pytest.approx(0.15 * 5_000)
    assert result.state_tax == pytest.approx(0.05 * 5_000)
    assert (result.marginal_short, result.marginal_long) == (pytest.approx(0.20), pytest.approx(0.20))
    assert result.carryforward_short_next == result.carryforward_long_next == 0.0


def test_year_before_first_table_needs_flat_rates() -> None:
    with pytest.raises(ValueError, match="no tax table before 2025"):
        evaluate_tax(situation("single", 2024, 100_000))


def test_later_year_is_indexed() -> None:
    result = evaluate_tax(situation("single", 2028, 100_000, 0, 20_000))
    assert result.taxable_income == pytest.approx(120_000 - 16_900)  # 16,100 × 1.025² → 16,900


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filing_status": "widow"},
        {"carryforward_short": -1.0},
        {"qualified_dividends": -5.0},
        {"deduction": -1.0},
        {"state_rate": 1.5},
        {"flat_rates": (0.3, 1.2)},
        {"ordinary_income": float("nan")},
    ],
)
def test_invalid_situations_are_rejected(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"filing_status": "single", "year": 2025, **kwargs}
    with pytest.raises(ValueError):
        TaxSituation(**fields)  # type: ignore[arg-type]
