"""Output files: checked before any work starts, written so that a failed command never leaves a
half-written one, and created with the permissions the user's umask gives (like any other program)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

PLOT_SUFFIXES = frozenset({".png", ".pdf", ".svg", ".svgz", ".eps", ".ps", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"})
"""File types matplotlib's Agg backend writes (FigureCanvasAgg.get_supported_filetypes), minus raw dumps."""


def _new_file_mode(target: Path) -> int:
    """The mode a file written in place would get: the existing file's, or 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block succeeds, removed
    when it fails. mkstemp creates the file 0600, so its mode is set as a normal write would set it."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, text: str) -> None:
    """Write `text` to `path` in one step (a temporary file beside it renamed into place)."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def output_problem(path: Path, suffixes: frozenset[str] | None = None) -> str | None:
    """Why `path` cannot be written as an output file, or None when it can."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"'{path}' is a directory; give a file name"
    if not directory.exists():
        return f"the directory '{directory}' does not exist; create it or write elsewhere"
    if not directory.is_dir():
        return f"'{directory}' is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"the directory '{directory}' is not writable; write elsewhere"
    if path.exists() and not os.access(path, os.W_OK):
        return f"'{path}' exists and is not writable"
    if suffixes is not None and path.suffix.lower() not in suffixes:
        return f"'{path}' must end in one of {', '.join(sorted(suffixes))} (the file type is taken from it)"
    return None


class OutputFile(click.ParamType):
    """A file an option writes (--csv, --plot ...): checked when the command line is read, so a path
    that cannot be written fails at once (exit 2, one line) instead of after a long solve."""

    name = "file"

    def __init__(self, suffixes: frozenset[str] | None = None) -> None:
        self.suffixes = suffixes

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        path = str(value)
        problem = output_problem(Path(path), self.suffixes)
        if problem is not None:
            self.fail(problem, param, ctx)
        return path
