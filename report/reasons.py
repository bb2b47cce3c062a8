"""Why each trade is in the plan, in words for a client.

A trade that carries its own label (year-end planning labels each one) keeps it, followed by the reason
read off the plan's own figures: the asset class the security belongs to and where that class stood
against its target and band, the lots a sale takes (gains, losses, term) and the account's type.
"""

from __future__ import annotations

from rebal_opt.models.result import ClassAllocation, Trade
from rebal_opt.models.scenario import Scenario


def _main_class(scenario: Scenario, ticker: str) -> str | None:
    security = scenario.securities.get(ticker)
    if security is None:
        return None
    split = security.class_split()
    return max(split, key=lambda c: split[c])


def _standing(name: str, c: ClassAllocation) -> str:
    side = "above" if c.before > c.target else "below"
    band = "" if c.in_band_before else ", outside its band"
    return f"{name} was {c.before:.1%}, {side} its {c.target:.1%} target{band}"


def trade_reason(scenario: Scenario, allocation: dict[str, ClassAllocation], trade: Trade) -> str:
    """The trade's own label (year-end planning), then what the plan's figures say about it."""
    derived = _derived_reason(scenario, allocation, trade)
    if trade.reason:
        return f"{trade.reason.replace('_', ' ')}: {derived}"
    return derived


def _derived_reason(scenario: Scenario, allocation: dict[str, ClassAllocation], trade: Trade) -> str:
    account = next((a for a in scenario.accounts if a.id == trade.account), None)
    cls = _main_class(scenario, trade.security)
    standing = _standing(cls, allocation[cls]) if cls is not None and cls in allocation else None
    parts: list[str] = []
    if trade.action == "buy":
        if account is not None and account.contribution > 0:
            parts.append(f"invests the new cash of {account.id}")
        parts.append(standing or f"adds to {cls or trade.security}")
        return "; ".join(parts)
    if account is not None and account.contribution < 0:
        parts.append(f"funds the withdrawal of ${-account.contribution:,.0f} from {account.id}")
    if standing is not None:
        parts.append(standing)
    lots = trade.lots or []
    if account is not None and account.tax_advantaged:
        parts.append("sold in a tax-advantaged account: no tax")
    elif lots:
        gain = sum(lot.gain for lot in lots)
        terms = sorted({lot.term for lot in lots})
        if gain < 0:
            parts.append(f"realizes a loss of ${-gain:,.0f} ({'/'.join(terms)}-term), which offsets gains")
        else:
            parts.append(f"lots picked for the least tax: ${gain:,.0f} of {'/'.join(terms)}-term gain")
    return "; ".join(parts) or "rebalances the household"
