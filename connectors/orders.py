"""A plan's trades as orders: the orders CSV (design §6), an IBKR basket CSV, and a beancount ledger.

Orders CSV: one row per order, columns account, broker_account, action, security, shares, order_type (MKT
for exchange-traded securities, NAV for mutual funds, which trade once a day at their net asset value), price
(the plan's price, for reference), amount, cost_basis_method (SPECIFIC_LOT for taxable sales), lots
(`LOTID:SHARES` joined by `;`), lot_acquired (`LOTID:YYYY-MM-DD`) and lot_cost_per_share (`LOTID:DOLLARS`):
what a broker's specific-lot instruction needs (which lot, its acquisition date and cost). Multi-period
plans add period and date.

IBKR basket (TWS BasketTrader): the header `Action,Quantity,Symbol,SecType,Exchange,Currency,TimeInForce,
OrderType,BasketTag,Account`, one order a row. A basket cannot name lots: set the account's tax-lot method
(or use Tax Optimizer) to the lots in the orders CSV.

Ledger: beancount transactions that reduce each sold lot at its cost and acquisition date, book the plan's
gain per lot to Income:CapitalGains:Short/Long, the trade cost to Expenses:Trading, and the proceeds to the
account's cash; purchases are new lots at the plan's price. The ledger opens with the sold lots' opening
entries so that it loads on its own; leave those out when appending the plan to your own ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from decimal import Decimal
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


def _shares(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _lots(scenario: Scenario, trade: Trade) -> tuple[str, str, str]:
    if not trade.lots:
        return "", "", ""
    by_id = {lot.id: lot for a in scenario.accounts for lot in a.lots}
    ids, dates, costs = [], [], []
    for sale in trade.lots:
        lot = by_id.get(sale.lot)
        ids.append(f"{sale.lot}:{_shares(sale.shares)}")
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
                "shares": _shares(t.shares),
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
                _shares(t.shares),
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


# --- beancount ledger --------------------------------------------------------------------------------------


def _name(text: str) -> str:
    """An account-name component: capitalized, letters, digits and dashes."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    name = "-".join(p[:1].upper() + p[1:] for p in parts) or "Account"
    return name if name[0].isalpha() else f"A{name}"


def _d(x: float, places: int | None = None) -> str:
    value = Decimal(repr(x))
    if places is not None:
        return format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return format(value.normalize(), "f")


def ledger(scenario: Scenario, trades: Sequence[Trade], date_: dt.date | None = None) -> str:
    """The plan as a beancount ledger that loads on its own (see the module docstring)."""
    day = date_ or scenario.as_of
    root = "Assets:Rebal"
    lots = {lot.id: (a.id, lot) for a in scenario.accounts for lot in a.lots}
    accounts: set[str] = set()
    opening: list[str] = []
    body: list[str] = []
    commodities: set[str] = set()
    opened: set[str] = set()
    for t in trades:
        account = scenario.account(t.account)
        base = f"{root}:{_name(account.id)}"
        cash = f"{base}:Cash"
        holding = f"{base}:{_name(t.security)}"
        accounts.update({cash, holding})
        commodities.add(t.security)
        if t.action == "buy":
            body.append(f'{day} * "rebal-opt" "buy {_shares(t.shares)} {t.security} in {account.id}"')
            body.append(f"  {holding}  {_shares(t.shares)} {t.security} {{{_d(t.price)} USD, {day}}}")
            if t.cost:
                body.append(f"  Expenses:Trading  {_d(t.cost, 2)} USD")
            body.append(f"  {cash}")
            body.append("")
            continue
        body.append(f'{day} * "rebal-opt" "sell {_shares(t.shares)} {t.security} in {account.id}"')
        for sale in t.lots or []:
            _, lot = lots[sale.lot]
            cost = lot.basis_per_share
            if sale.lot not in opened:
                opened.add(sale.lot)
                spec = f'{{{_d(cost)} USD, {lot.acquired}, "{sale.lot}"}}'
                opening.append(f'{lot.acquired} * "opening lot {sale.lot}"')
                opening.append(f"  {holding}  {_shares(lot.shares)} {t.security} {spec}")
                opening.append("  Equity:Opening-Balances")
                opening.append("")
            body.append(
                f'  {holding}  -{_shares(sale.shares)} {t.security} {{{_d(cost)} USD, {lot.acquired}, "{sale.lot}"}}'
                f" @ {_d(t.price)} USD"
            )
            income = "Income:CapitalGains:Short" if sale.term == "short" else "Income:CapitalGains:Long"
            body.append(f"  {income}  {_d(-sale.gain, 2)} USD")
            body.append(f'    lot: "{sale.lot}"')
        if not t.lots:  # a tax-advantaged account: no lots and no gain
            opening.append(f'{scenario.as_of} * "opening position {t.security} in {account.id}"')
            opening.append(f"  {holding}  {_shares(t.shares)} {t.security} {{{_d(t.price)} USD}}")
            opening.append("  Equity:Opening-Balances")
            opening.append("")
            body.append(f"  {holding}  -{_shares(t.shares)} {t.security} {{{_d(t.price)} USD}} @ {_d(t.price)} USD")
        if t.cost:
            body.append(f"  Expenses:Trading  {_d(t.cost, 2)} USD")
        body.append(f"  {cash}")
        body.append("")
    first = min([lot.acquired for _, lot in lots.values()] + [scenario.as_of])
    head = [
        f"; rebal-opt plan for {scenario.label}, {day}",
        'option "operating_currency" "USD"',
        "",
        f"{first} open Equity:Opening-Balances",
        f"{first} open Income:CapitalGains:Short USD",
        f"{first} open Income:CapitalGains:Long USD",
        f"{first} open Expenses:Trading USD",
        *[f"{first} open {a}" for a in sorted(accounts)],
        "",
        "; --- the holdings the plan trades (leave these out when appending the plan to your own ledger) ---",
        "",
    ]
    return "\n".join([*head, *opening, "; --- the plan ---", "", *body])


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
