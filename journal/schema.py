"""The journal's tables as they are now (the latest migration's result), for queries.

Migrations (`journal.migrations`) create and change the tables with their own frozen definitions, so
that this file can follow the schema forward without rewriting history.

* `proposals`: one row per proposal, never changed: the scenario as given, the full result JSON, the
  program version, the solver status, a hash of the inputs, and a few figures for listing.
* `proposal_events`: the approval trail, one row per state change (approved, rejected, recorded): who,
  when, why, and for a recording the household after the fills (scenario YAML).
* `proposal_fills`: the executions a `recorded` event applied, one row per fill.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

journal_version = Table(
    "journal_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("program_version", String(50), nullable=False),
)

proposals = Table(
    "proposals",
    metadata,
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

proposal_events = Table(
    "proposal_events",
    metadata,
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

proposal_fills = Table(
    "proposal_fills",
    metadata,
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
