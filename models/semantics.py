"""Checks that relate fields of a scenario to each other, each reported with its YAML path.

Field shapes and ranges are pydantic's job (`models.scenario`); what is here needs the whole file:
references between sections, sums, dates relative to `as_of`, uniqueness across the household.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import Problem
from .risk import classes_without_volatility
from .scenario import (
    CASH_CLASS,
    EMPLOYER_PLANS,
    MAX_DOLLARS,
    MAX_PROJECTED_YEARS,
    Account,
    AccountType,
    Lot,
    Scenario,
)
from .simulation_checks import simulation_problems
from .tax_tables import FIRST_TABLE_YEAR, LAST_TABLE_YEAR

SUM_TOLERANCE = 1e-6
WASH_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Partial:
    """What is missing from a scenario built of the valid pieces of an invalid file (models.loading).

    `invalid` top-level sections are None; the lists of accounts, lots, trades and purchases hold None
    in place of an item that failed. Names defined by pieces that failed still count as defined, so a
    reference to them is not reported as unknown.
    """

    invalid: frozenset[str] = frozenset()
    tickers: frozenset[str] = frozenset()
    account_ids: tuple[str, ...] = ()
    """Every account id the file gives, in file order."""
    complete: bool = True
    """Every account and lot validated: checks over all lots (lot ids, what is held) can run."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'VTI'?)" when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Checker:
    """Collects problems while walking one scenario."""

    def __init__(self, scenario: Scenario, partial: Partial | None = None) -> None:
        self.s = scenario
        self.partial = partial or Partial()
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def valid(self, *sections: str) -> bool:
        """Every named top-level section validated (always, for a valid file)."""
        return not self.partial.invalid.intersection(sections)

    def accounts_valid(self) -> Iterator[tuple[int, Account]]:
        for i, account in enumerate(self.s.accounts or []):
            if account is not None:
                yield i, account

    def lots_valid(self, account: Account) -> Iterator[tuple[int, Lot]]:
        for j, lot in enumerate(account.lots):
            if lot is not None:
                yield j, lot

    def security_ref(self, path: str, ticker: str) -> bool:
        if ticker in self.s.securities:
            return True
        if ticker in self.partial.tickers:
            return False  # defined, but invalid: its own problem is reported
        hint = did_you_mean(ticker, self.s.securities)
        self.add(path, f"unknown security '{ticker}'{hint}; define it under securities")
        return False

    def account_ref(self, path: str, account_id: str) -> bool:
        ids = list(dict.fromkeys([*self.partial.account_ids, *(a.id for _, a in self.accounts_valid())]))
        if account_id in ids or not self.valid("accounts"):
            return account_id in ids
        self.add(
            path,
            f"unknown account '{account_id}'{did_you_mean(account_id, ids)}; accounts are {', '.join(ids)}",
        )
        return False

    def run(self) -> list[Problem]:
        if self.valid("targets"):
            self.targets()
        if self.valid("securities"):
            self.securities()
        if self.valid("accounts", "securities"):
            self.accounts()
            self.household_value()
        if self.valid("securities"):
            self.trades()
        if self.valid("rules", "securities"):
            self.rules()
        if self.valid("objective", "targets", "securities"):
            self.risk_model()
        if self.valid("tax", "as_of"):
            self.tax()
        if self.valid("unwind", "tax", "as_of", "securities", "accounts"):
            self.unwind()
        if self.valid("simulate", "accounts", "securities", "targets", "as_of"):
            self.problems += simulation_problems(self.s)
        return self.problems

    def unwind(self) -> None:
        plan = self.s.unwind
        if plan is None:
            return
        if self.security_ref("unwind.security", plan.security) and self.partial.complete:
            held = any(
                a.tradable
                and (
                    a.holdings.get(plan.security, 0) > 0
                    or any(lot.security == plan.security and lot.shares > 0 for lot in a.lots)
                )
                for a in self.s.accounts
            )
            if not held:
                self.add("unwind.security", f"no tradable account holds {plan.security}; nothing to unwind")
        periods = plan.horizon_years * plan.periods_per_year
        for k, period in enumerate(plan.blackout):
            if period > periods:
                self.add(f"unwind.blackout[{k}]", f"period {period} is past the last period ({periods})")
        last_year = self.s.tax_year + plan.horizon_years
        for year in plan.years:
            if not self.s.tax_year <= year <= last_year:
                self.add(
                    f"unwind.years.{year}", f"{year} is outside the plan's tax years ({self.s.tax_year} to {last_year})"
                )
        low, high = plan.min_per_period, plan.max_per_period
        if low is not None and high is not None and low > high:
            self.add("unwind.min_per_period", "is larger than max_per_period")
        if plan.per_period_unit == "fraction":
            for name in ("max_per_period", "min_per_period"):
                value = getattr(plan, name)
                if value is not None and value > 1:
                    self.add(f"unwind.{name}", "a fraction of the starting shares must be at most 1")

    def targets(self) -> None:
        total = sum(self.s.targets.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            self.add("targets", f"weights sum to {total:.6g}; they must sum to 1")
        if not self.s.targets:
            self.add("targets", "no asset class has a target; give at least one")

    def securities(self) -> None:
        known = set(self.s.targets) | {CASH_CLASS} if self.valid("targets") else None
        for ticker, security in self.s.securities.items():
            path = f"securities.{ticker}.asset_class"
            split = security.class_split()
            if isinstance(security.asset_class, dict):
                total = sum(split.values())
                if abs(total - 1.0) > SUM_TOLERANCE:
                    self.add(path, f"the fund's split sums to {total:.6g}; it must sum to 1")
            for asset_class in split:
                if known is not None and asset_class not in known:
                    hint = did_you_mean(asset_class, known)
                    self.add(
                        path,
                        f"asset class '{asset_class}' has no target{hint}; add it to targets (0 is allowed)",
                    )

    def accounts(self) -> None:
        seen_accounts: dict[str, int] = {}
        seen_lots: dict[str, str] = {}
        for i, account in self.accounts_valid():
            base = f"accounts[{i}]"
            if account.id in seen_accounts:
                self.add(
                    f"{base}.id",
                    f"duplicate account id '{account.id}' (also accounts[{seen_accounts[account.id]}]); "
                    "ids must be unique",
                )
            seen_accounts.setdefault(account.id, i)
            if account.type == AccountType.TAXABLE and any(n > 0 for n in account.holdings.values()):
                self.add(
                    f"{base}.holdings",
                    "a taxable account needs lots (cost basis and date decide the tax); move these positions to lots",
                )
            for j, lot in self.lots_valid(account):
                lpath = f"{base}.lots[{j}]"
                self.security_ref(f"{lpath}.security", lot.security)
                if self.valid("as_of") and lot.acquired > self.s.as_of:
                    self.add(
                        f"{lpath}.acquired",
                        f"{lot.acquired} is after as_of {self.s.as_of}; a lot must be acquired on or before as_of",
                    )
                assert lot.id is not None
                if lot.id in seen_lots:
                    self.add(
                        f"{lpath}.id",
                        f"duplicate lot id '{lot.id}' (also {seen_lots[lot.id]}); "
                        "lot ids must be unique across the household",
                    )
                seen_lots.setdefault(lot.id, lpath)
            for ticker in account.holdings:
                self.security_ref(f"{base}.holdings.{ticker}", ticker)
            for k, ticker in enumerate(account.buyable or []):
                known = self.security_ref(f"{base}.buyable[{k}]", ticker)
                if known and account.plan not in EMPLOYER_PLANS and self.s.securities[ticker].plan_only:
                    self.add(
                        f"{base}.buyable[{k}]",
                        f"{ticker} is only offered inside employer plans; remove it or set the account's plan",
                    )

    def household_value(self) -> None:
        """The household's value within MAX_DOLLARS (each field has its own limit; together they could
        still reach magnitudes where the MILP's cents drown in rounding)."""
        prices = {ticker: security.price for ticker, security in self.s.securities.items()}
        total = 0.0
        for _, account in self.accounts_valid():
            total += account.cash + max(account.contribution, 0.0)
            total += sum(lot.shares * prices.get(lot.security, 0.0) for _, lot in self.lots_valid(account))
            total += sum(n * prices.get(ticker, 0.0) for ticker, n in account.holdings.items())
        if total > MAX_DOLLARS:
            self.add(
                "accounts",
                f"the household is worth {total:,.0f} dollars, above the limit of {MAX_DOLLARS:,.0f} "
                "(see docs/scenario.md, Limits); check the prices and shares",
            )

    def trades(self) -> None:
        as_of = self.s.as_of if self.valid("as_of") else None
        for i, trade in enumerate(self.s.recent_trades or []):
            if trade is None:
                continue
            base = f"recent_trades[{i}]"
            self.account_ref(f"{base}.account", trade.account)
            self.security_ref(f"{base}.security", trade.security)
            if as_of is None:
                continue
            earliest = as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
            if not earliest <= trade.date <= as_of:
                self.add(
                    f"{base}.date",
                    f"{trade.date} is outside the 30 days up to as_of "
                    f"({earliest} to {self.s.as_of}); list only trades in that window",
                )
        for i, purchase in enumerate(self.s.planned_purchases or []):
            if purchase is None:
                continue
            base = f"planned_purchases[{i}]"
            self.account_ref(f"{base}.account", purchase.account)
            self.security_ref(f"{base}.security", purchase.security)
            if as_of is not None and purchase.date <= as_of:
                self.add(
                    f"{base}.date",
                    f"{purchase.date} is not after as_of {self.s.as_of}; a purchase already "
                    "made belongs in recent_trades",
                )

    def rules(self) -> None:
        lot_ids = {lot.id for _, a in self.accounts_valid() for _, lot in self.lots_valid(a)}
        for k, name in enumerate(self.s.rules.do_not_sell):
            if name in self.partial.tickers or not (self.partial.complete and self.valid("accounts")):
                continue  # a lot id can only be judged unknown when every lot validated
            if name not in self.s.securities and name not in lot_ids:
                hint = did_you_mean(name, [*self.s.securities, *(i for i in lot_ids if i)])
                self.add(f"rules.do_not_sell[{k}]", f"'{name}' is neither a security nor a lot id{hint}")
        for k, name in enumerate(self.s.rules.do_not_buy):
            self.security_ref(f"rules.do_not_buy[{k}]", name)

    def risk_model(self) -> None:
        model = self.s.objective.risk_model
        if self.s.objective.tracking == "quadratic":
            for asset_class in classes_without_volatility(self.s.asset_classes(), model):
                self.add(
                    "objective.risk_model.volatility",
                    f"no volatility for asset class '{asset_class}' (the default risk model lacks it); "
                    f"add objective.risk_model.volatility.{asset_class} or use objective.tracking: absolute",
                )
        if model is None:
            return
        known = set(self.s.targets) | {CASH_CLASS}
        if model.is_factor_model:
            self.factor_model(known)
            return
        for asset_class in model.volatility:
            if asset_class not in known:
                self.add(
                    f"objective.risk_model.volatility.{asset_class}",
                    f"unknown asset class '{asset_class}'{did_you_mean(asset_class, known)}; use a class from targets",
                )
        for key in model.correlation:
            parts = key.split(".")
            path = f"objective.risk_model.correlation.{key}"
            if len(parts) != 2 or parts[0] == parts[1]:
                self.add(path, "key must name two different classes as 'class_a.class_b'")
                continue
            for asset_class in parts:
                if asset_class not in known:
                    self.add(
                        path,
                        f"unknown asset class '{asset_class}'{did_you_mean(asset_class, known)}; "
                        "use a class from targets",
                    )

    def factor_model(self, known: set[str]) -> None:
        """The factor form: classes and factors named consistently, a symmetric factor covariance, and
        risk for every class that is held or targeted (other than cash)."""
        model = self.s.objective.risk_model
        assert model is not None
        base = "objective.risk_model"
        factors = set(model.factor_covariance) | {f for row in model.factor_covariance.values() for f in row}
        if not factors:
            self.add(f"{base}.factor_covariance", "is required with loadings; give the factors' annual covariance")
        for section in ("loadings", "specific_variance"):
            for asset_class in getattr(model, section):
                if asset_class not in known:
                    self.add(
                        f"{base}.{section}.{asset_class}",
                        f"unknown asset class '{asset_class}'{did_you_mean(asset_class, known)}; use a class from "
                        "targets (direct indexing: each security its own class, named by its ticker)",
                    )
        for asset_class, row in model.loadings.items():
            for factor in row:
                if factors and factor not in factors:
                    self.add(
                        f"{base}.loadings.{asset_class}.{factor}",
                        f"unknown factor '{factor}'{did_you_mean(factor, factors)}; factors are those of "
                        "factor_covariance",
                    )
        for a, row in model.factor_covariance.items():
            for b, value in row.items():
                other = model.factor_covariance.get(b, {}).get(a)
                if a == b and value < 0:
                    self.add(f"{base}.factor_covariance.{a}.{b}", "a variance must not be negative")
                elif other is not None and abs(other - value) > 1e-12 * max(1.0, abs(value)):
                    self.add(
                        f"{base}.factor_covariance.{a}.{b}",
                        f"is {value:g} but {b}.{a} is {other:g}; a covariance is symmetric (give one triangle)",
                    )
        held = {c for sec in self.s.securities.values() for c in sec.class_split()}
        for asset_class in self.s.asset_classes():
            if asset_class == CASH_CLASS or (self.s.target(asset_class) == 0 and asset_class not in held):
                continue
            if asset_class not in model.loadings and model.specific_variance.get(asset_class, 0.0) == 0:
                self.add(
                    f"{base}.loadings",
                    f"asset class '{asset_class}' has no loadings and no specific_variance: its risk would be 0; "
                    f"add loadings.{asset_class} or specific_variance.{asset_class}",
                )

    def tax(self) -> None:
        year = self.s.tax_year
        if year < FIRST_TABLE_YEAR and self.s.tax.rates is None:
            self.add(
                "tax.year",
                f"no tax table before {FIRST_TABLE_YEAR} (got {year}); use a later year or "
                "give flat rates under tax.rates",
            )
        last = LAST_TABLE_YEAR + MAX_PROJECTED_YEARS
        if year > last:
            source = "" if self.s.tax.year is not None else f" (the year of as_of {self.s.as_of})"
            self.add(
                "tax.year",
                f"{year}{source} is more than {MAX_PROJECTED_YEARS} years after the last tax table "
                f"({LAST_TABLE_YEAR}); use a year up to {last}",
            )


def check_semantics(scenario: Scenario, partial: Partial | None = None) -> list[Problem]:
    """Every cross-field problem of the scenario, in file order; empty when it is usable.

    With `partial` (a file that failed field validation), only the checks whose inputs validated run."""
    return _Checker(scenario, partial).run()
