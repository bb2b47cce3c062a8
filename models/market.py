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
from .scenario import Scenario, SimulatedPrices

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
