"""TaxRebalance-shaped instances: one taxable account, N securities each its own target, M tax lots.

Deterministic for (N, M, seed). The annual covariance comes from a 4-factor model C = B F Bᵀ + diag(d)
(factor vols 8–18%, mildly correlated; market loadings around 1, style loadings around 0; specific vols
15–35%). Targets are skewed like a cap-weighted index; the starting values are drifted from them
(lognormal, σ = 0.25) and 1–4% of the account is cash. About 25% of the lots are at a loss; about 6%
were bought in the last 45 days (in about 30% of the securities: a contribution invested in some names),
so some sit inside the 30-day wash-sale window and some just outside.

Holding period. The U.S. rule (and rebal-opt) calls a lot long-term when it is sold *more than one year*
after it was bought (the day after the anniversary); TaxRebalance calls it long-term at `days_held >= 365`,
which is a day early (two in a leap span). No lot is generated 360–370 days old, so both tools agree on
every lot's term (the tests check it).

One instance is written as
* `scenario.yaml` — a rebal-opt scenario: each security its own asset class named by its ticker, the
  factor form of `objective.risk_model`, flat 35%/20% rates, wide bands, quadratic tracking, 10 bps
  spread; `scenario-dense.yaml` (option) the same covariance as volatility + correlation;
* TaxRebalance's CLI inputs — `lots.csv` (lot_id, ticker, shares, basis_per_share, days_held,
  prior_30d_replacement), `prices.json`, `targets.json`, `covariance.json` (n×n, tickers in prices
  order), `config.json` (RebalanceConfig fields plus `cash`).

    python bench/peers/instances.py 30x1000 --seed 0 --out /tmp/inst [--dense-risk]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

AS_OF = dt.date(2026, 11, 25)
WASH_WINDOW_DAYS = 30
RECENT_DAYS = 45  # "bought in the last 45 days": some inside the 30-day window, some just outside
TERM_BOUNDARY_DAYS = (360, 370)  # never generated: the two tools' long-term rules differ around 365
FACTORS = ("f1", "f2", "f3", "f4")
SHORT_TERM_RATE = 0.35
LONG_TERM_RATE = 0.20
SPREAD_BPS = 10.0
LOSS_FRACTION = 0.25
RECENT_FRACTION = 0.06
RECENTLY_BOUGHT = 0.3  # the share of securities with recent buys (a contribution invested in some names)
DRIFT_SIGMA = 0.25
PEER_TE_FRACTION = 0.5  # the peer's max_tracking_error: half the starting tracking error
WIDE_BANDS: dict[str, float | None] = {"absolute": 1.0, "relative": None}

try:  # the C emitter writes a 50,000-lot scenario in seconds rather than minutes
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


@dataclass(frozen=True)
class Lot:
    lot_id: str
    ticker: str
    shares: float
    basis_per_share: float
    acquired: dt.date


REALIZED_SHORT_TERM = 250_000.0
"""Dollars of short-term gains realized so far this year in the rebal-opt household (see Instance)."""


@dataclass(frozen=True)
class Instance:
    """One household in TaxRebalance's shape; all money in dollars, weights as fractions."""

    name: str
    as_of: dt.date
    tickers: tuple[str, ...]
    prices: np.ndarray  # (n,)
    targets: np.ndarray  # (n,), sums to 1 (no cash target)
    loadings: np.ndarray  # (n, k)
    factor_covariance: np.ndarray  # (k, k)
    specific_variance: np.ndarray  # (n,)
    lots: tuple[Lot, ...]
    cash: float
    bands: dict[str, float | None]
    spread_bps: float = SPREAD_BPS
    short_term_rate: float = SHORT_TERM_RATE
    long_term_rate: float = LONG_TERM_RATE
    # Short-term gains realized earlier in the year (rebal-opt only: TaxRebalance has no year). The peer
    # values every harvested loss at loss_utilization × its rate; rebal-opt applies Schedule D and the
    # $3,000 limit, so its household needs gains for a harvested loss to be usable this year.
    realized_short_term: float = REALIZED_SHORT_TERM

    @cached_property
    def covariance(self) -> np.ndarray:
        """The dense annual covariance C = B F Bᵀ + diag(d), exactly symmetric."""
        c = self.loadings @ self.factor_covariance @ self.loadings.T + np.diag(self.specific_variance)
        return (c + c.T) / 2

    @cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tickers)}

    @cached_property
    def held_shares(self) -> np.ndarray:
        shares = np.zeros(len(self.tickers))
        for lot in self.lots:
            shares[self.index[lot.ticker]] += lot.shares
        return shares

    @property
    def equity(self) -> float:
        return float(self.held_shares @ self.prices + self.cash)

    @cached_property
    def recent_buys(self) -> dict[str, list[Lot]]:
        """Lots bought in the wash-sale window [as_of − 30 days, as_of], per ticker."""
        start = self.as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
        out: dict[str, list[Lot]] = {}
        for lot in self.lots:
            if start <= lot.acquired <= self.as_of:
                out.setdefault(lot.ticker, []).append(lot)
        return out

    def days_held(self, lot: Lot) -> int:
        return (self.as_of - lot.acquired).days

    def at_loss(self, lot: Lot) -> bool:
        return bool(self.prices[self.index[lot.ticker]] < lot.basis_per_share)

    def bought_within_window_besides(self, lot: Lot) -> bool:
        """Another lot of the same security was bought in the last 30 days (a purchase never replaces
        the shares of its own lot)."""
        return any(other.lot_id != lot.lot_id for other in self.recent_buys.get(lot.ticker, []))

    def prior_30d_replacement(self, lot: Lot) -> bool:
        """TaxRebalance's flag: a loss lot whose security was bought (another lot) in the last 30 days, so
        that selling it now would be a wash sale (the peer then counts the loss as unusable)."""
        return self.at_loss(lot) and self.bought_within_window_besides(lot)

    def tracking_error_before(self) -> float:
        drift = self.held_shares * self.prices / self.equity - self.targets
        return float(np.sqrt(drift @ self.covariance @ drift))

    @property
    def peer_max_tracking_error(self) -> float:
        return round(PEER_TE_FRACTION * self.tracking_error_before(), 6)


def _factor_covariance(rng: np.random.Generator) -> np.ndarray:
    k = len(FACTORS)
    vols = rng.uniform(0.08, 0.18, size=k)
    vols[0] = rng.uniform(0.14, 0.18)  # the market factor is the largest
    corr = np.eye(k)
    for a in range(k):
        for b in range(a + 1, k):
            corr[a, b] = corr[b, a] = rng.uniform(-0.3, 0.3)  # |ρ| ≤ 0.3 on 4 factors keeps it positive definite
    return corr * np.outer(vols, vols)


def _days_held(rng: np.random.Generator, recent: bool) -> int:
    if recent:
        return int(rng.integers(1, RECENT_DAYS + 1))
    low, high = TERM_BOUNDARY_DAYS
    while True:
        days = int(rng.integers(RECENT_DAYS + 1, 3651))
        if not low <= days <= high:
            return days


def generate(
    n_securities: int, n_lots: int, seed: int = 0, as_of: dt.date = AS_OF, bands: dict[str, float | None] | None = None
) -> Instance:
    if n_securities < 2 or n_lots < n_securities:
        raise ValueError("need at least 2 securities and at least one lot per security")
    rng = np.random.default_rng([seed, n_securities, n_lots])
    tickers = tuple(f"S{i:04d}" for i in range(n_securities))
    prices = np.round(rng.uniform(20, 400, size=n_securities), 2)
    targets = rng.lognormal(0.0, 0.6, size=n_securities)
    targets /= targets.sum()
    loadings = np.column_stack(
        [rng.normal(1.0, 0.2, size=n_securities)] + [rng.normal(0.0, 0.4, size=n_securities) for _ in FACTORS[1:]]
    )
    factor_covariance = _factor_covariance(rng)
    specific_variance = rng.uniform(0.15, 0.35, size=n_securities) ** 2

    wealth = max(1_000_000.0, 250.0 * n_lots)
    cash = round(wealth * float(rng.uniform(0.01, 0.04)), 2)
    values = targets * np.exp(rng.normal(0.0, DRIFT_SIGMA, size=n_securities))
    values *= (wealth - cash) / values.sum()

    # Every security gets a lot; the rest go where the money is.
    owner = np.concatenate([np.arange(n_securities), rng.choice(n_securities, size=n_lots - n_securities, p=targets)])
    rng.shuffle(owner)
    recently_bought = rng.random(n_securities) < RECENTLY_BOUGHT
    recently_bought[int(rng.integers(n_securities))] = True
    lots: list[Lot] = []
    for i in range(n_securities):
        mine = np.flatnonzero(owner == i)
        share_of_value = rng.dirichlet(np.ones(len(mine)))
        for j, frac in zip(mine, share_of_value, strict=True):
            recent = bool(recently_bought[i]) and rng.random() < RECENT_FRACTION / RECENTLY_BOUGHT
            days = _days_held(rng, recent)
            loss = rng.random() < LOSS_FRACTION
            if recent:
                ratio = rng.uniform(1.005, 1.08) if loss else rng.uniform(0.92, 0.995)
            else:
                ratio = rng.uniform(1.02, 1.6) if loss else rng.uniform(0.25, 0.98)
            shares = max(0.001, round(float(values[i] * frac / prices[i]), 3))  # fractional (direct indexing)
            lots.append(
                Lot(
                    lot_id=f"L{j}",
                    ticker=tickers[i],
                    shares=shares,
                    basis_per_share=round(float(prices[i] * ratio), 2),
                    acquired=as_of - dt.timedelta(days=days),
                )
            )
    lots.sort(key=lambda lot: int(lot.lot_id[1:]))
    return Instance(
        name=f"peers-{n_securities}-{n_lots}-s{seed}",
        as_of=as_of,
        tickers=tickers,
        prices=prices,
        targets=targets,
        loadings=loadings,
        factor_covariance=factor_covariance,
        specific_variance=specific_variance,
        lots=tuple(lots),
        cash=cash,
        bands=dict(bands or WIDE_BANDS),
    )


# ---- rebal-opt scenario -------------------------------------------------------------------------------


def _factor_risk_model(inst: Instance) -> dict[str, Any]:
    k = len(FACTORS)
    return {
        "loadings": {
            t: {f: float(inst.loadings[i, a]) for a, f in enumerate(FACTORS)} for i, t in enumerate(inst.tickers)
        },
        "factor_covariance": {
            FACTORS[a]: {FACTORS[b]: float(inst.factor_covariance[a, b]) for b in range(a, k)} for a in range(k)
        },
        "specific_variance": {t: float(inst.specific_variance[i]) for i, t in enumerate(inst.tickers)},
    }


def _dense_risk_model(inst: Instance) -> dict[str, Any]:
    c = inst.covariance
    vol = np.sqrt(np.diag(c))
    n = len(inst.tickers)
    return {
        "volatility": {t: float(vol[i]) for i, t in enumerate(inst.tickers)},
        "correlation": {
            f"{inst.tickers[i]}.{inst.tickers[j]}": float(np.clip(c[i, j] / (vol[i] * vol[j]), -1.0, 1.0))
            for i in range(n)
            for j in range(i + 1, n)
        },
    }


def scenario_dict(
    inst: Instance, dense_risk: bool = False, max_tracking_error: float | None = None
) -> dict[str, Any]:
    """The rebal-opt scenario of the instance (design §3), as plain data."""
    # TaxRebalance has no contributions-first rule: it keeps as much cash as it likes while it sells (at
    # 10 / 100 its plan at its own TE keeps $41k). rebal-opt's default (spend new cash before selling)
    # would make the peer's plan infeasible for rebal-opt, and "more loss at the peer's TE" a comparison
    # of two rule sets, not of two optimizers.
    rules: dict[str, Any] = {
        "costs": {"commission": 0, "spread_bps": inst.spread_bps},
        "contributions_first": False,
    }
    if max_tracking_error is not None:
        rules["max_tracking_error"] = max_tracking_error
    return {
        "name": inst.name,
        "as_of": inst.as_of,
        "tax": {
            "filing_status": "married_joint",
            "rates": {"short_term": inst.short_term_rate, "long_term": inst.long_term_rate},
            "realized_ytd": {"short_term": inst.realized_short_term, "long_term": 0.0},
        },
        "targets": {t: float(inst.targets[i]) for i, t in enumerate(inst.tickers)},
        "bands": inst.bands,
        "securities": {t: {"price": float(inst.prices[i]), "asset_class": t} for i, t in enumerate(inst.tickers)},
        "accounts": [
            {
                "id": "taxable",
                "type": "taxable",
                "cash": inst.cash,
                "lots": [
                    {
                        "id": lot.lot_id,
                        "security": lot.ticker,
                        "shares": lot.shares,
                        "cost_per_share": lot.basis_per_share,
                        "acquired": lot.acquired,
                    }
                    for lot in inst.lots
                ],
            }
        ],
        "rules": rules,
        "objective": {
            "tracking": "quadratic",
            "risk_model": _dense_risk_model(inst) if dense_risk else _factor_risk_model(inst),
        },
    }


def write_scenario(path: Path, data: dict[str, Any]) -> None:
    # default_flow_style=None: one line per lot, block style above.
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=200))


# ---- TaxRebalance's CLI inputs ----------------------------------------------------------------------


def peer_config(inst: Instance) -> dict[str, Any]:
    """RebalanceConfig fields (its defaults written out) plus `cash`, as the peer's CLI reads them."""
    return {
        "max_tracking_error": inst.peer_max_tracking_error,
        "trading_cost_bps": inst.spread_bps,
        "loss_utilization": 0.8,
        "future_recapture_fraction": 0.2,
        "risk_aversion": 1.0,
        "cash": inst.cash,
    }


def write_peer_inputs(inst: Instance, out: Path) -> None:
    with (out / "lots.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["lot_id", "ticker", "shares", "basis_per_share", "days_held", "prior_30d_replacement"])
        for lot in inst.lots:
            writer.writerow(
                [
                    lot.lot_id,
                    lot.ticker,
                    repr(lot.shares),
                    repr(lot.basis_per_share),
                    inst.days_held(lot),
                    "true" if inst.prior_30d_replacement(lot) else "false",
                ]
            )
    (out / "prices.json").write_text(json.dumps({t: float(p) for t, p in zip(inst.tickers, inst.prices, strict=True)}))
    (out / "targets.json").write_text(
        json.dumps({t: float(w) for t, w in zip(inst.tickers, inst.targets, strict=True)})
    )
    (out / "covariance.json").write_text(json.dumps(inst.covariance.tolist()))
    (out / "config.json").write_text(json.dumps(peer_config(inst), indent=1))


def write_instance(inst: Instance, out: Path, dense_risk: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_scenario(out / "scenario.yaml", scenario_dict(inst))
    if dense_risk:
        write_scenario(out / "scenario-dense.yaml", scenario_dict(inst, dense_risk=True))
    write_peer_inputs(inst, out)


def parse_size(text: str) -> tuple[int, int]:
    """'30x1000' → (30, 1000)."""
    try:
        n, m = (int(part.replace(",", "").replace("_", "")) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size '{text}': write securities x lots, e.g. 30x1000") from None
    return n, m


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", type=parse_size, help="securities x lots, e.g. 30x1000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="directory for the instance files")
    parser.add_argument("--dense-risk", action="store_true", help="also write scenario-dense.yaml (vol + corr)")
    args = parser.parse_args(argv)
    inst = generate(*args.size, seed=args.seed)
    write_instance(inst, args.out, dense_risk=args.dense_risk)
    recent = sum(1 for lot in inst.lots if inst.days_held(lot) <= RECENT_DAYS)
    print(
        f"{inst.name}: equity {inst.equity:,.0f}, cash {inst.cash:,.0f}, TE before {inst.tracking_error_before():.4%}, "
        f"{sum(inst.at_loss(lot) for lot in inst.lots)} loss lots, {recent} bought in the last {RECENT_DAYS} days, "
        f"{sum(inst.prior_30d_replacement(lot) for lot in inst.lots)} flagged prior_30d_replacement -> {args.out}"
    )


if __name__ == "__main__":
    main()
