"""US federal tax tables per year and filing status, read from the shipped YAML data.

The figures live in `models/data/tax/<year>.yaml` (one file per enacted year), never in code. A year
after the last shipped table is *indexed* from that table:

    value(y) = v + floor(v × ((1 + indexing_rate) ** (y − LAST_TABLE_YEAR) − 1) / 50) × 50,
    v = value(LAST_TABLE_YEAR)

for the ordinary bracket bounds, the long-term (0%/15%) thresholds and the standard deduction. The IRS
rounds inflation-adjusted amounts *down* to a multiple of $50; rounding the *increase* the same way
gives that for amounts on the $50 grid and keeps the enacted amounts that sit on a $25 grid (single
brackets set at half the joint ones, e.g. 201,775) on it, and a zero rate leaves the table unchanged.
Projected years are estimates either way. The NIIT thresholds (IRC §1411) and
the capital-loss limit (IRC §1211(b)) are fixed in dollars by statute and are NOT indexed; rates are
never indexed. A year before the first table raises ValueError: there is nothing to index back from.

Units: dollars and fractions (0.15 = 15%). No cvxpy here (models/ must not import it).
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

FILING_STATUSES: tuple[str, ...] = ("single", "married_joint", "married_separate", "head_of_household")

DEFAULT_INDEXING_RATE = 0.025
"""Yearly indexing of brackets, thresholds and the standard deduction past the last table (2.5%/year,
roughly the chained-CPI inflation the IRS has applied in recent years)."""

INDEXING_ROUNDING = 50.0
"""Indexed dollar amounts are rounded down to a multiple of this (IRS practice)."""

_DATA_PACKAGE = "rebal_opt.models.data"
_TAX_FOLDER = "tax"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bracket(_Frozen):
    """One bracket of a rate schedule: `rate` applies to income up to `up_to` dollars (None: no end)."""

    rate: float = Field(ge=0.0, lt=1.0)
    up_to: float | None = Field(default=None, gt=0.0)


class RateSchedule(_Frozen):
    """A progressive schedule: brackets in increasing order, the last one open-ended.

    tax(z) = Σ_k rate_k × |[0, z] ∩ [lower_k, up_to_k)|, with lower_0 = 0 and lower_k = up_to_{k−1}.
    """

    brackets: tuple[Bracket, ...]

    @model_validator(mode="after")
    def _increasing(self) -> RateSchedule:
        if not self.brackets:
            raise ValueError("a rate schedule needs at least one bracket")
        *closed, last = self.brackets
        if last.up_to is not None:
            raise ValueError("the last bracket must be open-ended (up_to: null)")
        bounds = [b.up_to for b in closed]
        if any(b is None for b in bounds):
            raise ValueError("only the last bracket may be open-ended")
        if any(lo >= hi for lo, hi in pairwise(bounds)):  # type: ignore[operator]
            raise ValueError(f"bracket bounds must increase: {bounds}")
        rates = [b.rate for b in self.brackets]
        if any(lo >= hi for lo, hi in pairwise(rates)):
            # Convexity of the schedule (rates increasing) is what the MILP epigraph rows rely on.
            raise ValueError(f"bracket rates must increase: {rates}")
        return self

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Upper bounds of the closed brackets, dollars (len = number of brackets − 1)."""
        return tuple(float(b.up_to) for b in self.brackets[:-1] if b.up_to is not None)

    @property
    def rates(self) -> tuple[float, ...]:
        return tuple(b.rate for b in self.brackets)

    def indexed(self, factor: float) -> RateSchedule:
        """The schedule with every bound scaled by `factor` and rounded down to INDEXING_ROUNDING."""
        return RateSchedule(
            brackets=tuple(
                Bracket(rate=b.rate, up_to=None if b.up_to is None else index_amount(b.up_to, factor))
                for b in self.brackets
            )
        )


class Niit(_Frozen):
    """Net investment income tax: rate × min(NII, max(0, MAGI − threshold)); threshold in dollars."""

    threshold: float = Field(ge=0.0)
    rate: float = Field(ge=0.0, lt=1.0)


class StatusTable(_Frozen):
    """The parameters of one filing status in one year's YAML file."""

    ordinary: RateSchedule
    long_term: RateSchedule
    standard_deduction: float = Field(ge=0.0)
    niit: Niit
    capital_loss_limit: float = Field(ge=0.0)

    @model_validator(mode="before")
    @classmethod
    def _wrap_brackets(cls, data: Any) -> Any:
        # The YAML lists brackets directly under `ordinary:` / `long_term:`.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("ordinary", "long_term"):
                if isinstance(data.get(key), list):
                    data[key] = {"brackets": data[key]}
        return data

    @model_validator(mode="after")
    def _three_long_term_rates(self) -> StatusTable:
        if len(self.long_term.brackets) != 3:
            raise ValueError("long_term must have exactly three brackets (0%, 15%, 20%)")
        return self


class TaxTable(_Frozen):
    """Everything the tax engine needs for one year and filing status.

    `indexed_from` is the shipped table year it was projected from (None for a shipped year).
    """

    year: int
    filing_status: str
    ordinary: RateSchedule
    long_term: RateSchedule
    standard_deduction: float
    niit: Niit
    capital_loss_limit: float
    indexed_from: int | None = None

    @property
    def long_term_zero_max(self) -> float:
        """Top of the 0% long-term band (taxable income, dollars)."""
        return self.long_term.breakpoints[0]

    @property
    def long_term_fifteen_max(self) -> float:
        """Top of the 15% long-term band (taxable income, dollars)."""
        return self.long_term.breakpoints[1]


class _YearFile(_Frozen):
    year: int
    statuses: dict[str, StatusTable]

    @model_validator(mode="after")
    def _every_status(self) -> _YearFile:
        missing = set(FILING_STATUSES) - set(self.statuses)
        extra = set(self.statuses) - set(FILING_STATUSES)
        if missing or extra:
            raise ValueError(f"filing statuses: missing {sorted(missing)}, unknown {sorted(extra)}")
        return self


def index_amount(amount: float, factor: float) -> float:
    """amount plus its inflation increase amount × (factor − 1) rounded down to INDEXING_ROUNDING."""
    # The small epsilon keeps an increase that is an exact multiple (float noise) from losing $50.
    increase = amount * (factor - 1.0)
    return amount + math.floor(increase / INDEXING_ROUNDING + 1e-9) * INDEXING_ROUNDING


def _shipped_years() -> tuple[int, ...]:
    folder = resources.files(_DATA_PACKAGE).joinpath(_TAX_FOLDER)
    years = sorted(int(f.name.removesuffix(".yaml")) for f in folder.iterdir() if f.name.endswith(".yaml"))
    if not years or years != list(range(years[0], years[-1] + 1)):
        raise RuntimeError(f"shipped tax tables must cover consecutive years, found {years}")
    return tuple(years)


_YEARS = _shipped_years()
FIRST_TABLE_YEAR: int = _YEARS[0]
LAST_TABLE_YEAR: int = _YEARS[-1]


@cache
def _year_file(year: int) -> _YearFile:
    text = resources.files(_DATA_PACKAGE).joinpath(_TAX_FOLDER, f"{year}.yaml").read_text(encoding="utf-8")
    parsed = _YearFile.model_validate(yaml.safe_load(text))
    if parsed.year != year:
        raise RuntimeError(f"tax table {year}.yaml says year {parsed.year}")
    return parsed


@cache
def tax_table(year: int, filing_status: str, indexing_rate: float = DEFAULT_INDEXING_RATE) -> TaxTable:
    """The tax table of `year` for `filing_status` (single, married_joint, married_separate,
    head_of_household).

    Years FIRST_TABLE_YEAR..LAST_TABLE_YEAR are shipped; a later year is indexed from LAST_TABLE_YEAR by
    `indexing_rate` per year (see the module docstring); an earlier year raises ValueError.
    """
    status = str(filing_status)
    if status not in FILING_STATUSES:
        raise ValueError(f"unknown filing status {status!r}; expected one of {', '.join(FILING_STATUSES)}")
    if year < FIRST_TABLE_YEAR:
        raise ValueError(f"no tax table before {FIRST_TABLE_YEAR} (asked for {year}); give flat rates instead")
    if not indexing_rate > -1.0:
        raise ValueError(f"indexing_rate must be greater than -1, got {indexing_rate}")
    base_year = min(year, LAST_TABLE_YEAR)
    base = _year_file(base_year).statuses[status]
    table = TaxTable(
        year=year,
        filing_status=status,
        ordinary=base.ordinary,
        long_term=base.long_term,
        standard_deduction=base.standard_deduction,
        niit=base.niit,
        capital_loss_limit=base.capital_loss_limit,
    )
    if year == base_year:
        return table
    factor = (1.0 + indexing_rate) ** (year - base_year)
    return table.model_copy(
        update={
            "ordinary": base.ordinary.indexed(factor),
            "long_term": base.long_term.indexed(factor),
            "standard_deduction": index_amount(base.standard_deduction, factor),
            "indexed_from": base_year,
        }
    )
