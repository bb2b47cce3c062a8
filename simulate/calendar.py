"""The simulation's calendar: step dates, and which steps a period (month, quarter, year) falls on."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt

MONTHS = {"month": 1, "quarter": 3, "year": 12}


def add_months(start: dt.date, months: int) -> dt.date:
    """The same day `months` later; the 31st becomes the month's last day where there is none."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, _calendar.monthrange(year, month)[1]))


def step_dates(start: dt.date, step: str, years: int) -> list[dt.date]:
    """The decision dates: start, then every step for `years` years (years × 12 / step + 1 dates)."""
    months = MONTHS[step]
    return [add_months(start, k * months) for k in range(years * 12 // months + 1)]


def fires(k: int, step: str, every: str) -> bool:
    """Whether something done every `every` happens at step k (k = 0 is the start)."""
    return (k * MONTHS[step]) % MONTHS[every] == 0


def quarter_ends_between(after: dt.date, upto: dt.date) -> int:
    """How many calendar quarter ends (31 Mar, 30 Jun, 30 Sep, 31 Dec) fall in (after, upto]."""

    def quarters(d: dt.date) -> int:
        # quarter ends on or before d, counted from year 0
        ends_this_year = sum(
            1 for m in (3, 6, 9, 12) if d >= dt.date(d.year, m, _calendar.monthrange(d.year, m)[1])
        )
        return d.year * 4 + ends_this_year

    return quarters(upto) - quarters(after)
