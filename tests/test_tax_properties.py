"""Property tests (hypothesis) of the exact tax evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_opt.models.tax_tables import FILING_STATUSES, tax_table
from rebal_opt.solver.tax import TaxSituation, evaluate_tax
from rebal_opt.solver.tax.piecewise import ConvexPiecewise

CENT = 0.01
money = st.floats(min_value=0, max_value=1_500_000, allow_nan=False).map(lambda v: round(v, 2))
result = st.floats(min_value=-400_000, max_value=1_000_000, allow_nan=False).map(lambda v: round(v, 2))
carry = st.floats(min_value=0, max_value=100_000, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def situations(draw: st.DrawFn) -> TaxSituation:
    income = draw(money)
    return TaxSituation(
        filing_status=draw(st.sampled_from(FILING_STATUSES)),
        year=draw(st.sampled_from([2025, 2026, 2027])),
        ordinary_income=income,
        other_investment_income=draw(st.floats(0, 1).map(lambda f: round(f * income * 0.3, 2))),
        qualified_dividends=draw(st.sampled_from([0.0, 2_500.0, 40_000.0])),
        short_term=draw(result),
        long_term=draw(result),
        carryforward_short=draw(carry),
        carryforward_long=draw(carry),
        state_rate=draw(st.sampled_from([0.0, 0.05])),
    )


@settings(max_examples=300, deadline=None)
@given(situations(), st.floats(min_value=0, max_value=200_000))
def test_tax_is_nondecreasing_in_long_term_gain(s: TaxSituation, more: float) -> None:
    assert evaluate_tax(s.with_gains(0, more)).total_tax >= evaluate_tax(s).total_tax - 1e-6


@settings(max_examples=300, deadline=None)
@given(situations(), st.floats(min_value=0, max_value=200_000))
def test_tax_is_nondecreasing_in_short_term_gain(s: TaxSituation, more: float) -> None:
    assert evaluate_tax(s.with_gains(more, 0)).total_tax >= evaluate_tax(s).total_tax - 1e-6


@settings(max_examples=300, deadline=None)
@given(situations())
def test_short_term_gain_costs_at_least_long_term_gain(s: TaxSituation) -> None:
    # A dollar taxed at ordinary rates costs at least the same dollar as long-term gain, except where the
    # 15% long-term rate applies while ordinary income is still in the 12% bracket (from the 0% threshold
    # to the top of the 12% bracket): there the long-term dollar can cost up to 3 points more (hypothesis
    # found one: head of household 2026, $45,175 wages and short-term gain, marginal 17% against 20%).
    r = evaluate_tax(s)
    assert r.marginal_short >= r.marginal_long - 0.03 - 1e-9


@settings(max_examples=400, deadline=None)
@given(situations())
def test_carryforward_identities(s: TaxSituation) -> None:
    r = evaluate_tax(s)
    limit = tax_table(s.year, s.filing_status).capital_loss_limit
    net = r.net_short_term + r.net_long_term
    assert 0 <= r.loss_benefit_used <= r.allowed_loss <= limit
    assert r.allowed_loss == pytest.approx(min(limit, max(0.0, -net)))
    # Nothing is lost or created: every net loss is either used this year or carried forward.
    assert r.carryforward_short_next + r.carryforward_long_next == pytest.approx(
        max(0.0, -net) - r.loss_benefit_used, abs=1e-6
    )
    # Each character carries at most its own net loss.
    assert r.carryforward_short_next <= max(0.0, -r.net_short_term) + 1e-6
    assert r.carryforward_long_next <= max(0.0, -r.net_long_term) + 1e-6


@settings(max_examples=400, deadline=None)
@given(situations())
def test_carryforward_closed_form_used_by_the_milp(s: TaxSituation) -> None:
    """The worksheet equals total = (−N − u)⁺, short = (−max(S, N) − u)⁺ with u the usable allowance."""
    r = evaluate_tax(s)
    table = tax_table(s.year, s.filing_status)
    usable = min(
        table.capital_loss_limit, max(0.0, s.ordinary_income + s.qualified_dividends - table.standard_deduction)
    )
    short, net = r.net_short_term, r.net_short_term + r.net_long_term
    total = max(0.0, -net - usable)
    carry_short = max(0.0, -max(short, net) - usable)
    assert r.carryforward_short_next == pytest.approx(carry_short, abs=1e-6)
    assert r.carryforward_long_next == pytest.approx(total - carry_short, abs=1e-6)


def worksheet_preferential_tax(s: TaxSituation, taxable: float, preferential: float) -> float:
    """The 0/15/20 split exactly as us-tax.md states the worksheet."""
    table = tax_table(s.year, s.filing_status)
    b0, b15 = table.long_term_zero_max, table.long_term_fifteen_max
    ordinary = taxable - preferential
    at_zero = max(0.0, min(taxable, b0) - ordinary)
    at_fifteen = min(preferential - at_zero, max(0.0, min(taxable, b15) - max(ordinary, b0)))
    return 0.15 * at_fifteen + 0.20 * (preferential - at_zero - at_fifteen)


@settings(max_examples=400, deadline=None)
@given(situations())
def test_regular_tax_is_the_worksheet(s: TaxSituation) -> None:
    r = evaluate_tax(s)
    table = tax_table(s.year, s.filing_status)
    schedule = ConvexPiecewise.from_schedule(table.ordinary)
    stacked = schedule.value(r.ordinary_taxable) + worksheet_preferential_tax(
        s, r.taxable_income, r.preferential_income
    )
    assert r.ordinary_tax + r.preferential_tax == pytest.approx(
        min(stacked, schedule.value(r.taxable_income)), abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(situations(), st.floats(0, 0.5), st.floats(0, 0.5), result, result)
def test_flat_mode_is_linear_while_both_nets_stay_gains(
    s: TaxSituation, rate_short: float, rate_long: float, dx: float, dy: float
) -> None:
    """Where no netting case changes (both nets ≥ 0 before and after), each dollar costs its own rate.
    tests/test_tax_flat.py checks the netting, the limit and the carryforwards against an oracle."""
    flat = TaxSituation(**{**s.__dict__, "flat_rates": (rate_short, rate_long)})
    before = flat.with_gains(max(0.0, -flat.net_short), max(0.0, -flat.net_long))
    after = before.with_gains(abs(dx), abs(dy))
    change = evaluate_tax(after).total_tax - evaluate_tax(before).total_tax
    expected = (rate_short + s.state_rate) * abs(dx) + (rate_long + s.state_rate) * abs(dy)
    assert change == pytest.approx(expected, abs=CENT)
