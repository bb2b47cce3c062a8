"""One policy along one price path: the household stepped through time, tax year by tax year.

At each step date (k = 0 is the scenario's as_of):

1. a new calendar year closes the last tax year — its tax computed exactly by the tax engine
   (`evaluate_tax`), the loss carryforward rolled by `roll_tax_year` — and the tax it caused is owed;
2. prices move to the path's prices (the market gain is booked), distributions are paid (taxable ones
   taxed in their year: the qualified part as qualified dividends, the rest as ordinary income and
   investment income for the NIIT) and reinvested, kept as cash or paid out;
3. scheduled cash flows arrive as the accounts' `contribution` (a withdrawal from a tax-deferred
   account is ordinary income), and so does last year's tax (a withdrawal from the paying account, or a
   refund) when taxes are paid from the portfolio;
4. the household is dated to the step (`apply_executions` with no fills: holding periods and wash-sale
   windows count from it), the policy decides, and its fills are applied with `apply_executions` (lots
   shrink, purchases become dated lots, realized gains, recent trades for the wash-sale windows).

The tax a year "caused" is its exact tax minus the tax of the same year without the simulated
investment results (the household's own income and, in the first year, the scenario's own figures), so
that wages are not counted. A ledger books every dollar, so that (each path)

    start value + contributions + distributions + market gain
        = withdrawals + distributions paid out + taxes paid from the portfolio + trading costs + end value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from rebal_opt.models.market import security_figures
from rebal_opt.models.scenario import AccountType, PlannedPurchase, Scenario
from rebal_opt.solver.check import tracking_error
from rebal_opt.solver.execution import Execution, ExecutionError, apply_executions, roll_tax_year
from rebal_opt.solver.household import account_values, allocation_before, starting_shares
from rebal_opt.solver.lots import holding_term
from rebal_opt.solver.tax.evaluate import TaxSituation, evaluate_tax
from rebal_opt.solver.taxes import situation_from_scenario
from rebal_opt.solver.wash import WINDOW_DAYS

from .calendar import MONTHS, fires
from .policies import Decision, Policy
from .prices import PricePath

DEFERRED_RATE_STEP = 10_000.0
"""Dollars of extra ordinary income over which the marginal rate on a tax-deferred balance is measured."""

FAILURE_SCENARIOS_KEPT = 1
"""How many failed steps per path keep the household they failed on (to reproduce the failure)."""


@dataclass
class Ledger:
    """Every dollar in and out of the household's accounts along a path."""

    start_value: float = 0.0
    contributions: float = 0.0
    withdrawals: float = 0.0
    unfunded_withdrawals: float = 0.0
    distributions: float = 0.0
    paid_out: float = 0.0
    market_gain: float = 0.0
    costs: float = 0.0
    taxes_paid: float = 0.0
    end_value: float = 0.0

    def imbalance(self) -> float:
        money_in = self.start_value + self.contributions + self.distributions + self.market_gain
        money_out = self.withdrawals + self.paid_out + self.taxes_paid + self.costs + self.end_value
        return money_in - money_out


@dataclass
class Counters:
    trades: int = 0
    rebalances: int = 0
    harvests: int = 0
    cash_flow_steps: int = 0
    failed_steps: int = 0
    traded: float = 0.0
    realized_short: float = 0.0
    realized_long: float = 0.0
    harvested_losses: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TaxYears:
    """The tax bookkeeping: this year's extra income, the reference chain without the simulation, and
    what is owed."""

    base_ordinary: float
    base_other: float
    reference: TaxSituation
    extra_ordinary: float = 0.0
    extra_investment: float = 0.0
    qualified: float = 0.0
    owed: float = 0.0
    caused: float = 0.0  # tax caused by the simulation in closed years
    by_year: dict[int, float] = field(default_factory=dict)


class PathRun:
    """Runs one policy on one price path and returns its per-path result (plain JSON data)."""

    def __init__(self, scenario: Scenario, policy: Policy, path: PricePath, dates: list[dt.date]) -> None:
        sim = scenario.simulate
        assert sim is not None
        self.sim = sim
        self.policy = policy
        self.path = path
        self.dates = dates
        self.figures = security_figures(scenario, sim.prices)
        bands = policy.spec.bands if policy.spec.bands is not None else scenario.bands
        self.state = scenario.model_copy(
            update={"simulate": None, "whatif": {}, "yearend": None, "unwind": None, "bands": bands}
        )
        self.ledger = Ledger(start_value=self._value())
        self.counters = Counters()
        first = situation_from_scenario(self.state)
        self.tax = TaxYears(scenario.tax.ordinary_income, scenario.tax.other_investment_income, first)
        self.first_tax = scenario.tax
        self.first_tax_year = scenario.tax_year
        self.today = scenario.as_of
        self._flows: dict[str, float] = {}
        self._tax_payment = 0.0
        self.series_value: list[float] = []
        self.series_after_tax: list[float] = []
        self.series_net: list[float] = []
        self.series_drift: list[float] = []
        self.series_tracking: list[float] = []
        self.payer = self._tax_payer()

    # the run -----------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        n = len(self.dates) - 1
        for k, date in enumerate(self.dates):
            self.today = date
            if k > 0:
                while date.year > self.state.tax_year:
                    self._close_year()
                self._move_prices(k)
                self._pay_distributions(k, date)
                if self.state.as_of < date:
                    # The plan is made today: holding periods and wash-sale windows count from this date.
                    self.state = apply_executions(self.state, [], as_of=date, settle_contributions=False).scenario
            if k == n:
                self._record()
                break
            self._schedule_cash_flows(k, date)
            decision = self.policy.decide(self._with_planned_purchases(k, date), k, date)
            self._execute(decision, date)
            self._record()
        self.ledger.end_value = self._value()
        return self._result()

    # steps ----------------------------------------------------------------------------------------------

    def _close_year(self) -> None:
        year = self.state.tax_year
        actual = evaluate_tax(situation_from_scenario(self.state))
        reference = evaluate_tax(self.tax.reference)
        caused = actual.total_tax - reference.total_tax
        self.tax.by_year[year] = round(caused, 2)
        self.tax.caused += caused
        self.tax.owed += caused
        self.tax.reference = replace(
            self.tax.reference,
            year=year + 1,
            ordinary_income=self.tax.base_ordinary,
            other_investment_income=self.tax.base_other,
            qualified_dividends=0.0,
            short_term=0.0,
            long_term=0.0,
            carryforward_short=reference.carryforward_short_next,
            carryforward_long=reference.carryforward_long_next,
        )
        rolled = roll_tax_year(self.state, year + 1, ordinary_income=self.tax.base_ordinary)
        tax = rolled.tax.model_copy(
            update={"qualified_dividends": 0.0, "other_investment_income": self.tax.base_other}
        )
        self.state = rolled.model_copy(update={"tax": tax})
        self.tax.extra_ordinary = self.tax.extra_investment = self.tax.qualified = 0.0

    def _move_prices(self, k: int) -> None:
        new = self.path.price(k)
        gain = 0.0
        for (_, ticker), n in starting_shares(self.state).items():
            gain += n * (new[ticker] - self.state.securities[ticker].price)
        self.ledger.market_gain += gain
        securities = {t: s.model_copy(update={"price": new[t]}) for t, s in self.state.securities.items()}
        self.state = self.state.model_copy(update={"securities": securities})

    def _pay_distributions(self, k: int, date: dt.date) -> None:
        per_share = self.path.distribution(k)
        if not per_share:
            return
        cash = {a.id: a.cash for a in self.state.accounts}
        reinvest: list[Execution] = []
        for (account_id, ticker), n in starting_shares(self.state).items():
            amount = round(n * per_share.get(ticker, 0.0), 2)
            if amount <= 0:
                continue
            account = self.state.account(account_id)
            self.ledger.distributions += amount
            if account.type == AccountType.TAXABLE:
                q = self.figures[ticker].qualified_fraction
                self.tax.qualified += amount * q
                self.tax.extra_ordinary += amount * (1 - q)
                self.tax.extra_investment += amount * (1 - q)
            if self.sim.dividends == "pay_out":
                self.ledger.paid_out += amount
                continue
            cash[account_id] += amount
            price = self.state.securities[ticker].price
            if self.sim.dividends == "reinvest" and account.tradable:
                shares = math.floor(amount / price * 1e6) / 1e6
                if shares > 0:
                    reinvest.append(Execution(account_id, ticker, "buy", shares, price, date))
        self._set_accounts(cash=cash)
        self._update_tax_section()
        if reinvest:
            outcome = apply_executions(self.state, reinvest, as_of=date, settle_contributions=False)
            self.state = outcome.scenario

    def _schedule_cash_flows(self, k: int, date: dt.date) -> None:
        if k == 0:
            flows = {a.id: a.contribution for a in self.state.accounts}  # the scenario's own, arriving now
        else:
            flows = dict.fromkeys((a.id for a in self.state.accounts), 0.0)
            for flow in self.sim.cash_flows:
                if (flow.start is not None and date < flow.start) or (flow.end is not None and date > flow.end):
                    continue
                per_step = max(1, MONTHS[self.sim.step] // MONTHS[flow.every])
                if fires(k, self.sim.step, flow.every):
                    flows[flow.account] += flow.amount * per_step
        for account_id, amount in flows.items():
            if amount < 0:
                capped = max(amount, -self._fundable(account_id))
                self.ledger.unfunded_withdrawals += capped - amount
                flows[account_id] = capped
        self._flows = dict(flows)
        if k > 0 and self.sim.taxes == "portfolio" and abs(self.tax.owed) >= 0.01 and self.payer is not None:
            pay = min(self.tax.owed, self._fundable(self.payer) + flows[self.payer])
            flows[self.payer] -= pay
            self._tax_payment = pay
        else:
            self._tax_payment = 0.0
        self._set_accounts(contribution=flows)

    def _with_planned_purchases(self, k: int, date: dt.date) -> Scenario:
        """The household with the next reinvested distributions as planned purchases (wash-sale look-ahead)."""
        if self.sim.dividends != "reinvest" or k + 1 >= len(self.dates):
            return self.state
        following = self.dates[k + 1]
        if (following - date).days > WINDOW_DAYS or not self.path.distribution(k + 1):
            return self.state
        planned = list(self.state.planned_purchases)
        for (account_id, ticker), n in starting_shares(self.state).items():
            amount = round(n * self.path.distribution(k + 1).get(ticker, 0.0), 2)
            if amount > 0 and self.state.account(account_id).tradable:
                planned.append(PlannedPurchase(date=following, account=account_id, security=ticker, amount=amount))
        self.state = self.state.model_copy(update={"planned_purchases": planned})
        return self.state

    def _execute(self, decision: Decision, date: dt.date) -> None:
        counters = self.counters
        if decision.error is not None:
            self._fail(decision, date)
            decision = Decision(decision.kind, self._fallback(date))
        try:
            outcome = apply_executions(self.state, decision.executions, as_of=date)
        except ExecutionError as exc:
            failed = Decision(decision.kind, decision.executions, f"ExecutionError: {exc}", call="apply_executions")
            if self.policy.spec.how == "optimizer" and self.policy.spec.when != "never":
                request = self.policy.request(decision.kind, self.state)
                failed.failed_input, failed.call = request.scenario, f"{request.describe()}, then apply_executions"
            self._fail(failed, date)
            decision = Decision(decision.kind, self._fallback(date))
            outcome = apply_executions(self.state, decision.executions, as_of=date)
        for account_id, amount in self._flows.items():
            if amount > 0:
                self.ledger.contributions += amount
            elif amount < 0:
                self.ledger.withdrawals -= amount
                if self.state.account(account_id).type == AccountType.TAX_DEFERRED:
                    self.tax.extra_ordinary -= amount  # a traditional IRA / 401(k) withdrawal is ordinary income
        self.ledger.taxes_paid += self._tax_payment
        self.tax.owed -= self._tax_payment
        self.state = outcome.scenario
        self._update_tax_section()
        fills = decision.executions
        counters.trades += len(fills)
        counters.traded += sum(f.shares * f.price for f in fills)
        self.ledger.costs += sum(f.commission for f in fills)
        counters.realized_short += outcome.realized_short
        counters.realized_long += outcome.realized_long
        if fills:
            if decision.kind == "rebalance":
                counters.rebalances += 1
            elif decision.kind == "harvest":
                counters.harvests += 1
            elif decision.kind == "cash_flow":
                counters.cash_flow_steps += 1
        self.counters.harvested_losses += sum(
            min(0.0, float(t.realized_gain or 0.0))
            for t in self.state.recent_trades
            if decision.kind == "harvest" and t.date == date and t.action == "sell"
        )

    def _fallback(self, date: dt.date) -> list[Execution]:
        """After a failed plan: fund what must be funded the naive way, trade nothing else."""
        from .naive import naive_plan

        try:
            orders = naive_plan(self.state, date, "cash_flow")
            apply_executions(self.state, orders, as_of=date)
            return orders
        except ExecutionError:
            # Not even that: the withdrawals are left unfunded and the tax stays owed.
            for amount in self._flows.values():
                self.ledger.unfunded_withdrawals += max(0.0, -amount)
            self._flows = {a: max(0.0, x) for a, x in self._flows.items()}
            self._tax_payment = 0.0
            self._set_accounts(contribution=self._flows)
            return []

    def _fail(self, decision: Decision, date: dt.date) -> None:
        self.counters.failed_steps += 1
        record: dict[str, Any] = {"date": date.isoformat(), "kind": decision.kind, "error": decision.error}
        if len(self.counters.failures) < FAILURE_SCENARIOS_KEPT:
            # The engine's exact input when a plan failed, else the household whose fills could not be applied.
            failed = decision.failed_input if decision.failed_input is not None else self.state
            record["scenario"] = failed.model_dump(mode="json", exclude_none=True)
            record["call"] = decision.call or "apply_executions"
        self.counters.failures.append(record)

    def _record(self) -> None:
        weights = allocation_before(self.state)
        drift = max(abs(w.drift) for w in weights.values())
        te, _ = tracking_error(self.state, weights)
        self.series_value.append(round(self._value(), 2))
        self.series_after_tax.append(round(self._after_tax_value(), 2))
        self.series_net.append(round(self._value() - self._owed(), 2))
        self.series_drift.append(drift)
        self.series_tracking.append(te)

    # money ----------------------------------------------------------------------------------------------

    def _value(self) -> float:
        """Cash and positions of every account (money arriving now but not yet settled is not counted)."""
        settled = sum(a.contribution for a in self.state.accounts if a.contribution > 0)
        return sum(account_values(self.state).values()) - settled

    def _fundable(self, account_id: str) -> float:
        """Cash and sellable positions of a tradable account, less its floor (what a withdrawal can take)."""
        account = self.state.account(account_id)
        if not account.tradable:
            return 0.0
        value = account.cash
        for lot in account.lots:
            if lot.id not in self.state.rules.do_not_sell and lot.security not in self.state.rules.do_not_sell:
                value += lot.shares * self.state.securities[lot.security].price * 0.98
        for ticker, n in account.holdings.items():
            if ticker not in self.state.rules.do_not_sell:
                value += n * self.state.securities[ticker].price * 0.98
        return max(0.0, value - account.min_cash)

    def _tax_payer(self) -> str | None:
        taxable = [a for a in self.state.accounts if a.tradable and a.type == AccountType.TAXABLE]
        pool = taxable or [a for a in self.state.accounts if a.tradable]
        if not pool:
            return None
        values = account_values(self.state)
        return max(pool, key=lambda a: values[a.id]).id

    def _set_accounts(self, cash: dict[str, float] | None = None, contribution: dict[str, float] | None = None) -> None:
        accounts = []
        for a in self.state.accounts:
            update: dict[str, float] = {}
            if cash is not None:
                update["cash"] = round(cash[a.id], 2)
            if contribution is not None:
                update["contribution"] = round(contribution[a.id], 2)
            accounts.append(a.model_copy(update=update))
        self.state = self.state.model_copy(update={"accounts": accounts})

    def _update_tax_section(self) -> None:
        first_year = self.state.tax_year == self.first_tax_year
        ordinary = (self.first_tax.ordinary_income if first_year else self.tax.base_ordinary) + self.tax.extra_ordinary
        other = (self.first_tax.other_investment_income if first_year else self.tax.base_other)
        qualified = (self.first_tax.qualified_dividends if first_year else 0.0) + self.tax.qualified
        tax = self.state.tax.model_copy(
            update={
                "ordinary_income": round(ordinary, 2),
                "other_investment_income": round(other + self.tax.extra_investment, 2),
                "qualified_dividends": round(qualified, 2),
            }
        )
        self.state = self.state.model_copy(update={"tax": tax})

    def _accrued(self) -> float:
        """The tax caused so far this (open) year."""
        return evaluate_tax(situation_from_scenario(self.state)).total_tax - evaluate_tax(self.tax.reference).total_tax

    def _liquidation(self) -> tuple[float, float]:
        """(capital-gains tax of selling every taxable lot now, tax on the tax-deferred balances)."""
        date = self.today
        short = long = 0.0
        deferred = 0.0
        values = account_values(self.state)
        for account in self.state.accounts:
            if account.type == AccountType.TAX_DEFERRED:
                deferred += values[account.id]
            if account.type != AccountType.TAXABLE:
                continue
            for lot in account.lots:
                gain = lot.shares * self.state.securities[lot.security].price - lot.cost_basis
                if holding_term(lot.acquired, date, lot.inherited) == "short":
                    short += gain
                else:
                    long += gain
        situation = situation_from_scenario(self.state)
        base = evaluate_tax(situation).total_tax
        capital = evaluate_tax(situation.with_gains(short, long)).total_tax - base
        rate = self.sim.deferred_tax_rate
        if rate is None:
            more = replace(situation, ordinary_income=situation.ordinary_income + DEFERRED_RATE_STEP)
            rate = (evaluate_tax(more).total_tax - base) / DEFERRED_RATE_STEP
        return capital, rate * deferred

    def _owed(self) -> float:
        """Taxes caused and not yet paid from the portfolio (0 when taxes are paid from outside)."""
        return self.tax.owed + self._accrued() if self.sim.taxes == "portfolio" else 0.0

    def _after_tax_value(self) -> float:
        capital, deferred = self._liquidation()
        return self._value() - self._owed() - capital - deferred

    # the result -----------------------------------------------------------------------------------------

    def _result(self) -> dict[str, Any]:
        years = (len(self.dates) - 1) * MONTHS[self.sim.step] / 12
        capital, deferred = self._liquidation()
        accrued = self._accrued()
        caused = self.tax.caused + accrued
        c = self.counters
        mean_value = float(np.mean(self.series_value)) if self.series_value else self.ledger.start_value
        metrics = {
            "after_tax_value": round(self._after_tax_value(), 2),
            "value": round(self.ledger.end_value, 2),
            "taxes_paid": round(caused, 2),
            "liquidation_tax": round(capital + deferred, 2),
            "turnover": (c.traded / 2 / mean_value / years) if mean_value > 0 else 0.0,
            "trades_per_year": c.trades / years,
            "rebalances_per_year": c.rebalances / years,
            "harvests_per_year": c.harvests / years,
            "solves_per_year": self.policy.solves / years,
            "drift_mean": float(np.mean(self.series_drift)),
            "drift_worst": float(np.max(self.series_drift)),
            "tracking_error_mean": float(np.mean(self.series_tracking)),
            "tracking_error_worst": float(np.max(self.series_tracking)),
            "realized_gains": round(c.realized_short + c.realized_long, 2),
            "harvested_losses": round(-c.harvested_losses, 2),
            "costs": round(self.ledger.costs, 2),
            "failed_steps": c.failed_steps,
        }
        ledger = {k: round(v, 2) for k, v in asdict(self.ledger).items()}
        ledger["tax_owed_at_end"] = round(self.tax.owed + accrued, 2) if self.sim.taxes == "portfolio" else 0.0
        return {
            "policy": self.policy.spec.name,
            "metrics": metrics,
            "ledger": ledger,
            "tax_by_year": {str(y): v for y, v in self.tax.by_year.items()},
            "series": {
                "value": self.series_value,
                "after_tax_value": self.series_after_tax,
                "net_value": self.series_net,
                "drift": self.series_drift,
                "tracking_error": self.series_tracking,
            },
            "failures": c.failures,
        }
