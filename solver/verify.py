"""The independent verifier: every plan is checked against the scenario before it is shown.

`verify(scenario, result)` recomputes everything from the scenario and the result's trade list alone
(never from solver variables): the lots sold, their gains and holding periods, the cash of each account,
the allocation before and after, the tracking error, the realized gains and the tax they cause, the
wash-sale windows and the contributions-first rule. Each rule is one small function yielding
`Violation`s of one `kind`; the message names the account, lot or security and the numbers.

Conventions used by every check:

* Money is counted the way a broker settles it: a trade moves `round(shares × scenario price, 2)`
  and pays `round(commission + spread_bps / 10_000 × that amount, 2)`; each lot's gain (at the quoted
  price; costs are separate) is rounded to the cent before gains are summed. Cash, costs, realized gains
  and the allocation after are built from these cent figures, recomputed here (never read from the
  result), so a result that reports them correctly matches to the cent however many trades it has.
* Dollar figures the result reports (rounded to cents) must match within `tolerance_dollars`; shares
  within `SHARE_TOL`; weights within `WEIGHT_TOL`; the tracking error within `TE_REL_TOL` relative plus
  `TE_ABS_TOL`.
* The trade date of the plan is `as_of`. Wash-sale windows are the 30 days before and after it.
* When a taxable sell's lots cannot be resolved (missing, unknown), that is reported, and the checks that
  need the plan's realized gains (realized, tax, caps) are skipped: their figures would be meaningless.
* A sell in a tax-advantaged account may leave `lots` out; when it lists them they may describe the
  position rather than lots, so they are only checked to add up to the trade's shares. Such sells
  realize nothing.
* Wash sales count purchases household-wide (IRA and Roth included), and the plan's own trades count on
  `as_of`: a buy in the plan blocks loss sales in its group for 31 days, and a loss sale blocks buys.
* A result with status `infeasible` carries no plan: it may list no trades, and nothing else is checked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rebal_opt.models.result import LotSale, Result, Term, Trade
from rebal_opt.models.risk import class_risk
from rebal_opt.models.scenario import CASH_CLASS, Account, AccountType, Lot, Scenario

from .household import (
    ClassWeight,
    PositionKey,
    allocation,
    class_values,
    starting_cash,
    starting_shares,
)

SHARE_TOL = 1e-6
"""Shares: oversold lots and positions, lot sums, whole shares."""
WEIGHT_TOL = 1e-6
"""Allocation weights, targets and band edges."""
TE_REL_TOL = 1e-6
TE_ABS_TOL = 1e-9
PRICE_TOL = 1e-6
"""A trade's price must be the scenario's price to this many dollars."""
LOSS_EPS = 1e-9
"""A lot is sold at a loss (or a gain) when its gain is beyond this many dollars from zero."""
DUST = 0.005
"""Dollars: a lot line worth less than half a cent is no trade (a plan leaves it, as a broker would): a
sale that leaves only such remnants sells all it may."""
WASH_WINDOW_DAYS = 30
"""A loss sale on day D is a wash sale when the group is bought in D-30 .. D+30."""


KINDS: frozenset[str] = frozenset(
    {
        "status",
        "unknown_reference",
        "invalid_shares",
        "price",
        "amount",
        "untradable_account",
        "not_buyable",
        "do_not_buy",
        "do_not_sell",
        "lots_missing",
        "unknown_lot",
        "lot_oversold",
        "lot_shares",
        "cost_basis",
        "gain",
        "term",
        "lot_acquired",
        "position_oversold",
        "buy_and_sell",
        "fractional_shares",
        "min_trade",
        "max_trades",
        "short_term_gain",
        "max_realized_gain",
        "realized",
        "trade_cost",
        "total_costs",
        "below_min_cash",
        "withdrawal_unfunded",
        "cash_after",
        "allocation_classes",
        "allocation_before",
        "allocation_after",
        "allocation_policy",
        "band_flags",
        "band_violation_unreported",
        "band_violation_wrong",
        "tracking_error",
        "max_tracking_error",
        "tax_arithmetic",
        "tax_mismatch",
        "tax_unavailable",
        "wash_sale_loss",
        "wash_sale_buy",
        "wash_sale_blocked",
        "contributions_first",
    }
)
"""Every `Violation.kind` the verifier reports: one per rule."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: `kind` names the rule, `message` the account/lot/security and the numbers."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class PlanVerificationError(Exception):
    """A plan failed verification; carries every violation found."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = list(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"the plan failed verification ({len(self.violations)} problems):\n{lines}")


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify`: every violation found (none when the plan is sound)."""

    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def kinds(self) -> set[str]:
        return {v.kind for v in self.violations}

    def raise_if_failed(self) -> None:
        """Raise `PlanVerificationError` listing every violation, unless the plan passed."""
        if self.violations:
            raise PlanVerificationError(self.violations)


# ----------------------------------------------------------------------------------------------------
# Definitions


def anniversary(day: dt.date) -> dt.date:
    """The same day one year later; Feb 29 → Feb 28."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def holding_term(lot: Lot, sale_date: dt.date) -> Term:
    """Long-term iff the lot is inherited or sold after the anniversary of its purchase.

    Held more than one year: bought 2023-06-15, sold 2024-06-15 is short-term, 2024-06-16 long-term.
    """
    if lot.inherited or sale_date > anniversary(lot.acquired):
        return "long"
    return "short"


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _shares(x: float) -> str:
    return f"{x:,.6g}"


@dataclass(frozen=True)
class _LotSold:
    """One lot sold by a taxable sell, resolved against the scenario, with its recomputed figures."""

    trade: Trade
    sale: LotSale
    account: Account
    lot: Lot
    cost_basis: float
    gain: float
    term: Term

    @property
    def where(self) -> str:
        return f"lot {self.lot.id} ({self.sale.shares:g} {self.lot.security} in {self.account.id})"


class _Plan:
    """The scenario and the result's trades, with everything the checks recompute from them."""

    def __init__(self, scenario: Scenario, result: Result, tolerance: float, gain_round_trips: bool = False) -> None:
        self.s = scenario
        self.r = result
        self.tol = tolerance
        self.gain_round_trips = gain_round_trips
        self.accounts = {a.id: a for a in scenario.accounts}
        self.lots: dict[str, tuple[Account, Lot]] = {
            lot.id: (a, lot) for a in scenario.accounts for lot in a.lots if lot.id is not None
        }
        self.trades = [t for t in result.trades if t.account in self.accounts and t.security in scenario.securities]
        self.sells = [t for t in self.trades if t.action == "sell"]
        self.buys = [t for t in self.trades if t.action == "buy"]

    @cached_property
    def held(self) -> dict[tuple[str, str], float]:
        """Shares per (account, security) before the plan: lots and holdings."""
        shares: dict[tuple[str, str], float] = defaultdict(float)
        for account in self.s.accounts:
            for lot in account.lots:
                shares[(account.id, lot.security)] += lot.shares
            for ticker, n in account.holdings.items():
                shares[(account.id, ticker)] += n
        return dict(shares)

    @cached_property
    def recent_lots(self) -> dict[str, list[tuple[dt.date, str, str]]]:
        """Per wash group, (acquired, account, security) of lots bought in the 30 days up to as_of."""
        earliest = self.s.as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
        out: dict[str, list[tuple[dt.date, str, str]]] = defaultdict(list)
        for account in self.s.accounts:
            for lot in account.lots:
                if earliest <= lot.acquired <= self.s.as_of and not lot.inherited:  # inheriting is not buying
                    out[self.group(lot.security)].append((lot.acquired, account.id, lot.security))
        return dict(out)

    def price(self, ticker: str) -> float:
        return self.s.securities[ticker].price

    def value(self, trade: Trade) -> float:
        """The trade's dollar value at the scenario price, to the cent."""
        # float(): numpy's round of a np.float64 rounds differently (half to even after scaling).
        return round(float(trade.shares * self.price(trade.security)), 2)

    def cost(self, trade: Trade) -> float:
        """commission + spread_bps / 10_000 × the trade's value, to the cent."""
        costs = self.s.rules.costs
        return round(float(costs.commission + costs.spread_bps / 10_000 * abs(self.value(trade))), 2)

    def group(self, ticker: str) -> str:
        return self.groups[ticker]

    # Indexes of the plan, built once: the checks below look things up per trade or per lot, and scanning
    # every lot or trade each time made verifying a 50,000-lot plan take 13 s.

    @cached_property
    def groups(self) -> dict[str, str]:
        """Each security's wash group."""
        return {t: self.s.wash_group(t) for t in self.s.securities}

    @cached_property
    def position_lots(self) -> dict[tuple[str, str], list[Lot]]:
        """(account, security) → the account's lots of it."""
        out: dict[tuple[str, str], list[Lot]] = defaultdict(list)
        for account in self.s.accounts:
            for lot in account.lots:
                out[(account.id, lot.security)].append(lot)
        return dict(out)

    @cached_property
    def sold_by_lot(self) -> dict[str, float]:
        """Lot id → shares the plan sells of it."""
        sold: dict[str, float] = defaultdict(float)
        for x in self.lots_sold:
            sold[x.lot.id or ""] += x.sale.shares
        return dict(sold)

    @cached_property
    def buys_by_group(self) -> dict[str, list[Trade]]:
        """Wash group → the plan's purchases in it (any account)."""
        out: dict[str, list[Trade]] = defaultdict(list)
        for t in self.buys:
            out[self.group(t.security)].append(t)
        return dict(out)

    @cached_property
    def loss_groups(self) -> set[str]:
        """The wash groups in which the plan sells a lot at a loss."""
        return {self.group(x.lot.security) for x in self.loss_lots}

    @cached_property
    def loss_lots(self) -> list[_LotSold]:
        """The lots the plan sells at a loss."""
        return [x for x in self.lots_sold if x.gain < -LOSS_EPS]

    def taxable_sells(self) -> Iterator[tuple[Trade, Account]]:
        for trade in self.sells:
            account = self.accounts[trade.account]
            if account.type == AccountType.TAXABLE:
                yield trade, account

    def resolve(self, trade: Trade, account: Account, sale: LotSale) -> Lot | str:
        """The lot a taxable sell names, or what is wrong with the name."""
        owner = self.lots.get(sale.lot)
        if owner is None:
            return f"names lot '{sale.lot}', which does not exist"
        if owner[0].id != account.id:
            return f"names lot '{sale.lot}', which is in account {owner[0].id}"
        if owner[1].security != trade.security:
            return f"names lot '{sale.lot}', which holds {owner[1].security}"
        return owner[1]

    @cached_property
    def unresolved_lots(self) -> list[tuple[Trade, str]]:
        """Taxable sells whose lots are missing or do not name a lot of that security in that account."""
        out: list[tuple[Trade, str]] = []
        for trade, account in self.taxable_sells():
            if not trade.lots:
                out.append((trade, "lists no lots"))
            for sale in trade.lots or []:
                lot = self.resolve(trade, account, sale)
                if isinstance(lot, str):
                    out.append((trade, lot))
        return out

    @cached_property
    def lots_sold(self) -> list[_LotSold]:
        """Every resolvable lot sold by a taxable sell, with basis, gain and term recomputed."""
        out: list[_LotSold] = []
        for trade, account in self.taxable_sells():
            for sale in trade.lots or []:
                lot = self.resolve(trade, account, sale)
                if isinstance(lot, str):
                    continue
                basis = sale.shares * lot.basis_per_share
                gain = sale.shares * self.price(trade.security) - basis
                out.append(_LotSold(trade, sale, account, lot, basis, gain, holding_term(lot, self.s.as_of)))
        return out

    @cached_property
    def realized(self) -> tuple[float, float] | None:
        """(short-term, long-term) gains of the plan; None when some taxable sell's lots are unresolved."""
        if self.unresolved_lots:
            return None
        short = sum(round(x.gain, 2) for x in self.lots_sold if x.term == "short")
        long = sum(round(x.gain, 2) for x in self.lots_sold if x.term == "long")
        return short, long

    @cached_property
    def shares_before(self) -> dict[PositionKey, float]:
        return starting_shares(self.s)

    @cached_property
    def shares_after(self) -> dict[PositionKey, float]:
        shares = defaultdict(float, self.shares_before)
        for trade in self.trades:
            sign = 1.0 if trade.action == "buy" else -1.0
            shares[(trade.account, trade.security)] += sign * trade.shares
        return dict(shares)

    @cached_property
    def ending_cash(self) -> dict[str, float]:
        """cash + contribution + Σ sells − Σ buys − Σ costs, per account (withdrawals paid out)."""
        cash = {a.id: a.cash + a.contribution for a in self.s.accounts}
        for trade in self.trades:
            sign = 1.0 if trade.action == "sell" else -1.0
            cash[trade.account] += sign * self.value(trade) - self.cost(trade)
        return cash

    @cached_property
    def before(self) -> dict[str, ClassWeight]:
        return allocation(self.s, class_values(self.s, self.shares_before, starting_cash(self.s)))

    @cached_property
    def after(self) -> dict[str, ClassWeight]:
        return allocation(self.s, class_values(self.s, self.shares_after, self.ending_cash))

    def tracking_error(self, weights: dict[str, ClassWeight]) -> float:
        """sqrt(d' Σ d) (quadratic) or Σ |d| (absolute) of the drift d = weight − target."""
        classes = list(weights)
        drift = np.array([weights[c].drift for c in classes])
        if self.s.objective.tracking == "absolute":
            return float(np.abs(drift).sum())
        return class_risk(classes, self.s.objective.risk_model).tracking_error(drift)

    def buyable(self, account: Account) -> set[str]:
        """Securities the account may buy: its menu (None = all) minus rules.do_not_buy."""
        menu = set(self.s.securities) if account.buyable is None else set(account.buyable)
        return menu - set(self.s.rules.do_not_buy)


Check = Callable[[_Plan], Iterator[Violation]]


# ----------------------------------------------------------------------------------------------------
# Trades: references, prices, amounts, permissions


def check_references(p: _Plan) -> Iterator[Violation]:
    """Every trade names an account and a security of the scenario."""
    for trade in p.r.trades:
        if trade.account not in p.accounts:
            yield Violation(
                "unknown_reference", f"a {trade.action} of {trade.security} names unknown account '{trade.account}'"
            )
        if trade.security not in p.s.securities:
            yield Violation(
                "unknown_reference", f"a {trade.action} in {trade.account} names unknown security '{trade.security}'"
            )


def check_shares_positive(p: _Plan) -> Iterator[Violation]:
    """A trade, and each lot it sells, has a positive, finite number of shares."""
    for trade in p.trades:
        if not (math.isfinite(trade.shares) and trade.shares > 0):
            yield Violation(
                "invalid_shares",
                f"{trade.action} {trade.security} in {trade.account}: shares {trade.shares} must be positive",
            )
        for sale in trade.lots or []:
            if not (math.isfinite(sale.shares) and sale.shares > 0):
                yield Violation(
                    "invalid_shares",
                    f"sell {trade.security} in {trade.account}: lot {sale.lot} shares {sale.shares} must be positive",
                )


def check_price(p: _Plan) -> Iterator[Violation]:
    """A trade's price is the scenario's price of the security."""
    for trade in p.trades:
        price = p.price(trade.security)
        if abs(trade.price - price) > PRICE_TOL:
            yield Violation(
                "price",
                f"{trade.action} {trade.security} in {trade.account} at {trade.price}; the scenario price is {price}",
            )


def check_amount(p: _Plan) -> Iterator[Violation]:
    """amount = shares × price, to the cent."""
    for trade in p.trades:
        value = p.value(trade)
        if abs(trade.amount - value) > p.tol:
            yield Violation(
                "amount",
                f"{trade.action} {_shares(trade.shares)} {trade.security} in "
                f"{trade.account}: amount {_money(trade.amount)}, shares × price = {_money(value)}",
            )


def check_tradable(p: _Plan) -> Iterator[Violation]:
    """An account with `tradable: false` (held away) never trades."""
    for trade in p.trades:
        if not p.accounts[trade.account].tradable:
            yield Violation(
                "untradable_account",
                f"{trade.action} {_shares(trade.shares)} {trade.security} in {trade.account}, which is not tradable",
            )


def check_menu(p: _Plan) -> Iterator[Violation]:
    """A buy is of a security on the account's `buyable` menu (no menu: any security)."""
    for trade in p.buys:
        menu = p.accounts[trade.account].buyable
        if menu is not None and trade.security not in menu:
            yield Violation(
                "not_buyable", f"buy {trade.security} in {trade.account}, whose menu is {', '.join(menu) or '(empty)'}"
            )


def check_do_not_buy(p: _Plan) -> Iterator[Violation]:
    """No buy of a security listed in rules.do_not_buy."""
    for trade in p.buys:
        if trade.security in p.s.rules.do_not_buy:
            yield Violation(
                "do_not_buy",
                f"buy {_shares(trade.shares)} {trade.security} in {trade.account}; "
                f"{trade.security} is in rules.do_not_buy",
            )


def check_do_not_sell(p: _Plan) -> Iterator[Violation]:
    """No sell of a security, or of a lot, listed in rules.do_not_sell.

    A sell without lots (tax-advantaged account) may not dip into the shares of protected lots there.
    """
    protected = set(p.s.rules.do_not_sell)
    for trade in p.sells:
        if trade.security in protected:
            yield Violation(
                "do_not_sell",
                f"sell {_shares(trade.shares)} {trade.security} in {trade.account}; "
                f"{trade.security} is in rules.do_not_sell",
            )
            continue
        if trade.lots:
            for sale in trade.lots:
                if sale.lot in protected:
                    yield Violation(
                        "do_not_sell",
                        f"sell {_shares(sale.shares)} {trade.security} of lot "
                        f"{sale.lot} in {trade.account}; lot {sale.lot} is in rules.do_not_sell",
                    )
            continue
        account = p.accounts[trade.account]
        kept = sum(lot.shares for lot in p.position_lots.get((account.id, trade.security), []) if lot.id in protected)
        free = p.shares_before.get((account.id, trade.security), 0.0) - kept
        if kept > 0 and trade.shares > free + SHARE_TOL:
            yield Violation(
                "do_not_sell",
                f"sell {_shares(trade.shares)} {trade.security} in {account.id}: "
                f"only {_shares(free)} are not in protected lots",
            )


# ----------------------------------------------------------------------------------------------------
# Sells: lots, basis, gains, terms, positions


def check_lots_listed(p: _Plan) -> Iterator[Violation]:
    """A sell in a taxable account lists the lots it sells (specific identification)."""
    for trade, account in p.taxable_sells():
        if not trade.lots:
            yield Violation(
                "lots_missing",
                f"sell {_shares(trade.shares)} {trade.security} in taxable account {account.id} lists no lots",
            )


def check_lots_exist(p: _Plan) -> Iterator[Violation]:
    """Each lot a taxable sell lists is a lot of that security in that account."""
    for trade, problem in p.unresolved_lots:
        if trade.lots:
            yield Violation("unknown_lot", f"sell {trade.security} in {trade.account} {problem}")


def check_lot_oversold(p: _Plan) -> Iterator[Violation]:
    """Shares sold from a lot, over all trades, are at most the lot's shares."""
    for lot_id, n in p.sold_by_lot.items():
        account, lot = p.lots[lot_id]
        if n > lot.shares + SHARE_TOL:
            yield Violation(
                "lot_oversold",
                f"lot {lot_id} ({lot.security} in {account.id}) holds "
                f"{_shares(lot.shares)} shares; the plan sells {_shares(n)}",
            )


def check_lot_sum(p: _Plan) -> Iterator[Violation]:
    """The lots a sell lists add up to the trade's shares."""
    for trade in p.sells:
        if trade.lots:
            total = sum(sale.shares for sale in trade.lots)
            if abs(total - trade.shares) > SHARE_TOL:
                yield Violation(
                    "lot_shares",
                    f"sell {_shares(trade.shares)} {trade.security} in {trade.account}"
                    f": its lots add up to {_shares(total)} shares",
                )


def check_cost_basis(p: _Plan) -> Iterator[Violation]:
    """cost_basis = shares × the lot's basis per share."""
    for x in p.lots_sold:
        if abs(x.sale.cost_basis - x.cost_basis) > p.tol:
            yield Violation(
                "cost_basis", f"{x.where}: cost_basis {_money(x.sale.cost_basis)}, expected {_money(x.cost_basis)}"
            )


def check_gain(p: _Plan) -> Iterator[Violation]:
    """gain = shares × price − cost_basis, at the quoted price (costs are separate)."""
    for x in p.lots_sold:
        if abs(x.sale.gain - x.gain) > p.tol:
            yield Violation("gain", f"{x.where}: gain {_money(x.sale.gain)}, expected {_money(x.gain)}")


def check_term(p: _Plan) -> Iterator[Violation]:
    """term: long iff the lot is inherited or as_of is after the anniversary of `acquired`."""
    for x in p.lots_sold:
        if x.sale.term != x.term:
            why = "inherited" if x.lot.inherited else f"acquired {x.lot.acquired}, sold {p.s.as_of}"
            yield Violation("term", f"{x.where}: term {x.sale.term}, expected {x.term} ({why})")


def check_lot_acquired(p: _Plan) -> Iterator[Violation]:
    """A lot sale that reports `acquired` reports the lot's date."""
    for x in p.lots_sold:
        if x.sale.acquired is not None and x.sale.acquired != x.lot.acquired:
            yield Violation(
                "lot_acquired", f"{x.where}: acquired {x.sale.acquired}, the lot's date is {x.lot.acquired}"
            )


def check_position_oversold(p: _Plan) -> Iterator[Violation]:
    """Shares sold of a position (account, security) are at most the shares held (lots and holdings)."""
    sold: dict[PositionKey, float] = defaultdict(float)
    for trade in p.sells:
        sold[(trade.account, trade.security)] += trade.shares
    for (account, ticker), n in sold.items():
        held = p.shares_before.get((account, ticker), 0.0)
        if n > held + SHARE_TOL:
            yield Violation(
                "position_oversold", f"sell {_shares(n)} {ticker} in {account}, which holds {_shares(held)}"
            )


# ----------------------------------------------------------------------------------------------------
# Rules


def check_buy_and_sell(p: _Plan) -> Iterator[Violation]:
    """No account both buys and sells the same security.

    Year-end planning may harvest a gain (sell a taxable gain lot and buy the shares back for a higher
    basis): allowed there when every lot of the sale is at a gain (a loss would be a wash sale).
    """
    bought = {(t.account, t.security) for t in p.buys}
    for account, ticker in sorted(bought & {(t.account, t.security) for t in p.sells}):
        if p.gain_round_trips:
            sales = [t for t in p.sells if (t.account, t.security) == (account, ticker)]
            if all(t.lots and all(lot.gain >= 0 for lot in t.lots) for t in sales):
                continue
        yield Violation("buy_and_sell", f"{account} both buys and sells {ticker}")


def check_whole_shares(p: _Plan) -> Iterator[Violation]:
    """rules.whole_shares: every trade is a whole number of shares, and so is every lot line of a sale
    (a broker takes a specific-lot instruction in whole shares) — except that a lot (or a position) holding
    a fraction of a share may be sold entirely."""
    if not p.s.rules.whole_shares:
        return
    for trade in p.trades:
        held = _held(p, trade.account, trade.security)
        whole_position = trade.action == "sell" and abs(trade.shares - held) <= SHARE_TOL
        if abs(trade.shares - round(trade.shares)) > SHARE_TOL and not whole_position and not _whole_lots(p, trade):
            yield Violation(
                "fractional_shares",
                f"{trade.action} {_shares(trade.shares)} {trade.security} "
                f"in {trade.account}; rules.whole_shares asks for whole shares",
            )
    for x in p.lots_sold:
        if abs(x.sale.shares - round(x.sale.shares)) > SHARE_TOL and abs(x.sale.shares - x.lot.shares) > SHARE_TOL:
            yield Violation(
                "fractional_shares",
                f"{x.where}: {_shares(x.sale.shares)} shares of a lot of {_shares(x.lot.shares)}; rules.whole_shares "
                "asks for whole shares of each lot (or the whole lot)",
            )


def _whole_lots(p: _Plan, trade: Trade) -> bool:
    """Every lot line of the sale is whole shares or the whole lot (a sale of fractional lots entirely).

    A tax-advantaged sale has no lot lines: its position is its holding and its lots, each of which may
    be sold in whole shares or entirely, so the sale's fraction must be the fractions of some of them."""
    if not trade.lots:
        return _whole_pieces(p, trade)
    for sale in trade.lots:
        owner = p.lots.get(sale.lot)
        if owner is None:
            return False
        if abs(sale.shares - round(sale.shares)) > SHARE_TOL and abs(sale.shares - owner[1].shares) > SHARE_TOL:
            return False
    return True


def _whole_pieces(p: _Plan, trade: Trade) -> bool:
    """Whether a sale without lot lines is whole shares of its position's pieces (holding, lots), some sold
    entirely: its shares less the fractions of some pieces are a whole number (at most 12 pieces tried)."""
    account = p.accounts[trade.account]
    pieces = [lot.shares for lot in p.position_lots.get((account.id, trade.security), [])]
    if account.holdings.get(trade.security, 0.0) > 0:
        pieces.append(account.holdings[trade.security])
    fractions = [x - math.floor(x) for x in pieces if x - math.floor(x) > SHARE_TOL][:12]
    for mask in range(1, 1 << len(fractions)):
        left = trade.shares - sum(f for i, f in enumerate(fractions) if mask >> i & 1)
        if left >= -SHARE_TOL and abs(left - round(left)) <= SHARE_TOL:
            return True
    return False


def check_min_trade(p: _Plan) -> Iterator[Violation]:
    """rules.min_trade: every trade is worth at least min_trade dollars — except a sale that sells all the
    plan may sell of the position (else a small leftover could never be sold): the whole position, or
    every lot of it the rules let go (not in do_not_sell, not a short-term gain under no_short_term_gains,
    not a loss lot inside a wash-sale window)."""
    minimum = p.s.rules.min_trade
    for trade in p.trades:
        value = p.value(trade)
        if trade.action == "sell" and _sells_all_it_may(p, trade):
            continue
        if value < minimum - p.tol:
            yield Violation(
                "min_trade",
                f"{trade.action} {_shares(trade.shares)} {trade.security} in "
                f"{trade.account} is worth {_money(value)}; rules.min_trade is {_money(minimum)}",
            )


def _sells_all_it_may(p: _Plan, trade: Trade) -> bool:
    """Whether, after the plan, the position keeps no share the rules would let the plan sell."""
    price = p.price(trade.security)
    left = _held(p, trade.account, trade.security) - trade.shares
    if abs(left) <= SHARE_TOL or 0 < left * price < DUST:
        return True
    account = p.accounts[trade.account]
    rules = p.s.rules
    if trade.security in rules.do_not_sell:
        return False
    sold = p.sold_by_lot
    lots = p.position_lots.get((account.id, trade.security), [])
    if account.holdings.get(trade.security, 0.0) > 0 and not account.tax_advantaged:
        return False
    if account.tax_advantaged:  # a position: only lots named in do_not_sell are held back
        kept = sum(lot.shares for lot in lots if lot.id in rules.do_not_sell)
        return _held(p, trade.account, trade.security) - trade.shares <= kept + SHARE_TOL
    for lot in lots:
        left = lot.shares - sold.get(lot.id or "", 0.0)
        if left <= SHARE_TOL or left * price < DUST or lot.id in rules.do_not_sell:
            continue
        gain = price - lot.basis_per_share
        if rules.no_short_term_gains and gain > 0 and holding_term(lot, p.s.as_of) == "short":
            continue
        if gain < 0 and rules.wash_sales == "avoid" and _loss_sale_blocked(p, account, lot):
            continue
        return False
    return True


def _loss_sale_blocked(p: _Plan, account: Account, lot: Lot) -> bool:
    """A loss sale of the lot would be a wash sale: a purchase in its group in the window (recent, planned,
    or the plan's own), other than the lot's own purchase."""
    group = p.group(lot.security)
    if group in p.buys_by_group:
        return True
    own = (account.id, lot.security, lot.acquired)
    return any((a, t, d) != own for d, a, t in _recent_buys(p, group)) or any(True for _ in _planned_buys(p, group))


def _held(p: _Plan, account_id: str, ticker: str) -> float:
    """Shares of a security in an account before the plan (lots and holdings)."""
    return p.held.get((account_id, ticker), 0.0)


def check_max_trades(p: _Plan) -> Iterator[Violation]:
    """rules.max_trades: the plan has at most that many trades."""
    limit = p.s.rules.max_trades
    if limit is not None and len(p.r.trades) > limit:
        yield Violation("max_trades", f"the plan has {len(p.r.trades)} trades; rules.max_trades is {limit}")


def check_no_short_term_gains(p: _Plan) -> Iterator[Violation]:
    """rules.no_short_term_gains: no lot sold short-term at a gain."""
    if not p.s.rules.no_short_term_gains:
        return
    for x in p.lots_sold:
        if x.term == "short" and x.gain > LOSS_EPS:
            yield Violation(
                "short_term_gain",
                f"{x.where} realizes a short-term gain of {_money(x.gain)} "
                f"(acquired {x.lot.acquired}); rules.no_short_term_gains is set",
            )


def check_max_realized_gain(p: _Plan) -> Iterator[Violation]:
    """rules.max_realized_gain: the plan's net realized gain (short + long) is at most the cap."""
    cap = p.s.rules.max_realized_gain
    if cap is None or p.realized is None:
        return
    net = sum(p.realized)
    if net > cap + p.tol:
        yield Violation(
            "max_realized_gain", f"the plan realizes a net {_money(net)}; rules.max_realized_gain is {_money(cap)}"
        )


def check_realized(p: _Plan) -> Iterator[Violation]:
    """realized = Σ lot gains by term, taxable accounts only (tax-advantaged sells realize nothing)."""
    if p.realized is None:
        return
    short, long = p.realized
    for name, reported, expected in (
        ("short_term", p.r.realized.short_term, short),
        ("long_term", p.r.realized.long_term, long),
    ):
        if abs(reported - expected) > p.tol:
            yield Violation("realized", f"realized.{name} is {_money(reported)}; the lots sold give {_money(expected)}")


# ----------------------------------------------------------------------------------------------------
# Costs and cash


def check_trade_cost(p: _Plan) -> Iterator[Violation]:
    """A trade's cost = rules.costs.commission + spread_bps / 10_000 × amount."""
    for trade in p.trades:
        cost = p.cost(trade)
        if abs(trade.cost - cost) > p.tol:
            yield Violation(
                "trade_cost",
                f"{trade.action} {_shares(trade.shares)} {trade.security} in "
                f"{trade.account}: cost {_money(trade.cost)}, expected {_money(cost)}",
            )


def check_total_costs(p: _Plan) -> Iterator[Violation]:
    """result.costs = Σ of the trades' costs."""
    total = sum(p.cost(t) for t in p.trades)
    if abs(p.r.costs - total) > p.tol:
        yield Violation("total_costs", f"costs {_money(p.r.costs)}; the trades cost {_money(total)}")


def check_min_cash(p: _Plan) -> Iterator[Violation]:
    """Each account ends with at least min_cash: cash + contribution + sells − buys − costs ≥ min_cash.

    In an account with a withdrawal (negative contribution) the shortfall is reported as the
    withdrawal not being funded (`withdrawal_unfunded`), elsewhere as `below_min_cash`.
    """
    for account in p.s.accounts:
        ending = p.ending_cash[account.id]
        if ending >= account.min_cash - p.tol:
            continue
        if account.contribution < 0:
            yield Violation(
                "withdrawal_unfunded",
                f"{account.id} must pay out {_money(-account.contribution)} "
                f"and keep {_money(account.min_cash)}; it ends with {_money(ending)}",
            )
        else:
            yield Violation(
                "below_min_cash",
                f"{account.id} ends with cash {_money(ending)}, below its min_cash {_money(account.min_cash)}",
            )


def check_cash_after(p: _Plan) -> Iterator[Violation]:
    """result.cash_after lists every account with its recomputed ending cash."""
    for account in p.s.accounts:
        ending = p.ending_cash[account.id]
        reported = p.r.cash_after.get(account.id)
        if reported is None:
            yield Violation("cash_after", f"cash_after has no entry for {account.id} (expected {_money(ending)})")
        elif abs(reported - ending) > p.tol:
            yield Violation(
                "cash_after", f"cash_after[{account.id}] is {_money(reported)}; the trades leave {_money(ending)}"
            )
    for name in sorted(set(p.r.cash_after) - set(p.accounts)):
        yield Violation("cash_after", f"cash_after names unknown account '{name}'")


# ----------------------------------------------------------------------------------------------------
# Allocation, bands, tracking error


def _outside(w: ClassWeight) -> float:
    """How far the weight is outside its band (negative: how far inside)."""
    return max(w.low - w.weight, w.weight - w.high)


def check_allocation_classes(p: _Plan) -> Iterator[Violation]:
    """The allocation lists exactly the scenario's asset classes (targets, then cash)."""
    expected = set(p.s.asset_classes())
    reported = set(p.r.allocation)
    for c in sorted(expected - reported):
        yield Violation("allocation_classes", f"allocation has no entry for asset class {c}")
    for c in sorted(reported - expected):
        yield Violation("allocation_classes", f"allocation lists unknown asset class {c}")


def _weights(p: _Plan, kind: str, when: str, recomputed: dict[str, ClassWeight]) -> Iterator[Violation]:
    for c, reported in p.r.allocation.items():
        if c in recomputed:
            value = getattr(reported, when)
            if abs(value - recomputed[c].weight) > WEIGHT_TOL:
                yield Violation(kind, f"allocation[{c}].{when} is {value:.6f}; recomputed {recomputed[c].weight:.6f}")


def check_allocation_before(p: _Plan) -> Iterator[Violation]:
    """`before` weights: the starting state, contributions arrived, withdrawals not yet paid."""
    yield from _weights(p, "allocation_before", "before", p.before)


def check_allocation_after(p: _Plan) -> Iterator[Violation]:
    """`after` weights: shares after the trades, ending cash as class cash, every account, funds split."""
    yield from _weights(p, "allocation_after", "after", p.after)


def check_allocation_policy(p: _Plan) -> Iterator[Violation]:
    """target, low and high of each class are the scenario's target and its band (`band_limits`)."""
    for c, reported in p.r.allocation.items():
        if c not in p.after:
            continue
        w = p.after[c]
        for name, value, expected in (
            ("target", reported.target, w.target),
            ("low", reported.low, w.low),
            ("high", reported.high, w.high),
        ):
            if abs(value - expected) > WEIGHT_TOL:
                yield Violation("allocation_policy", f"allocation[{c}].{name} is {value:.6f}; expected {expected:.6f}")


def check_band_flags(p: _Plan) -> Iterator[Violation]:
    """in_band_before / in_band_after agree with the recomputed weights (edges within WEIGHT_TOL pass)."""
    for c, reported in p.r.allocation.items():
        if c not in p.after:
            continue
        for name, flag, w in (
            ("in_band_before", reported.in_band_before, p.before[c]),
            ("in_band_after", reported.in_band_after, p.after[c]),
        ):
            distance = _outside(w)
            if (flag and distance > WEIGHT_TOL) or (not flag and distance < -WEIGHT_TOL):
                yield Violation(
                    "band_flags",
                    f"allocation[{c}].{name} is {flag}, but {w.weight:.6f} is "
                    f"{'outside' if distance > 0 else 'inside'} [{w.low:.6f}, {w.high:.6f}]",
                )


def check_band_violations_reported(p: _Plan) -> Iterator[Violation]:
    """Every class outside its band after the plan is listed in result.band_violations."""
    listed = {v.asset_class for v in p.r.band_violations}
    for c, w in p.after.items():
        if _outside(w) > WEIGHT_TOL and c not in listed:
            yield Violation(
                "band_violation_unreported",
                f"{c} ends at {w.weight:.6f}, outside its band "
                f"[{w.low:.6f}, {w.high:.6f}], and band_violations does not list it",
            )


def check_band_violations_listed(p: _Plan) -> Iterator[Violation]:
    """Every class in result.band_violations is really outside its band, with the right figures."""
    for v in p.r.band_violations:
        w = p.after.get(v.asset_class)
        if w is None:
            yield Violation("band_violation_wrong", f"band_violations lists unknown asset class {v.asset_class}")
            continue
        if _outside(w) < -WEIGHT_TOL:
            yield Violation(
                "band_violation_wrong",
                f"band_violations lists {v.asset_class}, but it ends at "
                f"{w.weight:.6f}, inside [{w.low:.6f}, {w.high:.6f}]",
            )
        for name, value, expected in (("after", v.after, w.weight), ("low", v.low, w.low), ("high", v.high, w.high)):
            if abs(value - expected) > WEIGHT_TOL:
                yield Violation(
                    "band_violation_wrong",
                    f"band_violations[{v.asset_class}].{name} is {value:.6f}; expected {expected:.6f}",
                )


def check_tracking_error(p: _Plan) -> Iterator[Violation]:
    """tracking_error.before/after = sqrt(d'Σd) (quadratic, `class_risk`) or Σ|d| (absolute) of the drift.

    `measure` names the scenario's objective.tracking.
    """
    mode = p.s.objective.tracking
    if p.r.tracking_error.measure != mode:
        yield Violation(
            "tracking_error", f"tracking_error.measure is {p.r.tracking_error.measure}; the scenario tracks {mode}"
        )
    for name, reported, weights in (
        ("before", p.r.tracking_error.before, p.before),
        ("after", p.r.tracking_error.after, p.after),
    ):
        expected = p.tracking_error(weights)
        if abs(reported - expected) > TE_REL_TOL * abs(expected) + TE_ABS_TOL:
            yield Violation(
                "tracking_error",
                f"tracking_error.{name} is {reported:.9g}; the "
                f"{p.s.objective.tracking} tracking error of the recomputed drift is {expected:.9g}",
            )


def check_tracking_error_budget(p: _Plan) -> Iterator[Violation]:
    """rules.max_tracking_error: the recomputed tracking error after the plan is within the budget.

    It holds for no_trade_needed too (`check` counts a tracking error above the budget as a rebalance
    due), not for a household worth nothing after the plan (no weights: the engine's dollar form
    W·TE ≤ budget·W holds at W = 0)."""
    budget = p.s.rules.max_tracking_error
    if budget is None or p.r.status == "infeasible":
        return
    total = sum(w.value for w in p.after.values())
    if total <= p.tol:
        return
    after = p.tracking_error(p.after)
    # The budget holds in dollars, W·TE ≤ budget·W, to BUDGET_DOLLARS: on a household worth cents that is a
    # large share of its tracking error, and no trade could move it (harness seed 3626 #148: $0.04 of VXUS).
    if after > budget * (1 + TE_REL_TOL) + TE_ABS_TOL + BUDGET_DOLLARS / total + _settlement_allowance(p):
        yield Violation(
            "max_tracking_error",
            f"the tracking error after the plan is {after:.4%}; rules.max_tracking_error is {budget:.4%}",
        )


BUDGET_DOLLARS = 0.001
"""Dollars of W·TE by which a plan may exceed W·budget: the engine holds the budget in that dollar form to
its solvers' feasibility tolerance (a tenth of a cent). Under a basis point of tracking error for any
household worth more than $10."""


def _settlement_allowance(p: _Plan) -> float:
    """How far the tracking error can move when a plan held to the budget in exact amounts is settled: each
    trade's amount and cost to the cent and its shares to the millionth move its classes' values by at most
    a cent and a millionth of a share, and cash by two cents. A move Δv of the class values moves the drift by
    at most |Δv_c|/W per class plus w_c·|ΔW|/W, and sqrt(d'Σd) by at most Σ σ_c·|Δd_c| (Σ|Δd_c| for absolute
    tracking). Well under a basis point of tracking error for any household worth more than a few dollars."""
    slack: dict[str, float] = defaultdict(float)
    for trade in p.r.trades:
        move = 0.01 + p.price(trade.security) * 1e-6
        for asset_class, fraction in p.s.securities[trade.security].class_split().items():
            slack[asset_class] += fraction * move
        slack[CASH_CLASS] += 0.02
    if not slack:
        return 0.0
    classes = list(p.after)
    total = sum(w.value for w in p.after.values())
    moved = np.array([slack.get(c, 0.0) for c in classes]) / total
    if p.s.objective.tracking == "absolute":
        spread = np.ones(len(classes))
    else:
        spread = np.sqrt(np.clip(np.diag(class_risk(classes, p.s.objective.risk_model).covariance), 0.0, None))
    return float(spread @ moved + spread.max() * moved.sum())


# ----------------------------------------------------------------------------------------------------
# Tax


def check_tax_arithmetic(p: _Plan) -> Iterator[Violation]:
    """tax.with_trades − tax.without_trades = tax.due_to_trades, to the cent."""
    tax = p.r.tax
    if abs(tax.with_trades - tax.without_trades - tax.due_to_trades) > p.tol:
        yield Violation(
            "tax_arithmetic",
            f"tax with trades {_money(tax.with_trades)} − without "
            f"{_money(tax.without_trades)} ≠ due to trades {_money(tax.due_to_trades)}",
        )


def _tax_engine() -> tuple[Callable[..., Any], Callable[[Scenario], Any]]:
    """(tax_with_gains, situation_from_scenario), imported when needed.

    `tax_with_gains` is taken from the package `rebal_opt.solver.tax`, or from its module `evaluate`
    while the package does not re-export it. Raises ImportError when the engine is missing.
    """
    from rebal_opt.solver.taxes import situation_from_scenario

    try:
        from rebal_opt.solver.tax import tax_with_gains
    except ImportError:
        from rebal_opt.solver.tax.evaluate import tax_with_gains
    return tax_with_gains, situation_from_scenario


def check_tax_engine(p: _Plan) -> Iterator[Violation]:
    """tax.without_trades and tax.with_trades are the tax engine's evaluation without and with the gains.

    `tax_with_gains(situation_from_scenario(scenario), short, long).total_tax` with (0, 0) and with the
    recomputed realized gains.
    """
    if p.realized is None:
        return
    try:
        tax_with_gains, situation_from_scenario = _tax_engine()
    except ImportError as exc:
        yield Violation("tax_unavailable", f"the tax engine cannot be imported ({exc}); tax not verified")
        return
    base = situation_from_scenario(p.s)
    short, long = p.realized
    for name, reported, extra in (
        ("without_trades", p.r.tax.without_trades, (0.0, 0.0)),
        ("with_trades", p.r.tax.with_trades, (short, long)),
    ):
        expected = float(tax_with_gains(base, *extra).total_tax)
        if abs(reported - expected) > p.tol:
            yield Violation(
                "tax_mismatch",
                f"tax.{name} is {_money(reported)}; the tax engine gives "
                f"{_money(expected)} (short-term {_money(extra[0])}, long-term {_money(extra[1])})",
            )


# ----------------------------------------------------------------------------------------------------
# Wash sales


def _recent_buys(p: _Plan, group: str) -> Iterator[tuple[dt.date, str, str]]:
    """(date, account, security) of recent buys in the group within the 30 days up to as_of: the
    recent trades, and lots acquired in that window (a lot is a purchase even when it is not listed
    among recent_trades)."""
    earliest = p.s.as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
    for t in p.s.recent_trades:
        if t.action == "buy" and p.group(t.security) == group and earliest <= t.date <= p.s.as_of:
            yield t.date, t.account, t.security
    yield from p.recent_lots.get(group, [])


def _planned_buys(p: _Plan, group: str) -> Iterator[tuple[dt.date, str, str]]:
    """(date, account, security) of planned purchases in the group within the 30 days after as_of."""
    latest = p.s.as_of + dt.timedelta(days=WASH_WINDOW_DAYS)
    for q in p.s.planned_purchases:
        if p.group(q.security) == group and p.s.as_of <= q.date <= latest:
            yield q.date, q.account, q.security


def _recent_loss_sale(p: _Plan, ticker: str) -> bool:
    """Whether a recent loss sale in the ticker's group keeps it from being bought today."""
    return any(True for _ in _recent_loss_sales(p, p.group(ticker)))


def _recent_loss_sales(p: _Plan, group: str) -> Iterator[tuple[dt.date, str, str]]:
    """(date, account, security) of recent sells at a loss in a taxable account, in the group, within the
    30 days up to as_of."""
    earliest = p.s.as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
    for t in p.s.recent_trades:
        if (
            t.action == "sell"
            and t.realized_gain is not None
            and t.realized_gain < 0
            and p.accounts[t.account].type == AccountType.TAXABLE  # no loss exists in an IRA or a Roth
            and p.group(t.security) == group
            and earliest <= t.date <= p.s.as_of
        ):
            yield t.date, t.account, t.security


def check_wash_sale_loss(p: _Plan) -> Iterator[Violation]:
    """A lot sold at a loss in a taxable account has no purchase in its wash group in the window.

    Purchases that count: a buy in the plan in any account (IRA and Roth included), a recent buy in the 30
    days before as_of, a planned purchase in the 30 days after. A recent buy that is the lot itself (same
    account and security, made on the lot's acquisition date) does not count: shares of one purchase lot
    do not replace each other.
    """
    if p.s.rules.wash_sales != "avoid":
        return
    for x in p.loss_lots:
        group = p.group(x.lot.security)
        conflicts = [f"the plan buys {t.security} in {t.account}" for t in p.buys_by_group.get(group, [])]
        conflicts += [
            f"{security} was bought in {account} on {day}"
            for day, account, security in _recent_buys(p, group)
            if not (account == x.account.id and security == x.lot.security and day == x.lot.acquired)
        ]
        conflicts += [
            f"{security} will be bought in {account} on {day}" for day, account, security in _planned_buys(p, group)
        ]
        if conflicts:
            yield Violation(
                "wash_sale_loss",
                f"{x.where} is sold at a loss of {_money(-x.gain)}, but {'; '.join(conflicts)} (wash group {group})",
            )


def check_wash_sale_buy(p: _Plan) -> Iterator[Violation]:
    """No buy in a wash group that had a sale at a loss in the 30 days before as_of."""
    if p.s.rules.wash_sales != "avoid":
        return
    for trade in p.buys:
        group = p.group(trade.security)
        for day, account, security in _recent_loss_sales(p, group):
            yield Violation(
                "wash_sale_buy",
                f"buy {_shares(trade.shares)} {trade.security} in {trade.account}: "
                f"{security} was sold at a loss in {account} on {day} (wash group {group})",
            )


def _blocking_dates(p: _Plan, group: str, action: str) -> list[dt.date]:
    """The purchases (for sell_at_loss) or loss sales (for buy) in the group that block the action.

    The plan's own trades count on as_of: a buy in the group blocks loss sales, a loss sale blocks buys.
    """
    if action == "sell_at_loss":
        dates = [d for d, _, _ in _recent_buys(p, group)] + [d for d, _, _ in _planned_buys(p, group)]
        plan = group in p.buys_by_group
    else:
        dates = [d for d, _, _ in _recent_loss_sales(p, group)]
        plan = group in p.loss_groups
    return [*dates, p.s.as_of] if plan else dates


def check_wash_sale_blocked(p: _Plan) -> Iterator[Violation]:
    """Each entry of wash_sale.blocked is justified, with `until` = the last blocking date + 31 days.

    A loss sale on day D is allowed when no purchase in the group falls in D−30 .. D+30, so an action
    blocked by trades on dates d1..dn becomes allowed on max(d) + 31. The group must exist and its listed
    securities belong to it. With `wash_sales: ignore` nothing is blocked.
    """
    groups = {p.group(t) for t in p.s.securities}
    for b in p.r.wash_sale.blocked:
        label = f"blocked {b.action} in group {b.group} until {b.until}"
        if p.s.rules.wash_sales != "avoid":
            yield Violation("wash_sale_blocked", f"{label}, but rules.wash_sales is ignore")
            continue
        if b.group not in groups:
            yield Violation("wash_sale_blocked", f"{label}: no security has wash group {b.group}")
            continue
        for ticker in b.securities:
            if ticker not in p.s.securities or p.group(ticker) != b.group:
                yield Violation("wash_sale_blocked", f"{label} lists {ticker}, which is not in the group")
        dates = _blocking_dates(p, b.group, b.action)
        if not dates:
            yield Violation("wash_sale_blocked", f"{label}, but no trade in the window blocks it")
            continue
        expected = max(dates) + dt.timedelta(days=WASH_WINDOW_DAYS + 1)
        if b.until != expected:
            yield Violation(
                "wash_sale_blocked",
                f"{label}: the last blocking trade is on {max(dates)}, so it is allowed from {expected}",
            )


# ----------------------------------------------------------------------------------------------------
# Contributions first


def check_contributions_first(p: _Plan) -> Iterator[Violation]:
    """rules.contributions_first: a plan that sells anything leaves no more cash idle than it must.

    The household's uninvested ending cash (every account, held-away ones included) must not exceed

        Σ min_cash (every account)
        + max(0, target_cash × total_after − value after of securities in class cash (fund splits count))
        + slack,

    slack = Σ over tradable accounts that can buy at least one security (their `buyable` menu, None =
    all, minus rules.do_not_buy) of max(min_trade, the highest price among those securities when
    whole_shares, else 0) plus the commission + the ending cash of tradable accounts that can buy nothing
    + the ending cash of untradable accounts. The solver enforces the same rule. Beyond it, cash may stay
    only where no account holding it could still buy a minimum purchase of any security below every one
    of its classes' band highs ("as far as the bands allow").
    """
    rules = p.s.rules
    if not rules.contributions_first or not p.sells or _harvest_only(p):
        return
    idle = sum(p.ending_cash.values())
    total = sum(w.value for w in p.after.values())
    cash_funds = sum(
        n * p.price(ticker) * p.s.securities[ticker].class_split().get(CASH_CLASS, 0.0)
        for (_, ticker), n in p.shares_after.items()
    )
    room = max(0.0, p.s.target(CASH_CLASS) * total - cash_funds)
    slack = 0.0
    for account in p.s.accounts:
        # What it may buy today: its menu, less rules.do_not_buy and groups a recent loss sale blocks (with
        # none left the account can buy nothing and keeps its cash, as the solver has it).
        menu = {t for t in p.buyable(account) if p.s.rules.wash_sales != "avoid" or not _recent_loss_sale(p, t)}
        if not account.tradable or not menu:
            slack += p.ending_cash[account.id]
        else:
            lumpy = max(p.price(t) for t in menu) if rules.whole_shares else 0.0
            slack += max(rules.min_trade, lumpy) + rules.costs.commission
    floors = sum(a.min_cash for a in p.s.accounts)
    slack += sum(_withdrawal_cents(p, account) for account in p.s.accounts)
    limit = floors + room + slack
    # Each trade's amount and cost are settled to the cent: their rounding may leave up to a cent a trade.
    rounding = 0.01 * len(p.r.trades)
    if idle <= limit + p.tol + rounding:
        return
    # As far as the bands allow: more may stay only where no purchase fits below a band's high.
    fits = _purchase_that_fits(p, total)
    if fits is not None:
        yield Violation(
            "contributions_first",
            f"the plan sells but leaves {_money(idle)} uninvested; at most "
            f"{_money(limit)} may stay (min_cash {_money(floors)} + cash target room {_money(room)}"
            f" + slack {_money(slack)}), and {fits}",
        )


def _withdrawal_cents(p: _Plan, account: Account) -> float:
    """An account paying out a withdrawal may keep a cent per position it holds: each sale settles to the
    cent, so a plan that funds a withdrawal keeps that much in hand (the solver's CashFloors)."""
    if account.contribution >= 0 or not account.tradable:
        return 0.0
    return 0.01 * sum(1 for (a, _), n in p.shares_before.items() if a == account.id and n > 0)


def _purchase_that_fits(p: _Plan, total: float) -> str | None:
    """A purchase the plan could still make with idle cash without pushing a class above its band: an
    account with cash above its min_cash, a security it may buy (menu, do_not_buy, the wash-sale windows,
    the plan's own loss sales, rules.max_trades; one it sells counts, but in a year-end plan), and room for at
    least a minimum purchase — max(min_trade, one share with whole shares, a cent) — below the high of each
    of its classes. None when there is none (the idle cash cannot be invested within the bands)."""
    rules = p.s.rules
    plan_loss_groups = p.loss_groups
    bought = {(t.account, t.security) for t in p.buys}
    # A security the account sells counts too: the plan never buys back what it sells, but selling that much
    # less spends the idle cash alike (a $0.01 sale used to excuse a class with room). Not in a year-end plan
    # (gain_round_trips), which sells for its tax goal (a net target can force a lot out), not to rebalance.
    sold = {(t.account, t.security) for t in p.sells} if p.gain_round_trips else set()
    full = rules.max_trades is not None and len(p.r.trades) >= rules.max_trades
    for account in p.s.accounts:
        if not account.tradable:
            continue
        # Cents that the settling of this account's trades left are not cash a purchase could take.
        # Nor are the cents it keeps in hand for a withdrawal (harness seed 3323 #241: trust-2 kept 4 cents
        # for its $48,415 withdrawal, as CashFloors has it, and that was called a purchase it could make).
        rounding = 0.01 * sum(1 for t in p.r.trades if t.account == account.id) + _withdrawal_cents(p, account)
        free = p.ending_cash[account.id] - account.min_cash - rounding
        for ticker in sorted(p.buyable(account)):
            group = p.group(ticker)
            if group in plan_loss_groups or any(True for _ in _recent_loss_sales(p, group)):
                continue
            if full and (account.id, ticker) not in bought:
                continue
            if (account.id, ticker) in sold:
                continue
            grain = max(rules.min_trade, p.price(ticker) if rules.whole_shares else 0.0, 0.01)
            if free < grain + rules.costs.commission + p.tol:
                continue
            split = p.s.securities[ticker].class_split()
            room = min((p.after[c].high * total - p.after[c].value) / f for c, f in split.items() if f > 0)
            if room >= grain + p.tol and _keeps_the_budget(p, split, grain):
                within = "the bands and rules.max_tracking_error" if p.s.rules.max_tracking_error else "the bands"
                return f"{account.id} could still buy {_money(grain)} of {ticker} within {within}"
    return None


BUDGET_APPROXIMATION = 5e-4
"""The engine holds rules.max_tracking_error through a polyhedral cone that can be stricter than the exact
budget by up to this much (relative): a purchase counts as one the plan could still make only when it keeps
the tracking error that far inside the budget."""


def _keeps_the_budget(p: _Plan, split: dict[str, float], amount: float) -> bool:
    """Whether buying `amount` more (split over its classes; paid with its commission and spread from cash)
    keeps the recomputed tracking error within rules.max_tracking_error (True without a budget)."""
    budget = p.s.rules.max_tracking_error
    if budget is None:
        return True
    costs = p.s.rules.costs
    values = {c: w.value for c, w in p.after.items()}
    for c, f in split.items():
        values[c] = values.get(c, 0.0) + amount * f
    values[CASH_CLASS] = values.get(CASH_CLASS, 0.0) - amount - costs.commission - costs.spread_bps / 10_000 * amount
    after = p.tracking_error(allocation(p.s, values))
    return after <= budget * (1 - BUDGET_APPROXIMATION) - TE_ABS_TOL


def _harvest_only(p: _Plan) -> bool:
    """A household with every class in band and no money in or out of an account that trades, whose plan
    only harvests: every sale is of taxable lots at a loss and no account buys for more than its sales
    bring in. Such sales are not made to rebalance, so contributions-first (spend cash before selling) does
    not apply to them. (Money into an untradable account is no cash a plan could spend: it stays there.)
    With rules.location on, such a plan may also sell anything to hold assets where they are taxed less (an
    in-band relocation): still no account buys for more than its sales bring in."""
    flows = any(a.contribution != 0 and a.tradable for a in p.s.accounts)
    if flows or not all(_outside(w) <= WEIGHT_TOL for w in p.before.values()):
        return False
    relocation = p.s.rules.location == "on"
    only_losses = all(p.accounts[t.account].type == AccountType.TAXABLE for t in p.sells) and all(
        x.gain < 0 for x in p.lots_sold
    )
    if not (relocation or only_losses):
        return False
    if p.unresolved_lots:
        return False
    flows: dict[str, float] = defaultdict(float)
    for trade in p.trades:
        flows[trade.account] += p.value(trade) * (1.0 if trade.action == "sell" else -1.0)
    # Each trade's amount is rounded to the cent: a cent per trade of slack.
    return all(v >= -p.tol * max(1, len(p.trades)) for v in flows.values())


# ----------------------------------------------------------------------------------------------------
# Status and the entry point


def check_status(p: _Plan) -> Iterator[Violation]:
    """`infeasible` and `no_trade_needed` results list no trades."""
    if p.r.status in ("infeasible", "no_trade_needed") and p.r.trades:
        yield Violation("status", f"status {p.r.status}, but the result lists {len(p.r.trades)} trades")


CHECKS: tuple[Check, ...] = (
    check_status,
    check_references,
    check_shares_positive,
    check_price,
    check_amount,
    check_tradable,
    check_menu,
    check_do_not_buy,
    check_do_not_sell,
    check_lots_listed,
    check_lots_exist,
    check_lot_oversold,
    check_lot_sum,
    check_cost_basis,
    check_gain,
    check_term,
    check_lot_acquired,
    check_position_oversold,
    check_buy_and_sell,
    check_whole_shares,
    check_min_trade,
    check_max_trades,
    check_no_short_term_gains,
    check_max_realized_gain,
    check_realized,
    check_trade_cost,
    check_total_costs,
    check_min_cash,
    check_cash_after,
    check_allocation_classes,
    check_allocation_before,
    check_allocation_after,
    check_allocation_policy,
    check_band_flags,
    check_band_violations_reported,
    check_band_violations_listed,
    check_tracking_error,
    check_tracking_error_budget,
    check_tax_arithmetic,
    check_tax_engine,
    check_wash_sale_loss,
    check_wash_sale_buy,
    check_wash_sale_blocked,
    check_contributions_first,
)
"""Every check, in the order violations are reported."""


def verify(
    scenario: Scenario, result: Result, tolerance_dollars: float = 0.01, allow_gain_round_trips: bool = False
) -> Verification:
    """Check a plan against its scenario; returns every violation found (see the module docstring).

    An `infeasible` result carries no plan: only `check_status` applies to it. `allow_gain_round_trips`
    is for year-end plans, which may sell a gain lot and buy the security back (see check_buy_and_sell), and
    whose sales (made for the year's tax, not to rebalance) excuse their securities from contributions first.
    """
    plan = _Plan(scenario, result, tolerance_dollars, allow_gain_round_trips)
    checks = (check_status,) if result.status == "infeasible" else CHECKS
    return Verification([v for check in checks for v in check(plan)])
