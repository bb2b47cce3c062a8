"""A plan's trades as orders: the orders CSV (design §6) and an IBKR basket CSV; reading an orders CSV back.

Orders CSV: one row per order, columns account, broker_account, action, security, shares, order_type (MKT
for exchange-traded securities, NAV for mutual funds, which trade once a day at their net asset value), price
(the plan's price, for reference), amount, cost_basis_method (SPECIFIC_LOT for taxable sales), lots
(`LOTID:SHARES` joined by `;`), lot_acquired (`LOTID:YYYY-MM-DD`) and lot_cost_per_share (`LOTID:DOLLARS`):
what a broker's specific-lot instruction needs (which lot, its acquisition date and cost). Multi-period
plans add period and date.

IBKR basket (TWS BasketTrader): the header `Action,Quantity,Symbol,SecType,Exchange,Currency,TimeInForce,
OrderType,BasketTag,Account`, one order a row. A basket cannot name lots: set the account's tax-lot method
(or use Tax Optimizer) to the lots in the orders CSV.

The beancount ledger (`--ledger`) is connectors.beancount_plan.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from rebal_opt.models.result import Trade
from rebal_opt.models.scenario import Scenario
from rebal_opt.models.securities import lookup
from rebal_opt.solver.execution import Execution

from .base import SourceError, date, number, read_csv_section, read_text

ORDER_COLUMNS = [
    "account",
    "broker_account",
    "action",
    "security",
    "shares",
    "order_type",
    "price",
    "amount",
    "cost_basis_method",
    "lots",
    "lot_acquired",
    "lot_cost_per_share",
]
BASKET_COLUMNS = ["Action", "Quantity", "Symbol", "SecType", "Exchange", "Currency", "TimeInForce", "OrderType",
                  "BasketTag", "Account"]  # fmt: skip
FUND_KINDS = {"mutual_fund", "money_market", "trust"}


def _is_fund(ticker: str) -> bool:
    info = lookup(ticker)
    return info is not None and info.kind in FUND_KINDS


def _broker_account(scenario: Scenario, account_id: str) -> str:
    broker = scenario.account(account_id).broker_account
    if isinstance(broker, list):
        return broker[0] if broker else ""
    return broker or ""


def shares_text(x: float) -> str:
    """Shares as an order writes them: at most 6 decimals, whole shares as whole numbers ('12', not '12.000000')."""
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _lots(scenario: Scenario, trade: Trade) -> tuple[str, str, str]:
    if not trade.lots:
        return "", "", ""
    by_id = {lot.id: lot for a in scenario.accounts for lot in a.lots}
    ids, dates, costs = [], [], []
    for sale in trade.lots:
        lot = by_id.get(sale.lot)
        ids.append(f"{sale.lot}:{shares_text(sale.shares)}")
        acquired = sale.acquired or (lot.acquired if lot else None)
        dates.append(f"{sale.lot}:{acquired.isoformat() if acquired else ''}")
        costs.append(f"{sale.lot}:{lot.basis_per_share:.6f}" if lot else f"{sale.lot}:")
    return ";".join(ids), ";".join(dates), ";".join(costs)


def order_rows(scenario: Scenario, trades: Sequence[Trade]) -> list[dict[str, str]]:
    rows = []
    for t in trades:
        lots, acquired, costs = _lots(scenario, t)
        taxable_sale = t.action == "sell" and not scenario.account(t.account).tax_advantaged
        rows.append(
            {
                "account": t.account,
                "broker_account": _broker_account(scenario, t.account),
                "action": t.action,
                "security": t.security,
                "shares": shares_text(t.shares),
                "order_type": "NAV" if _is_fund(t.security) else "MKT",
                "price": f"{t.price:.4f}",
                "amount": f"{t.amount:.2f}",
                "cost_basis_method": "SPECIFIC_LOT" if taxable_sale else "",
                "lots": lots,
                "lot_acquired": acquired,
                "lot_cost_per_share": costs,
            }
        )
    return rows


def orders_csv(scenario: Scenario, trades: Sequence[Trade], periods: Sequence[tuple[int, dt.date]] = ()) -> str:
    """The orders CSV; with `periods` (one (period, date) per trade) the rows carry period and date first."""
    buffer = io.StringIO()
    columns = (["period", "date"] if periods else []) + ORDER_COLUMNS
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(order_rows(scenario, trades)):
        if periods:
            row = {"period": str(periods[n][0]), "date": periods[n][1].isoformat(), **row}
        writer.writerow(row)
    return buffer.getvalue()


def ibkr_basket(scenario: Scenario, trades: Sequence[Trade], tag: str = "rebal-opt") -> str:
    """The plan as a TWS basket file (market orders, day orders, SMART routing)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BASKET_COLUMNS)
    for t in trades:
        writer.writerow(
            [
                t.action.upper(),
                shares_text(t.shares),
                t.security,
                "FUND" if _is_fund(t.security) else "STK",
                "SMART",
                "USD",
                "DAY",
                "MKT",
                tag,
                _broker_account(scenario, t.account),
            ]
        )
    return buffer.getvalue()


# --- reading orders back (the round trip, and fills) --------------------------------------------------------


def read_orders(path: str | Path, price_date: dt.date) -> list[Execution]:
    """An orders CSV as executions at its prices on `price_date` (each order filled in full)."""
    lines = read_text(path).splitlines()
    table = read_csv_section(path, lines, 0)
    out = []
    for line, row in table.rows():
        at = f"row {line}"
        if row.get("action") not in ("buy", "sell"):
            raise SourceError(path, f"{at}, column action", f"'{row.get('action')}' is not buy or sell")
        shares = number(row.get("shares"), path, f"{at}, column shares")
        price = number(row.get("price"), path, f"{at}, column price")
        assert shares is not None and price is not None
        lots: list[tuple[str, float]] = []
        for part in filter(None, (row.get("lots") or "").split(";")):
            lot_id, _, n = part.rpartition(":")
            lots.append((lot_id, number(n, path, f"{at}, column lots") or 0.0))
        when = date(row.get("date"), path, f"{at}, column date", required=False) or price_date
        out.append(Execution(row["account"], row["security"], row["action"], shares, price, when, tuple(lots)))
    return out
