"""`solver.time`: where a solve's seconds went (issue 11: "report what the time went into")."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.solver.engine import solve

DIRECT_INDEXING = Path(__file__).parent / "data" / "tracking" / "peer-16x80.yaml"
CLASS_LEVEL = Path(__file__).parent / "data" / "frontier" / "taxable-gains.yaml"


def _accounts_for_all(seconds: float, steps: list[float]) -> bool:
    # Each step is rounded to the millisecond on its own.
    return abs(sum(steps) - seconds) <= 0.001 * (len(steps) + 1)


def test_a_direct_indexing_solve_reports_its_search() -> None:
    result = solve(load_scenario(DIRECT_INDEXING))
    assert result.solver.time is not None
    names = [t.step for t in result.solver.time]
    assert names[:2] == ["build", "compile"] and names[-1] == "other"
    assert "conic search" in names and "vertex step" in names
    search = next(t for t in result.solver.time if t.step == "conic search")
    assert search.detail is not None and re.fullmatch(r"\d+ nodes, \d+ relaxations", search.detail)
    assert all(t.seconds >= 0 for t in result.solver.time)
    assert _accounts_for_all(result.solver.seconds, [t.seconds for t in result.solver.time])


def test_a_class_level_solve_reports_highs_steps() -> None:
    result = solve(load_scenario(CLASS_LEVEL))
    assert result.solver.time is not None
    names = [t.step for t in result.solver.time]
    assert "conic search" not in names
    assert "relaxation start" in names or "MILP" in names
    assert _accounts_for_all(result.solver.seconds, [t.seconds for t in result.solver.time])


def test_the_cli_prints_the_steps() -> None:
    shown = CliRunner().invoke(cli, ["solve", str(DIRECT_INDEXING)])
    assert shown.exit_code == 0, shown.output
    assert "conic search" in shown.output and "nodes" in shown.output
    as_json = CliRunner().invoke(cli, ["solve", str(DIRECT_INDEXING), "--json"])
    assert as_json.exit_code == 0, as_json.output
    steps = json.loads(as_json.output)["solver"]["time"]
    assert {"step", "seconds"} <= set(steps[0]) and any(s["step"] == "conic search" for s in steps)
