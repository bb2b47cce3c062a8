"""What every importer produces, and the parsing helpers they share.

An importer reads one file and returns `Holdings`: per broker account, its lots (or positions, with no date
where the export has none), its cash, and the prices the file states. Anything it cannot read raises a
`SourceError` naming the file, the row and the column; rows that are legitimately not positions (totals,
pending activity, options) are skipped with a note, never silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rebal_opt.models.errors import Problem, ScenarioError

CASH = "CASH"


class SourceError(ScenarioError):
    """A file the importer cannot read: one line naming the file, row and column, and the fix."""

    def __init__(self, path: str | Path, where: str, message: str) -> None:
        super().__init__([Problem(where, message)], str(path))


@dataclass
class ImportedLot:
    """A lot (or, where the export has no lots, a whole position: `acquired` None)."""

    security: str
    shares: float
    cost_basis: float | None
    acquired: dt.date | None
    where: str
    lot_id: str | None = None
    inherited: bool = False
    symbol_at: str = ""  # where the file names the security ("row 3, column Symbol"), for errors
    name: str = ""  # the file's description of the security, for errors


@dataclass
class ImportedAccount:
    number: str
    lots: list[ImportedLot] = field(default_factory=list)
    cash: float = 0.0
    account_type: str | None = None


@dataclass
class Holdings:
    """What one file says the household holds."""

    source: str
    accounts: dict[str, ImportedAccount] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    as_of: dt.date | None = None
    lot_level: bool = True
    notes: list[str] = field(default_factory=list)

    def account(self, number: str) -> ImportedAccount:
        return self.accounts.setdefault(number, ImportedAccount(number))


MISSING = {"", "--", "n/a", "na", "-", "none", "null"}


def number(text: object, path: str | Path, where: str, *, required: bool = True) -> float | None:
    """'$1,234.50' -> 1234.5; '(12.00)' -> -12.0; '--' or '' -> None (an error when required)."""
    raw = "" if text is None else str(text).strip()
    if raw.lower() in MISSING:
        if required:
            raise SourceError(path, where, "is empty; the importer needs a number here")
        return None
    clean = raw.replace("$", "").replace(",", "").replace("%", "").replace("+", "").strip()
    negative = clean.startswith("(") and clean.endswith(")")
    clean = clean.strip("()")
    try:
        value = float(clean)
    except ValueError:
        raise SourceError(path, where, f"'{raw}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SourceError(path, where, f"'{raw}' is not a finite number")
    return -value if negative else value


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y%m%d", "%Y/%m/%d", "%d-%b-%Y", "%b %d, %Y")


def date(text: object, path: str | Path, where: str, *, required: bool = True) -> dt.date | None:
    """A date in any of the exports' spellings (IBKR's 'YYYYMMDD;HHMMSS' too)."""
    raw = "" if text is None else str(text).strip()
    if raw.lower() in MISSING:
        if required:
            raise SourceError(path, where, "is empty; the importer needs a date here (YYYY-MM-DD)")
        return None
    head = re.split(r"[;T ]", raw)[0] if re.match(r"^\d{8}[;T ]|^\d{4}-\d{2}-\d{2}[T ]", raw) else raw
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(head, fmt).date()
        except ValueError:
            continue
    raise SourceError(path, where, f"'{raw}' is not a date (expected e.g. 2024-03-14 or 03/14/2024)")


def read_text(path: str | Path) -> str:
    p = Path(path)
    if not p.exists():
        raise SourceError(path, "(file)", "no such file; check the path")
    if p.is_dir():
        raise SourceError(path, "(file)", "is a directory; give the exported file")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return p.read_text(encoding="latin-1")


@dataclass
class Table:
    """A CSV section read with pandas: cells as text, and each row's line number in the file."""

    path: str
    frame: pd.DataFrame
    first_line: int  # file line (1-based) of the first data row

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        for i, record in enumerate(self.frame.to_dict("records")):
            yield (
                self.first_line + i,
                {str(k).strip(): ("" if v is None else str(v).strip()) for k, v in record.items()},
            )

    @property
    def columns(self) -> list[str]:
        return [str(c).strip() for c in self.frame.columns]


def read_csv_section(path: str | Path, lines: list[str], header_line: int, end_line: int | None = None) -> Table:
    """Parse lines[header_line:end_line] (0-based) as a CSV table with pandas, every cell as text."""
    import io

    body = lines[header_line:end_line]
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(body)),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="python",
            index_col=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv_error()) as exc:
        where = _parser_line(str(exc), header_line)
        raise SourceError(path, where, f"not a readable CSV table ({_short(exc)}); re-export the file") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(str(path), frame, header_line + 2)


def csv_error() -> type[Exception]:
    import csv

    return csv.Error


def _parser_line(message: str, offset: int) -> str:
    m = re.search(r"line (\d+)", message)
    return f"row {int(m.group(1)) + offset}" if m else "(file)"


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120]


def find_line(lines: list[str], predicate: Callable[[str], bool]) -> int | None:
    for i, line in enumerate(lines):
        if predicate(line):
            return i
    return None


def require_columns(table: Table, needed: dict[str, tuple[str, ...]], what: str) -> dict[str, str]:
    """Map logical names to the file's column names (first alias present); a missing one is an error."""
    present = {c.lower(): c for c in table.columns}
    out: dict[str, str] = {}
    for key, aliases in needed.items():
        for alias in aliases:
            if alias.lower() in present:
                out[key] = present[alias.lower()]
                break
        else:
            raise SourceError(
                table.path,
                f"row {table.first_line - 1}",
                f"no column {aliases[0]!r} in the header; this does not look like {what}",
            )
    return out


def optional_columns(table: Table, wanted: dict[str, tuple[str, ...]]) -> dict[str, str]:
    present = {c.lower(): c for c in table.columns}
    out: dict[str, str] = {}
    for key, aliases in wanted.items():
        for alias in aliases:
            if alias.lower() in present:
                out[key] = present[alias.lower()]
                break
    return out


CUSIP = re.compile(r"^[0-9]{3}[0-9A-Z]{5}[0-9]$")
"""A CUSIP: nine characters, the last a check digit (how plan funds without a ticker are listed)."""

TICKER = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,9}$")


def ticker(text: str, path: str | Path, where: str) -> str:
    symbol = text.strip().upper().rstrip("*")
    if not TICKER.match(symbol):
        raise SourceError(path, where, f"'{text}' is not a ticker symbol")
    return symbol.replace("/", ".")
