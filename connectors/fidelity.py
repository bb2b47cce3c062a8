"""Fidelity exports: Portfolio Positions CSV (positions, no dates) and the lot-level cost-basis CSV.

Positions ("Portfolio_Positions_<date>.csv"): header Account Number, Account Name, Symbol, Description,
Quantity, Last Price, ..., Current Value, ..., Cost Basis Total, Average Cost Basis, Type; one row per
position of every account; the core money market is written with "**" (SPAXX**) and is the account's cash;
"Pending Activity" rows are skipped with a note; after a blank line come disclaimer lines and "Date
downloaded ...". Employer-plan funds may appear under a CUSIP instead of a ticker.

Lots (the Unrealized Gain/Loss page downloaded with lot details): the same account columns plus Date
Acquired, Quantity, Cost Basis (wash-sale adjusted), and optionally Wash Sale Loss Disallowed.
"""

from __future__ import annotations

import re
from pathlib import Path

from rebal_opt.models.securities import lookup_name

from .base import (
    CUSIP,
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


def read(path: str | Path) -> Holdings:
    lines = read_text(path).splitlines()
    header = find_line(lines, lambda s: s.lower().lstrip('"').startswith("account number") and "symbol" in s.lower())
    if header is None:
        raise SourceError(
            path, "row 1", "no 'Account Number,...,Symbol' header; export Positions (or lot details) as CSV"
        )
    end = find_line(lines[header + 1 :], lambda s: not s.strip().strip(","))
    table = read_csv_section(path, lines, header, None if end is None else header + 1 + end)
    cols = require_columns(
        table,
        {"account": ("Account Number",), "symbol": ("Symbol",), "qty": ("Quantity",)},
        "a Fidelity positions export",
    )
    extra = optional_columns(
        table,
        {
            "price": ("Last Price", "Price"),
            "value": ("Current Value",),
            "basis": ("Cost Basis Total", "Cost Basis"),
            "acquired": ("Date Acquired", "Acquired"),
            "disallowed": ("Wash Sale Loss Disallowed", "Wash Sale Disallowed"),
            "description": ("Description",),
        },
    )
    out = Holdings(f"fidelity:{path}", lot_level="acquired" in extra)
    for line, row in table.rows():
        at = f"row {line}"
        symbol = row[cols["symbol"]]
        number_ = row[cols["account"]]
        if not number_ and not symbol:
            continue
        account = out.account(number_)
        if (
            symbol.lower().startswith("pending activity")
            or row.get(extra.get("description", ""), "").lower() == "pending activity"
        ):
            out.notes.append(f"{path}: {at}: skipped pending activity in {number_} (not yet settled)")
            continue
        if symbol.endswith("**"):  # the core position: the account's cash
            value = row.get(extra.get("value", ""), "")
            account.cash += number(value, path, f"{at}, column Current Value") or 0.0
            continue
        if symbol.startswith("-") or re.search(r"\d{6}[CP]\d", symbol):
            out.notes.append(f"{path}: {at}: skipped option {symbol.strip()} (options are not modelled)")
            continue
        description = row.get(extra.get("description", ""), "")
        if CUSIP.match(symbol):
            sym = _plan_fund(symbol, description, out, f"{path}: {at}")
        else:
            sym = ticker(symbol, path, f"{at}, column Symbol")
        shares = number(row[cols["qty"]], path, f"{at}, column Quantity")
        assert shares is not None
        if "price" in extra:
            price = number(row[extra["price"]], path, f"{at}, column {extra['price']}", required=False)
            if price is not None:
                out.prices[sym] = price
        basis = number(row.get(extra.get("basis", ""), ""), path, f"{at}, column Cost Basis", required=False)
        acquired = None
        if "acquired" in extra:
            acquired = date(row[extra["acquired"]], path, f"{at}, column {extra['acquired']}")
        disallowed = number(row.get(extra.get("disallowed", ""), ""), path, f"{at}, column Wash Sale", required=False)
        if disallowed:
            out.notes.append(
                f"{path}: {at}: {sym} lot basis includes a disallowed wash-sale loss of {abs(disallowed):,.2f}"
            )
        account.lots.append(
            ImportedLot(
                sym, shares, basis, acquired, f"{path}: {at}", symbol_at=f"{at}, column Symbol", name=description
            )
        )
    return out


def _plan_fund(cusip: str, description: str, out: Holdings, where: str) -> str:
    """A plan fund listed by CUSIP: the security master's ticker when it knows the fund by exactly this name,
    else the CUSIP itself (the import then needs the policy to list it under securities, with its class).
    The master carries no CUSIPs: the plan funds' fact sheets it was read from give none, and CUSIP Global
    Services' terms (printed on the ETF fact sheets) forbid passing CUSIPs on as a substitute for its service."""
    info = lookup_name(description) if description else None
    if info is None:
        return cusip
    out.notes.append(f"{where}: CUSIP {cusip} ({description}) is {info.ticker} in the security master, by its name")
    return info.ticker
