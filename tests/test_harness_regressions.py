"""Households the harness (tests/test_harness.py) found broken, each a small scenario file under
tests/data/harness/ with what broke in its top comment, run through the CLI with the harness's checks
(tests/harness/checks.py): exit 0, 3 or 4; a plan that passes the verifier from its JSON, whole-share lot
lines under whole_shares; a named conflict that is really infeasible."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.checks import check_file, report

FILES = sorted((Path(__file__).parent / "data" / "harness").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_household_found_by_the_harness(path: Path, tmp_path: Path) -> None:
    outcome = check_file(path, workdir=tmp_path)
    if outcome.findings:
        pytest.fail(report(outcome), pytrace=False)
