"""Solution → trade list → Result: rounding to executable quantities and reporting the plan's figures.

The figures here (allocation, realized gains, tax, tracking error, cash) are recomputed from the
rounded trades, not read off solver variables; the verifier then checks them independently.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from rebal_opt.models.result import (
    BandViolation,
    BlockedAction,
    ClassAllocation,
    LotSale,
    Realized,
    Result,
    SolverInfo,
    TaxSummary,
    TrackingError,
    Trade,
    WashSale,
)
from rebal_opt.models.scenario import Lot, Scenario

from .check import tracking_error
from .data import SCALE, RebalanceData
from .household import (
    PositionKey,
    allocation,
    allocation_before,
    class_values,
    starting_cash,
    starting_shares,
    withdrawals,
)
from .location import location_summary
from .lots import holding_term
from .tax.evaluate import evaluate_tax, tax_with_gains
from .taxes import situation_from_scenario
from .wash import WINDOW_DAYS

SHARE_DECIMALS = 6
MIN_AMOUNT = 0.005  # dollars: solver noise below half a cent is not a trade
LOSS_EPSILON = 1e-9  # dollars: a lot line below its basis by more is a loss sale (as the verifier reads it)


@dataclass(frozen=True)
class UnitSale:
    unit: int
    shares: float


def _round_slot(shares: list[tuple[int, float, float]], total: float) -> list[UnitSale]:
    """Round each unit's shares and make them add up to the slot's `total`.

    `shares` holds (unit, solver shares, shares held); the rounding difference goes to the unit that can
    absorb it, so no lot is oversold and the total stays whole when it should be.
    """
    rounded = [(u, min(held, max(0.0, round(s, SHARE_DECIMALS))), held) for u, s, held in shares]
    diff = round(total - sum(r for _, r, _ in rounded), SHARE_DECIMALS)
    if abs(diff) > 0:
        order = sorted(range(len(rounded)), key=lambda i: -rounded[i][1])
        for i in order:
            u, r, held = rounded[i]
            if 0.0 <= r + diff <= held + 1e-9:
                rounded[i] = (u, round(min(held, r + diff), SHARE_DECIMALS), held)
                break
    return [UnitSale(u, r) for u, r, _ in rounded if r > 0]


def net_round_trips(
    data: RebalanceData, sell_k: np.ndarray, buy_k: np.ndarray, keep_taxable: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cancel selling and buying the same security in the same account (`keep_taxable`: not in taxable
    accounts, where year-end planning harvests gains that way).

    Such a pair changes nothing in the allocation and only costs spread (or, in a taxable account,
    realizes gains: loss lots can't pair with a purchase, the wash-sale block forbids it). A solver may
    still return one when the difference is inside its optimality gap. The kept sales are the lots with
    the least gain per dollar, so netting never raises the tax.
    """
    sell_k = sell_k.copy()
    buy_k = buy_k.copy()
    buy_index = {(slot.account, slot.security): b for b, slot in enumerate(data.buy_slots)}
    slot_units = data.unit_to_sell_slot.tolil().rows
    taxable = {a.id for a in data.scenario.accounts if not a.tax_advantaged}
    for slot, info in enumerate(data.sell_slots):
        b = buy_index.get((info.account, info.security))
        if b is None or (keep_taxable and info.account in taxable):
            continue
        units = list(slot_units[slot])
        overlap = min(float(buy_k[b]), float(sell_k[units].sum()))
        if overlap <= 0:
            continue
        buy_k[b] -= overlap
        for j in sorted(units, key=lambda u: -data.unit_gain_ratio[u]):
            cut = min(overlap, float(sell_k[j]))
            sell_k[j] -= cut
            overlap -= cut
            if overlap <= 0:
                break
    return sell_k, buy_k


def extract_trades(
    data: RebalanceData,
    sell_k: np.ndarray,
    buy_k: np.ndarray,
    net: bool = True,
    intended_cash_k: np.ndarray | None = None,
    period_of_plan: bool = False,
    period_start: Scenario | None = None,
) -> list[Trade]:
    """Turn solver amounts (k$) into trades in shares, lots listed for taxable sales.

    `net=False` keeps a sale and purchase of one security in one taxable account (year-end gain
    harvesting); in tax-advantaged accounts a round trip is always cancelled. `intended_cash_k` is the
    solver's ending cash per account (k$): what rounding leaves beyond it is spent (spend_rounding_cents).
    `period_of_plan`: one period of an unwind, whose scenario starts without the cash earlier periods carry
    in: its cash floors are repaired only for what cent rounding can miss (keep_cash_floors), against
    `period_start`, the household as the earlier periods' rounded trades left it, when given (its cash is
    what the verifier checks the period against; the period's own scenario starts without it).
    """
    intended_cash = (
        None
        if intended_cash_k is None
        else {a: float(v) * SCALE for a, v in zip(data.accounts, intended_cash_k, strict=True)}
    )
    sell_k, buy_k = net_round_trips(data, sell_k, buy_k, keep_taxable=not net)
    s = data.scenario
    whole = s.rules.whole_shares
    trades: list[Trade] = []
    by_slot: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    # Each unit (column) belongs to exactly one slot (row): the CSC row indices, in column order.
    slot_of_unit = data.unit_to_sell_slot.tocsc().indices
    for j, unit in enumerate(data.units):
        amount = float(sell_k[j]) * SCALE
        if amount < MIN_AMOUNT:
            continue
        price = s.securities[unit.security].price
        slot = int(slot_of_unit[j])
        by_slot[slot].append((j, min(unit.shares, amount / price), unit.shares))
    for slot, parts in sorted(by_slot.items()):
        info = data.sell_slots[slot]
        price = s.securities[info.security].price
        if whole:
            # Whole shares per lot line (the solver's own integers), or the whole of a fractional lot.
            sales = [UnitSale(u, held if abs(x - held) < 1e-6 else float(round(x))) for u, x, held in parts]
            sales = [sale for sale in sales if sale.shares > 0]
        else:
            sales = _round_slot(parts, round(sum(p[1] for p in parts), SHARE_DECIMALS))
        if not sales:
            continue
        shares = round(sum(x.shares for x in sales), SHARE_DECIMALS)
        if shares <= 0 or shares * price < MIN_AMOUNT:
            continue
        lots: list[LotSale] | None = None
        if data.units[sales[0].unit].taxable:
            lots = []
            for sale in sales:
                unit = data.units[sale.unit]
                assert unit.lot_id is not None and unit.term is not None
                sold = float(sale.shares)  # a Python float: see trade_cost
                basis = sold * unit.basis_per_share
                lots.append(
                    LotSale(
                        lot=unit.lot_id,
                        shares=sold,
                        cost_basis=round(basis, 2),
                        gain=round(sold * price - basis, 2),
                        term=unit.term,
                        acquired=unit.acquired,
                    )
                )
        amount = round(shares * price, 2)
        trades.append(
            Trade(
                account=info.account,
                security=info.security,
                action="sell",
                shares=shares,
                price=price,
                amount=amount,
                lots=lots,
                cost=trade_cost(s, amount),
            )
        )
    for b, info in enumerate(data.buy_slots):
        amount_k = float(buy_k[b])
        price = s.securities[info.security].price
        raw = amount_k * SCALE / price
        shares = float(round(raw)) if whole else round(raw, SHARE_DECIMALS)
        if shares <= 0 or shares * price < MIN_AMOUNT:
            continue
        amount = round(shares * price, 2)
        trades.append(
            Trade(
                account=info.account,
                security=info.security,
                action="buy",
                shares=shares,
                price=price,
                amount=amount,
                cost=trade_cost(s, amount),
            )
        )
    account_order = {a: i for i, a in enumerate(data.accounts)}
    trades.sort(key=lambda t: (account_order[t.account], t.action != "sell", t.security))
    if period_start is not None:
        trades = _within_holdings(period_start, trades)
    if not period_of_plan:
        trades = keep_realized_gain_cap(s, trades)
    return keep_cash_floors(period_start or s, trades, intended_cash, rounding_only=period_of_plan)


HOLDING_SLIP = 1e-4  # shares: what earlier periods' rounding can leave below the model's view
HOLDING_SLIP_DOLLARS = 1.0  # what earlier periods' cent repairs can have sold beyond it (a few cents a period)


def _within_holdings(start: Scenario, trades: list[Trade]) -> list[Trade]:
    """Sales of an unwind period cut to what the period starts with. The period model sells from its own
    unrounded view of the earlier periods; their trades rounded to millionths of a share and their cents
    repaired (a purchase trimmed, a sale grown by a few cents) can leave a position or lot a few millionths of
    a share, or a few cents' worth, smaller, which a sale of all of it would then oversell."""

    def slipped(sold: float, have: float, price: float) -> bool:
        return have < sold and (sold - have <= HOLDING_SLIP or (sold - have) * price <= HOLDING_SLIP_DOLLARS)

    held = starting_shares(start)
    lots = {lot.id: lot for a in start.accounts for lot in a.lots}
    out = []
    for t in trades:
        if t.action != "sell":
            out.append(t)
        elif t.lots:
            lines = []
            for line in t.lots:
                lot = lots.get(line.lot)
                if lot is not None and slipped(line.shares, lot.shares, t.price):
                    line = _line_of(line, lot, lot.shares, t.price)
                lines.append(line)
            total = round(sum(x.shares for x in lines), SHARE_DECIMALS)
            out.append(t if total == t.shares else _with_lines(t, lines, start))
        else:
            have = held.get((t.account, t.security), 0.0)
            out.append(_priced(t, have, start) if slipped(t.shares, have, t.price) else t)
    return out


def keep_realized_gain_cap(scenario: Scenario, trades: list[Trade]) -> list[Trade]:
    """Take back the cents by which rounding took the plan over rules.max_realized_gain.

    The model holds the cap on unrounded gains; each lot line's gain is then rounded to the cent (as a
    broker reports it, and as the verifier sums them), which can add up to half a cent a line: harness seed
    2818 #3384 realized 3,885.59 − 2,885.58 = 1,000.01 against a cap of 1,000.00 (unrounded 1,000.000008).
    A loss line already in the plan sells a little more where its lot has shares left (the loss sale is
    already there, so no wash-sale window changes, and the account only gains cash); else the line with
    the most gain per share, in an account with the cash to spare above its floor, sells a little less
    (millionths of a share, or one share with whole shares). A sale that would fall under rules.min_trade is
    left alone, and a year-end net target to the cent is its own rule."""
    rules = scenario.rules
    cap = rules.max_realized_gain
    if cap is None or (scenario.yearend is not None and scenario.yearend.target_net_realized is not None):
        return trades
    lots = {(a.id, lot.id): lot for a in scenario.accounts for lot in a.lots}
    floors = {a.id: a.min_cash for a in scenario.accounts}
    step = 1.0 if rules.whole_shares else 10.0**-SHARE_DECIMALS
    out = list(trades)

    def resized(i: int, k: int, cut: float) -> Trade | None:
        """Trade i with line k sold `cut` shares less (more, when negative), or None when that cannot be."""
        trade = out[i]
        lines = list(trade.lots or [])
        lot = lots.get((trade.account, lines[k].lot))
        shares = round(lines[k].shares - cut, SHARE_DECIMALS)
        if lot is None or shares < 0 or shares > lot.shares + 1e-9:
            return None
        lines[k] = _line_of(lines[k], lot, min(shares, lot.shares), trade.price)
        resized = _with_lines(trade, [x for x in lines if x.shares > 0], scenario)
        too_small = 0 < resized.shares * trade.price < max(rules.min_trade, MIN_AMOUNT)
        return None if too_small else resized

    for _ in range(8):  # each pass takes back one line's worth; a few cents need one or two
        over = sum(line.gain for t in out for line in (t.lots or [])) - cap
        if over <= 1e-9:
            break
        _, cash = state_after(scenario, out)
        options: list[tuple[int, float, int, int, float]] = []  # (preference, -|gain per share|, trade, line, cut)
        for i, t in enumerate(out):
            for k, line in enumerate(t.lots or []):
                lot = lots.get((t.account, line.lot))
                if lot is None or line.shares <= 0:
                    continue
                per_share = t.price - lot.basis_per_share
                cut = max(step, float(np.ceil((over + 0.005) / abs(per_share) / step)) * step) if per_share else 0.0
                if per_share < 0 and line.shares + cut <= lot.shares + 1e-9:
                    options.append((0, per_share, i, k, -cut))
                elif per_share > 0 and cash[t.account] - cut * t.price - 0.02 >= floors[t.account]:
                    options.append((1, -per_share, i, k, cut))
        for _, _, i, k, cut in sorted(options):
            trade = resized(i, k, cut)
            if trade is not None:
                out[i] = trade
                break
        else:
            break
    return [t for t in out if t.shares > 0]


def _line_of(line: LotSale, lot: Lot, shares: float, price: float) -> LotSale:
    """A lot line resized to `shares`, its basis and gain recomputed from the lot."""
    shares = float(shares)
    basis = shares * lot.basis_per_share
    return line.model_copy(
        update={"shares": shares, "cost_basis": round(basis, 2), "gain": round(shares * price - basis, 2)}
    )


def trade_cost(scenario: Scenario, amount: float) -> float:
    """Commission plus spread on a trade of `amount` dollars, to the cent."""
    costs = scenario.rules.costs
    # Python's round on a Python float (correctly rounded: 20 + 9.865 → 29.87); numpy's round of a
    # np.float64 scales by 100 first and rounds half to even (→ 29.86), so a plan read back from JSON
    # would not match its own costs.
    return round(float(costs.commission + costs.spread_bps / 10_000 * amount), 2)


def _priced(trade: Trade, shares: float, scenario: Scenario) -> Trade:
    """The trade resized to `shares`, its amount and cost recomputed (Python floats: see trade_cost)."""
    shares = float(shares)
    amount = round(shares * trade.price, 2)
    return trade.model_copy(update={"shares": shares, "amount": amount, "cost": trade_cost(scenario, amount)})


def _with_lines(trade: Trade, lines: list[LotSale], scenario: Scenario) -> Trade:
    """The sale with its lot lines replaced: its shares their sum, its amount and cost recomputed."""
    return _priced(trade, round(sum(x.shares for x in lines), SHARE_DECIMALS), scenario).model_copy(
        update={"lots": lines}
    )


def keep_cash_floors(
    scenario: Scenario,
    trades: list[Trade],
    intended_cash: dict[str, float] | None = None,
    rounding_only: bool = False,
) -> list[Trade]:
    """Trim purchases where rounding to shares and cents left an account a few cents under its floor.

    The solver keeps every floor exactly; amounts and costs rounded to the cent can still add up to a cent
    or two more than the account has. The largest purchase there that stays above the minimum trade gives
    up just enough (a share's millionth, or one share with whole shares).
    """
    _, cash = state_after(scenario, trades)
    out = list(trades)
    step = 1.0 if scenario.rules.whole_shares else 10.0**-SHARE_DECIMALS
    floor = scenario.rules.min_trade

    def trimmed(k: int, deficit: float) -> float:
        cut = max(step, np.ceil((deficit + 0.02) / out[k].price / step) * step)
        return round(max(0.0, out[k].shares - cut), SHARE_DECIMALS)

    for account in scenario.accounts:
        deficit = account.min_cash - cash[account.id]
        # In an unwind period the scenario starts without the cash earlier periods carry in: there only
        # what cent rounding can miss is repaired (the verifier checks the period against its true state).
        if deficit <= 0 or (rounding_only and deficit > _rounding_allowance(out, account.id)):
            continue
        buys = [i for i, t in enumerate(out) if t.account == account.id and t.action == "buy"]
        if not buys:
            _grow_a_sale(scenario, out, account.id, deficit, step)
            continue
        # The largest purchase that stays above the minimum trade once trimmed; else drop the smallest
        # purchase (what it leaves idle is less than a minimum trade: within the contributions-first slack).
        keep = [k for k in buys if trimmed(k, deficit) * out[k].price >= floor]
        if keep:
            i = max(keep, key=lambda k: out[k].amount)
            out[i] = _priced(out[i], trimmed(i, deficit), scenario)
        else:
            i = min(buys, key=lambda k: out[k].amount)
            out[i] = _priced(out[i], 0.0, scenario)
    out = [t for t in out if t.shares > 0]
    return spend_rounding_cents(scenario, out, intended_cash)


def _rounding_allowance(trades: list[Trade], account_id: str) -> float:
    """Dollars by which cent rounding of an account's trade amounts and costs can miss the solver's cash."""
    return 0.02 * (1 + sum(1 for t in trades if t.account == account_id)) + 1e-9


def _grow_a_sale(scenario: Scenario, trades: list[Trade], account_id: str, deficit: float, step: float) -> None:
    """An account with no purchase to trim, a few cents short (sales that fund a withdrawal or pay their
    own costs, their amounts and costs rounded): its largest sale that has shares left sells a little more —
    a tax-advantaged position, or in a taxable account one of the sale's lot lines (its basis and gain
    recomputed: the tax shown is that of the lines sold)."""
    held = starting_shares(scenario)
    account = scenario.account(account_id)
    lots = {lot.id: lot for lot in account.lots}
    sales = [i for i, t in enumerate(trades) if t.account == account_id and t.action == "sell"]
    for i in sorted(sales, key=lambda k: -trades[k].amount):
        trade = trades[i]
        extra = max(step, float(np.ceil((deficit + 0.02) / trade.price / step)) * step)
        if not trade.lots:
            shares = round(trade.shares + extra, SHARE_DECIMALS)
            if account.tax_advantaged and shares <= held.get((account_id, trade.security), 0.0) + 1e-9:
                trades[i] = _priced(trade, shares, scenario)
                return
            continue
        # A lot line that realizes more gain could break rules.max_realized_gain by the cents it adds: there
        # only lines at no gain grow, losses first; a year-end net target to the cent takes no growth at all.
        if scenario.yearend is not None and scenario.yearend.target_net_realized is not None:
            continue
        capped = scenario.rules.max_realized_gain is not None
        order = sorted(range(len(trade.lots)), key=lambda k: trade.lots[k].gain / max(trade.lots[k].shares, 1e-12))
        for k in order:
            line = trade.lots[k]
            lot = lots.get(line.lot)
            if lot is None or line.shares + extra > lot.shares + 1e-9:
                continue
            if capped and lot.basis_per_share < trade.price:
                continue
            grown = round(line.shares + extra, SHARE_DECIMALS)
            if abs(grown - lot.shares) < 1e-6:
                grown = lot.shares
            lines = list(trade.lots)
            lines[k] = _line_of(line, lot, grown, trade.price)
            trades[i] = _with_lines(trade, lines, scenario)
            return


def spend_rounding_cents(
    scenario: Scenario, trades: list[Trade], intended_cash: dict[str, float] | None = None
) -> list[Trade]:
    """With fractional shares and contributions first, put back to work the cents that rounding left idle.

    When sales are needed the solver leaves no new cash idle beyond what the rules allow; rounding shares
    and amounts can leave a few cents more than the solver's plan kept (`intended_cash`, dollars per
    account; without it, the floor), which the largest purchase in that account takes (in millionths of a
    share). Cash the plan meant to keep (e.g. for the cash target) is left alone.
    """
    rules = scenario.rules
    if rules.whole_shares or not rules.contributions_first or not any(t.action == "sell" for t in trades):
        return trades
    _, cash = state_after(scenario, trades)
    out = list(trades)
    for account in scenario.accounts:
        keep = account.min_cash if intended_cash is None else max(account.min_cash, intended_cash[account.id])
        excess = round(cash[account.id] - keep, 2)
        buys = [i for i, t in enumerate(out) if t.account == account.id and t.action == "buy"]
        if not buys or not 0.0 < excess < 1.0:  # cents, not cash the plan meant to leave
            continue
        i = max(buys, key=lambda k: out[k].amount)
        # The largest whole number of cents the purchase can grow by and keep the floor (its cost too).
        for cents in range(round(excess * 100), 0, -1):
            shares = round((out[i].amount + cents / 100) / out[i].price, SHARE_DECIMALS)
            candidate = _priced(out[i], shares, scenario)
            spent = (candidate.amount - out[i].amount) + (candidate.cost - out[i].cost)
            if spent <= excess + 1e-9:
                out[i] = candidate
                break
    return out


def state_after(scenario: Scenario, trades: list[Trade]) -> tuple[dict[PositionKey, float], dict[str, float]]:
    """Shares per position and cash per account after the trades, withdrawals paid."""
    shares = dict(starting_shares(scenario))
    cash = starting_cash(scenario)
    for account_id, amount in withdrawals(scenario).items():
        cash[account_id] -= amount
    for t in trades:
        sign = 1.0 if t.action == "buy" else -1.0
        key = (t.account, t.security)
        shares[key] = shares.get(key, 0.0) + sign * t.shares
        cash[t.account] += -sign * t.amount - t.cost
    return shares, cash


def realized_by_term(trades: list[Trade]) -> Realized:
    short = sum(lot.gain for t in trades for lot in (t.lots or []) if lot.term == "short")
    long = sum(lot.gain for t in trades for lot in (t.lots or []) if lot.term == "long")
    return Realized(short_term=round(short, 2), long_term=round(long, 2))


def blocked_actions(data: RebalanceData, trades: list[Trade]) -> list[BlockedAction]:
    """Wash-sale blocks after the plan: what the household must not do until when, and why.

    Loss lots that cannot be sold (a purchase in the group in the last 30 days, a planned one in the
    next 30, or the plan's own purchase today) and groups that cannot be bought (a loss sale in the last
    30 days, or the plan's own loss sale today). `until` is the first day it is allowed.
    """
    s = data.scenario
    if s.rules.wash_sales == "ignore":
        return []
    today_limit = s.as_of + dt.timedelta(days=WINDOW_DAYS + 1)
    plan_buys: dict[str, Trade] = {}
    for t in trades:
        if t.action == "buy":
            plan_buys.setdefault(s.wash_group(t.security), t)
    # A loss sale is a taxable lot line sold below its basis, however small (its gain may round to 0.00 on
    # the statement): the verifier recomputes each line's gain the same way and holds the plan to it.
    basis = {(u.account, u.lot_id): u.basis_per_share for u in data.units if u.taxable}
    plan_loss_sales: dict[str, Trade] = {}
    for t in trades:
        if t.action != "sell":
            continue
        price = s.securities[t.security].price
        if any(
            line.shares * (price - basis[(t.account, line.lot)]) < -LOSS_EPSILON
            for line in t.lots or []
            if (t.account, line.lot) in basis
        ):
            plan_loss_sales.setdefault(s.wash_group(t.security), t)
    loss_lots: dict[str, set[str]] = defaultdict(set)
    # Groups where the window blocks a loss lot's sale: every loss lot counts, those the plan may not sell
    # anyway (do_not_sell, an unwind's kept lots) too — the window is a fact of the household.
    blocked_groups: set[str] = set()
    for account in s.accounts:
        if account.tax_advantaged or not account.tradable:
            continue
        for lot in account.lots:
            if lot.basis_per_share > s.securities[lot.security].price:
                group = s.wash_group(lot.security)
                loss_lots[group].add(lot.security)
                window = data.windows.sale_blocks.get(group)
                if window is not None and window.blocks_lot(account.id, lot.security, lot.id, lot.acquired):
                    blocked_groups.add(group)
    out: list[BlockedAction] = []
    for group in sorted(loss_lots):
        reasons: list[str] = []
        until: dt.date | None = None
        window = data.windows.sale_blocks.get(group)
        if group in blocked_groups and window is not None:
            reasons.append(window.reason())
            until = window.until
        if group in plan_buys:
            t = plan_buys[group]
            reasons.append(f"the plan buys {t.security} in {t.account} today")
            until = max(until or today_limit, today_limit)
        if until is not None:
            out.append(
                BlockedAction(
                    group=group,
                    action="sell_at_loss",
                    until=until,
                    reason="; ".join(reasons),
                    securities=sorted(loss_lots[group]),
                )
            )
    buy_groups = sorted(set(data.windows.buy_blocks) | set(plan_loss_sales))
    for group in buy_groups:
        reasons = []
        until = None
        buy_window = data.windows.buy_blocks.get(group)
        if buy_window is not None:
            reasons.append(buy_window.reason())
            until = buy_window.until
        if group in plan_loss_sales:
            t = plan_loss_sales[group]
            reasons.append(f"the plan sells {t.security} at a loss in {t.account} today")
            until = max(until or today_limit, today_limit)
        assert until is not None
        members = sorted(t for t in s.securities if s.wash_group(t) == group)
        out.append(BlockedAction(group=group, action="buy", until=until, reason="; ".join(reasons), securities=members))
    return out


def band_reason(data: RebalanceData, trades: list[Trade], asset_class: str, after: float, high: float) -> str:
    """Why a class stays outside its band: the facts and the rules that bind at the plan."""
    s = data.scenario
    rules = s.rules
    i = data.classes.index(asset_class)
    untradable = data.untradable_class_value[i] * SCALE
    total = data.total_after_flows * SCALE
    if after > high and total > 0 and untradable / total > high:
        return (
            f"untradable positions alone are {untradable / total:.2%} of the household, above the band's "
            f"high {high:.2%}"
        )
    binding: list[str] = []
    realized = realized_by_term(trades)
    # With whole shares the cap is reached to within one share's gain (at most its price).
    grain = max((sec.price for sec in s.securities.values()), default=0.0) if rules.whole_shares else 1.0
    if rules.max_realized_gain is not None and (
        realized.short_term + realized.long_term >= rules.max_realized_gain - grain
    ):
        binding.append(f"rules.max_realized_gain ({rules.max_realized_gain:,.0f}) is reached")
    if rules.max_trades is not None and len(trades) >= rules.max_trades:
        binding.append(f"rules.max_trades ({rules.max_trades}) is reached")
    if after > high:
        in_class = {t for t, sec in s.securities.items() if sec.class_split().get(asset_class, 0) > 0}
        held_lots = [(a, lot) for a in s.accounts if a.tradable for lot in a.lots if lot.security in in_class]
        if rules.no_short_term_gains and any(
            lot.security in in_class
            and holding_term(lot.acquired, s.as_of, lot.inherited) == "short"
            and s.securities[lot.security].price > lot.basis_per_share
            for _, lot in held_lots
        ):
            binding.append("rules.no_short_term_gains keeps short-term gain lots")
        if any(lot.security in rules.do_not_sell or lot.id in rules.do_not_sell for _, lot in held_lots):
            binding.append("rules.do_not_sell keeps some lots")
        if any(u.blocked_by_wash and u.security in in_class for u in data.units):
            binding.append("wash-sale windows block selling loss lots")
    side = "above" if after > high else "below"
    why = "; ".join(binding) if binding else "the rules (menus, restrictions, cash floors) allow no better"
    return f"stays {side} its band at the least total violation possible: {why}"


def build_result(
    data: RebalanceData,
    trades: list[Trade],
    status: str,
    solver: SolverInfo,
    notes: list[str],
) -> Result:
    s = data.scenario
    shares, cash = state_after(s, trades)
    before = allocation_before(s)
    after = allocation(s, class_values(s, shares, cash))
    realized = realized_by_term(trades)
    base = situation_from_scenario(s)
    without = evaluate_tax(base).total_tax
    with_trades = tax_with_gains(base, realized.short_term, realized.long_term).total_tax
    te_before, _ = tracking_error(s, before)
    te_after, _ = tracking_error(s, after)
    violations = [
        BandViolation(
            asset_class=c,
            after=w.weight,
            low=w.low,
            high=w.high,
            reason=band_reason(data, trades, c, w.weight, w.high),
        )
        for c, w in after.items()
        if not w.in_band
    ]
    return Result(
        scenario=s.label,
        status=status,  # type: ignore[arg-type]
        trades=trades,
        allocation={
            c: ClassAllocation(
                target=w.target,
                before=before[c].weight,
                after=w.weight,
                low=w.low,
                high=w.high,
                in_band_before=before[c].in_band,
                in_band_after=w.in_band,
            )
            for c, w in after.items()
        },
        realized=realized,
        tax=TaxSummary(
            without_trades=round(without, 2),
            with_trades=round(with_trades, 2),
            due_to_trades=round(round(with_trades, 2) - round(without, 2), 2),
        ),
        tracking_error=TrackingError(before=te_before, after=te_after, measure=s.objective.tracking),
        wash_sale=WashSale(blocked=blocked_actions(data, trades)),
        solver=solver,
        costs=round(sum(t.cost for t in trades), 2),
        cash_after={a: round(v, 2) for a, v in cash.items()},
        band_violations=violations,
        notes=notes,
        location=location_summary(s, shares, cash) if s.rules.location == "on" else None,
    )
