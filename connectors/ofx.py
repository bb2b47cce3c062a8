"""OFX investment statements (INVSTMTRS), read with ofxtools: positions and cash, no lots.

OFX positions (INVPOSLIST: POSSTOCK, POSMF, ...) carry units and a unit price but not acquisition dates or
cost per lot, so an OFX file can fill tax-advantaged accounts (holdings) only; a taxable account read from
OFX is refused with a message that says so. Tickers come from the SECLIST (SECINFO TICKER) by CUSIP.
"""

from __future__ import annotations

from pathlib import Path

from .base import Holdings, ImportedLot, SourceError, read_text, ticker


def read(path: str | Path) -> Holdings:
    from ofxtools.Parser import OFXTree

    read_text(path)  # the usual file checks
    tree = OFXTree()
    try:
        tree.parse(str(path))
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises several types for malformed input; all mean "not readable OFX"
        raise SourceError(path, "(file)", f"not a readable OFX file ({str(exc).splitlines()[0][:120]})") from None
    tickers: dict[str, str] = {}
    for info in getattr(ofx, "securities", None) or []:
        secid = info.secid.uniqueid
        if getattr(info, "ticker", None):
            tickers[secid] = info.ticker
    out = Holdings(f"ofx:{path}", lot_level=False)
    statements = [s for s in ofx.statements if hasattr(s, "positions")]
    if not statements:
        raise SourceError(
            path, "(file)", "has no investment statement (INVSTMTRS); download the investment account's OFX"
        )
    for s_index, stmt in enumerate(statements, start=1):
        number_ = str(stmt.account.acctid)
        account = out.account(number_)
        if stmt.balances is not None and stmt.balances.availcash is not None:
            account.cash += float(stmt.balances.availcash)
        for p_index, pos in enumerate(stmt.positions or [], start=1):
            where = f"INVSTMTRS #{s_index} position #{p_index}"
            secid = pos.secid.uniqueid
            if type(pos).__name__ == "POSOPT":
                out.notes.append(f"{path}: {where}: skipped option {secid} (not modelled)")
                continue
            if secid not in tickers:
                raise SourceError(
                    path, where, f"security {secid} has no TICKER in the SECLIST; the file cannot name it"
                )
            sym = ticker(tickers[secid], path, where)
            out.prices[sym] = float(pos.unitprice)
            account.lots.append(ImportedLot(sym, float(pos.units), None, None, f"{path}: {where}", symbol_at=where))
    return out
