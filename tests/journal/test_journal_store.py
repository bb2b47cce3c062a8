"""The journal database: migrations, append-only rows, state transitions and their transactions, on SQLite
and on the PostgreSQL server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DBAPIError

from rebal_opt.journal.db import journal_url, make_engine
from rebal_opt.journal.errors import JournalError, NotFound, StateError
from rebal_opt.journal.migrations import LATEST, MIGRATIONS, current_version, upgrade
from rebal_opt.journal.schema import journal_version, proposal_events, proposals
from rebal_opt.journal.store import APPROVED, RECORDED, REJECTED, Change, Journal, Proposal, ProposalDraft


def test_a_new_journal_has_every_migration(journal_db: str) -> None:
    with Journal.open(journal_url(journal_db), create=True) as journal, journal.engine.begin() as conn:
        versions = conn.execute(select(journal_version.c.version).order_by(journal_version.c.version)).scalars()
        assert list(versions) == [m.version for m in MIGRATIONS]
        assert current_version(conn) == LATEST


def test_an_old_journal_is_migrated_and_keeps_its_proposals(journal_db: str, household_draft: ProposalDraft) -> None:
    url = journal_url(journal_db)
    engine = make_engine(url)
    with engine.begin() as conn:  # a journal written by a program that knew only migration 1
        upgrade(conn, target=1)
        conn.execute(
            insert(proposals).values(
                **household_draft.__dict__, created_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), created_by="old"
            )
        )
        conn.execute(update(proposals).values(created_by="edited"))  # no guard yet at version 1
    engine.dispose()
    with Journal.open(url) as journal:
        (old,) = journal.list()
        assert old.created_by == "edited" and old.status == "proposed"
        with journal.engine.begin() as conn:
            assert current_version(conn) == LATEST
        with pytest.raises(DBAPIError, match="never changed"), journal.engine.begin() as conn:
            conn.execute(update(proposals).values(created_by="again"))


def test_a_journal_from_a_newer_program_is_refused(journal_db: str) -> None:
    url = journal_url(journal_db)
    Journal.open(url, create=True).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(journal_version).values(
                version=LATEST + 1, description="future", applied_at=dt.datetime.now(dt.UTC), program_version="9"
            )
        )
    engine.dispose()
    with pytest.raises(JournalError, match="newer than this rebal-opt knows"):
        Journal.open(url)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE proposals SET tax_due = 0",
        "DELETE FROM proposals",
        "UPDATE proposal_events SET actor = 'mallory'",
        "DELETE FROM proposal_events",
    ],
)
def test_rows_are_never_changed_or_deleted(journal_db: str, approved: int, statement: str) -> None:
    with Journal.open(journal_url(journal_db)) as journal:
        with pytest.raises(DBAPIError, match="never changed or deleted"), journal.engine.begin() as conn:
            conn.execute(text(statement))
        assert journal.get(approved).status == APPROVED


def test_missing_sqlite_journal_is_not_created_by_a_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JournalError, match="no journal at"):
        Journal.open(journal_url(str(tmp_path / "none.sqlite")))
    assert not (tmp_path / "none.sqlite").exists()


def test_state_transitions(journal_db: str, household_draft: ProposalDraft) -> None:
    with Journal.open(journal_url(journal_db), create=True) as journal:
        a = journal.add(household_draft, "ann")
        b = journal.add(household_draft, "ann")
        with pytest.raises(StateError, match="not approved yet"):
            journal.change(a, RECORDED, "bob", lambda _p: Change())
        journal.change(a, APPROVED, "bob", lambda _p: Change(reason="ok"))
        with pytest.raises(StateError, match="already approved"):
            journal.change(a, APPROVED, "bob", lambda _p: Change())
        journal.change(a, REJECTED, "cat", lambda _p: Change(reason="prices moved"))
        with pytest.raises(StateError, match="it was rejected"):
            journal.change(a, RECORDED, "bob", lambda _p: Change())
        with pytest.raises(NotFound, match="no proposal 999"):
            journal.get(999)

        # A decision that fails inside the transaction leaves nothing behind.
        def refuse(_p: Proposal) -> Change:
            raise JournalError("refused")

        with pytest.raises(JournalError, match="refused"):
            journal.change(b, APPROVED, "bob", refuse)
        assert journal.get(b).events == ()

        got = journal.get(a)
        assert got.status == REJECTED
        assert [(e.kind, e.actor, e.reason) for e in got.events] == [
            ("approved", "bob", "ok"),
            ("rejected", "cat", "prices moved"),
        ]
        # The stored proposal is what was given, figure for figure.
        stored = {f.name: getattr(got, f.name) for f in dataclasses.fields(ProposalDraft)}
        assert stored == household_draft.__dict__


def test_two_approvals_at_once_make_one_event(journal_db: str, household_draft: ProposalDraft) -> None:
    """Two processes approving one proposal at the same moment: the transactions are serialized (SQLite's
    BEGIN IMMEDIATE, PostgreSQL's row lock), so the second sees the first's approval and is refused."""
    url = journal_url(journal_db)
    with Journal.open(url, create=True) as journal:
        proposal_id = journal.add(household_draft, "ann")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(name: str) -> None:
        journal = Journal.open(url)
        start.wait()

        def slow(_p: Proposal) -> Change:
            time.sleep(0.3)  # both would pass the status check without the lock
            return Change()

        try:
            journal.change(proposal_id, APPROVED, name, slow)
            outcomes.append("approved")
        except StateError:
            outcomes.append("refused")
        finally:
            journal.close()

    threads = [threading.Thread(target=approve, args=(n,)) for n in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "refused"]
    with Journal.open(url) as journal, journal.engine.begin() as conn:
        kinds = conn.execute(select(proposal_events.c.kind)).scalars().all()
    assert kinds == ["approved"]


def test_a_proposal_made_before_another_ones_fills_cannot_be_recorded(
    journal_db: str, household_draft: ProposalDraft
) -> None:
    """Recording it would start from holdings that the other recording changed (and lose those fills)."""
    with Journal.open(journal_url(journal_db), create=True) as journal:
        older = journal.add(household_draft, "ann")
        newer = journal.add(household_draft, "ann")
        for proposal_id in (older, newer):
            journal.change(proposal_id, APPROVED, "bob", lambda _p: Change())
        journal.change(newer, RECORDED, "bob", lambda _p: Change(detail={"realized": {}}))
        with pytest.raises(StateError, match=f"fills of proposal {newer} .* propose again"):
            journal.change(older, RECORDED, "bob", lambda _p: Change())
        journal.change(newer, RECORDED, "bob", lambda _p: Change())  # its own next batch is fine
        assert journal.get(older).status == APPROVED
