"""Executions → the household after them: the state transition every later plan starts from.

A plan is proposed on `as_of`; what the broker executes (possibly partially, possibly at other prices)
changes the household: lots sold shrink, purchases become new lots dated on the fill, cash moves, the
year's realized gains grow, and the trades stay in `recent_trades` for the next 30 days' wash-sale
windows. `apply_executions` turns a scenario and a list of executions into the next scenario, validated
like a file. The proposal journal (`record`), the simulator and the import round trip all use it.

Tax facts applied here:
* A sale's amount realized is shares × price minus its commission (selling expenses reduce it); each
  lot's gain is its share of that minus its basis; the term is the lot's holding period on the fill date.
* A purchase's basis is shares × price plus its commission.
* Gains realized in the scenario's tax year add to `tax.realized_ytd`; a fill in a later year is refused
  here (roll the tax year first: `roll_tax_year`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.scenario import Scenario, new_lot_id

from .lots import holding_term
from .tax.evaluate import evaluate_tax
from .taxes import situation_from_scenario
from .wash import WINDOW_DAYS

SHARE_TOLERANCE = 1e-6
"""Shares: a lot or position left with less than this is gone (rounding of fractional fills)."""


class ExecutionError(ValueError):
    """An execution that cannot have happened to this household (names the execution and why)."""


@dataclass(frozen=True)
class Execution:
    """One fill: shares of a security bought or sold in an account at a price on a date.

    `lots` names the lots a sale takes (lot id → shares), as a specific-lot instruction does; it is
    required for sales in taxable accounts. `commission` is the dollars paid for the fill.
    """

    account: str
    security: str
    action: Literal["buy", "sell"]
    shares: float
    price: float
    date: dt.date
    lots: tuple[tuple[str, float], ...] = ()
    commission: float = 0.0

    def describe(self) -> str:
        return f"{self.action} {self.shares:g} {self.security} in {self.account} on {self.date}"


@dataclass
class ExecutionOutcome:
    """The household after the executions, and what they realized (by term, dollars)."""

    scenario: Scenario
    realized_short: float = 0.0
    realized_long: float = 0.0
    new_lots: list[str] = field(default_factory=list)


def apply_executions(
    scenario: Scenario,
    executions: Sequence[Execution],
    as_of: dt.date | None = None,
    settle_contributions: bool = True,
) -> ExecutionOutcome:
    """The scenario after `executions`, dated `as_of` (default: the latest fill, or the scenario's date).

    `settle_contributions`: the scenario's contributions arrived (and withdrawals were paid) when the plan
    was made, so they move into cash and `contribution` becomes 0. Raises ExecutionError for a fill that
    names an unknown or untradable account, an unknown security or lot, sells more than is held, leaves an
    account's cash negative, or falls after the scenario's tax year.
    """
    data: dict[str, Any] = scenario.model_dump(mode="json", exclude_none=True)
    accounts = {a["id"]: a for a in data["accounts"]}
    taken = {lot.id for a in scenario.accounts for lot in a.lots if lot.id is not None}
    lots_by_id = {lot["id"]: (a["id"], lot) for a in data["accounts"] for lot in a.get("lots", [])}
    originals = {lot.id: lot for a in scenario.accounts for lot in a.lots}
    outcome_short = outcome_long = 0.0
    new_lots: list[str] = []
    recent: list[dict[str, Any]] = list(data.get("recent_trades", []))
    if settle_contributions:
        for account in data["accounts"]:
            account["cash"] = account.get("cash", 0.0) + account.get("contribution", 0.0)
            account["contribution"] = 0.0
    ordered = sorted(executions, key=lambda e: (e.date, e.action != "sell"))
    for fill in ordered:
        where = fill.describe()
        account = accounts.get(fill.account)
        if account is None:
            raise ExecutionError(f"{where}: unknown account '{fill.account}'")
        if not account.get("tradable", True):
            raise ExecutionError(f"{where}: account '{fill.account}' is not tradable")
        if fill.security not in scenario.securities:
            raise ExecutionError(f"{where}: unknown security '{fill.security}'; add it under securities")
        if not (fill.shares > 0 and fill.price > 0 and fill.commission >= 0):
            raise ExecutionError(f"{where}: shares and price must be positive, commission not negative")
        if fill.date < scenario.as_of:
            raise ExecutionError(f"{where}: the fill is dated before the plan's as_of {scenario.as_of}")
        if fill.date.year != scenario.tax_year:
            raise ExecutionError(
                f"{where}: the fill falls outside tax year {scenario.tax_year}; roll the tax year first"
            )
        taxable = account["type"] == "taxable"
        amount = fill.shares * fill.price
        realized = 0.0
        losses: tuple[float, float] = (0.0, 0.0)
        if fill.action == "sell":
            realized = _sell(account, fill, taxable, lots_by_id, originals, where)
            if taxable:
                short, long = realized
                losses = _loss_lots(fill, originals)
                outcome_short += short
                outcome_long += long
                realized = short + long
            account["cash"] = account.get("cash", 0.0) + amount - fill.commission
        else:
            account["cash"] = account.get("cash", 0.0) - amount - fill.commission
            if taxable:
                lot_id = new_lot_id(taken, fill.account, fill.security, fill.date)
                lot = {
                    "id": lot_id,
                    "security": fill.security,
                    "shares": fill.shares,
                    "cost_total": amount + fill.commission,
                    "acquired": fill.date.isoformat(),
                }
                account.setdefault("lots", []).append(lot)
                lots_by_id[lot_id] = (fill.account, lot)
                new_lots.append(lot_id)
            else:
                holdings = account.setdefault("holdings", {})
                holdings[fill.security] = holdings.get(fill.security, 0.0) + fill.shares
        # A purchase must be paid from cash on hand; a sale only adds cash, so a withdrawal being funded by
        # several sales may leave the account short until the last one (checked after every fill).
        if fill.action == "buy" and account["cash"] < -0.005:
            raise ExecutionError(f"{where}: {fill.account} would end with cash {account['cash']:,.2f}")
        account["cash"] = round(account["cash"], 2)
        trade: dict[str, Any] = {
            "date": fill.date.isoformat(),
            "account": fill.account,
            "security": fill.security,
            "action": fill.action,
            "shares": fill.shares,
        }
        if fill.action == "sell" and taxable:
            trade["realized_gain"] = round(realized, 2)
            loss_shares, loss = losses
            if SHARE_TOLERANCE < loss_shares < fill.shares - SHARE_TOLERANCE:
                # A sale of loss lots and gain lots is two trades for the wash-sale windows: the loss lots'
                # shares were sold at a loss (buying the group back would wash it) even when the sale's
                # total is a gain.
                recent.append({**trade, "shares": loss_shares, "realized_gain": round(loss, 2)})
                trade = {**trade, "shares": fill.shares - loss_shares, "realized_gain": round(realized - loss, 2)}
        recent.append(trade)
    for account in data["accounts"]:
        if account.get("cash", 0.0) < -0.005:
            raise ExecutionError(
                f"{account['id']} would end with cash {account['cash']:,.2f}: the fills do not fund its withdrawal"
            )
        account["cash"] = max(0.0, account.get("cash", 0.0))
    new_as_of = as_of or max([e.date for e in executions], default=scenario.as_of)
    if new_as_of < scenario.as_of:
        raise ExecutionError(f"as_of {new_as_of} is before the scenario's {scenario.as_of}")
    data["as_of"] = new_as_of.isoformat()
    earliest = new_as_of - dt.timedelta(days=WINDOW_DAYS)
    data["recent_trades"] = [t for t in recent if earliest <= dt.date.fromisoformat(str(t["date"])) <= new_as_of]
    data["planned_purchases"] = [
        p for p in data.get("planned_purchases", []) if dt.date.fromisoformat(str(p["date"])) > new_as_of
    ]
    ytd = data["tax"].setdefault("realized_ytd", {})
    ytd["short_term"] = round(ytd.get("short_term", 0.0) + outcome_short, 2)
    ytd["long_term"] = round(ytd.get("long_term", 0.0) + outcome_long, 2)
    data["tax"]["year"] = scenario.tax_year
    for account in data["accounts"]:
        account["lots"] = [lot for lot in account.get("lots", []) if lot["shares"] > SHARE_TOLERANCE]
        account["holdings"] = {t: n for t, n in account.get("holdings", {}).items() if n > SHARE_TOLERANCE}
    # Sold-down lots keep their basis per share: cost_total is rescaled with the shares.
    for _, lot in lots_by_id.values():
        original = originals.get(lot["id"])
        if original is not None and lot["shares"] != original.shares:
            lot.pop("cost_per_share", None)
            lot["cost_total"] = original.basis_per_share * lot["shares"]
    return ExecutionOutcome(parse_scenario(data), round(outcome_short, 2), round(outcome_long, 2), new_lots)


def _sell(
    account: dict[str, Any],
    fill: Execution,
    taxable: bool,
    lots_by_id: dict[str, tuple[str, dict[str, Any]]],
    originals: dict[str | None, Any],
    where: str,
) -> tuple[float, float]:
    """Take the sold shares out of the account's lots (named) or holdings; (short, long) realized."""
    short = long = 0.0
    if taxable and not fill.lots:
        raise ExecutionError(f"{where}: a sale in a taxable account must name the lots it sells")
    named = sum(n for _, n in fill.lots)
    if fill.lots and abs(named - fill.shares) > SHARE_TOLERANCE:
        raise ExecutionError(f"{where}: its lots add up to {named:g} shares, not {fill.shares:g}")
    proceeds_per_share = (fill.shares * fill.price - fill.commission) / fill.shares
    for lot_id, shares in fill.lots:
        owner = lots_by_id.get(lot_id)
        if owner is None or owner[0] != fill.account or owner[1]["security"] != fill.security:
            raise ExecutionError(f"{where}: lot '{lot_id}' is not a lot of {fill.security} in {fill.account}")
        lot = owner[1]
        if shares > lot["shares"] + SHARE_TOLERANCE:
            raise ExecutionError(f"{where}: lot '{lot_id}' holds {lot['shares']:g} shares, not {shares:g}")
        lot["shares"] = max(0.0, lot["shares"] - shares)
        original = originals.get(lot_id)
        if taxable and original is not None:
            gain = shares * (proceeds_per_share - original.basis_per_share)
            if holding_term(original.acquired, fill.date, original.inherited) == "short":
                short += gain
            else:
                long += gain
        elif taxable:
            raise ExecutionError(f"{where}: lot '{lot_id}' was bought in this same batch; record the sale later")
    if not fill.lots:
        holdings = account.setdefault("holdings", {})
        left = fill.shares
        held = holdings.get(fill.security, 0.0)
        take = min(held, left)
        holdings[fill.security] = held - take
        left -= take
        for lot in account.get("lots", []):  # tax-advantaged accounts may list their positions as lots
            if left <= SHARE_TOLERANCE:
                break
            if lot["security"] == fill.security:
                take = min(lot["shares"], left)
                lot["shares"] -= take
                left -= take
        if left > SHARE_TOLERANCE:
            raise ExecutionError(f"{where}: {fill.account} holds only {fill.shares - left:g} {fill.security}")
    return short, long


def _loss_lots(fill: Execution, originals: dict[str | None, Any]) -> tuple[float, float]:
    """The shares of a taxable sale's lots sold at a loss, and that loss (negative dollars)."""
    proceeds_per_share = (fill.shares * fill.price - fill.commission) / fill.shares
    shares = loss = 0.0
    for lot_id, n in fill.lots:
        original = originals.get(lot_id)
        if original is not None and proceeds_per_share < original.basis_per_share:
            shares += n
            loss += n * (proceeds_per_share - original.basis_per_share)
    return shares, loss


def roll_tax_year(scenario: Scenario, new_year: int, ordinary_income: float | None = None) -> Scenario:
    """The household at the start of a later tax year: this year's loss carryforward (Capital Loss
    Carryover Worksheet, by the tax engine) comes in, realized_ytd starts at 0."""
    if new_year <= scenario.tax_year:
        raise ValueError(f"tax year {new_year} is not after {scenario.tax_year}")
    breakdown = evaluate_tax(situation_from_scenario(scenario))
    short, long = breakdown.carryforward_short_next, breakdown.carryforward_long_next
    for _ in range(new_year - scenario.tax_year - 1):  # empty years in between use what they can
        situation = situation_from_scenario(scenario)
        empty = evaluate_tax(
            type(situation)(
                **{
                    **situation.__dict__,
                    "short_term": 0.0,
                    "long_term": 0.0,
                    "carryforward_short": short,
                    "carryforward_long": long,
                }
            )
        )
        short, long = empty.carryforward_short_next, empty.carryforward_long_next
    tax = scenario.tax.model_copy(
        update={
            "year": new_year,
            "realized_ytd": scenario.tax.realized_ytd.model_copy(update={"short_term": 0.0, "long_term": 0.0}),
            "carryforward": scenario.tax.carryforward.model_copy(
                update={"short_term": round(short, 2), "long_term": round(long, 2)}
            ),
            **({"ordinary_income": ordinary_income} if ordinary_income is not None else {}),
        }
    )
    return scenario.model_copy(update={"tax": tax})


def executions_from_plan(trades: Sequence[Any], date: dt.date) -> list[Execution]:
    """A plan's trades (`Result.trades`) as if executed in full at the plan's prices on `date`, with each
    trade's cost paid as its commission. The lots of taxable sales come from the plan."""
    out: list[Execution] = []
    for t in trades:
        lots = tuple((lot.lot, lot.shares) for lot in (t.lots or []))
        out.append(Execution(t.account, t.security, t.action, t.shares, t.price, date, lots, t.cost))
    return out

