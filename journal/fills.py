"""The fills file of `rebal-opt record`: one row per execution.

Columns (design §6): `account`, `action` (buy/sell), `security`, `shares`, `price`, `date` (YYYY-MM-DD);
optional `commission` (dollars) and `lots` (`LOTID:SHARES` joined by `;`, as in the orders file) for a
sale that took other lots than the plan's. Every problem is reported as one line naming the file, the
line and the column, and nothing is recorded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

from rebal_opt.models.semantics import did_you_mean

from .errors import JournalError
from .store import Fill, parse_lots_text

REQUIRED = ("account", "action", "security", "shares", "price", "date")
OPTIONAL = ("commission", "lots")


class FillsError(JournalError):
    """The fills file cannot be recorded (every problem, one per line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _number(text: str, where: str, what: str, problems: list[str], positive: bool = True) -> float:
    try:
        value = float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        problems.append(f"{where}: '{text}' is not a number; give {what}")
        return math.nan
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        problems.append(f"{where}: {text} must be {'more than 0' if positive else '0 or more'}; give {what}")
        return math.nan
    return value


def parse_fills(text: str, source: str) -> list[Fill]:
    """The fills of a CSV text; raises FillsError listing every problem (file, line, column)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise FillsError([f"{source}: empty file; give a header row {','.join(REQUIRED)} and one row per fill"])
    problems = []
    for name in header:
        if name not in REQUIRED + OPTIONAL:
            hint = did_you_mean(name, list(REQUIRED + OPTIONAL))
            problems.append(
                f"{source}: line 1: unknown column '{name}'{hint}; columns: {', '.join(REQUIRED + OPTIONAL)}"
            )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(f"{source}: line 1: missing column {', '.join(missing)}; add it to the header")
    if problems:
        raise FillsError(problems)
    reader.fieldnames = header
    fills = []
    for row in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue  # a blank line
        if None in row:
            problems.append(f"{source}: line {line}: more cells than columns; check the commas")
            continue
        before = len(problems)

        def where(column: str, line: int = line) -> str:
            return f"{source}: line {line}, column {column}"

        for column in ("account", "security"):
            if not cells.get(column):
                problems.append(f"{where(column)}: empty; give the {column}")
        action = cells.get("action", "").lower()
        if action not in ("buy", "sell"):
            problems.append(f"{where('action')}: '{cells.get('action', '')}' must be buy or sell")
        shares = _number(cells.get("shares", ""), where("shares"), "the shares filled, e.g. 10", problems)
        price = _number(cells.get("price", ""), where("price"), "the fill price per share, e.g. 101.25", problems)
        commission = 0.0
        if cells.get("commission"):
            commission = _number(
                cells["commission"], where("commission"), "the dollars paid, e.g. 0 or 4.95", problems, positive=False
            )
        try:
            date = dt.date.fromisoformat(cells.get("date", ""))
        except ValueError:
            problems.append(f"{where('date')}: '{cells.get('date', '')}' must be a date written YYYY-MM-DD")
            date = dt.date.min
        lots: tuple[tuple[str, float], ...] = ()
        if cells.get("lots"):
            try:
                lots = parse_lots_text(cells["lots"])
            except ValueError as exc:
                problems.append(f"{where('lots')}: {exc}; write LOTID:SHARES joined by ';', e.g. B1:20;B2:5")
            else:
                if action == "buy":
                    problems.append(f"{where('lots')}: a buy takes no lots; leave it empty")
                elif any(n <= 0 for _, n in lots) or abs(sum(n for _, n in lots) - shares) > 1e-6:
                    problems.append(f"{where('lots')}: the lots' shares must be positive and add up to {shares:g}")
        if len(problems) == before:
            fills.append(Fill(line, cells["account"], action, cells["security"], shares, price, date, commission, lots))
    if not fills and not problems:
        problems.append(f"{source}: no fills; give one row per execution under the header")
    if problems:
        raise FillsError(problems)
    return fills


def read_fills(path: str | Path) -> list[Fill]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FillsError([f"{path}: no such file; check the path"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FillsError([f"{path}: cannot be read ({exc}); give a readable UTF-8 CSV file"]) from None
    return parse_fills(text, str(path))
