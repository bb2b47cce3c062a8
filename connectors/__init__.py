"""Broker exports in, orders out: importers that turn exports into a scenario's holdings, and order/ledger
writers for a plan (docs/import.md)."""
