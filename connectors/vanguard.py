"""Vanguard's holdings download (Download center -> "OfxDownload.csv" in CSV form).

The file is two CSV tables one after the other: holdings (Account Number, Investment Name, Symbol, Shares,
Share Price, Total Value, with a trailing comma), a blank line, then transactions (Account Number, Trade
Date, Settlement Date, Transaction Type, ...). Only the holdings table is read: positions, no lots and no
cost basis (Vanguard's cost basis pages are not part of this download).
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    Holdings,
    ImportedLot,
    SourceError,
    find_line,
    number,
    read_csv_section,
    read_text,
    require_columns,
    ticker,
)


def read(path: str | Path) -> Holdings:
    lines = read_text(path).splitlines()
    header = find_line(lines, lambda s: s.lower().startswith("account number") and "share price" in s.lower())
    if header is None:
        raise SourceError(
            path,
            "row 1",
            "no holdings header (Account Number,Investment Name,Symbol,Shares,Share Price,...); "
            "download the holdings as CSV from the Download center",
        )
    end = find_line(
        lines[header + 1 :], lambda s: not s.strip().strip(",") or s.lower().startswith("account number,trade date")
    )
    table = read_csv_section(path, lines, header, None if end is None else header + 1 + end)
    cols = require_columns(
        table,
        {
            "account": ("Account Number",),
            "name": ("Investment Name",),
            "symbol": ("Symbol",),
            "shares": ("Shares",),
            "price": ("Share Price",),
        },
        "a Vanguard holdings download",
    )
    out = Holdings(f"vanguard:{path}", lot_level=False)
    for line, row in table.rows():
        at = f"row {line}"
        if not row[cols["account"]]:
            continue
        if not row[cols["symbol"]]:
            raise SourceError(
                path,
                f"{at}, column Symbol",
                f"is empty for '{row[cols['name']]}'; give the fund's symbol (plan funds without one: use lots-csv)",
            )
        sym = ticker(row[cols["symbol"]], path, f"{at}, column Symbol")
        shares = number(row[cols["shares"]], path, f"{at}, column Shares")
        price = number(row[cols["price"]], path, f"{at}, column Share Price")
        assert shares is not None and price is not None
        out.prices[sym] = price
        if shares == 0:
            continue
        out.account(row[cols["account"]]).lots.append(
            ImportedLot(sym, shares, None, None, f"{path}: {at}", symbol_at=f"{at}, column Symbol")
        )
    return out
