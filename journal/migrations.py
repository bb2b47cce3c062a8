"""Versioned migrations of the journal's schema, applied when a journal is opened.

Why not Alembic: the journal is opened by the command line on every journal command, often as a SQLite
file beside a scenario that nobody administers, so it must bring itself up to date on open, inside the
same locked transaction that reads its version (two processes opening an old journal at once must not
both migrate it). Alembic can be driven that way, but it brings Mako, an env.py, a script directory in
the package data and a revision graph, for a handful of tables whose migrations are a list. Here a
migration is a numbered function; `journal_version` has one row per applied migration.

Each migration uses its own table definitions (not `journal.schema`'s, which describe the latest state),
so an old journal is migrated the way it was when the migration was written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)

from .errors import JournalError
from .schema import journal_version

ADVISORY_LOCK_KEY = 7_204_311_861
"""PostgreSQL advisory lock held while migrating (an arbitrary constant of this program)."""


def program_version() -> str:
    try:
        return version("rebal-opt")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _v1_tables(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "proposals",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("household", String(200), nullable=False, index=True),
        Column("command", String(20), nullable=False),
        Column("period", Integer, nullable=True),
        Column("as_of", Date, nullable=False),
        Column("scenario_text", Text, nullable=False),
        Column("scenario_source", Text, nullable=True),
        Column("result_json", Text, nullable=False),
        Column("program_version", String(50), nullable=False),
        Column("solver_status", String(30), nullable=False),
        Column("verified", Boolean, nullable=False),
        Column("input_hash", String(64), nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("created_by", String(200), nullable=False),
        Column("tax_due", Float, nullable=True),
        Column("tracking_error", Float, nullable=True),
        Column("trade_count", Integer, nullable=False),
    )
    Table(
        "proposal_events",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False, index=True),
        Column("kind", String(20), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("reason", Text, nullable=True),
        Column("detail_json", Text, nullable=True),
        Column("holdings_text", Text, nullable=True),
        Column("holdings_as_of", Date, nullable=True),
    )
    Table(
        "proposal_fills",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Integer, ForeignKey("proposal_events.id"), nullable=False, index=True),
        Column("line", Integer, nullable=False),
        Column("account", String(200), nullable=False),
        Column("action", String(4), nullable=False),
        Column("security", String(50), nullable=False),
        Column("shares", Float, nullable=False),
        Column("price", Float, nullable=False),
        Column("date", Date, nullable=False),
        Column("commission", Float, nullable=False),
        Column("lots", Text, nullable=False),
    )
    meta.create_all(conn)


APPEND_ONLY = ("proposals", "proposal_events", "proposal_fills")


def _v2_append_only(conn: Connection) -> None:
    """Rows are never updated or deleted, enforced by the database (not only by this program)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION rebal_opt_append_only() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'rebal-opt journal: rows of % are never changed or deleted', TG_TABLE_NAME; "
                "END $$ LANGUAGE plpgsql"
            )
        )
        for table in APPEND_ONLY:
            conn.execute(
                text(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION rebal_opt_append_only()"
                )
            )
    elif conn.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                conn.execute(
                    text(
                        f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, 'rebal-opt journal: rows of {table} are never changed or deleted'); "
                        "END"
                    )
                )
    else:  # other databases work, without the database-level guard
        return


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "proposals, their events (approval trail) and recorded fills", _v1_tables),
    Migration(2, "proposals, events and fills are append-only (triggers)", _v2_append_only),
)
LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    return int(conn.scalar(select(func.coalesce(func.max(journal_version.c.version), 0))) or 0)


def upgrade(conn: Connection, target: int = LATEST) -> list[Migration]:
    """Apply the migrations after the journal's version, up to `target`, in the caller's transaction.

    The caller's transaction makes them all-or-nothing (PostgreSQL and SQLite both have transactional
    DDL); the lock taken first makes a second process wait and then find nothing left to do.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    journal_version.create(conn, checkfirst=True)
    current = current_version(conn)
    if current > LATEST:
        raise JournalError(
            f"the journal has schema version {current}, newer than this rebal-opt knows ({LATEST}); "
            "upgrade rebal-opt to use it"
        )
    applied = []
    for migration in MIGRATIONS:
        if current < migration.version <= target:
            migration.apply(conn)
            conn.execute(
                insert(journal_version).values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=dt.datetime.now(dt.UTC),
                    program_version=program_version(),
                )
            )
            applied.append(migration)
    return applied
