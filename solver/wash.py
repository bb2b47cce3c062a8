"""Wash-sale windows: which loss sales and which purchases the plan may not make today, and until when.

A loss sale on day D is a wash sale when substantially identical securities (same `wash_group`) are
bought anywhere in the household — IRA and Roth included — from D−30 to D+30. So, for a plan dated
`as_of`:

* selling a lot at a loss is blocked when the group was bought in the last 30 days (recent trades, and
  taxable lots acquired in that window) or will be bought in the next 30 (planned purchases); it becomes
  allowed 31 days after the last such purchase. A purchase never replaces shares of its own lot.
* buying into a group is blocked when the household sold in that group at a loss in the last 30 days
  (the purchase would wash that loss); allowed 31 days after the sale. Only taxable accounts have losses:
  a sale below cost in an IRA or a Roth blocks nothing, and an inherited lot is not a purchase.
* inside the plan, loss sales and purchases in one group exclude each other (the MILP's group binary).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from rebal_opt.models.scenario import Scenario

WINDOW_DAYS = 30


@dataclass(frozen=True)
class Purchase:
    date: dt.date
    account: str
    security: str
    source: str  # "recent trade", "lot", "planned purchase"
    lot_id: str | None = None


@dataclass(frozen=True)
class LossSale:
    date: dt.date
    account: str
    security: str


@dataclass(frozen=True)
class SaleBlock:
    """Loss sales in `group` are blocked until `until` because of `purchases`."""

    group: str
    until: dt.date
    purchases: tuple[Purchase, ...]

    def blocks_lot(self, account: str, security: str, lot_id: str | None, acquired: dt.date | None) -> bool:
        """Whether selling this lot at a loss would be washed by one of the purchases.

        The purchase that created the lot itself does not replace its own shares.
        """
        for p in self.purchases:
            own = (p.lot_id is not None and p.lot_id == lot_id) or (
                p.lot_id is None
                and p.source == "recent trade"
                and p.account == account
                and p.security == security
                and p.date == acquired
            )
            if not own:
                return True
        return False

    def reason(self) -> str:
        last = max(self.purchases, key=lambda p: p.date)
        verb = "to be bought" if last.source == "planned purchase" else "bought"
        return f"{last.security} {verb} in {last.account} on {last.date}"


@dataclass(frozen=True)
class BuyBlock:
    """Purchases in `group` are blocked until `until` because of a recent loss sale."""

    group: str
    until: dt.date
    sales: tuple[LossSale, ...]

    def reason(self) -> str:
        last = max(self.sales, key=lambda s: s.date)
        return f"{last.security} sold at a loss in {last.account} on {last.date}"


@dataclass(frozen=True)
class WashWindows:
    sale_blocks: dict[str, SaleBlock]
    buy_blocks: dict[str, BuyBlock]


def _until(last: dt.date) -> dt.date:
    return last + dt.timedelta(days=WINDOW_DAYS + 1)


def wash_windows(scenario: Scenario) -> WashWindows:
    """The wash-sale blocks in force on `as_of` (empty when rules.wash_sales is 'ignore')."""
    if scenario.rules.wash_sales == "ignore":
        return WashWindows({}, {})
    as_of = scenario.as_of
    start = as_of - dt.timedelta(days=WINDOW_DAYS)
    end = as_of + dt.timedelta(days=WINDOW_DAYS)
    purchases: dict[str, list[Purchase]] = defaultdict(list)
    seen: set[tuple[str, str, dt.date]] = set()
    for account in scenario.accounts:
        for lot in account.lots:
            # An inherited lot was not bought: inheritance is not a purchase under §1091.
            if start <= lot.acquired <= as_of and not lot.inherited:
                purchases[scenario.wash_group(lot.security)].append(
                    Purchase(lot.acquired, account.id, lot.security, "lot", lot.id)
                )
                seen.add((account.id, lot.security, lot.acquired))
    for trade in scenario.recent_trades:
        if trade.action == "buy" and start <= trade.date <= as_of:
            if (trade.account, trade.security, trade.date) in seen:
                continue  # the same purchase as a lot already listed
            purchases[scenario.wash_group(trade.security)].append(
                Purchase(trade.date, trade.account, trade.security, "recent trade")
            )
    for planned in scenario.planned_purchases:
        if as_of < planned.date <= end:
            purchases[scenario.wash_group(planned.security)].append(
                Purchase(planned.date, planned.account, planned.security, "planned purchase")
            )
    sale_blocks = {
        group: SaleBlock(group, _until(max(p.date for p in items)), tuple(items)) for group, items in purchases.items()
    }
    buy_blocks = {
        group: BuyBlock(group, _until(max(s.date for s in items)), tuple(items))
        for group, items in recent_loss_sales(scenario).items()
    }
    return WashWindows(sale_blocks, buy_blocks)


def recent_loss_sales(scenario: Scenario) -> dict[str, list[LossSale]]:
    """Sales at a loss in a taxable account in the 30 days up to as_of, per wash group, whatever
    rules.wash_sales says (a purchase in the group would wash them; contributions first reads them too)."""
    as_of = scenario.as_of
    start = as_of - dt.timedelta(days=WINDOW_DAYS)
    sales: dict[str, list[LossSale]] = defaultdict(list)
    tax_advantaged = {a.id for a in scenario.accounts if a.tax_advantaged}
    for trade in scenario.recent_trades:
        # No loss exists inside an IRA or a Roth: a sale there below cost washes nothing.
        loss = trade.action == "sell" and trade.realized_gain is not None and trade.realized_gain < 0
        if loss and trade.account not in tax_advantaged and start <= trade.date <= as_of:
            sales[scenario.wash_group(trade.security)].append(LossSale(trade.date, trade.account, trade.security))
    return dict(sales)
