"""The proposal journal: proposals (immutable), their approval trail and recorded fills, in SQLite or
PostgreSQL through SQLAlchemy Core (docs/proposals.md)."""
