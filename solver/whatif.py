"""What-if runs: one scenario, several variants (each a set of overrides), solved side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rebal_opt.models.overrides import apply_overrides
from rebal_opt.models.result import Result

from .engine import InfeasiblePlan, SolverFailure, solve
from .highs import DEFAULT_MIP_GAP
from .household import account_values

BASE = "base"


@dataclass(frozen=True)
class VariantOutcome:
    """A variant's plan, or why it has none."""

    name: str
    overrides: dict[str, Any]
    result: Result | None
    conflicts: list[str] = field(default_factory=list)
    message: str = ""
    household_value: float = 0.0
    status: str = "infeasible"  # without a plan: infeasible, time_limit (no plan in time) or failed

    @property
    def turnover(self) -> float:
        """Half the dollars traded (buys plus sells) as a fraction of the household's value: the share
        of the portfolio that moves."""
        if self.result is None or self.household_value <= 0:
            return 0.0
        return sum(t.amount for t in self.result.trades) / 2 / self.household_value

    def as_json(self) -> dict[str, Any]:
        if self.result is None:
            payload: dict[str, Any] = {"status": self.status, "conflicts": self.conflicts, "message": self.message}
        else:
            payload = self.result.model_dump(mode="json", exclude_none=True)
        return {"name": self.name, "overrides": self.overrides, "result": payload}


def run_variants(
    data: dict[str, Any],
    variants: list[tuple[str, dict[str, Any]]],
    time_limit: float | None = None,
    mip_gap: float = DEFAULT_MIP_GAP,
) -> list[VariantOutcome]:
    """Solve the base scenario and each variant. Bad overrides raise ScenarioError before any solve;
    an infeasible variant, or one with no plan within the time limit, is reported, not fatal."""
    scenarios = [(name, overrides, apply_overrides(data, overrides, f"whatif {name}")) for name, overrides in variants]
    outcomes: list[VariantOutcome] = []
    for name, overrides, scenario in scenarios:
        value = sum(account_values(scenario).values())
        try:
            result = solve(scenario, time_limit=time_limit, mip_gap=mip_gap)
        except InfeasiblePlan as exc:
            outcomes.append(VariantOutcome(name, overrides, None, exc.conflicts, exc.detail, value))
            continue
        except SolverFailure as exc:
            # One variant without a plan in its time (exit 4 for `solve`) does not cost the others theirs.
            status = "time_limit" if exc.time_limit else "failed"
            outcomes.append(VariantOutcome(name, overrides, None, [], str(exc), value, status))
            continue
        outcomes.append(VariantOutcome(name, overrides, result, household_value=value))
    return outcomes
