"""Households the harness (tests/test_harness.py) found broken, each a small scenario file under
tests/data/harness/ with what broke in its top comment, and the example households of scenarios/, run
through the CLI with the harness's checks (tests/harness/checks.py): exit 0, 3 or 4; a plan that passes
the verifier from its JSON, whole-share lot lines under whole_shares; a named conflict that is really
infeasible (and, for the households found, minimal: relaxing any one named rule makes a plan).

A file may set the commands' --time-limit in a comment line `# time limit: SECONDS` (default: the
harness's 5 seconds; the examples get the CLI's default of 60, so that a slow machine does not change
their outcome)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness.checks import TIME_LIMIT, check_file, report

HERE = Path(__file__).parent
FOUND = sorted((HERE / "data" / "harness").glob("*.yaml"))
EXAMPLES = sorted((HERE.parent / "scenarios").glob("*.yaml"))
EXAMPLE_TIME_LIMIT = 60.0


def time_limit(path: Path) -> float:
    match = re.search(r"^# time limit: ([0-9.]+)", path.read_text(encoding="utf-8"), flags=re.M)
    return float(match.group(1)) if match else TIME_LIMIT


@pytest.mark.parametrize("path", FOUND, ids=[p.stem for p in FOUND])
def test_household_found_by_the_harness(path: Path, tmp_path: Path) -> None:
    outcome = check_file(path, time_limit(path), workdir=tmp_path, minimal=True)
    if outcome.findings:
        pytest.fail(report(outcome), pytrace=False)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_household(path: Path, tmp_path: Path) -> None:
    outcome = check_file(path, EXAMPLE_TIME_LIMIT, workdir=tmp_path)
    if outcome.findings:
        pytest.fail(report(outcome), pytrace=False)
