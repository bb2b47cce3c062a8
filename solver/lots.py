"""Holding periods: when a lot becomes long-term."""

from __future__ import annotations

import datetime as dt
from typing import Literal

Term = Literal["short", "long"]


def anniversary(acquired: dt.date) -> dt.date:
    """The same calendar day one year later (Feb 29 → Feb 28)."""
    try:
        return acquired.replace(year=acquired.year + 1)
    except ValueError:
        return acquired.replace(year=acquired.year + 1, day=28)


def holding_term(acquired: dt.date, sold: dt.date, inherited: bool = False) -> Term:
    """Long-term means held more than one year: sold after the anniversary of the purchase.

    Bought 2023-06-15: sold 2024-06-15 is short-term, 2024-06-16 long-term. Inherited shares are always
    long-term.
    """
    if inherited:
        return "long"
    return "long" if sold > anniversary(acquired) else "short"


def first_long_term_day(acquired: dt.date) -> dt.date:
    """The first sale date on which the lot is long-term."""
    return anniversary(acquired) + dt.timedelta(days=1)
