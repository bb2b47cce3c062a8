"""The security master: what rebal-opt knows about widely held funds, and filling a scenario from it.

`models/data/securities.csv` has one row per ticker: name, kind, fund family, the portfolio whose share class
it is, asset class, tracked index, default wash group, expense ratio, muni flag, plan-only flag, and the
`source` and `as_of` of the facts (docs/import.md says how the file was made). From it a scenario may omit a
known security's `asset_class` and `wash_group`, and gets its `expense_ratio`, `tax_exempt` and `plan_only`;
anything the scenario writes wins.

Two rules are applied here, to the raw scenario data before validation, so that the rest of the engine sees
a complete scenario:

* The master's asset class is the finest of the vocabulary (the default risk model's classes). When the
  household has no target for it, the class is widened along `BROADER` (small_cap_equity -> us_equity, tips
  -> bonds, ...) to the first class that has a target.
* The menu rule: an employer plan (`plan: 401k`, `403b`, `457b`, `tsp`) buys only from its `buyable` menu, by
  default the funds it holds; every other account buys no plan-only fund.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from .scenario import CASH_CLASS, EMPLOYER_PLANS

MASTER_FILE = "securities.csv"
MASTER_COLUMNS = (
    "ticker",
    "name",
    "kind",
    "family",
    "portfolio",
    "share_class",
    "asset_class",
    "index",
    "wash_group",
    "expense_ratio",
    "muni",
    "plan_only",
    "source",
    "as_of",
    "note",
)
KINDS = frozenset({"etf", "mutual_fund", "money_market", "trust"})

BROADER: dict[str, str] = {
    "small_cap_equity": "us_equity",
    "real_estate": "us_equity",
    "emerging_equity": "intl_equity",
    "tips": "bonds",
    "municipal_bonds": "bonds",
    "high_yield": "bonds",
    "intl_bonds": "bonds",
    "gold": "commodities",
    "commodities": "alternatives",
}
"""Where a fund's class goes when the household has no target for it (global_equity and alternatives have
no broader class: such a fund needs a target for its class or an asset_class in the scenario)."""


@functools.cache
def class_vocabulary() -> tuple[str, ...]:
    """The asset classes of the default risk model (models/data/risk_model.yaml): the master's vocabulary."""
    text = resources.files("rebal_opt.models.data").joinpath("risk_model.yaml").read_text(encoding="utf-8")
    return tuple(yaml.safe_load(text)["classes"])


@dataclass(frozen=True)
class MasterSecurity:
    """One row of the security master."""

    ticker: str
    name: str
    kind: str
    family: str
    portfolio: str
    share_class: str
    asset_class: str | dict[str, float] | None
    index: str
    wash_group: str
    expense_ratio: float | None
    muni: bool
    plan_only: bool
    source: str
    as_of: str
    note: str

    def fields(self) -> dict[str, Any]:
        """The master's facts as printed by `rebal-opt securities`."""
        return {k: getattr(self, k) for k in MASTER_COLUMNS}


def parse_class(text: str) -> str | dict[str, float] | None:
    """'us_equity' -> 'us_equity'; 'us_equity:0.6;bonds:0.4' -> {us_equity: 0.6, bonds: 0.4}; '' -> None."""
    text = text.strip()
    if not text:
        return None
    if ":" not in text:
        return text
    return {part.split(":")[0].strip(): float(part.split(":")[1]) for part in text.split(";") if part.strip()}


@functools.cache
def load_master() -> dict[str, MasterSecurity]:
    """The shipped security master, by ticker."""
    text = resources.files("rebal_opt.models.data").joinpath(MASTER_FILE).read_text(encoding="utf-8")
    out: dict[str, MasterSecurity] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["ticker"]] = MasterSecurity(
            ticker=row["ticker"],
            name=row["name"],
            kind=row["kind"],
            family=row["family"],
            portfolio=row["portfolio"],
            share_class=row["share_class"],
            asset_class=parse_class(row["asset_class"]),
            index=row["index"],
            wash_group=row["wash_group"],
            expense_ratio=float(row["expense_ratio"]) if row["expense_ratio"] else None,
            muni=row["muni"] == "true",
            plan_only=row["plan_only"] == "true",
            source=row["source"],
            as_of=row["as_of"],
            note=row["note"],
        )
    return out


def lookup(ticker: str) -> MasterSecurity | None:
    return load_master().get(ticker.upper())


NAME_NOISE = frozenset({"THE", "FUND", "FUNDS", "SHARES", "SHARE"})
"""Words a broker may add to or drop from a fund's name without naming another fund."""


def name_key(name: str) -> tuple[str, ...]:
    """A fund name compared as brokers write it: case, punctuation, '&' against 'and', and the words 'fund'
    and 'shares' do not matter; every other word, the share class included, does."""
    words = re.sub(r"[^A-Z0-9]+", " ", name.upper().replace("&", " AND ")).split()
    return tuple(w for w in words if w not in NAME_NOISE)


@functools.cache
def _by_name() -> dict[tuple[str, ...], tuple[str, ...]]:
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for ticker, info in load_master().items():
        key = name_key(info.name)
        out[key] = (*out.get(key, ()), ticker)
    return out


def lookup_name(name: str) -> MasterSecurity | None:
    """The master's fund with exactly this name (see `name_key`), or None: no match, or more than one. No
    fuzzy matching: an abbreviated name ('VANG INST IDX') finds nothing rather than a guess."""
    tickers = _by_name().get(name_key(name), ())
    return load_master()[tickers[0]] if len(tickers) == 1 and name_key(name) else None


def widen(asset_class: str, targeted: set[str]) -> str:
    """The class itself when the household targets it (or it is cash), else the first broader one it targets;
    the class unchanged when none is (validation then names it)."""
    current = asset_class
    while current not in targeted and current != CASH_CLASS and current in BROADER:
        current = BROADER[current]
    return current if current in targeted or current == CASH_CLASS else asset_class


def household_class(info: MasterSecurity, targeted: set[str]) -> str | dict[str, float] | None:
    """The master's class (or split) expressed in the household's targeted classes."""
    if info.asset_class is None:
        return None
    if isinstance(info.asset_class, str):
        return widen(info.asset_class, targeted)
    split: dict[str, float] = {}
    for name, weight in info.asset_class.items():
        key = widen(name, targeted)
        split[key] = split.get(key, 0.0) + weight
    return next(iter(split)) if len(split) == 1 else split


def fill_from_master(data: dict[str, Any]) -> dict[str, Any]:
    """The raw scenario data with known securities completed from the master and the menu rule applied.

    Pure: returns a new mapping; input that is not shaped like a scenario is returned as is (validation then
    reports it).
    """
    out = complete_securities(data)
    accounts = out.get("accounts")
    if isinstance(accounts, list) and isinstance(out.get("securities"), dict):
        out["accounts"] = [apply_menu_rule(a, out["securities"]) for a in accounts]
    return out


def complete_securities(data: dict[str, Any]) -> dict[str, Any]:
    """The raw scenario data with each known security's missing fields taken from the master."""
    securities = data.get("securities")
    if not isinstance(securities, dict):
        return data
    targets = data.get("targets")
    targeted = set(targets) if isinstance(targets, dict) else set()
    filled: dict[str, Any] = {}
    for ticker, spec in securities.items():
        info = lookup(str(ticker))
        if info is None or not isinstance(spec, dict):
            filled[ticker] = spec
            continue
        spec = dict(spec)
        if "asset_class" not in spec:
            asset_class = household_class(info, targeted)
            if asset_class is not None:
                spec["asset_class"] = asset_class
        spec.setdefault("wash_group", info.wash_group)
        if info.expense_ratio is not None:
            spec.setdefault("expense_ratio", info.expense_ratio)
        if info.muni:
            spec.setdefault("tax_exempt", True)
        if info.plan_only:
            spec.setdefault("plan_only", True)
        filled[ticker] = spec
    out = dict(data)
    out["securities"] = filled
    return out


def apply_menu_rule(account: Any, securities: dict[str, Any]) -> Any:
    """An account's effective `buyable` menu (see the module docstring); the account unchanged when it already
    has a menu or when the rule changes nothing."""
    if not isinstance(account, dict) or account.get("buyable") is not None:
        return account
    if account.get("plan") in EMPLOYER_PLANS:
        held = [t for t in (account.get("holdings") or {})]
        held += [lot.get("security") for lot in account.get("lots") or [] if isinstance(lot, dict)]
        menu = [t for t in securities if t in held]
        return {**account, "buyable": menu}
    plan_only = {t for t, spec in securities.items() if isinstance(spec, dict) and spec.get("plan_only")}
    if not plan_only:
        return account
    return {**account, "buyable": [t for t in securities if t not in plan_only]}
