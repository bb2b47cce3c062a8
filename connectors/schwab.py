"""Charles Schwab exports: the Positions CSV, and the lot-level Unrealized Gain/Loss CSV.

Positions ("All-Accounts-Positions-....csv" or one account's): each account's section starts with a title
line `Positions for account <name> ...1234 as of <time>, <date>`, then a header row (Symbol, Description,
Qty (Quantity), Price, ..., Mkt Val (Market Value), ..., Cost Basis, ..., Security Type), the positions,
a "Cash & Cash Investments" row and an "Account Total" row. No lot dates: positions only.

Unrealized Gain/Loss (lot details): a title line naming the account, a header (Symbol, Name, Open Date,
Quantity, Price, Cost/Share, Market Value, Cost Basis, Gain/Loss $, Gain/Loss %, Holding Period, Disallowed
Loss), one row per lot; per-symbol and account total rows are skipped. Cost Basis is taken as the
wash-sale-adjusted basis (the disallowed loss is already added, as on a 1099-B).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import (
    Holdings,
    ImportedLot,
    SourceError,
    date,
    find_line,
    number,
    optional_columns,
    read_csv_section,
    read_text,
    require_columns,
    ticker,
)

TITLE = re.compile(
    r'^"?(?:Positions|Unrealized Gain/Loss|Realized Gain/Loss|Lot Details)[^"]*'
    r'for account ([^"]*?)(?: as of ([^"]*))?"?(?:,|$)',
    re.I,
)
SKIP_SYMBOLS = ("account total", "cash & cash investments", "total", "positions total")


def _sections(lines: list[str]) -> list[tuple[str, int, int]]:
    """(account label, header line, end line) per account section."""
    starts = [(i, m) for i, line in enumerate(lines) if (m := TITLE.match(line.strip()))]
    out = []
    for n, (i, m) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        header = find_line(lines[i + 1 : end], lambda s: s.strip().strip('"').lower().startswith("symbol"))
        if header is None:
            continue
        out.append((m.group(1).strip(), i + 1 + header, end))
    return out


def _account_label(label: str) -> str:
    digits = re.findall(r"[\dX]{3,}[-\d]*", label)
    return digits[-1].lstrip("X-.") if digits else label


def read(path: str | Path) -> Holdings:
    lines = read_text(path).splitlines()
    sections = _sections(lines)
    if not sections:
        raise SourceError(
            path,
            "row 1",
            "no 'Positions for account ...' or 'Unrealized Gain/Loss ... for account' title; "
            "export the Positions or Unrealized Gain/Loss page as CSV",
        )
    out = Holdings(f"schwab:{path}")
    lot_level = None
    for label, header, end in sections:
        table = read_csv_section(path, lines, header, end)
        lotted = any(c.lower() == "open date" for c in table.columns)
        lot_level = lotted if lot_level is None else lot_level and lotted
        account = out.account(_account_label(label))
        if lotted:
            _read_lots(table, out, account, path)
        else:
            _read_positions(table, out, account, path)
    out.lot_level = bool(lot_level)
    return out


def _skip(symbol: str, row: dict[str, str], out: Holdings, at: str) -> bool:
    low = symbol.lower()
    if not symbol or low in SKIP_SYMBOLS or low.endswith(" total"):
        return True
    kind = row.get("Security Type", "").lower()
    if "option" in kind or re.search(r"\d{2}/\d{2}/\d{4} [\d.]+ [CP]$", symbol):
        out.notes.append(f"{at}: skipped option {symbol} (options are not modelled)")
        return True
    return False


def _read_positions(table, out: Holdings, account, path) -> None:
    cols = require_columns(
        table,
        {"symbol": ("Symbol",), "qty": ("Qty (Quantity)", "Quantity", "Qty"), "price": ("Price",)},
        "a Schwab positions export",
    )
    extra = optional_columns(table, {"basis": ("Cost Basis",), "value": ("Mkt Val (Market Value)", "Market Value")})
    for line, row in table.rows():
        at = f"row {line}"
        symbol = row[cols["symbol"]]
        if symbol.lower().startswith("cash & cash investments"):
            account.cash += number(row.get(extra.get("value", ""), ""), path, f"{at}, column Market Value") or 0.0
            continue
        if _skip(symbol, row, out, f"{path}: {at}"):
            continue
        sym = ticker(symbol, path, f"{at}, column Symbol")
        shares = number(row[cols["qty"]], path, f"{at}, column {cols['qty']}")
        price = number(row[cols["price"]], path, f"{at}, column Price")
        assert shares is not None and price is not None
        out.prices[sym] = price
        basis = number(row.get(extra.get("basis", ""), ""), path, f"{at}, column Cost Basis", required=False)
        account.lots.append(ImportedLot(sym, shares, basis, None, f"{path}: {at}", symbol_at=f"{at}, column Symbol"))


def _read_lots(table, out: Holdings, account, path) -> None:
    cols = require_columns(
        table,
        {
            "symbol": ("Symbol",),
            "open": ("Open Date", "Acquired"),
            "qty": ("Quantity", "Qty"),
            "basis": ("Cost Basis",),
        },
        "a Schwab Unrealized Gain/Loss (lot details) export",
    )
    extra = optional_columns(table, {"price": ("Price",), "disallowed": ("Disallowed Loss", "Wash Sale Disallowed")})
    current = ""
    for line, row in table.rows():
        at = f"row {line}"
        symbol = row[cols["symbol"]] or current  # lot rows under a symbol may leave it blank
        if row[cols["symbol"]]:
            current = row[cols["symbol"]]
        opened = row[cols["open"]]
        if _skip(row[cols["symbol"]], row, out, f"{path}: {at}") and row[cols["symbol"]]:
            continue
        if not opened:  # a symbol subtotal line
            continue
        sym = ticker(symbol, path, f"{at}, column Symbol")
        shares = number(row[cols["qty"]], path, f"{at}, column {cols['qty']}")
        basis = number(row[cols["basis"]], path, f"{at}, column Cost Basis")
        acquired = date(opened, path, f"{at}, column {cols['open']}")
        assert shares is not None
        if "price" in extra:
            price = number(row[extra["price"]], path, f"{at}, column Price", required=False)
            if price is not None:
                out.prices[sym] = price
        disallowed = number(
            row.get(extra.get("disallowed", ""), ""), path, f"{at}, column Disallowed Loss", required=False
        )
        if disallowed:
            out.notes.append(
                f"{path}: {at}: {sym} lot basis includes a disallowed wash-sale loss of {abs(disallowed):,.2f}"
            )
        account.lots.append(
            ImportedLot(sym, shares, basis, acquired, f"{path}: {at}", symbol_at=f"{at}, column Symbol")
        )
