"""Market assumptions for the simulator: expected return, distribution yield and qualified share per
security, from the scenario's `simulate.prices` section over the shipped defaults (data/
market_assumptions.yaml).

A figure given for a ticker is that security's; otherwise a security takes the value-weighted figure of
its asset classes (a fund's split), each class from the section or else the default of its base class
(the risk model's aliases map other names onto base classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from .risk import default_risk_model
from .scenario import CASH_CLASS, Scenario, Security, SimulatedPrices

FIGURES = ("expected_return", "dividend_yield", "qualified_fraction")


@cache
def default_market() -> dict[str, dict[str, float]]:
    text = resources.files("rebal_opt.models.data").joinpath("market_assumptions.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return {figure: {k: float(v) for k, v in raw[figure].items()} for figure in FIGURES}


@dataclass(frozen=True)
class SecurityFigures:
    expected_return: float
    dividend_yield: float
    qualified_fraction: float


def class_figure(figure: str, asset_class: str, prices: SimulatedPrices) -> float | None:
    """The section's figure for a class, else the default of its base class; None when neither knows it."""
    given: dict[str, float] = getattr(prices, figure)
    if asset_class in given:
        return given[asset_class]
    base = default_risk_model().base(asset_class)
    return default_market()[figure].get(base) if base is not None else None


def classes_without_figures(scenario: Scenario, prices: SimulatedPrices) -> list[tuple[str, str]]:
    """(figure, class) pairs a held security needs and neither the section nor the defaults give."""
    missing: list[tuple[str, str]] = []
    for ticker, security in scenario.securities.items():
        for figure in FIGURES:
            if ticker in getattr(prices, figure):
                continue
            for asset_class in security.class_split():
                if class_figure(figure, asset_class, prices) is None and (figure, asset_class) not in missing:
                    missing.append((figure, asset_class))
    return missing


def security_figures(scenario: Scenario, prices: SimulatedPrices) -> dict[str, SecurityFigures]:
    """Every security's figures (raises KeyError naming a class without one: validation prevents it)."""
    out: dict[str, SecurityFigures] = {}
    for ticker, security in scenario.securities.items():
        values: list[float] = []
        for figure in FIGURES:
            given: dict[str, float] = getattr(prices, figure)
            if ticker in given:
                values.append(given[ticker])
                continue
            total = 0.0
            for asset_class, fraction in security.class_split().items():
                value = class_figure(figure, asset_class, prices)
                if value is None:
                    raise KeyError(f"simulate.prices.{figure}.{asset_class}")
                total += fraction * value
            values.append(total)
        out[ticker] = SecurityFigures(*values)
    return out


# Holding figures for asset location (rules.location, solver/location.py) ------------------------------

MUNICIPAL_CLASS = "municipal_bonds"
"""The base class whose figures a tax-exempt security takes (its household class, e.g. bonds after the
security master widened it, describes taxable bonds: their yield and return are higher)."""


@dataclass(frozen=True)
class HoldingFigures:
    """What one dollar of a security earns and costs a year (fractions), for the holding-cost term.

    expected_return is the security's own (total, before its expense ratio); class_return that of its
    asset classes (the household's, a fund's split): what a security of those classes is expected to earn,
    so that a lower return of this one (a municipal fund's) counts as return given up.
    """

    dividend_yield: float
    qualified_fraction: float
    tax_exempt: bool
    expense_ratio: float
    expected_return: float
    class_return: float


def market_prices(scenario: Scenario) -> SimulatedPrices:
    """The market assumptions a scenario states: its `simulate.prices` section, else the shipped defaults."""
    return scenario.simulate.prices if scenario.simulate is not None else SimulatedPrices()


def _class_average(figure: str, split: dict[str, float], prices: SimulatedPrices) -> float | None:
    total = 0.0
    for asset_class, fraction in split.items():
        value = class_figure(figure, asset_class, prices)
        if value is None:
            return None
        total += fraction * value
    return total


def _own_figure(
    figure: str, ticker: str, split: dict[str, float], exempt: bool, prices: SimulatedPrices
) -> float | None:
    """A ticker's figure from the section, else (tax-exempt) the municipal class's, else its classes'."""
    given: dict[str, float] = getattr(prices, figure)
    if ticker in given:
        return given[ticker]
    if exempt:
        return class_figure(figure, MUNICIPAL_CLASS, prices)
    return _class_average(figure, split, prices)


def _holding(ticker: str, security: Security, prices: SimulatedPrices) -> HoldingFigures | str:
    """The security's holding figures, or the name of the first figure nobody gives."""
    split = security.class_split()
    exempt = bool(security.tax_exempt)
    stated = {"dividend_yield": security.yield_, "qualified_fraction": security.qualified_fraction}
    values: dict[str, float] = {}
    for name in FIGURES:
        value = stated.get(name)
        if value is None:
            value = _own_figure(name, ticker, split, exempt, prices)
        if value is None:
            return name
        values[name] = value
    class_return = _class_average("expected_return", split, prices)
    if class_return is None:
        return "expected_return"
    return HoldingFigures(
        dividend_yield=values["dividend_yield"],
        qualified_fraction=values["qualified_fraction"],
        tax_exempt=exempt,
        expense_ratio=security.expense_ratio or 0.0,
        expected_return=values["expected_return"],
        class_return=class_return,
    )


def holding_figures(scenario: Scenario) -> tuple[dict[str, HoldingFigures], dict[str, str]]:
    """Every security's holding figures, and the securities that have none (ticker -> the figure missing).

    Figures: the scenario's yield, qualified_fraction, tax_exempt and expense_ratio (the security master
    fills the last two for known tickers), else the market assumptions (models/data/market_assumptions.yaml,
    or the scenario's simulate.prices): by ticker, else — for a tax-exempt security — the municipal_bonds
    class, else its asset classes (a fund's split). No expense ratio means 0. A security of an asset class
    the assumptions do not know (a private company's own class) has no figures unless the scenario gives
    them by ticker."""
    prices = market_prices(scenario)
    known: dict[str, HoldingFigures] = {}
    missing: dict[str, str] = {}
    for ticker, security in scenario.securities.items():
        figures = _holding(ticker, security, prices)
        if isinstance(figures, str):
            missing[ticker] = figures
        else:
            known[ticker] = figures
    return known, missing


def cash_figures(scenario: Scenario) -> HoldingFigures:
    """Uninvested cash: the cash class's figures (a sweep earns the cash yield, taxed as interest), no fee."""
    prices = market_prices(scenario)
    values = {name: class_figure(name, CASH_CLASS, prices) for name in FIGURES}
    if any(v is None for v in values.values()):
        raise KeyError("cash: no market figures")
    return HoldingFigures(
        dividend_yield=float(values["dividend_yield"] or 0.0),
        qualified_fraction=float(values["qualified_fraction"] or 0.0),
        tax_exempt=False,
        expense_ratio=0.0,
        expected_return=float(values["expected_return"] or 0.0),
        class_return=float(values["expected_return"] or 0.0),
    )
