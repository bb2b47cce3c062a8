"""The household's positions, cash and allocation by asset class, computed from a scenario.

Shared by `check`, the problem builder (starting values) and the verifier (which recomputes the
after-trade state itself and only uses these definitions: what a band is, how a fund's value splits).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rebal_opt.models.scenario import CASH_CLASS, Bands, Scenario

PositionKey = tuple[str, str]  # (account id, security)
BAND_TOLERANCE = 1e-6


def band_limits(target: float, bands: Bands) -> tuple[float, float]:
    """The band [low, high] around a target weight.

    A class is out of band when |w - t| > min(absolute, relative × t): whichever band is narrower
    counts (the "5/25" rule). The relative band applies to positive targets only; a class with a 0
    target gets the absolute band (otherwise a cash balance of one dollar would be out of band).
    """
    width = bands.absolute
    if bands.relative is not None and target > 0:
        width = min(width, bands.relative * target)
    return max(0.0, target - width), min(1.0, target + width)


def starting_shares(scenario: Scenario) -> dict[PositionKey, float]:
    """Shares held per (account, security): lots and holdings together."""
    shares: dict[PositionKey, float] = defaultdict(float)
    for account in scenario.accounts:
        for lot in account.lots:
            shares[(account.id, lot.security)] += lot.shares
        for security, n in account.holdings.items():
            shares[(account.id, security)] += n
    return dict(shares)


def starting_cash(scenario: Scenario) -> dict[str, float]:
    """Cash per account before trading: contributions have arrived, withdrawals are still to be funded."""
    return {a.id: a.cash + max(a.contribution, 0.0) for a in scenario.accounts}


def withdrawals(scenario: Scenario) -> dict[str, float]:
    """Cash each account must pay out (positive dollars), funded by the plan."""
    return {a.id: -a.contribution for a in scenario.accounts if a.contribution < 0}


def class_values(
    scenario: Scenario, shares: dict[PositionKey, float], cash: dict[str, float]
) -> dict[str, float]:
    """Dollar value per asset class: every account (held-away too), funds split, cash as class `cash`."""
    values: dict[str, float] = dict.fromkeys(scenario.asset_classes(), 0.0)
    for (_, ticker), n in shares.items():
        security = scenario.securities[ticker]
        for asset_class, fraction in security.class_split().items():
            values[asset_class] = values.get(asset_class, 0.0) + n * security.price * fraction
    values[CASH_CLASS] = values.get(CASH_CLASS, 0.0) + sum(cash.values())
    return values


@dataclass(frozen=True)
class ClassWeight:
    asset_class: str
    value: float
    weight: float
    target: float
    low: float
    high: float

    @property
    def drift(self) -> float:
        return self.weight - self.target

    @property
    def in_band(self) -> bool:
        # A millionth of weight of tolerance ($1 per $1M): a plan the solver put exactly on a band edge can
        # land a hair outside once its shares are rounded, and still counts as inside (as in the verifier).
        return self.low - BAND_TOLERANCE <= self.weight <= self.high + BAND_TOLERANCE


def allocation(scenario: Scenario, values: dict[str, float]) -> dict[str, ClassWeight]:
    """Weights, targets and bands per class from dollar values per class."""
    total = sum(values.values())
    out: dict[str, ClassWeight] = {}
    for asset_class in scenario.asset_classes():
        value = values.get(asset_class, 0.0)
        target = scenario.target(asset_class)
        low, high = band_limits(target, scenario.bands)
        weight = value / total if total > 0 else 0.0
        out[asset_class] = ClassWeight(asset_class, value, weight, target, low, high)
    return out


def allocation_before(scenario: Scenario) -> dict[str, ClassWeight]:
    return allocation(scenario, class_values(scenario, starting_shares(scenario), starting_cash(scenario)))


def account_values(scenario: Scenario) -> dict[str, float]:
    """Market value per account before trading (contributions included)."""
    values = starting_cash(scenario)
    for (account, ticker), n in starting_shares(scenario).items():
        values[account] += n * scenario.securities[ticker].price
    return values
