"""The exact evaluator against PSLmodels Tax-Calculator (taxcalc 6.8.0), a test-only oracle.

One generated DataFrame of cases per year (seeded), one taxcalc run per year (module-scoped fixture:
the first run compiles taxcalc's numba functions, ~15 s). Each case is compared on `iitax` (income tax
including NIIT, excluding payroll taxes such as the additional Medicare tax) against our federal_tax.

Driving taxcalc so that it computes what we model:
* MARS 1..4 = single, married_joint, married_separate, head_of_household; wages on the primary earner.
* e00300 = other_investment_income (interest: ordinary income and NII), e00200 = the rest of ordinary
  income; e00650 = e00600 = qualified dividends; p22250 / p23250 = net ST / LT after carryforwards.
* age_head = age_spouse = 20: below the childless-EITC minimum age (25; taxcalc treats age 0 as
  eligible), above the kiddie-AMT age (18), below 65 (no senior deduction or aged standard deduction).
  Nothing else that creates a credit is set.
* Itemized cases put the deduction in e19200 (mortgage interest, deductible in full) and keep taxable
  income below the 37% bracket, where the 2026 itemized-deduction limitation (P.L. 119-21) does not
  apply.
* AMT (c09600) is not modelled by rebal-opt (docs/tax.md); it is subtracted from iitax, and the cases
  where taxcalc finds AMT are checked separately.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rebal_opt.models.tax_tables import FILING_STATUSES, tax_table
from rebal_opt.solver.tax import TaxSituation, evaluate_tax

tc = pytest.importorskip("taxcalc", reason="taxcalc is the test-only tax oracle")

pytestmark = pytest.mark.oracle

YEARS = (2025, 2026)
CASES_PER_YEAR = 400
TOLERANCE = 1.0  # dollars
ORACLE_AGE = 20


class CaseGenerator:
    """Seeded random TaxSituations covering every status, income level and netting case of one year."""

    def __init__(self, year: int, seed: int) -> None:
        self.year = year
        self.rng = np.random.default_rng(seed)

    def money(self, lo: float, hi: float) -> float:
        """Log-uniform dollars in [lo, hi], to the cent."""
        return round(float(np.exp(self.rng.uniform(np.log(lo), np.log(hi)))), 2)

    def signed(self, hi: float, p_zero: float, p_loss: float) -> float:
        draw = self.rng.random()
        if draw < p_zero:
            return 0.0
        amount = self.money(50, hi)
        return -amount if draw < p_zero + p_loss else amount

    def status(self) -> str:
        return str(self.rng.choice(FILING_STATUSES))

    def situation(self, status: str, income: float, **kwargs: float) -> TaxSituation:
        return TaxSituation(status, self.year, ordinary_income=round(income, 2), **kwargs)

    def broad(self) -> TaxSituation:
        income = 0.0 if self.rng.random() < 0.08 else self.money(1_000, 1_500_000)
        interest = round(income * self.rng.uniform(0, 0.3), 2) if self.rng.random() < 0.3 else 0.0
        return self.situation(
            self.status(),
            income,
            other_investment_income=interest,
            qualified_dividends=self.money(10, 60_000) if self.rng.random() < 0.3 else 0.0,
            short_term=self.signed(300_000, 0.3, 0.35),
            long_term=self.signed(1_000_000, 0.2, 0.3),
            carryforward_short=self.money(10, 40_000) if self.rng.random() < 0.2 else 0.0,
            carryforward_long=self.money(10, 40_000) if self.rng.random() < 0.2 else 0.0,
        )

    def netting(self) -> TaxSituation:
        """Small mixed-sign results around the loss limit, with and without carryforwards."""
        return self.situation(
            self.status(),
            self.money(1_000, 250_000),
            short_term=round(float(self.rng.uniform(-20_000, 15_000)), 2),
            long_term=round(float(self.rng.uniform(-20_000, 15_000)), 2),
            carryforward_short=self.money(10, 10_000) if self.rng.random() < 0.3 else 0.0,
            carryforward_long=self.money(10, 10_000) if self.rng.random() < 0.3 else 0.0,
        )

    def near_threshold(self) -> TaxSituation:
        """Taxable income placed near a long-term threshold or the top of the 12% bracket."""
        status = self.status()
        table = tax_table(self.year, status)
        kink = float(
            self.rng.choice([table.long_term_zero_max, table.ordinary.breakpoints[1], table.long_term_fifteen_max])
        )
        long_term = self.money(100, 60_000)
        taxable = kink + float(self.rng.uniform(-3_000, 3_000))
        income = max(0.0, taxable - long_term + table.standard_deduction)
        return self.situation(
            status,
            income,
            long_term=long_term,
            short_term=self.signed(5_000, 0.5, 0.25),
            qualified_dividends=self.money(10, 5_000) if self.rng.random() < 0.3 else 0.0,
        )

    def niit_region(self) -> TaxSituation:
        """MAGI around the NIIT threshold, with investment income on both sides of it."""
        status = self.status()
        threshold = tax_table(self.year, status).niit.threshold
        gains = self.money(1_000, 120_000)
        income = max(0.0, threshold - gains + float(self.rng.uniform(-40_000, 40_000)))
        return self.situation(
            status,
            income,
            long_term=gains,
            other_investment_income=round(min(income, self.money(10, 30_000)), 2),
            qualified_dividends=self.money(10, 20_000),
        )

    def itemized(self) -> TaxSituation:
        status = self.status()
        table = tax_table(self.year, status)
        return self.situation(
            status,
            self.money(30_000, 200_000),
            deduction=round(table.standard_deduction + self.money(100, 40_000), 2),
            short_term=self.signed(30_000, 0.3, 0.4),
            long_term=self.signed(60_000, 0.3, 0.3),
        )

    def cases(self, n: int) -> Iterator[TaxSituation]:
        families = (
            self.broad,
            self.broad,
            self.broad,
            self.broad,
            self.netting,
            self.near_threshold,
            self.near_threshold,
            self.niit_region,
            self.itemized,
        )
        for i in range(n):
            yield families[i % len(families)]()


def to_taxcalc_frame(cases: list[TaxSituation]) -> pd.DataFrame:
    """The taxcalc input variables of each case (one filing unit per row)."""
    wages = [s.ordinary_income - s.other_investment_income for s in cases]
    return pd.DataFrame(
        {
            "RECID": np.arange(1, len(cases) + 1),
            "MARS": [FILING_STATUSES.index(str(s.filing_status)) + 1 for s in cases],
            "e00200": wages,
            "e00200p": wages,
            "e00300": [s.other_investment_income for s in cases],
            "e00600": [s.qualified_dividends for s in cases],
            "e00650": [s.qualified_dividends for s in cases],
            "p22250": [s.net_short for s in cases],
            "p23250": [s.net_long for s in cases],
            "e19200": [s.deduction or 0.0 for s in cases],
            "age_head": ORACLE_AGE,
            "age_spouse": ORACLE_AGE,
        }
    )


@pytest.fixture(scope="module")
def policy() -> Any:
    """Current-law taxcalc policy (building one takes ~2 s, so the module shares it)."""
    return tc.Policy()


def run_taxcalc(policy: Any, year: int, frame: pd.DataFrame) -> pd.DataFrame:
    policy.set_year(year)
    records = tc.Records(data=frame, start_year=year, gfactors=None, weights=None)
    calc = tc.Calculator(policy=policy, records=records, sync_years=False)
    assert calc.current_year == year
    calc.calc_all()
    return calc.dataframe(["iitax", "c09600", "c04470", "standard", "c04800", "niit", "eitc"])


@pytest.fixture(scope="module")
def oracle(policy: Any) -> pd.DataFrame:
    """Every case of both years with taxcalc's and our results side by side."""
    parts = []
    for seed, year in enumerate(YEARS):
        cases = list(CaseGenerator(year, seed=20_250 + seed).cases(CASES_PER_YEAR))
        frame = to_taxcalc_frame(cases)
        theirs = run_taxcalc(policy, year, frame)
        ours = [evaluate_tax(s) for s in cases]
        parts.append(
            frame.assign(
                year=year,
                case=cases,
                iitax=theirs["iitax"].to_numpy(),
                amt=theirs["c09600"].to_numpy(),
                their_itemized=theirs["c04470"].to_numpy(),
                their_standard=theirs["standard"].to_numpy(),
                their_taxable=theirs["c04800"].to_numpy(),
                their_niit=theirs["niit"].to_numpy(),
                eitc=theirs["eitc"].to_numpy(),
                federal=[r.federal_tax for r in ours],
                taxable=[r.taxable_income for r in ours],
                niit=[r.niit for r in ours],
            )
        )
    return pd.concat(parts, ignore_index=True)


def worst(frame: pd.DataFrame, diff: pd.Series, n: int = 5) -> str:
    rows = frame.loc[diff.abs().sort_values(ascending=False).index[:n]]
    return "\n".join(f"{r.case} taxcalc={r.iitax} amt={r.amt} ours={r.federal}" for r in rows.itertuples())


def test_case_mix(oracle: pd.DataFrame) -> None:
    assert len(oracle) >= 300
    assert set(oracle.MARS) == {1, 2, 3, 4}
    assert set(oracle.year) == set(YEARS)
    net = oracle.p22250 + oracle.p23250
    assert (net < -3_000).sum() > 20, "loss-limit cases"
    assert ((oracle.p22250 < 0) & (oracle.p23250 > 0)).sum() > 20, "ST loss against LT gain"
    assert ((oracle.p22250 > 0) & (oracle.p23250 < 0)).sum() > 20, "LT loss against ST gain"
    assert (oracle.e00650 > 0).sum() > 50, "qualified dividends"
    assert (oracle.their_niit > 0).sum() > 50, "NIIT region"
    assert (oracle.e19200 > 0).sum() > 20, "itemized deductions"
    assert (oracle.e00200 > 1_000_000).sum() > 10, "top bracket"
    assert (oracle.eitc == 0).all(), "no credits may enter the comparison"


def test_federal_tax_matches_taxcalc(oracle: pd.DataFrame) -> None:
    diff = oracle.iitax - oracle.amt - oracle.federal
    assert diff.abs().max() <= TOLERANCE, worst(oracle, diff)


def test_taxable_income_and_niit_match_taxcalc(oracle: pd.DataFrame) -> None:
    assert (oracle.their_taxable - oracle.taxable).abs().max() <= TOLERANCE
    assert (oracle.their_niit - oracle.niit).abs().max() <= TOLERANCE


def test_itemized_cases_are_not_limited_by_taxcalc(oracle: pd.DataFrame) -> None:
    # Where the deduction exceeds AGI taxcalc may keep the standard one: the tax is 0 either way.
    itemized = oracle[(oracle.e19200 > 0) & (oracle.their_taxable > 0)]
    assert len(itemized) > 20
    assert np.allclose(itemized.their_itemized, itemized.e19200)
    assert (itemized.their_standard == 0).all()


def test_amt_only_where_large_preferential_income(oracle: pd.DataFrame) -> None:
    """AMT (not modelled) appears only for large long-term gains on modest ordinary income: the AMT
    exemption phases out with AMTI including the gains while the gains keep their 15/20% rates, so the
    26/28% AMT rates on the ordinary part then exceed its regular-tax rates."""
    amt = oracle[oracle.amt > 0]
    assert len(amt) < 0.05 * len(oracle)
    preferential = amt.p23250.clip(lower=0) + amt.e00650
    assert (preferential > amt.e00200 + amt.e00300).all(), worst(amt, amt.amt)


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("status", FILING_STATUSES)
def test_tables_match_taxcalc_parameters(policy: Any, year: int, status: str) -> None:
    policy.set_year(year)
    mars = FILING_STATUSES.index(status)
    table = tax_table(year, status)
    brackets = [float(getattr(policy, f"II_brk{k}")[0][mars]) for k in range(1, 7)]
    rates = [float(getattr(policy, f"II_rt{k}")[0]) for k in range(1, 8)]
    assert table.ordinary.breakpoints == tuple(brackets)
    assert table.ordinary.rates == pytest.approx(tuple(rates))
    assert table.long_term.breakpoints == (float(policy.CG_brk1[0][mars]), float(policy.CG_brk2[0][mars]))
    assert table.long_term.rates == pytest.approx(
        (float(policy.CG_rt1[0]), float(policy.CG_rt2[0]), float(policy.CG_rt3[0]))
    )
    assert table.standard_deduction == float(policy.STD[0][mars])
    assert table.niit.threshold == float(policy.NIIT_thd[0][mars])
    assert table.niit.rate == pytest.approx(float(policy.NIIT_rt[0]))
    assert table.capital_loss_limit == float(policy.Capital_loss_limitation[0][mars])
