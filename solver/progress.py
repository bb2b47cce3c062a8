"""Progress of long solves, as log records (the solver never prints; the CLI decides what to show).

Records go to the `rebal_opt.progress` logger at INFO with two extra fields: `phase` (what is being
solved) and, when known, `incumbent` / `bound` (dollars of objective) and `gap`. `cli/progress.py` shows
them on the terminal's stderr once a command has run for a second; `--json` stdout never carries them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .data import SCALE

log = logging.getLogger("rebal_opt.progress")

MIP_REPORT_SECONDS = 1.0
"""Seconds between two progress records from one HiGHS MILP run."""


def phase(name: str) -> None:
    """A new solve starts (a phase of the rebalance, a frontier point, an unwind schedule)."""
    log.info(name, extra={"phase": name})


def figures(name: str, incumbent_k: float | None, bound_k: float | None) -> None:
    """The best plan's objective and the best bound so far (model units, k$), for phase `name`."""
    incumbent = None if incumbent_k is None else incumbent_k * SCALE
    bound = None if bound_k is None else bound_k * SCALE
    gap = None
    if incumbent is not None and bound is not None and abs(incumbent) > 0:
        gap = max(0.0, (incumbent - bound) / abs(incumbent))
    log.info(
        "%s: plan %s, bound %s",
        name,
        "-" if incumbent is None else f"{incumbent:,.2f}",
        "-" if bound is None else f"{bound:,.2f}",
        extra={"phase": name, "incumbent": incumbent, "bound": bound, "gap": gap},
    )


class MipReporter:
    """Subscribed to a HiGHS instance's MIP interrupt callback: one progress record a second at most."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = 0.0

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        if now - self.last < MIP_REPORT_SECONDS:
            return
        self.last = now
        out = event.data_out
        primal, dual = float(out.mip_primal_bound), float(out.mip_dual_bound)
        figures(self.name, primal if abs(primal) < 1e29 else None, dual if abs(dual) < 1e29 else None)


def watching() -> bool:
    """Whether anyone listens (the CLI's handler): HiGHS callbacks cost a little, so only then."""
    return log.isEnabledFor(logging.INFO) and log.hasHandlers()
