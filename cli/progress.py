"""Progress of a long solve on the terminal: the solver's `rebal_opt.progress` records, on stderr.

Shown only when stderr is a terminal (or REBAL_OPT_PROGRESS=1), and only once the command has run for
`DELAY` seconds: a quick solve prints nothing. stdout (`--json`) never carries it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

PROGRESS_ENV = "REBAL_OPT_PROGRESS"
DELAY = 1.0
"""Seconds a command runs before its progress is shown."""


class TerminalProgress(logging.Handler):
    """One line per record on stderr, `[elapsed] phase: plan ..., bound ... (gap ...)`, after DELAY."""

    def __init__(self, stream: object = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.held: logging.LogRecord | None = None  # the last phase announced before DELAY

    def emit(self, record: logging.LogRecord) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed < DELAY:
            if getattr(record, "incumbent", None) is None and getattr(record, "bound", None) is None:
                self.held = record
            return
        if self.held is not None:
            held, self.held = self.held, None
            if held.getMessage() != getattr(record, "phase", None):
                self._write(elapsed, held)
        self._write(elapsed, record)

    def _write(self, elapsed: float, record: logging.LogRecord) -> None:
        gap = getattr(record, "gap", None)
        suffix = f" (gap {gap:.2%})" if gap is not None else ""
        try:
            self.stream.write(f"[{elapsed:5.1f} s] {record.getMessage()}{suffix}\n")  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]
        except (OSError, ValueError):  # a closed terminal: progress is not worth an error
            pass


@contextlib.contextmanager
def progress_on_terminal() -> Iterator[None]:
    """Show the solver's progress on stderr for the duration of a command (see the module docstring)."""
    wanted = os.environ.get(PROGRESS_ENV) == "1" or (sys.stderr.isatty() and os.environ.get(PROGRESS_ENV) != "0")
    if not wanted:
        yield
        return
    logger = logging.getLogger("rebal_opt.progress")
    handler = TerminalProgress()
    logger.addHandler(handler)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
