"""The bridge from a scenario's `tax:` section to the tax engine's `TaxSituation`."""

from __future__ import annotations

from dataclasses import replace

from rebal_opt.models.scenario import Scenario
from rebal_opt.models.tax_tables import DEFAULT_INDEXING_RATE

from .tax.evaluate import TaxSituation


def situation_from_scenario(scenario: Scenario) -> TaxSituation:
    """The year's tax situation before the plan: income, deduction, realized so far, carryforwards."""
    tax = scenario.tax
    return TaxSituation(
        filing_status=tax.filing_status.value,
        year=scenario.tax_year,
        ordinary_income=tax.ordinary_income,
        other_investment_income=tax.other_investment_income,
        qualified_dividends=tax.qualified_dividends,
        deduction=None if tax.deduction == "standard" else float(tax.deduction),
        short_term=tax.realized_ytd.short_term,
        long_term=tax.realized_ytd.long_term,
        carryforward_short=tax.carryforward.short_term,
        carryforward_long=tax.carryforward.long_term,
        state_rate=tax.state_rate,
        flat_rates=(tax.rates.short_term, tax.rates.long_term) if tax.rates is not None else None,
        indexing_rate=tax.indexing_rate if tax.indexing_rate is not None else DEFAULT_INDEXING_RATE,
    )


def next_year_situation(scenario: Scenario) -> TaxSituation:
    """Next year's expected situation (yearend.next_year), before this year's carryforward is added.

    Income defaults to this year's; the year's table is indexed past the last shipped one.
    """
    this_year = situation_from_scenario(scenario)
    yearend = scenario.yearend
    expected = yearend.next_year if yearend is not None else None
    return replace(
        this_year,
        year=this_year.year + 1,
        ordinary_income=(
            expected.ordinary_income
            if expected is not None and expected.ordinary_income is not None
            else this_year.ordinary_income
        ),
        qualified_dividends=(
            expected.qualified_dividends
            if expected is not None and expected.qualified_dividends is not None
            else this_year.qualified_dividends
        ),
        short_term=expected.short_term if expected is not None else 0.0,
        long_term=expected.long_term if expected is not None else 0.0,
        carryforward_short=0.0,
        carryforward_long=0.0,
    )


def with_carryforward(situation: TaxSituation, short: float, long: float) -> TaxSituation:
    """The situation with the given loss carryforwards coming in."""
    return replace(situation, carryforward_short=short, carryforward_long=long)
