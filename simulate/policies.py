"""Rebalancing policies: when a policy acts (never, calendar, threshold, hybrid) and how it trades (the
rebal-opt optimizer, or the naive rebalancer), with optional loss harvesting between rebalances.

At each step a policy makes at most one decision:

* **rebalance** when its trigger fires: calendar — every `every`; threshold — a class outside its band;
  hybrid — on the calendar, and only when a class is outside its band. The optimizer plans it with
  `solve` (a calendar rebalance plans even inside the bands, without the contributions-first phase, so
  it trades toward target wherever the tracking error it removes is worth the tax); the naive rebalancer
  sells to target.
* otherwise **cash_flow** when money arrives or a withdrawal needs funding: new cash is invested and
  withdrawals funded, and nothing else sold (the optimizer plans it with bands opened to 100%).
* otherwise **harvest** (optimizer, `harvest: true`) when a taxable lot is `harvest_threshold` under its
  basis and not blocked by a wash-sale window: the year-end planner (`purpose="yearend"`, loss harvesting
  only, gains not harvested) sells it and buys a substitute when that is worth it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rebal_opt.models.scenario import Bands, Scenario, SimulationPolicy, YearEnd
from rebal_opt.solver.execution import Execution, executions_from_plan
from rebal_opt.solver.household import allocation_before
from rebal_opt.solver.wash import wash_windows

from .calendar import fires
from .naive import naive_plan

SOLVE_TIME_LIMIT = 60.0
"""Seconds one plan may take inside a simulation (the CLI's default for one solve)."""

OPEN_BANDS = Bands(absolute=1.0, relative=None)


@dataclass
class Decision:
    kind: str  # rebalance | cash_flow | harvest | none
    executions: list[Execution] = field(default_factory=list)
    error: str | None = None
    # When a plan failed: the exact scenario given to the engine and how it was called (to reproduce it).
    failed_input: Scenario | None = None
    call: str | None = None


@dataclass(frozen=True)
class PlanRequest:
    """One call of the engine: the scenario as the policy sees it, the purpose, and whether to plan in band."""

    scenario: Scenario
    purpose: str = "rebalance"
    even_in_band: bool = False

    def describe(self) -> str:
        if self.purpose == "yearend":
            return "rebal-opt yearend (solve purpose='yearend')"
        return "solve(even_in_band=True)" if self.even_in_band else "rebal-opt solve"


def out_of_band(state: Scenario) -> bool:
    return any(not w.in_band for w in allocation_before(state).values())


def needs_funding(state: Scenario) -> bool:
    return any(a.contribution < 0 and a.cash + a.contribution < a.min_cash for a in state.accounts if a.tradable)


def new_cash(state: Scenario) -> bool:
    return any(a.contribution > 0 for a in state.accounts if a.tradable)


def harvest_candidates(state: Scenario, threshold: float) -> frozenset[str]:
    """Taxable lots at least `threshold` under their basis that may be sold at a loss today."""
    windows = wash_windows(state)
    out: set[str] = set()
    for account in state.accounts:
        if account.tax_advantaged or not account.tradable:
            continue
        for lot in account.lots:
            price = state.securities[lot.security].price
            if price > lot.basis_per_share * (1 - threshold):
                continue
            if lot.id in state.rules.do_not_sell or lot.security in state.rules.do_not_sell:
                continue
            block = windows.sale_blocks.get(state.wash_group(lot.security))
            if block is not None and block.blocks_lot(account.id, lot.security, lot.id, lot.acquired):
                continue
            out.add(str(lot.id))
    return frozenset(out)


class Policy:
    """One policy's decisions along a path (it remembers harvest checks that found nothing)."""

    def __init__(self, spec: SimulationPolicy, step: str, time_limit: float = SOLVE_TIME_LIMIT) -> None:
        self.spec = spec
        self.step = step
        self.time_limit = time_limit
        self._futile_harvest: frozenset[str] = frozenset()
        self.solves = 0  # optimizer plans asked for along the path

    def triggered(self, state: Scenario, k: int) -> bool:
        when = self.spec.when
        if when == "never":
            return False
        if when == "threshold":
            return out_of_band(state)
        assert self.spec.every is not None
        on_calendar = fires(k, self.step, self.spec.every)
        return on_calendar if when == "calendar" else on_calendar and out_of_band(state)

    def decide(self, state: Scenario, k: int, date: dt.date) -> Decision:
        if self.triggered(state, k):
            return self._plan("rebalance", state, date)
        if needs_funding(state) or (new_cash(state) and self.spec.when != "never"):
            return self._plan("cash_flow", state, date)
        if self.spec.harvest:
            candidates = harvest_candidates(state, self.spec.harvest_threshold)
            if candidates and candidates != self._futile_harvest:
                decision = self._plan("harvest", state, date)
                self._futile_harvest = candidates if not decision.executions else frozenset()
                return decision
        return Decision("none")

    def _plan(self, kind: str, state: Scenario, date: dt.date) -> Decision:
        if self.spec.how == "naive" or self.spec.when == "never":
            # `never` only funds withdrawals, the naive way (it has no rebalancing to do).
            return Decision(kind, naive_plan(state, date, "rebalance" if kind == "rebalance" else "cash_flow"))
        from rebal_opt.solver.engine import solve

        self.solves += 1
        request = self.request(kind, state)
        try:
            result = solve(
                request.scenario,
                time_limit=self.time_limit,
                purpose=request.purpose,
                even_in_band=request.even_in_band,
            )
        except Exception as exc:  # recorded as a failed step; the simulation goes on
            error = f"{type(exc).__name__}: {exc}"
            return Decision(kind, [], error=error, failed_input=request.scenario, call=request.describe())
        return Decision(kind, executions_from_plan(result.trades, date))

    def request(self, kind: str, state: Scenario) -> PlanRequest:
        """What the optimizer is asked for a rebalance, a cash-flow step or a harvest check."""
        if kind == "rebalance":
            calendar = self.spec.when == "calendar"
            if calendar:
                rules = state.rules.model_copy(update={"contributions_first": False})
                state = state.model_copy(update={"rules": rules})
            return PlanRequest(state, even_in_band=calendar)
        if kind == "cash_flow":
            return PlanRequest(state.model_copy(update={"bands": OPEN_BANDS}))
        harvest_only = YearEnd(harvest_losses=True, harvest_gains=False)
        return PlanRequest(state.model_copy(update={"yearend": harvest_only}), purpose="yearend")
