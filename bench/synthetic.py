"""Synthetic households for benchmarks: 3 accounts (taxable, IRA, Roth), N securities, L taxable lots.

Deterministic for a seed. Eight asset classes; securities spread over them, a few in shared wash groups;
the taxable account holds most lots (bought over ten years, gains and losses), the IRA and Roth hold
positions. The household is drifted so that a rebalance is due.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

CLASSES = {
    "us_equity": 0.30, "intl_equity": 0.15, "emerging_equity": 0.05, "small_cap_equity": 0.05,
    "real_estate": 0.05, "bonds": 0.25, "tips": 0.10, "cash": 0.05,
}


def household(n_securities: int, n_lots: int, seed: int = 0, as_of: dt.date = dt.date(2026, 11, 25)) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    classes = list(CLASSES)
    tickers = [f"S{i:03d}" for i in range(n_securities)]
    securities: dict[str, Any] = {}
    for i, ticker in enumerate(tickers):
        asset_class = classes[i % len(classes)]
        entry: dict[str, Any] = {"price": round(float(rng.uniform(20, 400)), 2), "asset_class": asset_class}
        if i % 10 == 1:
            entry["wash_group"] = f"G{i - 1:03d}"  # substantially identical to the previous security
        if i % 10 == 0:
            entry["wash_group"] = f"G{i:03d}"
        securities[ticker] = entry
    # Drift: overweight equity classes in the taxable account.
    security_classes = (classes[i % len(classes)] for i in range(n_securities))
    weights = np.array([3.0 if c.endswith("equity") else 1.0 for c in security_classes])
    weights /= weights.sum()
    lots = []
    for k in range(n_lots):
        i = int(rng.choice(n_securities, p=weights))
        price = securities[tickers[i]]["price"]
        acquired = as_of - dt.timedelta(days=int(rng.integers(31, 3650)))
        basis = price * float(rng.uniform(0.5, 1.3))
        lots.append({"id": f"L{k}", "security": tickers[i], "shares": float(rng.integers(5, 200)),
                     "cost_per_share": round(basis, 2), "acquired": acquired.isoformat()})
    ira = {tickers[i]: float(rng.integers(50, 2000)) for i in range(n_securities) if i % 3 == 0}
    roth = {tickers[i]: float(rng.integers(20, 500)) for i in range(n_securities) if i % 5 == 0}
    return {
        "name": f"synthetic-{n_securities}-{n_lots}",
        "as_of": as_of.isoformat(),
        "tax": {"filing_status": "married_joint", "ordinary_income": 240000,
                "realized_ytd": {"short_term": 0, "long_term": 5000}, "state_rate": 0.05},
        "targets": CLASSES,
        "bands": {"absolute": 0.05, "relative": 0.25},
        "securities": securities,
        "accounts": [
            {"id": "brokerage", "type": "taxable", "cash": 20000, "lots": lots},
            {"id": "ira", "type": "tax_deferred", "holdings": ira},
            {"id": "roth", "type": "tax_exempt", "holdings": roth},
        ],
        "rules": {"min_trade": 100, "whole_shares": False, "costs": {"commission": 0, "spread_bps": 2}},
        "objective": {"tracking": "quadratic", "tax_weight": 1.0},
    }
