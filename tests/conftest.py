"""Shared fixtures: the click runner over `rebal-opt`, and writing scenario data to a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from rebal_opt.cli.main import cli

Invoke = Callable[..., Result]

# Output goes to a pipe in the tests, so tables take their pipe width (120) unless a test sets $COLUMNS.
# pytest-xdist's workers inherit COLUMNS=80/LINES=24 from execnet: without this the same test would see
# another width under `-n`.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture
def invoke() -> Invoke:
    """Run `rebal-opt ARGS...` in-process; stdout and stderr are kept apart (result.stdout/.stderr)."""
    runner = CliRunner()

    def run(*args: str | Path) -> Result:
        return runner.invoke(cli, [str(a) for a in args], prog_name="rebal-opt")

    return run


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[[Any], Path]:
    """Dump parsed scenario data (e.g. an edited copy of a scenario file) to a YAML file in tmp_path."""

    def write(data: Any, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
