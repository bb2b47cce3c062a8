"""The bridge from a scenario's `tax:` section to the tax engine's `TaxSituation`."""

from __future__ import annotations

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
