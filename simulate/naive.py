"""The naive rebalancer: sell to target, highest-cost lots first, no harvesting.

What a careful person does by hand, as the simulator's baseline. Household-wide: each asset class above
its target value is sold down to it, pro rata across the positions that hold it (a multi-asset fund
counts in its largest class), each taxable sale taking the lots with the highest cost per share first
(HIFO); then each account buys the classes below target with its spare cash, in the fund of that class
it already holds most of (else the first one it may buy). It knows the household's rules — tradable
accounts, do_not_sell / do_not_buy, cash floors, whole shares, minimum trade — and does not make wash
sales (a loss lot whose group was bought in the window is skipped; a group sold at a loss in the window
is not bought), but it never sells a loss for its own sake and never weighs tax.
"""

from __future__ import annotations

import datetime as dt
import math

from rebal_opt.models.scenario import CASH_CLASS, Scenario
from rebal_opt.solver.execution import Execution
from rebal_opt.solver.household import class_values, starting_shares
from rebal_opt.solver.plan import trade_cost
from rebal_opt.solver.wash import WashWindows, wash_windows

CENT = 0.01


def primary_class(scenario: Scenario, ticker: str) -> str:
    split = scenario.securities[ticker].class_split()
    return max(split, key=lambda c: (split[c], c))


class NaiveRebalancer:
    """Plans one step's trades for a household (`rebalance`, or only its cash flows: `cash_flow`)."""

    def __init__(self, scenario: Scenario, date: dt.date) -> None:
        self.s = scenario
        self.date = date
        self.rules = scenario.rules
        self.windows: WashWindows = wash_windows(scenario)
        self.shares = starting_shares(scenario)
        self.cash = {a.id: a.cash + a.contribution for a in scenario.accounts}  # withdrawals may make it negative
        self.lots_left = {lot.id: lot.shares for a in scenario.accounts for lot in a.lots}
        self.orders: list[Execution] = []

    # the plan ---------------------------------------------------------------------------------------

    def rebalance(self) -> list[Execution]:
        total = sum(self._class_values().values())
        for asset_class, value in self._class_values().items():
            excess = value - self.s.target(asset_class) * total
            if asset_class != CASH_CLASS and excess > max(self.rules.min_trade, CENT):
                self._sell_class(asset_class, excess)
        self._fund_withdrawals()
        self._buy_deficits(total)
        return self.orders

    def cash_flow(self) -> list[Execution]:
        """Fund withdrawals and invest new cash toward target; nothing else is sold."""
        self._fund_withdrawals()
        if any(a.contribution > 0 for a in self.s.accounts):
            self._buy_deficits(sum(self._class_values().values()))
        return self.orders

    # pieces -----------------------------------------------------------------------------------------

    def _class_values(self) -> dict[str, float]:
        return class_values(self.s, self.shares, self.cash)

    def _price(self, ticker: str) -> float:
        return self.s.securities[ticker].price

    def _positions(self, account_id: str | None = None) -> list[tuple[str, str]]:
        """Tradable positions (account, ticker) with shares, optionally of one account, in file order."""
        tradable = {a.id for a in self.s.accounts if a.tradable}
        return [
            key
            for key, n in self.shares.items()
            if n > 1e-9 and key[0] in tradable and (account_id is None or key[0] == account_id)
            and key[1] not in self.rules.do_not_sell
        ]

    def _sell_class(self, asset_class: str, amount: float) -> None:
        holders = [k for k in self._positions() if primary_class(self.s, k[1]) == asset_class]
        values = {k: self.shares[k] * self._price(k[1]) for k in holders}
        held = sum(values.values())
        if held <= 0:
            return
        for key in holders:
            self._sell(key, min(values[key], amount * values[key] / held))

    def _fund_withdrawals(self) -> None:
        """Sell in an account whose cash is under its floor after its withdrawal: most overweight class first."""
        for account in self.s.accounts:
            if not account.tradable:
                continue
            order = sorted(self._positions(account.id), key=self._overweight, reverse=True)
            for key in order:
                short = account.min_cash - self.cash[account.id]
                if short <= CENT / 2:
                    break
                spread = self.rules.costs.spread_bps / 10_000
                needed = (short + self.rules.costs.commission) / (1 - spread)
                self._sell(key, needed, round_up=True, funding=True)

    def _overweight(self, key: tuple[str, str]) -> float:
        """How far the position's class is above its target weight."""
        values = self._class_values()
        asset_class = primary_class(self.s, key[1])
        return values[asset_class] / sum(values.values()) - self.s.target(asset_class)

    def _buy_deficits(self, total: float) -> None:
        values = self._class_values()
        deficits = {
            c: self.s.target(c) * total - values.get(c, 0.0)
            for c in self.s.asset_classes()
            if c != CASH_CLASS and self.s.target(c) * total - values.get(c, 0.0) > CENT
        }
        if not deficits:
            return
        tradable = [a for a in self.s.accounts if a.tradable]
        spare = {a.id: max(0.0, self.cash[a.id] - a.min_cash) for a in tradable}
        keep = max(0.0, self.s.target(CASH_CLASS) * total - sum(a.min_cash for a in tradable))
        spare_total = sum(spare.values())
        if spare_total <= 0:
            return
        scale = max(0.0, 1 - keep / spare_total)
        for account in tradable:
            budget = spare[account.id] * scale
            need = sum(deficits.values())
            if budget <= CENT or need <= CENT:
                continue
            for asset_class in list(deficits):
                amount = min(deficits[asset_class], budget * deficits[asset_class] / need)
                bought = self._buy(account.id, asset_class, amount)
                deficits[asset_class] -= bought

    def _buy(self, account_id: str, asset_class: str, amount: float) -> float:
        """Buy about `amount` dollars (cost included) of the class in the account; the dollars spent."""
        ticker = self._fund_for(account_id, asset_class)
        if ticker is None or amount < max(self.rules.min_trade, CENT):
            return 0.0
        price = self._price(ticker)
        spread = self.rules.costs.spread_bps / 10_000
        shares = (amount - self.rules.costs.commission) / (price * (1 + spread))
        shares = math.floor(shares) if self.rules.whole_shares else math.floor(shares * 1e6) / 1e6
        value = shares * price
        if shares <= 0 or value < self.rules.min_trade:
            return 0.0
        cost = trade_cost(self.s, value)
        if value + cost > self.cash[account_id] + 1e-9:
            return 0.0
        self.orders.append(Execution(account_id, ticker, "buy", shares, price, self.date, (), cost))
        self.shares[(account_id, ticker)] = self.shares.get((account_id, ticker), 0.0) + shares
        self.cash[account_id] -= value + cost
        return value + cost

    def _fund_for(self, account_id: str, asset_class: str) -> str | None:
        """The fund of one class to buy in an account: the one it holds most of, else the first it may buy."""
        account = self.s.account(account_id)
        allowed = [
            t
            for t, sec in self.s.securities.items()
            if sec.class_split() == {asset_class: 1.0}
            and t not in self.rules.do_not_buy
            and (account.buyable is None or t in account.buyable)
            and self.s.wash_group(t) not in self.windows.buy_blocks
        ]
        if not allowed:
            return None
        return max(allowed, key=lambda t: (self.shares.get((account_id, t), 0.0) * self._price(t), -allowed.index(t)))

    def _sell(self, key: tuple[str, str], amount: float, round_up: bool = False, funding: bool = False) -> None:
        account_id, ticker = key
        price = self._price(ticker)
        if amount < max(self.rules.min_trade, CENT) and not funding:
            return
        shares = amount / price
        if self.rules.whole_shares:
            shares = math.ceil(shares - 1e-9) if round_up else math.floor(shares)
        shares = min(shares, self._sellable(account_id, ticker))
        if shares <= 1e-9:
            return
        lots: tuple[tuple[str, float], ...] = ()
        account = self.s.account(account_id)
        if not account.tax_advantaged:
            lots = self._take_lots(account_id, ticker, shares)
            shares = sum(n for _, n in lots)
            if shares <= 1e-9:
                return
        value = shares * price
        cost = trade_cost(self.s, value)
        self.orders.append(Execution(account_id, ticker, "sell", shares, price, self.date, lots, cost))
        self.shares[key] -= shares
        self.cash[account_id] += value - cost

    def _sellable_lots(self, account_id: str, ticker: str) -> list[tuple[str, float, float]]:
        """(lot id, shares left, basis per share) that may be sold, highest cost first."""
        account = self.s.account(account_id)
        price = self._price(ticker)
        block = self.windows.sale_blocks.get(self.s.wash_group(ticker))
        out = []
        for lot in account.lots:
            if lot.security != ticker or lot.id in self.rules.do_not_sell or self.lots_left[lot.id] <= 1e-9:
                continue
            at_loss = lot.basis_per_share > price
            if at_loss and block is not None and block.blocks_lot(account_id, ticker, lot.id, lot.acquired):
                continue  # a wash sale: the naive rebalancer leaves it
            out.append((str(lot.id), self.lots_left[lot.id], lot.basis_per_share))
        return sorted(out, key=lambda x: -x[2])

    def _sellable(self, account_id: str, ticker: str) -> float:
        if self.s.account(account_id).tax_advantaged:
            return self.shares.get((account_id, ticker), 0.0)
        return sum(n for _, n, _ in self._sellable_lots(account_id, ticker))

    def _take_lots(self, account_id: str, ticker: str, shares: float) -> tuple[tuple[str, float], ...]:
        taken: list[tuple[str, float]] = []
        left = shares
        for lot_id, available, _ in self._sellable_lots(account_id, ticker):
            if left <= 1e-9:
                break
            n = min(available, left)
            taken.append((lot_id, n))
            self.lots_left[lot_id] -= n
            left -= n
        return tuple(taken)


def naive_plan(scenario: Scenario, date: dt.date, mode: str) -> list[Execution]:
    """The naive rebalancer's orders for one step (mode 'rebalance' or 'cash_flow')."""
    planner = NaiveRebalancer(scenario, date)
    return planner.rebalance() if mode == "rebalance" else planner.cash_flow()

