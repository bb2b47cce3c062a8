"""Progress of a long solve: on stderr once a command has run for a second, never on --json stdout."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli import progress as cli_progress
from rebal_opt.cli.main import cli
from rebal_opt.solver import progress

SCENARIO = Path(__file__).parent.parent / "scenarios" / "sarah-70-30.yaml"


def test_progress_goes_to_stderr_and_stdout_stays_one_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli_progress.PROGRESS_ENV, "1")
    monkeypatch.setattr(cli_progress, "DELAY", 0.0)
    run = CliRunner().invoke(cli, ["solve", str(SCENARIO), "--json"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)  # nothing but the result on stdout
    assert payload["status"] == "optimal"
    assert "contributions first (buying only)" in run.stderr or "plan with sales" in run.stderr


def test_nothing_is_shown_before_the_delay_and_the_phase_is_not_lost() -> None:
    stream = io.StringIO()
    handler = cli_progress.TerminalProgress(stream)
    logger = logging.getLogger("rebal_opt.progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        progress.phase("plan with sales")
        assert stream.getvalue() == ""  # a quick solve prints nothing
        handler.start -= cli_progress.DELAY + 1
        progress.figures("MILP", 2.0, 1.5)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert "plan with sales" in lines[0]
    assert "MILP: plan 2,000.00, bound 1,500.00 (gap 25.00%)" in lines[1]


def test_progress_is_off_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli_progress.PROGRESS_ENV, raising=False)
    run = CliRunner().invoke(cli, ["solve", str(SCENARIO), "--json"])
    assert run.exit_code == 0 and "[" not in run.stderr
