"""Where the journal is and how to connect: a SQLite file (the default) or a database URL.

SQLite transactions: Python's sqlite3 module (before 3.12's autocommit attribute) begins a transaction
only before INSERT/UPDATE/DELETE, so a SELECT that decides a state change, or the DDL of a migration,
would run outside it. The engine here turns that off and begins every transaction itself with
`BEGIN IMMEDIATE` (SQLAlchemy's documented recipe): the write lock is taken before the state is read,
so two processes changing one proposal are serialized, and a killed process leaves only a rolled-back
journal (SQLite's rollback journal; synchronous=FULL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from .errors import JournalError

JOURNAL_FILENAME = "rebal-opt-journal.sqlite"
"""The default journal file: beside the scenario, or in the working directory."""
BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another one to finish before giving up."""


def journal_url(db: str | None, scenario_path: str | Path | None = None) -> URL:
    """The journal's URL: `db` (a URL, or a path to a SQLite file), else the default file.

    `postgresql://...` uses psycopg 3 (SQLAlchemy's own default for that scheme is psycopg2).
    """
    if db is None:
        directory = Path(scenario_path).resolve().parent if scenario_path is not None else Path.cwd()
        return URL.create("sqlite", database=str(directory / JOURNAL_FILENAME))
    if "://" in db:
        try:
            url = make_url(db)
        except ArgumentError:
            raise JournalError(f"--db: '{db}' is not a database URL; e.g. postgresql://user@host/dbname") from None
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    return URL.create("sqlite", database=str(Path(db).expanduser().resolve()))


def describe(url: URL) -> str:
    """The URL for messages, without its password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def sqlite_exists(url: URL) -> bool:
    return url.get_backend_name() != "sqlite" or Path(url.database or "").exists()


def _sqlite_engine(url: URL) -> Engine:
    database = Path(url.database or "")
    if not database.parent.is_dir():
        raise JournalError(f"--db: the folder {database.parent} does not exist; create it or give another path")
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" listener below emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return create_engine(url, poolclass=NullPool)
    except (ArgumentError, ImportError, ModuleNotFoundError) as exc:
        raise JournalError(f"--db: cannot use {describe(url)}: {exc}") from None
