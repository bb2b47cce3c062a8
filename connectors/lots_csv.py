"""The canonical lots CSV (design §6): one row per lot or position; anyone can write it from a spreadsheet.

Columns: account, account_type, security, shares, cost_basis (row total) or cost_per_share, acquired
(YYYY-MM-DD; may be empty in tax-advantaged accounts), and optional lot_id, price, inherited. Cash is a row
with security CASH and shares = dollars.
"""

from __future__ import annotations

from pathlib import Path

from .base import CASH, Holdings, ImportedLot, SourceError, date, number, read_csv_section, read_text, ticker

ACCOUNT_TYPES = ("taxable", "tax_deferred", "tax_exempt")
REQUIRED = ("account", "security", "shares")


def read(path: str | Path) -> Holdings:
    lines = read_text(path).splitlines()
    if not any(line.strip() for line in lines):
        raise SourceError(path, "(file)", "is empty; expected a header row and one row per lot")
    table = read_csv_section(path, lines, 0)
    columns = {c.lower(): c for c in table.columns}
    for name in REQUIRED:
        if name not in columns:
            raise SourceError(path, "row 1", f"no column '{name}' in the header; see docs/import.md (lots-csv)")
    if "cost_basis" not in columns and "cost_per_share" not in columns:
        raise SourceError(path, "row 1", "needs a 'cost_basis' or 'cost_per_share' column")
    out = Holdings(f"lots-csv:{path}")
    for line, row in table.rows():
        row = {k.lower(): v for k, v in row.items()}
        if not any(row.values()):
            continue
        at = f"row {line}"
        account_id = row["account"]
        if not account_id:
            raise SourceError(path, f"{at}, column account", "is empty; name the account id")
        account = out.account(account_id)
        kind = row.get("account_type", "")
        if kind:
            if kind not in ACCOUNT_TYPES:
                raise SourceError(
                    path, f"{at}, column account_type", f"'{kind}' is not one of {', '.join(ACCOUNT_TYPES)}"
                )
            account.account_type = kind
        shares = number(row["shares"], path, f"{at}, column shares")
        assert shares is not None
        if row["security"].strip().upper() == CASH:
            account.cash += shares
            continue
        symbol = ticker(row["security"], path, f"{at}, column security")
        if shares <= 0:
            raise SourceError(path, f"{at}, column shares", f"{shares:g} is not a positive number of shares")
        basis = number(row.get("cost_basis"), path, f"{at}, column cost_basis", required=False)
        per_share = number(row.get("cost_per_share"), path, f"{at}, column cost_per_share", required=False)
        if basis is None and per_share is not None:
            basis = per_share * shares
        acquired = date(row.get("acquired"), path, f"{at}, column acquired", required=False)
        price = number(row.get("price"), path, f"{at}, column price", required=False)
        if price is not None:
            out.prices[symbol] = price
        inherited = row.get("inherited", "").lower()
        if inherited not in ("", "true", "false", "yes", "no"):
            raise SourceError(path, f"{at}, column inherited", f"'{inherited}' is not true or false")
        account.lots.append(
            ImportedLot(
                symbol,
                shares,
                basis,
                acquired,
                f"{path}: {at}",
                row.get("lot_id") or None,
                inherited in ("true", "yes"),
                symbol_at=f"{at}, column security",
            )
        )
    return out
