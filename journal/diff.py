"""What changed between two proposals: trades, tax, tracking error and drift after the trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rebal_opt.models.result import Result

from .planning import proposal_result, proposal_trades
from .store import Proposal

SHARE_TOL = 1e-6


@dataclass(frozen=True)
class TradeChange:
    account: str
    security: str
    action: str
    shares_before: float
    shares_after: float

    @property
    def change(self) -> str:
        if self.shares_before <= SHARE_TOL:
            return "added"
        if self.shares_after <= SHARE_TOL:
            return "dropped"
        return "changed"


@dataclass(frozen=True)
class ProposalDiff:
    first: Proposal
    second: Proposal
    trades: list[TradeChange]
    figures: dict[str, tuple[float | None, float | None]]
    drift: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.first.id,
            "to": self.second.id,
            "trades": [
                {
                    "account": t.account,
                    "security": t.security,
                    "action": t.action,
                    "shares": [t.shares_before, t.shares_after],
                    "change": t.change,
                }
                for t in self.trades
            ],
            "figures": {k: list(v) for k, v in self.figures.items()},
            "drift_after": {k: list(v) for k, v in self.drift.items()},
        }


def _shares(proposal: Proposal) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for t in proposal_trades(proposal):
        key = (t.account, t.security, t.action)
        out[key] = out.get(key, 0.0) + t.shares
    return out


def _drift(proposal: Proposal) -> dict[str, float]:
    result = proposal_result(proposal)
    if not isinstance(result, Result):
        return {}
    return {name: c.after - c.target for name, c in result.allocation.items()}


def _realized(proposal: Proposal) -> tuple[float, float] | None:
    result = proposal_result(proposal)
    if isinstance(result, Result):
        return result.realized.short_term, result.realized.long_term
    if result.periods:
        first = result.periods[0].realized
        return first.short_term, first.long_term
    return None


def diff(first: Proposal, second: Proposal) -> ProposalDiff:
    a, b = _shares(first), _shares(second)
    keys = sorted(set(a) | set(b))
    trades = [
        TradeChange(*key, a.get(key, 0.0), b.get(key, 0.0))
        for key in keys
        if abs(a.get(key, 0.0) - b.get(key, 0.0)) > SHARE_TOL
    ]
    ra, rb = _realized(first), _realized(second)
    figures = {
        "tax_due": (first.tax_due, second.tax_due),
        "tracking_error_after": (first.tracking_error, second.tracking_error),
        "realized_short_term": (ra[0] if ra else None, rb[0] if rb else None),
        "realized_long_term": (ra[1] if ra else None, rb[1] if rb else None),
        "trades": (float(first.trade_count), float(second.trade_count)),
    }
    da, db = _drift(first), _drift(second)
    drift = {c: (da.get(c), db.get(c)) for c in [*da, *[c for c in db if c not in da]]}
    return ProposalDiff(first, second, trades, figures, drift)
