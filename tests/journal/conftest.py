"""Fixtures of the journal and report tests: a journal on each backend, the browser.

PostgreSQL and Chromium come from Debian (.ci/services.sh installs and starts them, and sets the variables
read here). On a machine without them these tests skip with the reason; with REBAL_OPT_REQUIRE_SERVICES=1
(set by .ci/run) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from rebal_opt.cli.main import cli
from rebal_opt.journal.db import journal_url
from rebal_opt.journal.planning import make_draft
from rebal_opt.journal.store import APPROVED, Change, Journal, ProposalDraft

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"
DATA = Path(__file__).parent.parent / "data" / "journal"
POSTGRES_ENV = "REBAL_OPT_TEST_POSTGRES_URL"


def missing_service(reason: str) -> None:
    """Skip, or fail when the run requires every service (CI)."""
    if os.environ.get("REBAL_OPT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (REBAL_OPT_REQUIRE_SERVICES=1: .ci/services.sh should have provided it)")
    pytest.skip(reason)


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (created and dropped through the test role)."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        missing_service(f"no PostgreSQL server: set {POSTGRES_ENV} (source .ci/services.sh as root)")
    assert admin is not None
    name = f"rebal_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(journal_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is down: same as absent
        engine.dispose()
        missing_service(f"PostgreSQL at {make_url(admin).render_as_string(hide_password=True)} refused: {exc}")
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The --db of a new journal: a SQLite file, or a PostgreSQL database on the real server."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite")
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("REBAL_OPT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).exists():
        missing_service("no Chromium: apt-get install chromium (source .ci/services.sh as root)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def household_draft() -> ProposalDraft:
    """The test household's proposal (solved once per run), for tests of the journal rather than the solve."""
    path = DATA / "household.yaml"
    return make_draft(path.read_text(), str(path), "solve")


@pytest.fixture
def approved(journal_db: str, household_draft: ProposalDraft) -> int:
    """A journal (journal_db) holding one approved proposal of the test household; its id."""
    with Journal.open(journal_url(journal_db), create=True) as journal:
        proposal_id = journal.add(household_draft, "tester")
        journal.change(proposal_id, APPROVED, "tester", lambda _p: Change())
    return proposal_id


EXAMPLE_COMMANDS = {
    "yearend-harvest.yaml": "yearend",
    "founder-unwind.yaml": "unwind",
    "maria-unwind-monthly.yaml": "unwind",
}
"""The planning command each example scenario is made for; the others are rebalances (solve)."""


@dataclass(frozen=True)
class RenderedReport:
    name: str
    command: str
    html: Path
    result: dict[str, Any]  # the stored result the report was made from (an independent read of its figures)


@pytest.fixture(scope="session")
def example_reports(tmp_path_factory: pytest.TempPathFactory) -> list[RenderedReport]:
    """Every example scenario proposed with its planning command and reported through the command line
    (`report ID --html`), plus the frontier report of one scenario (`report SCENARIO --command frontier`)."""
    runner = CliRunner()
    out = tmp_path_factory.mktemp("reports")
    db = str(out / "journal.sqlite")

    def run(*args: str | Path) -> str:
        result = runner.invoke(cli, [str(a) for a in args], prog_name="rebal-opt")
        assert result.exit_code == 0, result.stderr
        return str(result.stdout)

    reports = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        command = EXAMPLE_COMMANDS.get(path.name, "solve")
        proposal = run("propose", path, "--command", command, "--db", db).strip()
        if path.name == "sarah-70-30.yaml":
            run("approve", proposal, "--db", db, "--by", "advisor", "--reason", "reviewed with the client")
        html = out / f"{path.stem}.html"
        run("report", proposal, "--html", html, "--db", db)
        result = json.loads(run("show", proposal, "--db", db, "--json"))["result"]
        reports.append(RenderedReport(path.stem, command, html, result))
    frontier = out / "sarah-70-30-frontier.html"
    run("report", SCENARIOS / "sarah-70-30.yaml", "--command", "frontier", "--html", frontier)
    reports.append(RenderedReport("sarah-70-30-frontier", "frontier", frontier, {}))
    return reports
