"""The import formats by name (`FORMAT:PATH` on the command line and in an account's `source:`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import beancount_ledger, fidelity, ibkr, lots_csv, ofx, schwab, vanguard
from .base import Holdings, SourceError

READERS: dict[str, Callable[[str | Path], Holdings]] = {
    "lots-csv": lots_csv.read,
    "schwab": schwab.read,
    "fidelity": fidelity.read,
    "vanguard": vanguard.read,
    "ibkr-flex": ibkr.read,
    "ofx": ofx.read,
    "beancount": beancount_ledger.read,
}


def split_source(spec: str, base: Path | None = None) -> tuple[str, Path]:
    """'schwab:exports/pos.csv' -> ('schwab', path); relative paths are taken from `base` (the policy's folder)."""
    name, sep, rest = spec.partition(":")
    if not sep or name not in READERS or not rest:
        raise SourceError(spec, "(source)", f"write a source as FORMAT:PATH with FORMAT one of {', '.join(READERS)}")
    path = Path(rest)
    if base is not None and not path.is_absolute():
        path = base / path
    return name, path


def read_source(spec: str, base: Path | None = None) -> Holdings:
    name, path = split_source(spec, base)
    return READERS[name](path)
