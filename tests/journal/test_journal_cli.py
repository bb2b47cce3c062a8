"""The journal commands through the command line (SQLite; the PostgreSQL path is the same code and is run
end to end in test_journal_e2e.py): output contracts, the approval policy, errors and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from rebal_opt.journal.db import JOURNAL_FILENAME, journal_url
from rebal_opt.journal.store import Journal, ProposalDraft
from rebal_opt.models.loading import load_scenario

DATA = Path(__file__).parent.parent / "data" / "journal"
SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "journal.sqlite")


def test_propose_prints_the_id_alone_or_as_json_and_stores_the_scenario_as_given(invoke: Any, db: str) -> None:
    scenario = DATA / "household.yaml"
    assert ok(invoke("propose", scenario, "--db", db)) == "1\n"
    assert json.loads(ok(invoke("propose", scenario, "--db", db, "--json"))) == {"id": 2}
    again = invoke("propose", scenario, "--db", db)
    assert "note: the same inputs as proposal 2" in again.stderr
    with Journal.open(journal_url(db)) as journal:
        first, second, third = journal.list()
    assert first.scenario_text == scenario.read_text()  # comments and all
    assert first.input_hash == second.input_hash == third.input_hash
    assert first.command == "solve" and first.solver_status == "optimal" and first.verified
    assert json.loads(first.result_json)["tax"]["due_to_trades"] == pytest.approx(-440.0)


def test_propose_defaults_to_a_journal_beside_the_scenario(invoke: Any, tmp_path: Path) -> None:
    scenario = tmp_path / "household.yaml"
    shutil.copy(DATA / "household.yaml", scenario)
    ok(invoke("propose", scenario))
    assert (tmp_path / JOURNAL_FILENAME).exists()


def test_propose_an_unwind_period_and_a_yearend_plan(invoke: Any, db: str) -> None:
    first = int(ok(invoke("propose", SCENARIOS / "founder-unwind.yaml", "--command", "unwind", "--db", db)))
    second = int(ok(invoke("propose", SCENARIOS / "yearend-harvest.yaml", "--command", "yearend", "--db", db)))
    listed = {p["id"]: p for p in json.loads(ok(invoke("proposals", "--db", db, "--json")))["proposals"]}
    assert listed[first]["command"] == "unwind" and listed[first]["period"] == 1
    assert listed[first]["tracking_error"] is None and listed[first]["trades"] > 0
    assert listed[second]["command"] == "yearend"
    shown = json.loads(ok(invoke("show", first, "--db", db, "--json")))
    assert shown["result"]["periods"][0]["trades"]  # the full unwind schedule is kept
    assert "schedule" in ok(invoke("show", first, "--db", db))


def test_proposals_lists_status_tax_tracking_and_trades_and_filters_by_household(invoke: Any, db: str) -> None:
    ok(invoke("propose", DATA / "household.yaml", "--db", db))
    ok(invoke("propose", SCENARIOS / "sarah-70-30.yaml", "--db", db))
    table = ok(invoke("proposals", "--db", db))
    for text in ("journal-household", "sarah-70-30", "proposed", "-440.00"):
        assert text in table
    only = json.loads(ok(invoke("proposals", "--db", db, "--household", "sarah-70-30", "--json")))["proposals"]
    assert [p["household"] for p in only] == ["sarah-70-30"]


def _backdate(db: str, draft: ProposalDraft, days: float) -> int:
    made = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with Journal.open(journal_url(db), create=True, clock=lambda: made) as journal:
        return journal.add(draft, "tester")


def test_a_proposal_older_than_the_approval_period_must_be_solved_again(
    invoke: Any, db: str, household_draft: ProposalDraft
) -> None:
    old = _backdate(db, household_draft, days=4.0)  # policy: 3 days
    result = invoke("approve", old, "--db", db)
    assert result.exit_code == 2
    assert "beyond the approval period of 3 days (approval.period_days)" in result.stderr
    assert "rebal-opt propose" in result.stderr
    fresh = _backdate(db, household_draft, days=2.5)
    ok(invoke("approve", fresh, "--db", db))
    statuses = [p["status"] for p in json.loads(ok(invoke("proposals", "--db", db, "--json")))["proposals"]]
    assert statuses == ["proposed", "approved"]


@pytest.mark.parametrize(("vti", "approved"), [(101.9, True), (102.1, False), (97.9, False)])
def test_prices_that_moved_beyond_the_tolerance_block_the_approval(
    invoke: Any, db: str, tmp_path: Path, vti: float, approved: bool
) -> None:
    proposal = ok(invoke("propose", DATA / "household.yaml", "--db", db)).strip()
    data = yaml.safe_load((DATA / "household.yaml").read_text())
    data["securities"]["VTI"]["price"] = vti  # proposed at 100; tolerance 2%
    today = tmp_path / "today.yaml"
    today.write_text(yaml.safe_dump(data))
    result = invoke("approve", proposal, "--db", db, "--scenario", today)
    if approved:
        ok(result)
        return
    assert result.exit_code == 2
    assert f"VTI moved {vti / 100 - 1:+.2%} (100.00 → {vti:,.2f})" in result.stderr
    assert "price tolerance of 2.00%" in result.stderr
    assert json.loads(ok(invoke("show", proposal, "--db", db, "--json")))["status"] == "proposed"


def test_the_approval_checks_are_kept_in_the_trail(invoke: Any, db: str) -> None:
    proposal = ok(invoke("propose", DATA / "household.yaml", "--db", db)).strip()
    ok(invoke("approve", proposal, "--db", db, "--by", "alice"))
    (event,) = json.loads(ok(invoke("show", proposal, "--db", db, "--json")))["events"]
    assert event["by"] == "alice"
    assert event["detail"]["period_days"] == 3 and event["detail"]["price_tolerance"] == 0.02
    assert event["detail"]["largest_price_move"] == 0.0


def test_reject_needs_a_reason_and_ends_the_proposal(invoke: Any, db: str) -> None:
    proposal = ok(invoke("propose", DATA / "household.yaml", "--db", db)).strip()
    assert invoke("reject", proposal, "--db", db).exit_code == 2  # --reason is required
    ok(invoke("reject", proposal, "--db", db, "--reason", "client wants to wait", "--by", "carol"))
    refused = invoke("approve", proposal, "--db", db)
    assert refused.exit_code == 2 and "it was rejected" in refused.stderr
    shown = ok(invoke("show", proposal, "--db", db))
    assert "client wants to wait" in shown and "carol" in shown


def test_diff_shows_trades_tax_and_drift(invoke: Any, db: str, tmp_path: Path) -> None:
    first = ok(invoke("propose", DATA / "household.yaml", "--db", db)).strip()
    data = yaml.safe_load((DATA / "household.yaml").read_text())
    data["targets"] = {"us_equity": 0.65, "bonds": 0.35}
    moved = tmp_path / "moved.yaml"
    moved.write_text(yaml.safe_dump(data))
    second = ok(invoke("propose", moved, "--db", db)).strip()
    d = json.loads(ok(invoke("diff", first, second, "--db", db, "--json")))
    assert d["from"] == int(first) and d["to"] == int(second)
    assert d["trades"], "different targets, different trades"
    assert set(d["figures"]) >= {"tax_due", "tracking_error_after", "realized_long_term"}
    assert set(d["drift_after"]) == {"us_equity", "bonds", "cash"}
    assert "drift after the trades" in ok(invoke("diff", first, second, "--db", db))


def test_record_without_approval_is_refused(invoke: Any, db: str) -> None:
    proposal = ok(invoke("propose", DATA / "household.yaml", "--db", db)).strip()
    result = invoke("record", proposal, "--fills", DATA / "fills.csv", "--db", db)
    assert result.exit_code == 2 and "not approved yet" in result.stderr


def test_holdings_needs_a_household_when_the_journal_has_several(invoke: Any, db: str, approved_db: str) -> None:
    ok(invoke("propose", SCENARIOS / "sarah-70-30.yaml", "--db", approved_db))
    result = invoke("holdings", "--db", approved_db)
    assert result.exit_code == 2 and "journal-household, sarah-70-30" in result.stderr
    result = invoke("holdings", "--db", approved_db, "--household", "sarah-70-30")
    assert result.exit_code == 2 and "no fills recorded for household 'sarah-70-30'" in result.stderr
    text = ok(invoke("holdings", "--db", approved_db, "--household", "journal-household"))
    assert text.startswith("# journal-household: holdings after the fills recorded for proposal 1")


def test_holdings_as_of_a_later_year_rolls_the_tax_year(invoke: Any, approved_db: str, tmp_path: Path) -> None:
    out = tmp_path / "next-year.yaml"
    ok(invoke("holdings", "--db", approved_db, "--as-of", "2027-01-15", "-o", out))
    rolled = load_scenario(out)
    assert rolled.tax_year == 2027 and rolled.as_of == dt.date(2027, 1, 15)
    assert rolled.tax.realized_ytd.long_term == 0.0
    # 2026: −2,050 long-term against no gains: all of it offsets ordinary income (limit 3,000): nothing left.
    assert rolled.tax.carryforward.long_term == 0.0
    assert rolled.recent_trades == []
    early = invoke("holdings", "--db", approved_db, "--as-of", "2026-11-01")
    assert early.exit_code == 2 and "before the last recorded fill" in early.stderr


@pytest.fixture
def approved_db(invoke: Any, db: str) -> str:
    """A journal with proposal 1 of the test household approved and its fills recorded."""
    ok(invoke("propose", DATA / "household.yaml", "--db", db))
    ok(invoke("approve", "1", "--db", db))
    ok(invoke("record", "1", "--fills", DATA / "fills.csv", "--db", db))
    return db


def test_reading_commands_need_an_existing_journal(invoke: Any, tmp_path: Path) -> None:
    result = invoke("proposals", "--db", tmp_path / "none.sqlite")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no journal at")
    assert "Traceback" not in result.stderr
    bad_url = invoke("proposals", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert bad_url.exit_code == 2 and bad_url.stderr.startswith("error: journal postgresql+psycopg://nobody@")
