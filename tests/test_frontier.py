"""The tax / tracking-error frontier: monotone, verified plans, the CLI's outputs."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import Result, Trade
from rebal_opt.solver.engine import solve
from rebal_opt.solver.frontier import FrontierPoint, default_weights, frontier, monotone

DATA = Path(__file__).parent / "data" / "frontier" / "taxable-gains.yaml"
OFF_GRID = Path(__file__).parent / "data" / "frontier" / "tax-averse-off-grid.yaml"


def test_frontier_is_monotone_and_every_plan_verified() -> None:
    curve = frontier(load_scenario(DATA))
    assert len(curve.points) == 20
    assert all(p.result.verified for p in curve.points)
    for a in curve.points:
        for b in curve.points:
            if a.result.tax.due_to_trades < b.result.tax.due_to_trades - 0.01:
                assert a.tracking_error >= b.tracking_error - 1e-9  # less tax never comes with less TE
    # The ends differ: ignoring tax reaches the target; weighing it heavily trades (almost) nothing.
    first, last = curve.points[0], curve.points[-1]
    assert first.tracking_error < last.tracking_error
    assert first.result.tax.due_to_trades > last.result.tax.due_to_trades
    # Weights are swept in order and the curve moves one way along them.
    taxes = [p.result.tax.due_to_trades for p in curve.points]
    assert taxes == sorted(taxes, reverse=True)
    assert curve.solves < len(curve.points) + 3  # points between equal plans are not re-solved


def test_an_absolute_gap_settles_points_without_solving_them() -> None:
    """`abs_gap_dollars` (`frontier --abs-gap`): a weight whose best known plan is that close to the chord of
    the proven bounds needs no solve, and every point it reports is within it (or within 0.1%)."""
    scenario = load_scenario(DATA)
    tight = frontier(scenario)
    loose = frontier(scenario, abs_gap_dollars=1e9)
    assert loose.solves < tight.solves
    assert all(p.result.verified for p in loose.points)
    for p in loose.points:
        assert p.result.status == "optimal"
        assert p.result.solver.gap_dollars is not None and p.result.solver.gap_dollars <= 1e9
    # The ends and the scenario's own weight are solved; with that tolerance nothing else needs to be.
    assert sum(1 for p in loose.points if p.result.solver.solves) <= 3


def test_cli_abs_gap(tmp_path: Path) -> None:
    run = CliRunner().invoke(cli, ["frontier", str(DATA), "--json", "--abs-gap", "100"])
    assert run.exit_code == 0, run.output
    assert len(json.loads(run.output)["points"]) == 20
    bad = CliRunner().invoke(cli, ["frontier", str(DATA), "--abs-gap", "-1"])
    assert bad.exit_code == 2 and "--abs-gap" in bad.output


def test_monotone_repair_replaces_a_dominated_point() -> None:
    curve = frontier(load_scenario(DATA), weights=[0.0, 20.0])
    good, cheap = curve.points
    # Pretend the solver returned the cheap plan at weight 0 although the target-hitting plan exists.
    repaired = monotone(
        [FrontierPoint(0.0, cheap.result), FrontierPoint(20.0, cheap.result), FrontierPoint(1.0, good.result)],
        household_value=600_000,
    )
    assert repaired[0].result.trades == good.result.trades
    assert repaired[0].tracking_error == good.tracking_error and repaired[0].tax_due == good.tax_due
    assert repaired[0].result.solver == cheap.result.solver  # the point keeps its own solver record


def test_default_weights() -> None:
    weights = default_weights()
    assert len(weights) == 20 and weights[0] == 0 and weights[-1] == 20.0
    assert weights == sorted(weights)


def test_cli_json_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "frontier.png"
    run = CliRunner().invoke(cli, ["frontier", str(DATA), "--json", "--plot", str(plot), "--weights", "0,1,20"])
    assert run.exit_code == 0, run.output
    points = json.loads(run.stdout)["points"]
    assert [p["tax_weight"] for p in points] == [0.0, 1.0, 20.0]
    assert {"tax_weight", "tax_due_to_trades", "tracking_error"} <= set(points[0])
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_weights() -> None:
    run = CliRunner().invoke(cli, ["frontier", str(DATA), "--weights", "a,b"])
    assert run.exit_code == 2 and "--weights" in run.stderr


EXAMPLES = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def _trade_lines(trades: list[Trade]) -> list[tuple[object, ...]]:
    """Each trade as the broker sees it: account, side, security, shares and every lot line."""
    return sorted(
        (t.account, t.action, t.security, t.shares, t.amount, tuple((x.lot, x.shares) for x in t.lots or []))
        for t in trades
    )


def _assert_same_plan(shown: Result, solved: Result) -> None:
    assert _trade_lines(shown.trades) == _trade_lines(solved.trades)
    assert shown.tax.due_to_trades == solved.tax.due_to_trades
    assert shown.tracking_error.after == solved.tracking_error.after
    assert shown.costs == solved.costs
    assert shown.verified and solved.verified


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_frontier_of_every_example(path: Path) -> None:
    # Every phase the examples reach (buy-only contributions first included, where the sell variable has
    # no entries and cvxpy compiles it away) gives a monotone curve of verified plans.
    scenario = load_scenario(path)
    curve = frontier(scenario)
    assert len(curve.points) == 20 and all(p.result.verified for p in curve.points)
    # Every example asks for a rebalance, and at its own weight the curve shows `solve`'s plan: the same
    # trades and lot lines, hence the same tax, tracking error and costs.
    at_own_weight = [p for p in curve.points if p.tax_weight == scenario.objective.tax_weight]
    assert len(at_own_weight) == 1
    _assert_same_plan(at_own_weight[0].result, solve(scenario))
    taxes = [p.tax_due for p in curve.points]
    errors = [p.tracking_error for p in curve.points]
    assert all(a >= b - 0.01 for a, b in pairwise(taxes))
    assert all(a <= b + 1e-9 for a, b in pairwise(errors))
    assert sum(1 for p in curve.points if p.result.solver.solves) < len(curve.points)


def test_the_scenarios_own_weight_is_added_to_the_default_grid() -> None:
    scenario = load_scenario(OFF_GRID)
    assert scenario.objective.tax_weight == 3.0 and 3.0 not in default_weights()
    curve = frontier(scenario)
    weights = [p.tax_weight for p in curve.points]
    assert weights == sorted([*default_weights(), 3.0])
    own = curve.points[weights.index(3.0)]
    assert own.result.solver.solves == 1
    _assert_same_plan(own.result, solve(scenario))
    # Asked weights are kept as asked.
    assert [p.tax_weight for p in frontier(scenario, weights=[0.0, 20.0]).points] == [0.0, 20.0]


def test_a_household_in_band_says_solve_would_not_rebalance() -> None:
    scenario = load_scenario(DATA)  # every class inside its band, no new cash
    assert solve(scenario).status == "no_trade_needed"
    curve = frontier(scenario, weights=[0.0, 1.0, 20.0])
    assert any("no rebalance is due" in note for note in curve.notes)
    assert len(curve.points[1].result.trades) > 0  # the curve shows what rebalancing would buy
