"""Scenario → problem arrays: what can be sold (lots, positions), what can be bought, and their effects.

Money is in thousands of dollars (`SCALE`) inside the model: with amounts as fractions of the household
or in raw dollars, HiGHS's relaxations were measured to fail numerically on large households.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from rebal_opt.models.scenario import CASH_CLASS, Scenario

from .household import band_limits, starting_cash, starting_shares, withdrawals
from .lots import Term, first_long_term_day, holding_term
from .wash import WashWindows, wash_windows

SCALE = 1000.0


@dataclass(frozen=True)
class SellUnit:
    """What one sell variable sells: a lot in a taxable account, a whole position in a tax-advantaged one."""

    account: str
    security: str
    shares: float
    taxable: bool
    lot_id: str | None = None
    basis_per_share: float = 0.0
    acquired: dt.date | None = None
    term: Term | None = None
    long_term_on: dt.date | None = None
    blocked_by_wash: bool = False

    def gain_per_share(self, price: float) -> float:
        return price - self.basis_per_share if self.taxable else 0.0


@dataclass(frozen=True)
class TradeSlot:
    """One (account, security) pair that may trade on one side."""

    account: str
    security: str


@dataclass
class RebalanceData:
    """Everything the MILP needs, as arrays in model units (k$)."""

    scenario: Scenario
    classes: list[str]
    target: np.ndarray  # (C,)
    low: np.ndarray  # (C,)
    high: np.ndarray  # (C,)
    units: list[SellUnit]
    unit_value: np.ndarray  # (U,) k$ at market
    unit_gain_ratio: np.ndarray  # (U,) gain per k$ sold (taxable lots; 0 elsewhere)
    unit_short: np.ndarray  # (U,) bool: short-term taxable lot
    unit_long: np.ndarray  # (U,) bool
    sell_slots: list[TradeSlot]
    unit_to_sell_slot: sp.csr_matrix  # (S_sell, U) 0/1
    buy_slots: list[TradeSlot]
    buy_cap: np.ndarray  # (B,) k$: most a buy could be (the account's cash and everything it can sell)
    buy_band_cap: np.ndarray  # (B,) k$: most a buy can be when every band holds (see build_data)
    accounts: list[str]
    min_cash: np.ndarray  # (A,) k$
    cash_start: np.ndarray  # (A,) k$, contributions included
    withdrawal: np.ndarray  # (A,) k$, positive = paid out
    sell_slot_account: sp.csr_matrix  # (A, S_sell)
    buy_slot_account: sp.csr_matrix  # (A, B)
    sell_slot_price: np.ndarray  # (S_sell,) dollars
    buy_slot_price: np.ndarray  # (B,) dollars
    sell_slot_exposure: sp.csr_matrix  # (C, S_sell) class fractions of each slot's security
    buy_slot_exposure: sp.csr_matrix  # (C, B)
    class_value_start: np.ndarray  # (C,) k$ incl. untradable and cash
    total_start: float  # k$ (contributions in, withdrawals not yet out)
    untradable_class_value: np.ndarray  # (C,) k$ that can never move
    windows: WashWindows
    wash_groups: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)  # group -> (loss units, buys)
    # group -> (short, long) dollars (≤ 0) of loss that its harvestable lots would realize if all sold; kept by
    # without_sales, so that a buy-only phase still knows the harvest a purchase would block (rules.location)
    harvest_by_group: dict[str, tuple[float, float]] = field(default_factory=dict)

    def without_sales(self) -> RebalanceData:
        """The same household with nothing to sell: the contributions-first phase, compiled small."""
        no_units = np.zeros(0)
        return replace(
            self,
            units=[],
            unit_value=no_units,
            unit_gain_ratio=no_units,
            unit_short=np.zeros(0, dtype=bool),
            unit_long=np.zeros(0, dtype=bool),
            sell_slots=[],
            unit_to_sell_slot=sp.csr_matrix((0, 0)),
            sell_slot_account=sp.csr_matrix((len(self.accounts), 0)),
            sell_slot_price=no_units,
            sell_slot_exposure=sp.csr_matrix((len(self.classes), 0)),
            wash_groups={},
        )

    @property
    def harvestable(self) -> np.ndarray:
        """(U,) bool: taxable lots at a loss that may be sold now (not held back by a wash-sale window)."""
        taxable = np.array([u.taxable for u in self.units], dtype=bool)
        return taxable & (self.unit_gain_ratio < 0) & (self.unit_value > 0)

    @property
    def cash_index(self) -> int:
        return self.classes.index(CASH_CLASS)

    @property
    def total_after_flows(self) -> float:
        """Household value after withdrawals, before costs (k$): the reference for drift scaling."""
        return self.total_start - float(self.withdrawal.sum())


def _blocked_by_wash(
    scenario: Scenario,
    windows: WashWindows,
    account: str,
    lot_id: str | None,
    security: str,
    acquired: dt.date | None,
) -> bool:
    block = windows.sale_blocks.get(scenario.wash_group(security))
    return block is not None and block.blocks_lot(account, security, lot_id, acquired)


def build_data(scenario: Scenario) -> RebalanceData:
    """Turn a validated scenario into the arrays of the rebalance MILP."""
    rules = scenario.rules
    as_of = scenario.as_of
    classes = scenario.asset_classes()
    class_index = {c: i for i, c in enumerate(classes)}
    target = np.array([scenario.target(c) for c in classes])
    limits = [band_limits(t, scenario.bands) for t in target]
    low = np.array([lo for lo, _ in limits])
    high = np.array([hi for _, hi in limits])
    windows = wash_windows(scenario)
    do_not_sell = set(rules.do_not_sell)
    do_not_buy = set(rules.do_not_buy)

    def exposure(ticker: str) -> np.ndarray:
        vec = np.zeros(len(classes))
        for asset_class, fraction in scenario.securities[ticker].class_split().items():
            vec[class_index[asset_class]] += fraction
        return vec

    units: list[SellUnit] = []
    for account in scenario.accounts:
        if not account.tradable:
            continue
        if account.tax_advantaged:
            shares: dict[str, float] = {}
            for lot in account.lots:
                if lot.id in do_not_sell:  # a protected lot of a position stays: the rest may sell
                    continue
                shares[lot.security] = shares.get(lot.security, 0.0) + lot.shares
            for ticker, n in account.holdings.items():
                shares[ticker] = shares.get(ticker, 0.0) + n
            for ticker, n in shares.items():
                if ticker not in do_not_sell:
                    units.append(SellUnit(account.id, ticker, n, taxable=False))
            continue
        for lot in account.lots:
            if lot.security in do_not_sell or lot.id in do_not_sell:
                continue
            price = scenario.securities[lot.security].price
            term = holding_term(lot.acquired, as_of, lot.inherited)
            basis = lot.basis_per_share
            if rules.no_short_term_gains and term == "short" and price > basis:
                continue
            loss = price < basis
            blocked = loss and _blocked_by_wash(scenario, windows, account.id, lot.id, lot.security, lot.acquired)
            units.append(
                SellUnit(
                    account.id,
                    lot.security,
                    lot.shares,
                    taxable=True,
                    lot_id=lot.id,
                    basis_per_share=basis,
                    acquired=lot.acquired,
                    term=term,
                    long_term_on=None if lot.inherited else first_long_term_day(lot.acquired),
                    blocked_by_wash=blocked,
                )
            )

    prices = {t: s.price for t, s in scenario.securities.items()}
    unit_value = np.array([0.0 if u.blocked_by_wash else u.shares * prices[u.security] / SCALE for u in units])
    unit_gain_ratio = np.array([u.gain_per_share(prices[u.security]) / prices[u.security] for u in units])
    unit_short = np.array([u.taxable and u.term == "short" for u in units], dtype=bool)
    unit_long = np.array([u.taxable and u.term == "long" for u in units], dtype=bool)

    sell_slots: list[TradeSlot] = []
    slot_of: dict[tuple[str, str], int] = {}
    rows, cols = [], []
    for j, u in enumerate(units):
        key = (u.account, u.security)
        if key not in slot_of:
            slot_of[key] = len(sell_slots)
            sell_slots.append(TradeSlot(*key))
        rows.append(slot_of[key])
        cols.append(j)
    unit_to_sell_slot = sp.csr_matrix((np.ones(len(units)), (rows, cols)), shape=(len(sell_slots), len(units)))

    accounts = [a.id for a in scenario.accounts]
    account_index = {a: i for i, a in enumerate(accounts)}
    cash = starting_cash(scenario)
    out = withdrawals(scenario)
    sellable_value = np.zeros(len(accounts))
    for u, v in zip(units, unit_value, strict=True):
        sellable_value[account_index[u.account]] += v

    buy_slots: list[TradeSlot] = []
    buy_cap: list[float] = []
    for account in scenario.accounts:
        if not account.tradable:
            continue
        menu = account.buyable if account.buyable is not None else list(scenario.securities)
        budget = cash[account.id] / SCALE + sellable_value[account_index[account.id]]
        for ticker in menu:
            if ticker in do_not_buy or scenario.wash_group(ticker) in windows.buy_blocks:
                continue
            if budget <= 0:
                continue
            buy_slots.append(TradeSlot(account.id, ticker))
            buy_cap.append(budget)

    def account_matrix(slots: list[TradeSlot]) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.ones(len(slots)), ([account_index[s.account] for s in slots], list(range(len(slots))))),
            shape=(len(accounts), len(slots)),
        )

    def exposure_matrix(slots: list[TradeSlot]) -> sp.csr_matrix:
        if not slots:
            return sp.csr_matrix((len(classes), 0))
        return sp.csr_matrix(np.column_stack([exposure(s.security) for s in slots]))

    class_value_start = np.zeros(len(classes))
    untradable = np.zeros(len(classes))
    for (account_id, ticker), n in starting_shares(scenario).items():
        value = n * prices[ticker] / SCALE * exposure(ticker)
        class_value_start += value
        if not scenario.account(account_id).tradable:
            untradable += value
    cash_index = class_index[CASH_CLASS]
    class_value_start[cash_index] += sum(cash.values()) / SCALE
    for account in scenario.accounts:
        if not account.tradable:
            untradable[cash_index] += cash[account.id] / SCALE

    # With every band met, class c ends at most high_c·W_after ≤ high_c·W_start, and a purchase adds
    # exposure_c·amount to it: amount ≤ high_c·W_start / exposure_c. Tight big-Ms were measured to matter.
    band_cap = np.full(len(buy_slots), np.inf)
    total_start = float(class_value_start.sum())
    for b, slot in enumerate(buy_slots):
        vec = exposure(slot.security)
        held = vec > 0
        if held.any():
            band_cap[b] = float(np.min(high[held] * total_start / vec[held]))

    wash_groups: dict[str, tuple[list[int], list[int]]] = {}
    if rules.wash_sales == "avoid":
        loss_units: dict[str, list[int]] = {}
        for j, u in enumerate(units):
            if u.taxable and unit_gain_ratio[j] < 0 and unit_value[j] > 0:
                loss_units.setdefault(scenario.wash_group(u.security), []).append(j)
        buys_by_group: dict[str, list[int]] = {}  # one pass: a scan per group was 0.3 s at 450 groups
        for b, s in enumerate(buy_slots):
            buys_by_group.setdefault(scenario.wash_group(s.security), []).append(b)
        for group, members in loss_units.items():
            buys = buys_by_group.get(group, [])
            if buys:
                wash_groups[group] = (members, buys)

    harvest_by_group: dict[str, tuple[float, float]] = {}
    for j, u in enumerate(units):
        if not (u.taxable and unit_gain_ratio[j] < 0 and unit_value[j] > 0):
            continue
        group = scenario.wash_group(u.security)
        short, long = harvest_by_group.get(group, (0.0, 0.0))
        loss = float(unit_gain_ratio[j] * unit_value[j] * SCALE)
        harvest_by_group[group] = (short + loss, long) if unit_short[j] else (short, long + loss)

    return RebalanceData(
        scenario=scenario,
        classes=classes,
        target=target,
        low=low,
        high=high,
        units=units,
        unit_value=unit_value,
        unit_gain_ratio=unit_gain_ratio,
        unit_short=unit_short,
        unit_long=unit_long,
        sell_slots=sell_slots,
        unit_to_sell_slot=unit_to_sell_slot,
        buy_slots=buy_slots,
        buy_cap=np.array(buy_cap),
        buy_band_cap=np.minimum(np.array(buy_cap), band_cap),
        accounts=accounts,
        min_cash=np.array([scenario.account(a).min_cash / SCALE for a in accounts]),
        cash_start=np.array([cash[a] / SCALE for a in accounts]),
        withdrawal=np.array([out.get(a, 0.0) / SCALE for a in accounts]),
        sell_slot_account=account_matrix(sell_slots),
        buy_slot_account=account_matrix(buy_slots),
        sell_slot_price=np.array([prices[s.security] for s in sell_slots]),
        buy_slot_price=np.array([prices[s.security] for s in buy_slots]),
        sell_slot_exposure=exposure_matrix(sell_slots),
        buy_slot_exposure=exposure_matrix(buy_slots),
        class_value_start=class_value_start,
        total_start=float(class_value_start.sum()),
        untradable_class_value=untradable,
        windows=windows,
        wash_groups=wash_groups,
        harvest_by_group=harvest_by_group,
    )
