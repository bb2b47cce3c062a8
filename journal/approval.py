"""The approval policy: a proposal too old, or whose prices have moved too far, is solved again first.

The policy is the proposal's own scenario's `approval:` section (`period_days`, `price_tolerance`); a
scenario without it sets no limit. Prices are compared with the current scenario file (the one given,
else the file the proposal was made from, read again now).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rebal_opt.models.scenario import Scenario

from .planning import proposal_scenario, proposal_trades
from .store import Proposal

SECONDS_PER_DAY = 86_400.0


def age_days(proposal: Proposal, now: dt.datetime) -> float:
    return (now - proposal.created_at).total_seconds() / SECONDS_PER_DAY


def price_moves(proposed: Scenario, current: Scenario) -> dict[str, tuple[float, float]]:
    """Each security priced in both: (price when proposed, price now)."""
    return {
        ticker: (security.price, current.securities[ticker].price)
        for ticker, security in proposed.securities.items()
        if ticker in current.securities
    }


def approval_blockers(
    proposal: Proposal, now: dt.datetime, current: Scenario | None, current_source: str | None
) -> tuple[list[str], dict[str, Any]]:
    """Why the proposal must be solved again before approval (empty: it may be approved), and the
    figures checked (kept in the approval's record)."""
    scenario = proposal_scenario(proposal)
    policy = scenario.approval
    checked: dict[str, Any] = {"age_days": round(age_days(proposal, now), 3)}
    blockers: list[str] = []
    again = "solve it again: rebal-opt propose SCENARIO"
    if policy is None:
        return blockers, checked
    if policy.period_days is not None:
        checked["period_days"] = policy.period_days
        age = age_days(proposal, now)
        if age > policy.period_days:
            blockers.append(
                f"proposal {proposal.id} was made {age:.1f} days ago, beyond the approval period of "
                f"{policy.period_days:g} days (approval.period_days); {again}"
            )
    if policy.price_tolerance is not None:
        tolerance = policy.price_tolerance
        checked["price_tolerance"] = tolerance
        if current is None:
            blockers.append(
                f"cannot compare prices: the scenario file {current_source or '(unknown)'} cannot be read; "
                "give --scenario FILE with today's prices (approval.price_tolerance is set)"
            )
            return blockers, checked
        checked["prices_from"] = current_source
        traded = {t.security for t in proposal_trades(proposal)}
        for ticker in sorted(traded - set(current.securities)):
            blockers.append(f"{ticker} is traded by proposal {proposal.id} but has no price in {current_source}")
        moves = price_moves(scenario, current)
        largest = max((abs(now_ / then - 1.0) for then, now_ in moves.values()), default=0.0)
        checked["largest_price_move"] = round(largest, 6)
        for ticker, (then, now_price) in moves.items():
            move = now_price / then - 1.0
            if abs(move) > tolerance:
                blockers.append(
                    f"{ticker} moved {move:+.2%} ({then:,.2f} → {now_price:,.2f}) since proposal {proposal.id}, "
                    f"beyond the price tolerance of {tolerance:.2%} (approval.price_tolerance); {again}"
                )
    return blockers, checked
