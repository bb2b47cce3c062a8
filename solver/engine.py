"""The rebalance: choose the blocks a scenario switches on, solve in phases, verify, return a Result.

Phases (design §1):
1. nothing to do (every class in band, no new cash, no withdrawal): `no_trade_needed`.
2. contributions first: the plan with no sales; if it meets every band, that is the answer.
3. the plan with sales, all new cash spent (`CashSpent`).
4. bands that cannot all be met: least total violation first, then the best plan at that violation.
5. still infeasible: a deletion filter over the rules names the ones in conflict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cvxpy as cp

from rebal_opt.models.result import Result, SolverInfo, SolverStep
from rebal_opt.models.scenario import Scenario

from . import blocks, objective, progress
from .check import check
from .data import SCALE, RebalanceData, build_data
from .highs import ABSOLUTE_GAP, DEFAULT_MIP_GAP, SolveOutcome, run_highs
from .model import Block, BuildOptions, RebalanceModel
from .plan import build_result, extract_trades
from .verify import PlanVerificationError, verify
from .warmstart import past_deadline

VIOLATION_RELATIVE_TOLERANCE = 1e-3
VIOLATION_ABSOLUTE_TOLERANCE = 1e-3  # k$, one dollar


class InfeasiblePlan(Exception):
    """No plan satisfies the scenario's rules; `conflicts` names the ones that clash."""

    def __init__(self, conflicts: list[str], detail: str) -> None:
        super().__init__(detail)
        self.conflicts = conflicts
        self.detail = detail


FALLBACK_TIME_SHARE = 0.5
"""Share of the time left a phase with every band hard may spend without finding a plan before the soft
bands (which always have one) get the rest."""


class SolverFailure(Exception):
    """The solver failed or ran out of time without any plan (`time_limit`: it ran out of time)."""

    def __init__(self, message: str, time_limit: bool = False) -> None:
        super().__init__(message)
        self.time_limit = time_limit


def choose_blocks(data: RebalanceData, options: BuildOptions) -> list[Block]:
    """The constraint blocks and objective terms this scenario and phase switch on, in build order.

    `purpose="unwind"` is one period of a multi-period plan (solver/unwind.py): no bands (a concentrated
    household is outside them until the end state, which the planner imposes), no realized-gain cap and
    no tax term (the planner taxes each year over its periods).
    """
    rules = data.scenario.rules
    period_of_plan = options.purpose == "unwind"
    yearend = data.scenario.yearend if options.purpose == "yearend" else None
    chosen: list[Block] = []
    # Trade binaries for minimum trades, commissions, a trade count — and to forbid round trips where the
    # objective could gain from one: without wash-sale rules (sell a loss lot, buy it back) and when
    # minimizing band violation (burn cash on spread), where netting the plan afterwards loses optimality.
    needs_indicators = rules.min_trade > 0 or rules.max_trades is not None or rules.costs.commission > 0
    if needs_indicators or rules.wash_sales == "ignore" or options.soft_bands:
        chosen.append(blocks.TradeIndicators())
        if rules.min_trade > 0:
            chosen.append(blocks.MinimumTrade())
        if rules.max_trades is not None:
            chosen.append(blocks.MaximumTrades())
    if rules.whole_shares:
        chosen.append(blocks.WholeShares())
    chosen.append(blocks.CashFloors())
    if not period_of_plan:
        chosen.append(blocks.Bands())
    if rules.wash_sales == "avoid":
        chosen.append(blocks.WashSales())
    if rules.max_realized_gain is not None and not period_of_plan:
        chosen.append(blocks.RealizedGainCap())
    if options.cash_spent:
        chosen.append(blocks.CashSpent())
    if options.idle_cash_cap is not None:
        chosen.append(blocks.IdleCashCap())
    if options.harvest_only and len(data.buy_slots):
        chosen.append(blocks.HarvestOnly())
    if yearend is not None:
        if not yearend.harvest_losses:
            chosen.append(blocks.NoLossHarvest())
        if yearend.target_net_realized is not None:
            chosen.append(blocks.TargetNetRealized())
    # rules.location prices holding (where, and in which security) in the rebalance; not in the year-end
    # planner nor in an unwind's periods, which have their own objectives.
    location = rules.location == "on" and options.purpose == "rebalance"
    quadratic = data.scenario.objective.tracking == "quadratic"
    tracking = objective.QuadraticTracking() if quadratic else objective.AbsoluteTracking()
    # Tighter wash-sale relaxation through the tracking cone's specific-risk leaves (direct indexing).
    perspective = [blocks.WashSalePerspective()] if quadratic and rules.wash_sales == "avoid" else []
    if options.objective in ("band_violation", "idle_cash"):
        least = objective.BandViolationTerm() if options.objective == "band_violation" else objective.IdleCashTerm()
        chosen.append(least)
        chosen.append(objective.TurnoverTieBreak())
        if rules.max_tracking_error is not None and not period_of_plan:
            # the budget is a rule: it holds while the violation is minimized too
            chosen += [tracking, *perspective]
        return chosen
    chosen.append(tracking)
    if not period_of_plan:
        chosen += perspective
    if yearend is not None:
        chosen.append(objective.YearEndTax())
    elif not period_of_plan and (data.scenario.objective.tax_weight > 0 or options.tax_weight_parameter):
        chosen.append(objective.CapitalGainsTax())
    if location:
        chosen += [objective.HoldingCost(), objective.DuplicatePurchases()]
        if not options.allow_sells and rules.wash_sales == "avoid":
            chosen.append(objective.ForgoneHarvest())
    chosen.append(objective.TradingCosts())
    chosen.append(objective.TurnoverTieBreak())
    return chosen


@dataclass
class BuiltProblem:
    model: RebalanceModel
    problem: cp.Problem
    build_seconds: float
    unpolished: bool = False  # a least-violation plan kept because time ran out before the plan phase


def build_problem(data: RebalanceData, options: BuildOptions) -> BuiltProblem:
    start = time.perf_counter()
    model = RebalanceModel.create(data, options)
    for block in choose_blocks(data, options):
        block.add(model)
    terms = list(model.objective_terms.values())
    problem = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) if terms else 0), model.constraints)
    return BuiltProblem(model, problem, time.perf_counter() - start)


@dataclass
class SolveLog:
    """Time and solves spent on one scenario, across phases."""

    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    solves: int = 0
    last: SolveOutcome | None = None
    model_seconds: float = 0.0  # our model (blocks, objective terms): part of build_seconds
    compile_seconds: float = 0.0  # cvxpy's compilation: the rest of it
    steps: dict[str, tuple[float, list[str]]] = field(default_factory=dict)  # solver step → seconds, details

    def run(
        self,
        data: RebalanceData,
        options: BuildOptions,
        time_limit: float | None,
        mip_gap: float,
        abs_gap: float = ABSOLUTE_GAP,
        give_up: float | None = None,
    ) -> tuple[BuiltProblem, SolveOutcome]:
        built = build_problem(data, options)
        outcome = run_highs(
            built.problem,
            time_limit,
            mip_gap,
            switches=built.model.switches(built.problem),
            cones=built.model.cones,
            exclusive=built.model.exclusive,
            abs_gap=abs_gap,
            give_up=give_up,
        )
        # cvxpy's compilation happens inside problem.solve: count it as building, not solving.
        self.build_seconds += built.build_seconds + max(0.0, outcome.seconds - outcome.solver_seconds)
        self.solve_seconds += outcome.solver_seconds
        self.model_seconds += built.build_seconds
        self.compile_seconds += outcome.compile_seconds
        for step in outcome.steps:
            seconds, details = self.steps.get(step.name, (0.0, []))
            self.steps[step.name] = (seconds + step.seconds, [*details, step.detail] if step.detail else details)
        self.solves += 1
        self.last = outcome
        return built, outcome

    def time_spent(self, total: float) -> list[SolverStep]:
        """Where `total` seconds went: building the model, cvxpy's compile, each solver step (summed over the
        phases' solves, their details joined), and the rest (the data, the phases' set-up, the plan's
        extraction)."""
        steps = [
            SolverStep(step="build", seconds=round(self.model_seconds, 3)),
            SolverStep(step="compile", seconds=round(self.compile_seconds, 3)),
        ]
        for name, (seconds, details) in self.steps.items():
            steps.append(SolverStep(step=name, seconds=round(seconds, 3), detail="; ".join(details) or None))
        accounted = self.model_seconds + self.compile_seconds + sum(s for s, _ in self.steps.values())
        steps.append(SolverStep(step="other", seconds=round(max(0.0, total - accounted), 3)))
        return steps


def _phase_name(options: BuildOptions) -> str:
    """What a phase solves, in the user's words (progress on the terminal)."""
    if options.harvest_only and options.relocate:
        return "moving assets to where they are taxed less, harvesting losses (every class in band)"
    if options.harvest_only:
        return "harvesting losses (every class in band)"
    if options.objective == "band_violation":
        return "least band violation"
    if not options.allow_sells:
        return "contributions first (buying only)"
    if options.soft_bands:
        return "best plan at the least band violation"
    return "plan with sales"


def _deadline_left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.05, deadline - time.perf_counter())


@dataclass
class PhaseOutcome:
    """The phase that produced the plan: its problem (options included), the solve, and what it cost."""

    data: RebalanceData
    built: BuiltProblem
    outcome: SolveOutcome
    log: SolveLog
    notes: list[str]
    harvest: bool = False  # every class was in band: the plan only harvests losses (rules.harvest_in_band)


def run_phases(
    scenario: Scenario,
    time_limit: float | None = None,
    mip_gap: float = DEFAULT_MIP_GAP,
    purpose: str = "rebalance",
    even_in_band: bool = False,
    parametric: bool = False,
    abs_gap: float = ABSOLUTE_GAP,
) -> PhaseOutcome | None:
    """Phases 2–5 of the module docstring; None when there is nothing to do (phase 1), unless
    `even_in_band` (the frontier asks what trading would buy even when no rebalance is due).
    `parametric`: every problem has the tax weight as a cvxpy Parameter, so that the chosen phase's
    problem can be solved again at other weights (the frontier)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    data = build_data(scenario)
    flows = any(a.contribution != 0 and a.tradable for a in scenario.accounts)
    # A negative gain cap asks the plan to realize a loss: work to do even inside the bands.
    demands = scenario.rules.max_realized_gain is not None and scenario.rules.max_realized_gain < 0
    harvest = False
    relocate = scenario.rules.location == "on"
    if purpose == "rebalance" and not even_in_band and not check(scenario).rebalance_due and not flows and not demands:
        # In band: harvest losses (rules.harvest_in_band) and, with rules.location, move assets to where they
        # are taxed less when that is worth the tax and costs; otherwise there is nothing to do.
        if not (relocate or (scenario.rules.harvest_in_band and data.harvestable.any())):
            return None
        harvest = True
    log = SolveLog()
    notes: list[str] = []

    def attempt(options: BuildOptions, fallback: bool = False) -> tuple[BuiltProblem, SolveOutcome]:
        """One phase's solve. `fallback`: the soft bands remain if this finds no plan, so it gives up at
        half the time left without one (the outcome is then "failed", not raised)."""
        progress.phase(_phase_name(options))
        # Without sales the model is built from arrays with no lots at all: it compiles in a fraction.
        arrays = data if options.allow_sells else data.without_sales()
        options = replace(options, tax_weight_parameter=parametric)
        left = _deadline_left(deadline)
        give_up = None if left is None or not fallback else FALLBACK_TIME_SHARE * left
        built, outcome = log.run(arrays, options, left, mip_gap, abs_gap, give_up)
        if outcome.status == "failed" and not (fallback and "time limit" in outcome.message):
            raise SolverFailure(f"HiGHS failed: {outcome.message}", time_limit=past_deadline(deadline))
        return built, outcome

    if harvest:
        built, outcome = attempt(BuildOptions(harvest_only=True, relocate=relocate))
        if outcome.has_plan:
            return PhaseOutcome(data, built, outcome, log, notes, harvest=True)
    result = _hard_bands(scenario, attempt, notes, purpose)
    if result is None:
        result = _soft_bands(scenario, attempt, notes, purpose)
    built, outcome = result
    return PhaseOutcome(data, built, outcome, log, notes)


def solve(
    scenario: Scenario,
    time_limit: float | None = None,
    mip_gap: float = DEFAULT_MIP_GAP,
    purpose: str = "rebalance",
    even_in_band: bool = False,
    abs_gap_dollars: float = ABSOLUTE_GAP * SCALE,
) -> Result:
    """Solve the household rebalance; every returned plan has passed the independent verifier.

    `purpose="yearend"` plans the year's last trades instead (solver/yearend.py wraps it): the tax term
    covers this year and next, gains may be harvested (sold and bought back), and sales are not held back
    by the contributions-first phase (new cash is still spent first).
    `even_in_band`: plan even when every class is inside its band (a calendar rebalance in the simulator).
    Raises InfeasiblePlan (naming the conflicting rules) or SolverFailure.
    """
    start = time.perf_counter()
    try:
        phases = run_phases(
            scenario, time_limit, mip_gap, purpose, even_in_band=even_in_band, abs_gap=abs_gap_dollars / SCALE
        )
    except SolverFailure as exc:
        fallback = _trade_nothing(scenario, exc, time.perf_counter() - start, purpose)
        if fallback is None:
            raise
        return fallback
    if phases is None:
        info = SolverInfo(status="not_run", seconds=round(time.perf_counter() - start, 3), mip_gap=0.0, solves=0)
        why = "no loss lot to harvest" if scenario.rules.harvest_in_band else "rules.harvest_in_band is off"
        notes = [f"every class is inside its band and there is no new cash to invest or withdrawal to fund ({why})"]
        return _finish(build_data(scenario), [], "no_trade_needed", info, notes)
    model = phases.built.model
    outcome, log = phases.outcome, phases.log
    sell, buy = model.traded()
    trades = extract_trades(
        model.data,
        sell,
        buy,
        net=purpose == "rebalance",
        intended_cash_k=model.cash_after().value,
    )
    gap_dollars = None
    if outcome.mip_gap is not None and outcome.objective is not None:
        gap_dollars = round(outcome.mip_gap * abs(outcome.objective) * SCALE, 2)
    seconds = time.perf_counter() - start
    info = SolverInfo(
        status=outcome.status,
        seconds=round(seconds, 3),
        mip_gap=outcome.mip_gap,
        gap_dollars=gap_dollars,
        build_seconds=round(log.build_seconds, 3),
        solve_seconds=round(log.solve_seconds, 3),
        solves=log.solves,
        time=log.time_spent(seconds),
    )
    status = "time_limit" if outcome.status == "time_limit" or phases.built.unpolished else "optimal"
    notes = list(phases.notes)
    relocate = phases.built.model.options.relocate
    if phases.harvest and not trades:
        status = "no_trade_needed"
        worth = (
            "no move to a lower-tax account and no loss harvest" if relocate else "no loss is worth harvesting: none"
        )
        notes.append(
            f"every class is inside its band and {worth} saves more tax than the tracking error and costs it adds"
        )
    elif phases.harvest and relocate:
        notes.append(
            "every class is inside its band: the plan only moves assets to where they are taxed less and "
            "harvests losses (rules.location), each account buying with what it sells"
        )
    elif phases.harvest:
        notes.append("every class is inside its band: the plan only harvests losses (rules.harvest_in_band)")
    if phases.built.unpolished:
        try:
            return _finish(phases.data, trades, status, info, notes, purpose)
        except PlanVerificationError as exc:
            failure = SolverFailure(f"no verified plan within the time limit ({exc})", time_limit=True)
            fallback = _trade_nothing(scenario, failure, time.perf_counter() - start, purpose)
            if fallback is None:
                raise failure from exc
            return fallback
    return _finish(phases.data, trades, status, info, notes, purpose)


def _trade_nothing(scenario: Scenario, failure: SolverFailure, seconds: float, purpose: str) -> Result | None:
    """When time ran out before any plan was found: trading nothing, if that keeps every rule (the verifier
    decides), is a plan — shown with status time_limit rather than no plan at all."""
    if not failure.time_limit:
        return None
    info = SolverInfo(status="time_limit", seconds=round(seconds, 3), mip_gap=None, solves=0)
    notes = [
        "no plan was found within the time limit; trading nothing keeps every rule, so that is the plan shown "
        "(a longer --time-limit may find a better one)"
    ]
    data = build_data(scenario)
    result = build_result(data, [], "time_limit", info, notes)
    if not verify(scenario, result, allow_gain_round_trips=purpose == "yearend").ok:
        return None
    return result.model_copy(update={"verified": True})


Attempt = Callable[..., tuple[BuiltProblem, SolveOutcome]]
"""A phase's solve: attempt(options, fallback=False) (run_phases.attempt)."""


def _hard_bands(
    scenario: Scenario, attempt: Attempt, notes: list[str], purpose: str
) -> tuple[BuiltProblem, SolveOutcome] | None:
    """Phases 2–3: every band met. None when the bands cannot all be met — or when a phase found no plan in
    half the time left without proving there is none (say, whole shares under zero-width bands): the soft
    bands then get the other half, with a note that the bands were not proven impossible."""

    def run(options: BuildOptions) -> tuple[BuiltProblem, SolveOutcome] | None:
        built, outcome = attempt(options, True)
        if outcome.status == "failed":
            notes.append(
                "no plan with every class inside its band was found in half the time limit (that none exists "
                "was not proven); the plan keeps the band violation as small as it could find"
            )
            return None
        return built, outcome

    if purpose == "yearend":
        found = run(BuildOptions(purpose=purpose, cash_spent=scenario.rules.contributions_first))
        return found if found is not None and found[1].has_plan else None
    if not scenario.rules.contributions_first:
        found = run(BuildOptions())
        return found if found is not None and found[1].has_plan else None
    steps: list[tuple[BuildOptions, str | None]] = [
        (
            BuildOptions(allow_sells=False),
            "contributions first: new cash alone brings every class inside its band; nothing is sold",
        ),
        (BuildOptions(cash_spent=True), None),
        (
            BuildOptions(cash_spent=True, cash_stuck=True),
            "contributions first as far as the bands allow: cash stays uninvested only where every "
            "security its account may buy is at the top of its band",
        ),
    ]
    for options, note in steps:
        found = run(options)
        if found is None:
            return None
        if found[1].has_plan:
            if note:
                notes.append(note)
            return found
    if scenario.rules.max_tracking_error is not None:
        found = _as_far_as_the_budget_allows(run, BuildOptions())
        if found is not None:
            notes.append(AS_FAR_AS_THE_BUDGET_ALLOWS)
        return found
    found = run(BuildOptions())
    if found is None or not found[1].has_plan:
        return None
    notes.append(
        "contributions first could not be kept (new cash cannot all be invested within the "
        "rules, e.g. rules.max_trades); the plan sells while some new cash stays uninvested"
    )
    return found


SPENDING_MOVES_THE_BAND = (
    "contributions first: what investing the new cash costs (spread, commissions) lowers the household's "
    "value and with it the band of a class above its band, so the violation is the least possible before "
    "those costs"
)

AS_FAR_AS_THE_BUDGET_ALLOWS = (
    "contributions first as far as the bands and rules.max_tracking_error allow: investing more of the new "
    "cash would take the tracking error over its budget, so the plan leaves the least cash uninvested "
    "that the rules allow"
)

IDLE_CASH_TOLERANCE = 1e-6
"""k$: how far above the least idle cash the plan phase may stay (a tenth of a cent: less than any purchase
the verifier could find, HiGHS's feasibility tolerance well inside it)."""


def _as_far_as_the_budget_allows(
    run: Callable[[BuildOptions], tuple[BuiltProblem, SolveOutcome] | None], base: BuildOptions
) -> tuple[BuiltProblem, SolveOutcome] | None:
    """Contributions first as far as the bands and the budget allow: the least idle cash, then the plan with
    no more idle than that (plus IDLE_CASH_TOLERANCE). None when either phase has no plan."""
    least = run(replace(base, objective="idle_cash"))
    if least is None or not least[1].has_plan:
        return None
    # The least-idle phase's own idle cash (its objective also holds the turnover tie-break).
    value = blocks.idle_cash(least[0].model).value
    found = run(replace(base, idle_cash_cap=float(0.0 if value is None else value) + IDLE_CASH_TOLERANCE))
    return found if found is not None and found[1].has_plan else None


def _soft_bands(
    scenario: Scenario, attempt: Attempt, notes: list[str], purpose: str
) -> tuple[BuiltProblem, SolveOutcome]:
    """Phase 4: least total band violation, then the best plan within it."""
    soft = BuildOptions(soft_bands=True, objective="band_violation", purpose=purpose)
    built, outcome = attempt(soft)
    if not outcome.has_plan:
        conflicts, detail = diagnose(scenario, purpose)
        raise InfeasiblePlan(conflicts, detail)
    least = float(outcome.objective or 0.0)

    def cap(v: float) -> float:
        return v * (1 + VIOLATION_RELATIVE_TOLERANCE) + VIOLATION_ABSOLUTE_TOLERANCE

    notes.append(
        "not every class can end inside its band; the plan keeps the total violation as small as "
        "possible (see band_violations)"
    )
    plan = BuildOptions(soft_bands=True, band_violation_cap=cap(least), purpose=purpose)
    least_plan = (built, outcome)

    class _OutOfTime(Exception):
        pass

    def run(options: BuildOptions) -> tuple[BuiltProblem, SolveOutcome]:
        found = attempt(options, True)
        if found[1].status == "failed":
            raise _OutOfTime
        return found

    try:
        if scenario.rules.contributions_first and purpose == "rebalance":
            _, buy_only = run(replace(soft, allow_sells=False))
            if buy_only.has_plan and float(buy_only.objective or 0.0) <= cap(least):
                least_buying = cap(float(buy_only.objective or 0.0))
                built, outcome = run(replace(plan, allow_sells=False, band_violation_cap=least_buying))
                if outcome.has_plan:
                    return built, outcome
        if scenario.rules.contributions_first:
            # With the cap as it is, then measuring a class above its band before what the purchases cost
            # (spending the cash lowers the household's value, and with it that band: blocks.Bands).
            # Without costs the second form is the first: it is not tried again, nor its note given.
            costs = scenario.rules.costs.commission > 0 or scenario.rules.costs.spread_bps > 0
            spending = replace(plan, purchase_costs_outside_cap=True) if costs else plan
            tries = [replace(plan, cash_spent=True), replace(plan, cash_spent=True, cash_stuck=True)]
            if costs:
                tries += [replace(spending, cash_spent=True), replace(spending, cash_spent=True, cash_stuck=True)]
            for rule in tries:
                built, outcome = run(rule)
                if outcome.has_plan:
                    if rule.purchase_costs_outside_cap:
                        notes.append(SPENDING_MOVES_THE_BAND)
                    return built, outcome
            if scenario.rules.max_tracking_error is not None:
                found = _as_far_as_the_budget_allows(run, spending)
                if found is not None:
                    if costs:
                        notes.append(SPENDING_MOVES_THE_BAND)
                    notes.append(AS_FAR_AS_THE_BUDGET_ALLOWS)
                    return found
            notes.append(
                "contributions first could not be kept at the least band violation; some new cash stays uninvested"
            )
        built, outcome = run(plan)
    except _OutOfTime:
        # The time ran out after the least violation was found: that phase's plan is the answer (the
        # verifier still checks it; solve() treats a rejection as no plan in time).
        notes.append(
            "time ran out before the best plan at the least band violation was found: the plan shown keeps "
            "the violation least but was not optimized for tracking error and tax"
        )
        return replace(least_plan[0], unpolished=True), least_plan[1]
    if not outcome.has_plan:
        raise SolverFailure("the best plan at the least band violation could not be found")
    return built, outcome


# Infeasibility diagnosis ---------------------------------------------------------------------------

Relaxation = tuple[str, Callable[[Scenario], Scenario]]


def _relaxations(scenario: Scenario, purpose: str = "rebalance") -> list[Relaxation]:
    """Each rule the scenario enforces for `purpose`, with how to switch it off."""
    r = scenario.rules
    out: list[Relaxation] = []

    def with_rules(**changes: object) -> Callable[[Scenario], Scenario]:
        return lambda s: s.model_copy(update={"rules": s.rules.model_copy(update=changes)})

    if r.do_not_sell:
        out.append((f"rules.do_not_sell ({', '.join(r.do_not_sell)})", with_rules(do_not_sell=[])))
    if r.do_not_buy:
        out.append((f"rules.do_not_buy ({', '.join(r.do_not_buy)})", with_rules(do_not_buy=[])))
    if r.no_short_term_gains:
        out.append(("rules.no_short_term_gains", with_rules(no_short_term_gains=False)))
    if r.max_realized_gain is not None:
        out.append((f"rules.max_realized_gain ({r.max_realized_gain:,.2f})", with_rules(max_realized_gain=None)))
    if r.max_trades is not None:
        out.append((f"rules.max_trades ({r.max_trades})", with_rules(max_trades=None)))
    if r.max_tracking_error is not None:
        out.append((f"rules.max_tracking_error ({r.max_tracking_error:.4%})", with_rules(max_tracking_error=None)))
    if r.min_trade > 0:
        out.append((f"rules.min_trade ({r.min_trade:,.2f})", with_rules(min_trade=0.0)))
    if r.whole_shares:
        out.append(("rules.whole_shares", with_rules(whole_shares=False)))
    if r.contributions_first:
        out.append(("rules.contributions_first", with_rules(contributions_first=False)))
    if r.wash_sales == "avoid":
        out.append(("rules.wash_sales (avoid)", with_rules(wash_sales="ignore")))
    for i, account in enumerate(scenario.accounts):
        if account.contribution < 0:
            label = f"accounts[{i}].contribution (withdrawal of {-account.contribution:,.2f} from {account.id})"
            out.append((label, _set_account(i, contribution=0.0)))
        if account.min_cash > 0:
            out.append(
                (
                    f"accounts[{i}].min_cash ({account.min_cash:,.2f} in {account.id})",
                    _set_account(i, min_cash=0.0),
                )
            )
    if scenario.yearend is not None and scenario.yearend.target_net_realized is not None:
        target = scenario.yearend.target_net_realized
        out.append(
            (
                f"yearend.target_net_realized ({target:,.2f})",
                lambda s: s.model_copy(update={"yearend": s.yearend.model_copy(update={"target_net_realized": None})}),
            )
        )
    if purpose == "yearend" and scenario.yearend is not None and not scenario.yearend.harvest_losses:
        # Year-end planning that may not sell at a loss: with every gain sold, a withdrawal can still be short.
        out.append(
            (
                "yearend.harvest_losses (false)",
                lambda s: s.model_copy(update={"yearend": s.yearend.model_copy(update={"harvest_losses": True})}),
            )
        )
    for i, account in enumerate(scenario.accounts):
        if account.buyable is not None:
            out.append((f"accounts[{i}].buyable (the menu of {account.id})", _set_account(i, buyable=None)))
    return out


def _set_account(index: int, **changes: object) -> Callable[[Scenario], Scenario]:
    def apply(s: Scenario) -> Scenario:
        accounts = list(s.accounts)
        accounts[index] = accounts[index].model_copy(update=changes)
        return s.model_copy(update={"accounts": accounts})

    return apply


def _feasible(scenario: Scenario, attempt_factory: Callable[[RebalanceData], Attempt], purpose: str) -> bool:
    data = build_data(scenario)
    _, outcome = attempt_factory(data)(BuildOptions(soft_bands=True, objective="band_violation", purpose=purpose))
    # Only "infeasible" is a proof: a run that failed or ran out of time without a plan proved nothing, and
    # the deletion filter then keeps the rule enforced, so the rules it names still conflict (the set may
    # be larger than needed, never wrong).
    return outcome.has_plan or outcome.status == "failed"


DIAGNOSIS_TIME_LIMIT = 30.0
"""Seconds for each feasibility solve of the conflict search."""

FEASIBILITY_GAP = 1e9
"""Relative and absolute (k$) gap of those solves: the first plan is the answer."""


def diagnose(scenario: Scenario, purpose: str = "rebalance") -> tuple[list[str], str]:
    """A deletion filter over the rules: an irreducible set of them that cannot hold together.

    Every rule starts enforced (infeasible). Each rule in turn is relaxed: if the problem stays
    infeasible the rule is not part of the conflict and stays relaxed; otherwise it is put back; the
    rules still enforced are tried again until a pass relaxes none. The rules enforced at the end conflict
    with each other (and with the fixed facts: holdings, prices, no short sales), and relaxing any one of
    them (every other rule relaxed) makes a plan possible.
    """

    def factory(data: RebalanceData) -> Attempt:
        def run(options: BuildOptions) -> tuple[BuiltProblem, SolveOutcome]:
            # A feasibility question: any plan answers it, so the first one HiGHS finds ends the solve
            # (FEASIBILITY_GAP), and HiGHS runs on its own — its presolve and propagation prove a MILP
            # infeasible where a search over relaxations cannot (a 12-stock household with a 0.2% tracking
            # budget and wash sales avoided: 15.1 s, half the 30 s, before the conic search handed over,
            # then about 0.07 s in HiGHS).
            built = build_problem(data, options)
            return built, run_highs(
                built.problem,
                DIAGNOSIS_TIME_LIMIT,
                FEASIBILITY_GAP,
                warm_start=False,
                cones=built.model.cones,
                abs_gap=FEASIBILITY_GAP,
            )

        return run

    relaxations = _relaxations(scenario, purpose)

    def relaxed(active: list[Relaxation]) -> Scenario:
        s = scenario
        for _, relax in active:
            s = relax(s)
        return s

    if not _feasible(relaxed(relaxations), factory, purpose):
        return [], "no plan exists even with every rule relaxed: the accounts cannot keep non-negative cash"
    enforced = list(relaxations)
    relaxed_so_far: list[Relaxation] = []
    # Passes until one relaxes nothing more: relaxing a rule is not always monotone (a withdrawal set to 0
    # changes every weight, so a tracking-error budget or a band can get harder), and a rule kept because
    # relaxing it helped early may no longer be needed once later rules are relaxed. After a pass that
    # changes nothing, relaxing any one rule left (with all the others relaxed) makes a plan possible.
    changed = True
    while changed:
        changed = False
        for item in list(enforced):
            trial = [*relaxed_so_far, item]
            if not _feasible(relaxed(trial), factory, purpose):
                relaxed_so_far = trial
                enforced.remove(item)
                changed = True
    names = [name for name, _ in enforced]
    if len(names) == 1:
        return names, f"{names[0]} cannot be met by any plan"
    return names, "these constraints conflict: " + "; ".join(names)


BUDGET_NOTE_MARGIN = 1e-4
"""Relative: a plan whose exact tracking error is this far above rules.max_tracking_error says why (the budget
is held in dollars to a tenth of a cent, verify.BUDGET_DOLLARS; settling amounts to the cent moves it by far
less on any household worth more than a few dollars)."""


def _finish(
    data: RebalanceData, trades: list, status: str, info: SolverInfo, notes: list[str], purpose: str = "rebalance"
) -> Result:
    result = build_result(data, trades, status, info, notes)
    budget = data.scenario.rules.max_tracking_error
    if budget is not None and result.tracking_error.after > budget * (1 + BUDGET_NOTE_MARGIN):
        # Held in dollars (W·TE ≤ budget·W) to a tenth of a cent: a household worth cents can be over it.
        result = result.model_copy(
            update={
                "notes": [
                    *result.notes,
                    f"the tracking error after the plan, {result.tracking_error.after:.4%}, is above "
                    f"rules.max_tracking_error ({budget:.4%}): the budget holds in dollars of the household's "
                    "value, to a tenth of a cent and to trades settled to the cent, which on a household this "
                    "small is more than the difference",
                ]
            }
        )
    verification = verify(data.scenario, result, allow_gain_round_trips=purpose == "yearend")
    verification.raise_if_failed()
    return result.model_copy(update={"verified": True})
