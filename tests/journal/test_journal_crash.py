"""The journal survives a process killed in the middle of a write (SIGKILL: no cleanup, no rollback by the
program), and a bad fills file changes nothing: on SQLite and on the PostgreSQL server.

The writer is a real `record` in a child process. A SQLAlchemy event listener in the child (test code, not
the program's) stops it after it has written the `recorded` event and the first of three fill rows, inside
the transaction; the parent then kills it with SIGKILL and opens the journal: the proposal is still
approved with no trace of the half-written recording, the database passes its integrity check, and the
same fills can then be recorded in full.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from rebal_opt.journal.db import journal_url
from rebal_opt.journal.schema import proposal_events, proposal_fills, proposals
from rebal_opt.journal.store import Journal

DATA = Path(__file__).parent.parent / "data" / "journal"

WRITER = """
import sys, time
from pathlib import Path
from sqlalchemy import event
from rebal_opt.journal.db import journal_url
from rebal_opt.journal.fills import read_fills
from rebal_opt.journal.record import record_change
from rebal_opt.journal.store import RECORDED, Journal

db, proposal_id, fills, marker = sys.argv[1:5]
journal = Journal.open(journal_url(db))
written = []

@event.listens_for(journal.engine, "after_execute")
def stop_mid_write(conn, statement, *args):
    table = getattr(statement, "table", None)
    if table is not None and table.name == "proposal_fills":
        written.append(1)
        if len(written) == 1:  # the event row and one fill row are written, two fills are not
            Path(marker).write_text("mid-write")
            time.sleep(600)

journal.change(int(proposal_id), RECORDED, "writer", lambda p: record_change(p, read_fills(fills), fills))
"""


def counts(journal: Journal) -> tuple[int, int, int]:
    with journal.engine.begin() as conn:
        return (
            conn.scalar(select(func.count()).select_from(proposals)) or 0,
            conn.scalar(select(func.count()).select_from(proposal_events)) or 0,
            conn.scalar(select(func.count()).select_from(proposal_fills)) or 0,
        )


def test_a_writer_killed_mid_transaction_leaves_the_journal_as_it_was(
    journal_db: str, approved: int, tmp_path: Path, invoke: Any
) -> None:
    proposal_id = approved
    with Journal.open(journal_url(journal_db)) as journal:
        before = counts(journal)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, str(script), journal_db, str(proposal_id), str(DATA / "fills.csv"), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the writer never reached the middle of its write"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    with Journal.open(journal_url(journal_db)) as journal:
        assert counts(journal) == before
        proposal = journal.get(proposal_id)
        assert proposal.status == "approved" and [e.kind for e in proposal.events] == ["approved"]
        if journal.url.get_backend_name() == "sqlite":
            with journal.engine.begin() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"

    # The journal is usable: the same fills are now recorded in full.
    result = invoke("record", proposal_id, "--fills", DATA / "fills.csv", "--db", journal_db)
    assert result.exit_code == 0, result.stderr
    with Journal.open(journal_url(journal_db)) as journal:
        assert counts(journal) == (before[0], before[1] + 1, before[2] + 3)


def test_a_bad_fills_file_changes_nothing(journal_db: str, approved: int, invoke: Any) -> None:
    proposal_id = approved
    with Journal.open(journal_url(journal_db)) as journal:
        before = counts(journal)
    result = invoke("record", proposal_id, "--fills", DATA / "fills-bad.csv", "--db", journal_db)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {DATA / 'fills-bad.csv'}: line 4, column shares: 'sixty' is not a number; give the shares "
        "filled, e.g. 10",
        f"error: {DATA / 'fills-bad.csv'}: line 5, column date: '2026-11-31' must be a date written YYYY-MM-DD",
    ]
    # A well-formed file whose fill cannot have happened (more VTI than the plan's lots hold) is refused
    # inside the transaction: still nothing written.
    oversold = DATA / "fills-oversold.csv"
    result = invoke("record", proposal_id, "--fills", oversold, "--db", journal_db)
    assert result.exit_code == 2 and "name the lots it took" in result.stderr
    with Journal.open(journal_url(journal_db)) as journal:
        assert counts(journal) == before
        assert journal.get(proposal_id).status == "approved"
