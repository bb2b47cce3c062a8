"""A beancount (v3) ledger: lots held at cost, with their dates, per account; read with beancount's loader.

Every Assets account's inventory after the last transaction is read: positions held at cost become lots
(units, cost per unit, acquisition date, the cost's label as lot id); USD units are the account's cash.
Prices come from the ledger's `price` directives (the latest per commodity). Accounts map to the policy's
accounts through `broker_account:` (an account name or a parent of it, e.g. Assets:Schwab:Joint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import CASH, Holdings, ImportedLot, SourceError, read_text, ticker

CURRENCY = "USD"


@dataclass
class Ledger:
    """A loaded ledger: its entries, every account it opens, and each Assets account's inventory after the last
    transaction (with the line that last changed each commodity there)."""

    path: str
    entries: list[Any]
    opened: set[str]
    balances: dict[str, Any] = field(default_factory=dict)  # account -> beancount Inventory
    lines: dict[tuple[str, str], int] = field(default_factory=dict)


def load(path: str | Path) -> Ledger:
    """Load a ledger with beancount's loader; its first error is one SourceError naming the line."""
    from beancount import loader

    read_text(path)
    entries, errors, _options = loader.load_file(str(path))
    if errors:
        first = errors[0]
        meta = getattr(first, "source", None) or {}
        line = meta.get("lineno", "?") if isinstance(meta, dict) else "?"
        message = str(getattr(first, "message", first)).splitlines()[0]
        raise SourceError(path, f"row {line}", f"beancount cannot load the ledger: {message}")
    return ledger_of(str(path), entries)


def ledger_of(path: str, entries: list[Any]) -> Ledger:
    """A Ledger of loaded entries: the accounts opened and each Assets account's inventory at the end."""
    from beancount.core import data, inventory

    ledger = Ledger(path, entries, {e.account for e in entries if isinstance(e, data.Open)})
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        for posting in entry.postings:
            if not posting.account.startswith("Assets:"):
                continue
            ledger.balances.setdefault(posting.account, inventory.Inventory()).add_position(posting)
            ledger.lines[(posting.account, posting.units.currency)] = entry.meta.get("lineno", 0)
    return ledger


def read(path: str | Path) -> Holdings:
    from beancount.core import data

    ledger = load(path)
    out = Holdings(f"beancount:{path}")
    for entry in ledger.entries:
        if isinstance(entry, data.Price) and entry.amount.currency == CURRENCY:
            out.prices[entry.currency] = float(entry.amount.number)
            out.as_of = max(out.as_of or entry.date, entry.date)
        if isinstance(entry, data.Transaction):
            out.as_of = max(out.as_of or entry.date, entry.date)
    balances, lines = ledger.balances, ledger.lines
    for name, inv in sorted(balances.items()):
        account = None
        for position in inv:
            units = position.units
            if units.number == 0:
                continue
            if account is None:
                account = out.account(name)
            where = f"{path}: row {lines.get((name, units.currency), '?')}"
            if units.currency == CURRENCY and position.cost is None:
                account.cash += float(units.number)
                continue
            if units.currency == CASH:
                continue
            if position.cost is None:
                raise SourceError(
                    path,
                    f"account {name}",
                    f"holds {units} without a cost; hold securities at cost (e.g. 10 VTI {{150.20 USD, 2019-03-14}})",
                )
            if units.number < 0:
                raise SourceError(
                    path, f"account {name}", f"holds {units}: a short position; only long lots are supported"
                )
            cost = position.cost
            if cost.currency != CURRENCY:
                raise SourceError(
                    path,
                    f"account {name}",
                    f"{units.currency} is held at a cost in {cost.currency}; rebal-opt works in US dollars",
                )
            sym = ticker(units.currency, path, f"account {name}")
            shares = float(units.number)
            basis = float(units.number * cost.number)
            account.lots.append(
                ImportedLot(sym, shares, basis, cost.date, where, cost.label or None, symbol_at=f"account {name}")
            )
    return out
