"""One evaluation for both tools' plans: tracking error, realized gains, tax, costs, dust, wash exposure.

A plan is reduced to what both tools can express — shares bought per security and shares sold per lot —
and everything is recomputed here from the instance, not taken from either tool's report:

* tracking error: sqrt(d' C d) with C the dense covariance handed to the peer, d = post-trade weight −
  target per security; weights are over the post-trade total (securities + cash after trades and costs),
  so the cash left over counts as a riskless position off target;
* realized gains per lot sold, short- or long-term by the U.S. rule (long when sold after the first
  anniversary of the purchase);
* tax at flat 35% / 20% on the plan's net short- and long-term results: `tax_flat` lets a net loss count
  at its full rate (no $3,000 limit: the spirit of the peer's model); `tax_limited` nets as Schedule D
  (rebal-opt's flat-rate mode) and allows at most $3,000 of net loss against ordinary income (at the
  short-term rate), the rest carried forward at no value — on top of the short-term gains the household
  realized earlier in the year (`Instance.realized_short_term`; the plan's losses offset them first).
  Both are given for the plan as reported (every loss counted) and for its *usable* result (wash-exposed
  losses disallowed);
* trading cost: spread bps × gross notional;
* dust rows: trade rows (a purchase, or one lot's sale) under $1 or under 0.001 shares — except the sale
  of a whole lot, which clears a tiny lot rather than making one — plus lot sales that leave a crumb, a
  remainder under 0.001 shares or worth under $1;
* wash-exposed loss sales: a lot sold at a loss while another lot of the same security was bought in the
  last 30 days, or while the plan buys that security. Their losses are the ones removed from "usable".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from instances import Instance, Lot

LOSS_LIMIT = 3000.0  # married filing jointly (and single)
DUST_DOLLARS = 1.0
DUST_SHARES = 0.001
SHARE_TOLERANCE = 1e-6
CASH_TOLERANCE = 1.0  # dollars: plans report shares rounded (rebal-opt to a few decimals, the peer to 5)


@dataclass
class Plan:
    """Shares bought per ticker and shares sold per lot id."""

    buys: dict[str, float] = field(default_factory=dict)
    sales: dict[str, float] = field(default_factory=dict)

    def buy(self, ticker: str, shares: float) -> None:
        self.buys[ticker] = self.buys.get(ticker, 0.0) + float(shares)

    def sell(self, lot_id: str, shares: float) -> None:
        self.sales[lot_id] = self.sales.get(lot_id, 0.0) + float(shares)


def plan_from_rebal_opt(result: dict[str, Any]) -> Plan:
    """From rebal-opt's JSON result (design §4)."""
    plan = Plan()
    for trade in result.get("trades", []):
        if trade["action"] == "buy":
            plan.buy(trade["security"], trade["shares"])
        for sale in trade.get("lots") or []:
            plan.sell(sale["lot"], sale["shares"])
    return plan


def plan_from_peer(decision: dict[str, Any]) -> Plan:
    """From TaxRebalance's result (`RebalanceResult.to_dict()`: trades with side BUY / SELL)."""
    plan = Plan()
    for trade in decision.get("trades", []):
        if trade["side"] == "BUY":
            plan.buy(trade["ticker"], trade["shares"])
        else:
            plan.sell(trade["lot_id"], trade["shares"])
    return plan


def is_long_term(acquired: dt.date, sold: dt.date) -> bool:
    """More than one year: sold after the first anniversary (a 29 February purchase's is 28 February)."""
    try:
        anniversary = acquired.replace(year=acquired.year + 1)
    except ValueError:
        anniversary = acquired.replace(year=acquired.year + 1, day=28)
    return sold > anniversary


def flat_tax(short_term: float, long_term: float, short_rate: float, long_rate: float) -> float:
    """Each net result at its own rate; a loss is worth its full rate (no limit)."""
    return short_rate * short_term + long_rate * long_term


def limited_tax(
    short_term: float, long_term: float, short_rate: float, long_rate: float, limit: float = LOSS_LIMIT
) -> float:
    """Schedule D netting at flat rates: a net loss in one term offsets the other term's gain; an overall
    net loss saves the short-term (ordinary) rate on at most `limit` dollars this year."""
    total = short_term + long_term
    if total < 0:
        return -short_rate * min(limit, -total)
    if short_term < 0:  # offsets long-term gain
        return long_rate * total
    if long_term < 0:  # offsets short-term gain
        return short_rate * total
    return short_rate * short_term + long_rate * long_term


def limited_tax_due(inst: Instance, short_term: float, long_term: float) -> float:
    """The tax the plan adds with Schedule D and the limit, on top of the gains the household realized
    earlier in the year (Instance.realized_short_term): its harvested losses first offset those."""
    rates = (inst.short_term_rate, inst.long_term_rate)
    before = inst.realized_short_term
    return limited_tax(before + short_term, long_term, *rates) - limited_tax(before, 0.0, *rates)


@dataclass
class Evaluation:
    tracking_error: float
    short_term: float
    long_term: float
    usable_short_term: float
    usable_long_term: float
    realized_loss: float  # positive dollars: every loss the plan realizes
    usable_loss: float  # positive dollars: losses not exposed to a wash sale
    tax_flat: float
    tax_limited: float
    usable_tax_flat: float
    usable_tax_limited: float
    trading_cost: float
    gross_notional: float
    cash_after: float
    rows: int
    dust_rows: int
    fractional_rows: int
    wash_exposed_sales: int
    wash_exposed_loss: float
    violations: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(inst: Instance, plan: Plan) -> Evaluation:
    price = inst.prices
    lots: dict[str, Lot] = {lot.lot_id: lot for lot in inst.lots}
    violations: list[str] = []
    buys = np.zeros(len(inst.tickers))
    for ticker, shares in plan.buys.items():
        if ticker not in inst.index:
            violations.append(f"buy of unknown security {ticker}")
            continue
        buys[inst.index[ticker]] += shares
    sold = np.zeros(len(inst.tickers))
    short = long = usable_short = usable_long = 0.0
    realized_loss = usable_loss = exposed_loss = 0.0
    rows = dust = fractional = exposed = 0
    for ticker, shares in plan.buys.items():
        if ticker in inst.index and shares > 0:
            rows += 1
            notional = shares * price[inst.index[ticker]]
            dust += int(notional < DUST_DOLLARS or shares < DUST_SHARES)
            fractional += int(abs(shares - round(shares)) > SHARE_TOLERANCE)
    for lot_id, shares in plan.sales.items():
        lot = lots.get(lot_id)
        if lot is None:
            violations.append(f"sale of unknown lot {lot_id}")
            continue
        if shares <= 0:
            continue
        if shares > lot.shares + SHARE_TOLERANCE:
            violations.append(f"lot {lot_id} oversold: {shares} of {lot.shares}")
        i = inst.index[lot.ticker]
        sold[i] += shares
        rows += 1
        notional = shares * price[i]
        remainder = lot.shares - shares
        crumb = remainder > SHARE_TOLERANCE and (remainder < DUST_SHARES or remainder * price[i] < DUST_DOLLARS)
        whole = remainder <= SHARE_TOLERANCE  # selling all of a tiny lot clears it: not dust
        dust += int(((notional < DUST_DOLLARS or shares < DUST_SHARES) and not whole) or crumb)
        fractional += int(abs(shares - round(shares)) > SHARE_TOLERANCE)
        gain = (price[i] - lot.basis_per_share) * shares
        washed = gain < 0 and (inst.bought_within_window_besides(lot) or buys[i] > 0)
        long_term = is_long_term(lot.acquired, inst.as_of)
        if long_term:
            long += gain
        else:
            short += gain
        if gain < 0:
            realized_loss -= gain
        if washed:
            exposed += 1
            exposed_loss -= gain
            continue
        if gain < 0:
            usable_loss -= gain
        if long_term:
            usable_long += gain
        else:
            usable_short += gain
    after = inst.held_shares + buys - sold
    if np.any(after < -SHARE_TOLERANCE):
        violations.append("negative holdings")
    gross = float(price @ buys + price @ sold)
    cost = gross * inst.spread_bps / 10_000
    cash_after = inst.cash + float(price @ sold) - float(price @ buys) - cost
    if cash_after < -CASH_TOLERANCE:
        violations.append(f"cash overdrawn: {cash_after:,.2f}")
    total = float(price @ after) + cash_after
    drift = after * price / total - inst.targets
    te = float(np.sqrt(max(0.0, float(drift @ inst.covariance @ drift))))
    rates = (inst.short_term_rate, inst.long_term_rate)
    return Evaluation(
        tracking_error=te,
        short_term=short,
        long_term=long,
        usable_short_term=usable_short,
        usable_long_term=usable_long,
        realized_loss=realized_loss,
        usable_loss=usable_loss,
        tax_flat=flat_tax(short, long, *rates),
        tax_limited=limited_tax_due(inst, short, long),
        usable_tax_flat=flat_tax(usable_short, usable_long, *rates),
        usable_tax_limited=limited_tax_due(inst, usable_short, usable_long),
        trading_cost=cost,
        gross_notional=gross,
        cash_after=cash_after,
        rows=rows,
        dust_rows=dust,
        fractional_rows=fractional,
        wash_exposed_sales=exposed,
        wash_exposed_loss=exposed_loss,
        violations=violations,
    )
