"""Making a proposal: solve the scenario with a planning command and keep everything needed to review,
approve, record and reproduce it.

Planning commands: `solve` (the rebalance), `yearend` (year-end tax planning) and `unwind` (the first
period of a staged sale: the trades to place now; later periods are planned again from the holdings
that the recorded fills leave).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.result import Result, Trade, UnwindResult
from rebal_opt.models.scenario import Scenario
from rebal_opt.models.yaml_io import parse_yaml_text

from .errors import JournalError
from .migrations import program_version
from .store import Proposal, ProposalDraft

COMMANDS = ("solve", "yearend", "unwind")
UNWIND_PERIOD = 1
"""An unwind proposal is the schedule's first period (the one that starts on as_of)."""


def read_scenario(text: str, source: str) -> Scenario:
    """A scenario from its file text, validated as `load_scenario` would."""
    return parse_scenario(parse_yaml_text(text, source), source)


def input_hash(scenario: Scenario, command: str, options: dict[str, Any]) -> str:
    """SHA-256 of what determines the plan: the validated scenario (comments and key order do not count),
    the command and its options."""
    canonical = json.dumps(
        {"scenario": scenario.model_dump(mode="json"), "command": command, "options": options},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def unwind_period_tax(scenario: Scenario, result: UnwindResult) -> float:
    """Tax this year caused by the first period's sales (the proposal's trades)."""
    from rebal_opt.solver.tax.evaluate import tax_with_gains
    from rebal_opt.solver.taxes import situation_from_scenario

    first = result.periods[0]
    base = situation_from_scenario(scenario)
    without = tax_with_gains(base, 0.0, 0.0).total_tax
    with_sales = tax_with_gains(base, first.realized.short_term, first.realized.long_term).total_tax
    return round(with_sales - without, 2)


def solve_for_proposal(
    scenario: Scenario, command: str, time_limit: float | None, mip_gap: float | None
) -> Result | UnwindResult:
    """Run the planning command. Raises the solver's InfeasiblePlan / SolverFailure / UnwindError."""
    if command == "solve":
        from rebal_opt.solver.engine import solve

        return solve(scenario, time_limit=time_limit, **({"mip_gap": mip_gap} if mip_gap is not None else {}))
    if command == "yearend":
        from rebal_opt.solver.yearend import solve_yearend

        return solve_yearend(scenario, time_limit=time_limit, **({"mip_gap": mip_gap} if mip_gap is not None else {}))
    if command == "unwind":
        from rebal_opt.solver.unwind_report import unwind

        if scenario.unwind is None:
            raise JournalError("unwind: the scenario has no unwind section; add one (docs/unwind.md)")
        return unwind(scenario, time_limit=time_limit, **({"mip_gap": mip_gap} if mip_gap is not None else {}))
    raise JournalError(f"--command: '{command}' must be one of {', '.join(COMMANDS)}")


def make_draft(
    scenario_text: str,
    source: str | None,
    command: str,
    time_limit: float | None = None,
    mip_gap: float | None = None,
) -> ProposalDraft:
    """Solve the scenario text and return the proposal to store (the text itself is what is kept)."""
    scenario = read_scenario(scenario_text, source or "scenario")
    result = solve_for_proposal(scenario, command, time_limit, mip_gap)
    payload = result.model_dump(mode="json", exclude_none=True)
    if isinstance(result, UnwindResult):
        trades = result.periods[0].trades if result.periods else []
        tax_due: float | None = unwind_period_tax(scenario, result) if result.periods else 0.0
        tracking: float | None = None
        period: int | None = UNWIND_PERIOD
    else:
        trades = result.trades
        tax_due = result.tax.due_to_trades
        tracking = result.tracking_error.after
        period = None
    return ProposalDraft(
        household=scenario.label,
        command=command,
        period=period,
        as_of=scenario.as_of,
        scenario_text=scenario_text,
        scenario_source=source,
        result_json=json.dumps(payload),
        program_version=program_version(),
        solver_status=result.status,
        verified=result.verified,
        input_hash=input_hash(scenario, command, {"time_limit": time_limit, "mip_gap": mip_gap, "period": period}),
        tax_due=tax_due,
        tracking_error=tracking,
        trade_count=len(trades),
    )


def proposal_scenario(proposal: Proposal) -> Scenario:
    return read_scenario(proposal.scenario_text, f"proposal {proposal.id}")


def proposal_result(proposal: Proposal) -> Result | UnwindResult:
    """The stored result, as the model it was made from."""
    if proposal.command == "unwind":
        return UnwindResult.model_validate(proposal.result)
    return Result.model_validate(proposal.result)


def proposal_trades(proposal: Proposal) -> list[Trade]:
    """The trades to place: the plan's, or the unwind period's."""
    result = proposal_result(proposal)
    if isinstance(result, UnwindResult):
        period = proposal.period or UNWIND_PERIOD
        return result.periods[period - 1].trades if len(result.periods) >= period else []
    return result.trades
