"""The plan as beancount transactions (`--ledger FILE.beancount`), in one of two layouts.

* **The household's own ledger** (`--ledger-for LEDGER`, or by itself when the scenario's accounts read a
  beancount `source:`): every posting goes to the account of LEDGER that holds the lot or the cash. A policy
  account is the LEDGER accounts its `broker_account` names (an account or a parent of it), as on import. A
  sale reduces each lot by its exact cost, date and label as LEDGER holds it; the file opens the accounts
  LEDGER lacks (gains, trading costs) and holds only the plan: append it to LEDGER (or `include` it) and the
  ledger then holds what the plan said. Trades in accounts LEDGER does not hold are left out with a note.
* **Standalone** (otherwise): each account's securities in `Assets:Rebal:<Account>` and its cash in
  `Assets:Rebal:<Account>:Cash`, after opening entries for the lots and positions the plan sells, so that the
  file loads on its own.

A taxable sale reduces each lot line `-N TICKER {COST USD, ACQUIRED, "LOT"} @ PRICE USD` and books the
plan's gain of that line to Income:CapitalGains:Short or :Long (so the ledger's realized gains are the plan's),
the trade's cost to Expenses:Trading and the proceeds to cash. A sale in a tax-advantaged account takes the
ledger's lots first in, first out and books its untaxed gain to Income:CapitalGains:Tax-Advantaged. A purchase
is a new lot at the plan's price with the trade's cost in its basis (`{PRICE # COST USD, DATE}`), as a
commission is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rebal_opt.models.result import Trade
from rebal_opt.models.scenario import Lot, Scenario

from .assemble import policy_account
from .base import SourceError
from .beancount_ledger import CURRENCY, Ledger, ledger_of, load
from .orders import shares_text

SHORT, LONG = "Income:CapitalGains:Short", "Income:CapitalGains:Long"
SHELTERED = "Income:CapitalGains:Tax-Advantaged"
TRADING = "Expenses:Trading"
TAG = "rebal-opt"
SHARE_TOLERANCE = Decimal("0.000001")


def _d(x: float) -> str:
    """A float as the shortest decimal that reads back as it."""
    return format(Decimal(repr(x)).normalize(), "f")


def _cents(x: float | Decimal) -> str:
    return format(Decimal(str(x)).quantize(Decimal("0.01")), "f")


def _name(text: str) -> str:
    """An account-name component: capitalized, letters, digits and dashes."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    name = "-".join(p[:1].upper() + p[1:] for p in parts) or "Account"
    return name if name[0].isalpha() else f"A{name}"


def plan_ledger(
    scenario: Scenario, trades: Sequence[Trade], dates: Sequence[dt.date] = (), ledger: Ledger | None = None
) -> tuple[str, list[str]]:
    """The plan's ledger text and notes: for `ledger` (or the beancount `source:` the scenario's accounts read),
    else standalone. `dates`: one per trade (multi-period plans), default the scenario's as_of."""
    days = list(dates) or [scenario.as_of] * len(trades)
    if ledger is None:
        sources = sorted({a.source for a in scenario.accounts if a.source and a.source.startswith("beancount:")})
        if len(sources) > 1:
            raise SourceError(
                sources[1].split(":", 1)[1],
                "(file)",
                "the scenario's accounts read several beancount ledgers; name the one the plan is for "
                "with --ledger-for LEDGER",
            )
        if sources:
            ledger = load(sources[0].split(":", 1)[1])
    if ledger is not None:
        places = _places(scenario, ledger)
        body, notes = _transactions(scenario, trades, days, ledger, places)
        head = [f"; rebal-opt plan for {scenario.label}: append to {ledger.path} (or include this file from it)", ""]
        return "\n".join([*head, *body]).rstrip("\n") + "\n", notes
    opening = _opening(scenario, trades)
    from beancount import loader

    entries, errors, _ = loader.load_string(opening)
    assert not errors, errors  # written here from a valid scenario
    synthetic = ledger_of("(opening entries)", entries)
    places = {t.account: [_root(t.account), f"{_root(t.account)}:Cash"] for t in trades}
    body, notes = _transactions(scenario, trades, days, synthetic, places)
    return "\n".join([opening, "; --- the plan ---", "", *body]).rstrip("\n") + "\n", notes


# --- where a policy account's lots and cash are in the ledger ---------------------------------------------------


def _places(scenario: Scenario, ledger: Ledger) -> dict[str, list[str]]:
    """Policy account id -> the ledger's Assets accounts that are it (sorted)."""
    policy = [{"id": a.id, "broker_account": a.broker_account} for a in scenario.accounts]
    owners = [p for p, a in zip(policy, scenario.accounts, strict=True) if a.source == f"beancount:{ledger.path}"]
    held = [name for name, inv in ledger.balances.items() if any(p.units.number != 0 for p in inv)]
    out: dict[str, list[str]] = {}
    for name in sorted(set(held) | {a for a in ledger.opened if a.startswith("Assets:")}):
        owner = owners[0] if len(owners) == 1 and name in held else None
        target = policy_account(policy, name, owner, len(held) == 1)
        if target is not None:
            out.setdefault(str(target["id"]), []).append(name)
    return out


def _positions(ledger: Ledger, name: str) -> list[Any]:
    return [p for p in ledger.balances.get(name, []) if p.units.number != 0]


def _cash_account(names: list[str], ledger: Ledger) -> str:
    """Where the account's dollars are: the account holding USD, else one named ...:Cash, else where its
    securities are."""
    for name in names:
        if any(p.units.currency == CURRENCY and p.cost is None for p in _positions(ledger, name)):
            return name
    for name in names:
        if name.rsplit(":", 1)[-1].lower() == "cash":
            return name
    return _holding_account(names, ledger, "", "")


def _holding_account(names: list[str], ledger: Ledger, security: str, cash: str) -> str:
    """Where a purchase of `security` goes: the account holding it, else one holding any lot, else not the
    cash account."""
    for held in (lambda p: p.units.currency == security and p.cost is not None, lambda p: p.cost is not None):
        for name in names:
            if any(held(p) for p in _positions(ledger, name)):
                return name
    others = [n for n in names if n != cash]
    return (others or names)[0]


# --- the transactions --------------------------------------------------------------------------------------------


class _Lots:
    """The ledger's lots as the plan's sales use them up."""

    def __init__(self, ledger: Ledger, names: list[str]) -> None:
        self.left: dict[tuple[str, Any], Decimal] = {}
        self.cost: dict[tuple[str, Any], Any] = {}
        for name in names:
            for p in _positions(ledger, name):
                key = (name, (p.units.currency, p.cost))
                self.left[key] = p.units.number
                self.cost[key] = p.cost

    def of(self, security: str) -> list[tuple[str, Any]]:
        return [k for k, n in self.left.items() if k[1][0] == security and n > 0]

    def take(self, key: tuple[str, Any], shares: Decimal) -> Decimal:
        """Take `shares` (all that is left when within the tolerance of it)."""
        left = self.left[key]
        n = left if abs(shares - left) <= SHARE_TOLERANCE else shares
        self.left[key] = left - n
        return n


def _lot_for(lots: _Lots, lot: Lot, security: str, shares: Decimal) -> tuple[str, Any] | None:
    """The ledger lot that is the plan's `lot`: the same date and cost per share (to half a cent a share, or a
    cent on the lot: a lot at another cost would book other gains than the plan's), with enough shares left;
    the one labelled with the lot's id first, then the closest cost."""
    basis = Decimal(repr(lot.basis_per_share))
    tolerance = max(Decimal("0.005"), Decimal("0.01") / Decimal(repr(lot.shares)))
    fits = [
        k
        for k in lots.of(security)
        if lots.cost[k] is not None
        and lots.cost[k].date == lot.acquired
        and lots.left[k] >= shares - SHARE_TOLERANCE
        and abs(lots.cost[k].number - basis) <= tolerance
    ]
    fits.sort(key=lambda k: (lots.cost[k].label != lot.id, abs(lots.cost[k].number - basis)))
    return fits[0] if fits else None


def _cost_spec(cost: Any) -> str:
    label = f', "{cost.label}"' if cost.label else ""
    return f"{{{cost.number} {cost.currency}, {cost.date}{label}}}"


def _transactions(
    scenario: Scenario,
    trades: Sequence[Trade],
    days: Sequence[dt.date],
    ledger: Ledger,
    places: dict[str, list[str]],
) -> tuple[list[str], list[str]]:
    lots_by_id = {lot.id: lot for a in scenario.accounts for lot in a.lots}
    lots = {account: _Lots(ledger, names) for account, names in places.items()}
    used: set[str] = set()
    body: list[str] = []
    left_out: dict[str, int] = {}
    for t, day in zip(trades, days, strict=True):
        what = f"{t.action} {shares_text(t.shares)} {t.security} in {t.account}"
        names = places.get(t.account)
        if not names:
            body += [f"; left out: {what} ({ledger.path} holds no account that is {t.account})", ""]
            left_out[t.account] = left_out.get(t.account, 0) + 1
            continue
        cash = _cash_account(names, ledger)
        shares = Decimal(shares_text(t.shares))
        price = _d(t.price)
        body.append(f'{day} * "rebal-opt" "{what}" #{TAG}')
        if t.action == "buy":
            spec = f"{price} # {_cents(t.cost)} {CURRENCY}" if t.cost else f"{price} {CURRENCY}"
            body.append(
                f"  {_holding_account(names, ledger, t.security, cash)}  {shares} {t.security} {{{spec}, {day}}}"
            )
        elif t.lots:
            for sale in t.lots:
                lot = lots_by_id[sale.lot]
                n = Decimal(shares_text(sale.shares))
                key = _lot_for(lots[t.account], lot, t.security, n)
                if key is None:
                    raise SourceError(
                        ledger.path,
                        f"account {t.account}",
                        f"holds no lot of {t.security} acquired {lot.acquired} at {lot.basis_per_share:.4f} "
                        f"{CURRENCY} a share with {n} shares left (the plan's lot {sale.lot}); the plan was made "
                        "from other holdings than this ledger's: import from it and plan again",
                    )
                n = lots[t.account].take(key, n)
                body.append(
                    f"  {key[0]}  -{n} {t.security} {_cost_spec(lots[t.account].cost[key])} @ {price} {CURRENCY}"
                )
                income = SHORT if sale.term == "short" else LONG
                used.add(income)
                body.append(f"  {income}  {_cents(-sale.gain)} {CURRENCY}")
                body.append(f'    lot: "{sale.lot}"')
        else:
            sale = _sheltered_sale(lots[t.account], t, shares, ledger.path)
            used.update(SHELTERED for line in sale if SHELTERED in line)
            body += sale
        if t.cost and t.action == "sell":
            used.add(TRADING)
            body.append(f"  {TRADING}  {_cents(t.cost)} {CURRENCY}")
        body += [f"  {cash}", ""]
    first = min(days, default=scenario.as_of)
    opens = [f"{first} open {a} {CURRENCY}" for a in sorted(used - ledger.opened)]
    notes = [
        f"{n} trade{'s' if n > 1 else ''} in {account} left out: {ledger.path} has no account that is {account} "
        f"(a ledger account is {account} when {account}'s broker_account names it or a parent of it)"
        for account, n in left_out.items()
    ]
    return [*opens, *([""] if opens else []), *body], notes


def _sheltered_sale(lots: _Lots, t: Trade, shares: Decimal, path: str) -> list[str]:
    """A tax-advantaged account's sale: the ledger's lots first in, first out; the gain is untaxed."""
    lines: list[str] = []
    gain = Decimal(0)
    price = Decimal(_d(t.price))
    owed = shares
    order = sorted(lots.of(t.security), key=lambda k: (lots.cost[k] is None, lots.cost[k] and lots.cost[k].date))
    for key in order:
        if owed <= SHARE_TOLERANCE:
            break
        n = lots.take(key, min(owed, lots.left[key]))
        owed -= n
        cost = lots.cost[key]
        spec = f" {_cost_spec(cost)}" if cost is not None else ""
        lines.append(f"  {key[0]}  -{n} {t.security}{spec} @ {price} {CURRENCY}")
        if cost is not None:
            gain += n * (price - cost.number)
    if owed > SHARE_TOLERANCE:
        raise SourceError(
            path, f"account {t.account}", f"holds {shares - owed} {t.security}, and the plan sells {shares}"
        )
    return [*lines, f"  {SHELTERED}  {_cents(-gain)} {CURRENCY}"] if round(gain, 2) != 0 else lines


# --- standalone: the holdings the plan trades, as opening entries ------------------------------------------------


def _root(account_id: str) -> str:
    return f"Assets:Rebal:{_name(account_id)}"


def _opening(scenario: Scenario, trades: Sequence[Trade]) -> str:
    """Opening entries for the lots (and tax-advantaged positions) the plan sells, under Assets:Rebal."""
    lots = {lot.id: lot for a in scenario.accounts for lot in a.lots}
    lines: list[str] = []
    done: set[tuple[str, str]] = set()
    for t in trades:
        if t.action != "sell":
            continue
        root = _root(t.account)
        for sale in t.lots or []:
            if (t.account, sale.lot) in done:
                continue
            done.add((t.account, sale.lot))
            lot = lots[sale.lot]
            lines += [
                f'{lot.acquired} * "opening lot {sale.lot}"',
                f"  {root}  {shares_text(lot.shares)} {t.security} {{{_d(lot.basis_per_share)} {CURRENCY}, "
                f'{lot.acquired}, "{sale.lot}"}}',
                "  Equity:Opening-Balances",
                "",
            ]
        if not t.lots and (t.account, t.security) not in done:
            done.add((t.account, t.security))
            held = scenario.account(t.account).holdings.get(t.security, t.shares)
            lines += [
                f'{scenario.as_of} * "opening position {t.security} in {t.account}"',
                f"  {root}  {shares_text(held)} {t.security} {{{_d(t.price)} {CURRENCY}}}",
                "  Equity:Opening-Balances",
                "",
            ]
    first = min([lot.acquired for lot in lots.values()] + [scenario.as_of])
    accounts = sorted({_root(t.account) for t in trades} | {f"{_root(t.account)}:Cash" for t in trades})
    head = [
        f"; rebal-opt plan for {scenario.label}, {scenario.as_of}",
        f'option "operating_currency" "{CURRENCY}"',
        "",
        f"{first} open Equity:Opening-Balances",
        *[f"{first} open {a}" for a in accounts],
        "",
        "; --- the holdings the plan trades ---",
        "",
    ]
    return "\n".join([*head, *lines])


def ledger_for(path: str | Path) -> Ledger:
    """The household's ledger a plan is written for (`--ledger-for`)."""
    return load(Path(path).resolve())
