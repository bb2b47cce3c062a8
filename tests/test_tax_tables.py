"""Loading, validation and indexing of the shipped tax tables (models/data/tax/*.yaml)."""

from __future__ import annotations

import pytest

from rebal_opt.models.tax_tables import (
    DEFAULT_INDEXING_RATE,
    FILING_STATUSES,
    FIRST_TABLE_YEAR,
    LAST_TABLE_YEAR,
    RateSchedule,
    index_amount,
    tax_table,
)


def test_shipped_years() -> None:
    assert (FIRST_TABLE_YEAR, LAST_TABLE_YEAR) == (2025, 2026)
    assert DEFAULT_INDEXING_RATE == 0.025


@pytest.mark.parametrize("year", [2025, 2026])
@pytest.mark.parametrize("status", FILING_STATUSES)
def test_every_status_loads(year: int, status: str) -> None:
    table = tax_table(year, status)
    assert table.ordinary.rates == (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)
    assert table.long_term.rates == (0.0, 0.15, 0.20)
    assert table.niit.rate == 0.038
    assert table.capital_loss_limit == (1500 if status == "married_separate" else 3000)
    assert table.indexed_from is None


def test_figures_from_the_reference() -> None:
    single = tax_table(2025, "single")
    assert single.ordinary.breakpoints == (11925, 48475, 103350, 197300, 250525, 626350)
    assert (single.long_term_zero_max, single.long_term_fifteen_max) == (48350, 533400)
    assert single.standard_deduction == 15750
    head = tax_table(2026, "head_of_household")
    assert head.ordinary.breakpoints == (17700, 67450, 105700, 201750, 256200, 640600)
    assert (head.long_term_zero_max, head.long_term_fifteen_max) == (66200, 579600)
    assert tax_table(2026, "married_joint").niit.threshold == 250_000


def test_later_years_are_indexed_and_rounded_down_to_50() -> None:
    base = tax_table(2026, "married_joint")
    later = tax_table(2028, "married_joint")
    factor = 1.025**2
    assert later.indexed_from == 2026
    assert later.standard_deduction == index_amount(32_200, factor) == 33_800  # 33,830.5 → 33,800
    for indexed, original in zip(later.ordinary.breakpoints, base.ordinary.breakpoints, strict=True):
        assert indexed % 50 == 0
        assert original * factor - 50 < indexed <= original * factor
    assert later.long_term_zero_max == index_amount(98_900, factor)
    # Statutory dollar amounts are not indexed.
    assert later.niit.threshold == 250_000
    assert later.capital_loss_limit == 3_000


def test_custom_indexing_rate() -> None:
    assert tax_table(2027, "single", indexing_rate=0.0).ordinary == tax_table(2026, "single").ordinary
    assert tax_table(2027, "single", indexing_rate=0.10).standard_deduction == 17_700  # 17,710 ↓ 50


def test_year_before_first_table_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no tax table before 2025"):
        tax_table(2024, "single")


def test_unknown_status_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown filing status"):
        tax_table(2025, "widow")


def test_accepts_a_str_enum_status() -> None:
    from enum import StrEnum

    class Status(StrEnum):
        SINGLE = "single"

    assert tax_table(2025, Status.SINGLE).filing_status == "single"


@pytest.mark.parametrize(
    "brackets",
    [
        [{"rate": 0.1, "up_to": 100}, {"rate": 0.2, "up_to": 50}, {"rate": 0.3}],  # bounds decrease
        [{"rate": 0.2, "up_to": 100}, {"rate": 0.1}],  # rates decrease: not convex
        [{"rate": 0.1, "up_to": 100}],  # last bracket closed
    ],
)
def test_invalid_schedules_are_rejected(brackets: list[dict[str, float]]) -> None:
    with pytest.raises(ValueError):
        RateSchedule.model_validate({"brackets": brackets})
