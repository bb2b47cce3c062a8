"""Facts a plan states must be true: withdrawals that break a band are work to do, and `optimal` means
proven (checked against an independent solve of the same model with no start and a tighter gap)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.solver.engine import InfeasiblePlan, run_phases, solve
from rebal_opt.solver.highs import ABSOLUTE_GAP, DEFAULT_MIP_GAP, run_highs

DATA = Path(__file__).parent / "data" / "solve"
SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def test_a_withdrawal_that_breaks_the_cash_band_is_work_to_do() -> None:
    result = solve(load_scenario(DATA / "withdrawal-from-cash.yaml"))
    assert result.status == "optimal"
    assert any(t.action == "sell" for t in result.trades)
    assert result.allocation["cash"].in_band_after
    assert not any("no new cash to invest or withdrawal" in note for note in result.notes)


@pytest.mark.parametrize("path", [*SCENARIOS, *sorted(DATA.glob("*.yaml"))], ids=lambda p: p.stem)
def test_optimal_means_within_the_gap_of_an_independent_optimum(path: Path) -> None:
    """The plan's phase, solved again by HiGHS alone (no start, gaps 1e-9): a plan labelled optimal is within
    the gap (0.01% or $1) of that optimum, give or take the tracking cone's 0.05%."""
    scenario = load_scenario(path)
    try:
        phases = run_phases(scenario, time_limit=60)
    except InfeasiblePlan:
        return
    if phases is None:
        return
    outcome = phases.outcome
    if outcome.status != "optimal":
        return
    model = phases.built.model
    tracking = float(model.tracking_error.value) if model.tracking_error is not None else 0.0
    independent = run_highs(phases.built.problem, 120, 1e-9, warm_start=False, cones=model.cones, abs_gap=1e-9)
    assert independent.status == "optimal" and independent.objective is not None and outcome.objective is not None
    slack = max(ABSOLUTE_GAP, DEFAULT_MIP_GAP * abs(outcome.objective))
    assert outcome.objective <= independent.objective + slack + 5e-4 * abs(tracking) + 1e-9
