"""Errors of the journal that a user can act on (the command line prints them as one line)."""

from __future__ import annotations


class JournalError(Exception):
    """The journal cannot do what was asked: the message says why and what to do."""


class NotFound(JournalError):
    """No proposal with that id."""


class StateError(JournalError):
    """The proposal is not in a state that allows the change (e.g. approving a rejected proposal)."""
