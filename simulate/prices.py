"""Price paths for the simulator: Monte Carlo from the risk model, or a history file replayed as given.

A path is the price of every security at every step date (row 0 = the scenario's prices) and the
distributions paid per share at each step. Monte Carlo draws asset-class log returns, each step

    r = (μ − y − σ²/2)·Δt + L·z·√Δt,   z ~ N(0, I),   LLᵀ = Σ (the class covariance, models.risk),

with μ the expected total return and y the distribution yield of the class (so that price growth plus
distributions earn μ), then moves each security by its class split (a fund is rebalanced to its split
every step) with its own μ − y where the section gives one for its ticker. Distributions are paid at
each step that a calendar quarter end falls before: price × y/4 per quarter end. The random numbers of a
path depend only on (seed, path index): every policy sees the same prices, and a path's prices are the
same wherever it is computed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import numpy as np

from rebal_opt.models.market import security_figures
from rebal_opt.models.risk import class_risk
from rebal_opt.models.scenario import Scenario

from .calendar import MONTHS, quarter_ends_between

PRICE_DIGITS = 4


class HistoryError(ValueError):
    """A history file that cannot be replayed (names the row or column and the fix)."""


@dataclass(frozen=True)
class PricePath:
    """prices[k][t] and distributions per share paid at step k, for securities `tickers`."""

    tickers: list[str]
    prices: np.ndarray  # (steps + 1, securities)
    distributions: np.ndarray  # (steps + 1, securities), dollars per share paid at each step

    def price(self, k: int) -> dict[str, float]:
        return {t: float(self.prices[k, i]) for i, t in enumerate(self.tickers)}

    def distribution(self, k: int) -> dict[str, float]:
        return {t: float(self.distributions[k, i]) for i, t in enumerate(self.tickers) if self.distributions[k, i] > 0}


def _covariance_root(scenario: Scenario, classes: list[str]) -> np.ndarray:
    """L with L Lᵀ = Σ (eigen-decomposition: Σ may be singular, e.g. cash)."""
    covariance = class_risk(classes, scenario.objective.risk_model).covariance
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _distributions(dates: list[dt.date], prices: np.ndarray, yields: np.ndarray) -> np.ndarray:
    out = np.zeros_like(prices)
    for k in range(1, len(dates)):
        quarters = quarter_ends_between(dates[k - 1], dates[k])
        if quarters:
            out[k] = np.round(prices[k] * yields / 4 * quarters, PRICE_DIGITS)
    return out


def monte_carlo_path(scenario: Scenario, dates: list[dt.date], path: int) -> PricePath:
    sim = scenario.simulate
    assert sim is not None
    tickers = list(scenario.securities)
    figures = security_figures(scenario, sim.prices)
    classes = sorted({c for s in scenario.securities.values() for c in s.class_split()})
    root = _covariance_root(scenario, classes)
    dt_years = MONTHS[sim.step] / 12
    class_index = {c: i for i, c in enumerate(classes)}
    split = np.zeros((len(tickers), len(classes)))
    for i, t in enumerate(tickers):
        for c, fraction in scenario.securities[t].class_split().items():
            split[i, class_index[c]] = fraction
    variance = np.einsum("ij,ij->i", root, root)
    # Each class's drift is set through its securities: a class's price drift is the value-weighted
    # drift of the securities' own μ − y (all securities of a class share its random part).
    price_drift = np.array([figures[t].expected_return - figures[t].dividend_yield for t in tickers])
    rng = np.random.default_rng([scenario.simulate.seed, path])
    steps = len(dates) - 1
    shocks = rng.standard_normal((steps, len(classes))) @ root.T * np.sqrt(dt_years)  # (steps, classes)
    class_growth = np.exp(shocks - variance / 2 * dt_years)  # mean 1: the random part only
    security_growth = (class_growth @ split.T) * np.exp(price_drift * dt_years)  # (steps, securities)
    prices = np.empty((steps + 1, len(tickers)))
    prices[0] = [scenario.securities[t].price for t in tickers]
    for k in range(steps):
        prices[k + 1] = prices[k] * security_growth[k]
    prices = np.round(prices, PRICE_DIGITS)
    yields = np.array([figures[t].dividend_yield for t in tickers])
    return PricePath(tickers, prices, _distributions(dates, prices, yields))


@dataclass(frozen=True)
class History:
    """A price history: dates and one price column per ticker (parsed from CSV text)."""

    dates: list[dt.date]
    columns: dict[str, list[float]]


def parse_history(text: str, source: str) -> History:
    """Read 'date,TICKER,...' CSV text; every row a date (YYYY-MM-DD, increasing) and positive prices."""
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    if not rows or rows[0][0].strip().lower() != "date":
        raise HistoryError(f"{source}: the first column must be 'date' (header: date,TICKER,...)")
    header = [c.strip() for c in rows[0]]
    tickers = header[1:]
    dates: list[dt.date] = []
    columns: dict[str, list[float]] = {t: [] for t in tickers}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise HistoryError(f"{source}: row {n} has {len(row)} cells, the header {len(header)}")
        try:
            day = dt.date.fromisoformat(row[0].strip())
        except ValueError:
            raise HistoryError(f"{source}: row {n}: date '{row[0]}' must be YYYY-MM-DD") from None
        if dates and day <= dates[-1]:
            raise HistoryError(f"{source}: row {n}: dates must increase ({day} after {dates[-1]})")
        dates.append(day)
        for ticker, cell in zip(tickers, row[1:], strict=True):
            try:
                value = float(cell)
            except ValueError:
                raise HistoryError(f"{source}: row {n}, column {ticker}: '{cell}' is not a number") from None
            if not value > 0:
                raise HistoryError(f"{source}: row {n}, column {ticker}: prices must be positive")
            columns[ticker].append(value)
    if len(dates) < 2:
        raise HistoryError(f"{source}: needs at least two rows of prices")
    return History(dates, columns)


def history_path(scenario: Scenario, dates: list[dt.date], history: History) -> PricePath:
    """Replay the history: step k takes the history's return from its first date to k steps later (the
    last row on or before that date); the scenario's prices are scaled by it. Distributions are paid
    from the yields unless the history is adjusted (total return)."""
    from .calendar import add_months

    sim = scenario.simulate
    assert sim is not None
    tickers = list(scenario.securities)
    missing = [t for t in tickers if t not in history.columns]
    if missing:
        raise HistoryError(f"history: no column for {', '.join(missing)}; add a column per security")
    start = history.dates[0]
    months = MONTHS[sim.step]
    rows: list[int] = []
    for k in range(len(dates)):
        when = add_months(start, k * months)
        row = max(i for i, d in enumerate(history.dates) if d <= when)
        rows.append(row)
    base = np.array([scenario.securities[t].price for t in tickers])
    first = np.array([history.columns[t][0] for t in tickers])
    table = np.array([[history.columns[t][r] for t in tickers] for r in rows])
    prices = np.round(base * table / first, PRICE_DIGITS)
    if sim.prices.history_adjusted:
        yields = np.zeros(len(tickers))
    else:
        figures = security_figures(scenario, sim.prices)
        yields = np.array([figures[t].dividend_yield for t in tickers])
    return PricePath(tickers, prices, _distributions(dates, prices, yields))


def history_years(history: History) -> int:
    """Whole years the history covers from its first date."""
    from .calendar import add_months

    years = 0
    while add_months(history.dates[0], 12 * (years + 1)) <= history.dates[-1]:
        years += 1
    return years
