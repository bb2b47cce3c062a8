"""Interactive Brokers Flex Query: Open Positions at lot level, as XML or CSV.

In the Flex Query, Open Positions with "Options: Lot" (levelOfDetail LOT rows; SUMMARY rows are ignored when
LOT rows exist) and the fields accountId (ClientAccountID), assetCategory (AssetClass), symbol, position
(Quantity), markPrice, costBasisMoney, openDateTime; optionally a Cash Report (endingCash). XML:
FlexQueryResponse/FlexStatements/FlexStatement/OpenPositions/OpenPosition elements with those attributes;
CSV: the same fields as header columns, with the optional BOF/BOA/BOS/EOS/EOA/EOF header and trailer records.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .base import Holdings, ImportedLot, SourceError, date, find_line, number, read_csv_section, read_text, ticker

SKIPPED_CATEGORIES = {"OPT": "option", "FOP": "futures option", "FUT": "future", "CASH": "currency", "WAR": "warrant"}
ALIASES = {
    "account": ("accountid", "clientaccountid"),
    "category": ("assetcategory", "assetclass"),
    "symbol": ("symbol",),
    "position": ("position", "quantity"),
    "mark": ("markprice",),
    "basis": ("costbasismoney",),
    "opened": ("opendatetime",),
    "detail": ("levelofdetail",),
    "currency": ("currency", "currencyprimary"),
}


def read(path: str | Path) -> Holdings:
    text = read_text(path)
    if text.lstrip().startswith("<"):
        return _read_xml(path, text)
    return _read_csv(path, text)


def _get(attrs: dict[str, str], key: str) -> str:
    low = {k.lower(): v for k, v in attrs.items()}
    for alias in ALIASES[key]:
        if alias in low:
            return low[alias]
    return ""


def _positions(path, records: list[tuple[str, dict[str, str]]], out: Holdings) -> None:
    lotted = {(_get(r, "account"), _get(r, "symbol")) for _, r in records if _get(r, "detail").upper() == "LOT"}
    out.lot_level = bool(lotted) or not records
    for where, r in records:
        category = _get(r, "category").upper()
        if category in SKIPPED_CATEGORIES:
            out.notes.append(
                f"{path}: {where}: skipped {SKIPPED_CATEGORIES[category]} {_get(r, 'symbol')} (not modelled)"
            )
            continue
        detail = _get(r, "detail").upper()
        key = (_get(r, "account"), _get(r, "symbol"))
        if detail == "SUMMARY" and key in lotted:
            continue
        currency = _get(r, "currency")
        if currency and currency.upper() != "USD":
            raise SourceError(path, where, f"position in {currency}; rebal-opt works in US dollars only")
        if not key[0]:
            raise SourceError(path, f"{where}, field accountId", "is empty; include accountId in the Flex Query")
        sym = ticker(key[1], path, f"{where}, field symbol")
        shares = number(_get(r, "position"), path, f"{where}, field position")
        assert shares is not None
        if shares < 0:
            raise SourceError(
                path, f"{where}, field position", f"{shares:g}: a short position; rebal-opt holds long positions only"
            )
        mark = number(_get(r, "mark"), path, f"{where}, field markPrice", required=False)
        if mark is not None:
            out.prices[sym] = mark
        basis = number(_get(r, "basis"), path, f"{where}, field costBasisMoney", required=False)
        opened = date(_get(r, "opened"), path, f"{where}, field openDateTime", required=detail == "LOT")
        out.account(key[0]).lots.append(
            ImportedLot(
                sym,
                shares,
                basis,
                opened if detail == "LOT" else None,
                f"{path}: {where}",
                symbol_at=f"{where}, field symbol",
            )
        )


def _read_xml(path, text: str) -> Holdings:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, column = exc.position
        raise SourceError(
            path, f"row {line}, column {column + 1}", f"not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})"
        ) from None
    if root.tag not in ("FlexQueryResponse", "FlexStatements", "FlexStatement"):
        raise SourceError(path, "row 1", f"root element <{root.tag}> is not a Flex Query response")
    out = Holdings(f"ibkr-flex:{path}")
    records = []
    for n, element in enumerate(root.iter("OpenPosition"), start=1):
        records.append((f"OpenPosition #{n} ({element.get('symbol', '?')})", dict(element.attrib)))
    _positions(path, records, out)
    for statement in root.iter("FlexStatement"):
        account = statement.get("accountId", "")
        to_date = statement.get("toDate")
        if to_date:
            out.as_of = date(to_date, path, "FlexStatement toDate", required=False)
        rows = [c for c in statement.iter("CashReportCurrency") if account]
        # The USD row when the report has one, else the base-currency summary (a USD-based account).
        usd = [c for c in rows if c.get("currency") == "USD"]
        usd = usd or [c for c in rows if c.get("currency") == "BASE_SUMMARY"]
        for cash in usd[:1]:
            ending = number(cash.get("endingCash"), path, "CashReportCurrency endingCash", required=False)
            out.account(account).cash += ending or 0.0
    return out


def _read_csv(path, text: str) -> Holdings:
    lines = [line for line in text.splitlines()]
    header = find_line(lines, lambda s: "symbol" in s.lower() and ("position" in s.lower() or "quantity" in s.lower()))
    if header is None:
        raise SourceError(
            path,
            "row 1",
            "no Open Positions header (ClientAccountID, AssetClass, Symbol, Quantity, ...); "
            "set the Flex Query's format to CSV with Open Positions",
        )
    end = find_line(
        lines[header + 1 :],
        lambda s: not s.strip() or s.startswith(('"EOS"', "EOS", '"BOS"', "BOS", '"EOF"', "EOF", '"EOA"', "EOA")),
    )
    table = read_csv_section(path, lines, header, None if end is None else header + 1 + end)
    records = [(f"row {line}", row) for line, row in table.rows() if any(row.values())]
    out = Holdings(f"ibkr-flex:{path}")
    _positions(path, records, out)
    return out
