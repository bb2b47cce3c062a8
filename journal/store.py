"""The journal: proposals are added, read and listed; state changes are appended as events.

A proposal row is never changed. Its status is read from its events: `proposed` (none yet), then
`approved`, then `recorded` (one or more batches of fills), or `rejected` (from proposed or approved).
Each state change is one transaction that locks the proposal, reads its events, checks the transition,
computes what to write (the fills and the household after them, for a recording) and writes it; any
error on the way rolls the whole change back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import URL, Connection, Engine, Row, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from .db import describe, make_engine, sqlite_exists
from .errors import JournalError, NotFound, StateError
from .migrations import upgrade
from .schema import proposal_events, proposal_fills, proposals

PROPOSED, APPROVED, REJECTED, RECORDED = "proposed", "approved", "rejected", "recorded"
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; the journal writes UTC only."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Fill:
    """One execution as recorded: `lots` are the lots a sale took (lot id, shares), in order."""

    line: int
    account: str
    action: str
    security: str
    shares: float
    price: float
    date: dt.date
    commission: float = 0.0
    lots: tuple[tuple[str, float], ...] = ()

    def lots_text(self) -> str:
        return ";".join(f"{lot}:{shares:g}" for lot, shares in self.lots)


def parse_lots_text(value: str) -> tuple[tuple[str, float], ...]:
    """'B1:20;B2:5' -> (('B1', 20.0), ('B2', 5.0)); raises ValueError naming the bad part."""
    out = []
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        lot, sep, shares = part.rpartition(":")
        if not sep or not lot:
            raise ValueError(f"'{part}' is not LOT:SHARES")
        out.append((lot.strip(), float(shares)))
    return tuple(out)


@dataclass(frozen=True)
class Event:
    """One state change of a proposal: the approval trail's row."""

    id: int
    proposal_id: int
    kind: str
    at: dt.datetime
    actor: str
    reason: str | None
    detail: dict[str, Any]
    holdings_text: str | None
    holdings_as_of: dt.date | None
    fills: tuple[Fill, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "by": self.actor,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.detail:
            out["detail"] = self.detail
        if self.fills:
            out["fills"] = [
                {
                    "account": f.account,
                    "action": f.action,
                    "security": f.security,
                    "shares": f.shares,
                    "price": f.price,
                    "date": f.date.isoformat(),
                    "commission": f.commission,
                    **({"lots": f.lots_text()} if f.lots else {}),
                }
                for f in self.fills
            ]
        if self.holdings_as_of is not None:
            out["holdings_as_of"] = self.holdings_as_of.isoformat()
        return out


@dataclass(frozen=True)
class ProposalDraft:
    """What `propose` stores: everything but the id, the time and who."""

    household: str
    command: str
    period: int | None
    as_of: dt.date
    scenario_text: str
    scenario_source: str | None
    result_json: str
    program_version: str
    solver_status: str
    verified: bool
    input_hash: str
    tax_due: float | None
    tracking_error: float | None
    trade_count: int


@dataclass(frozen=True)
class Proposal(ProposalDraft):
    id: int = 0
    created_at: dt.datetime = field(default_factory=utc_now)
    created_by: str = ""
    events: tuple[Event, ...] = ()

    @property
    def status(self) -> str:
        kinds = {e.kind for e in self.events}
        for status in (REJECTED, RECORDED, APPROVED):
            if status in kinds:
                return status
        return PROPOSED

    @property
    def result(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.result_json)
        return parsed

    def latest(self, kind: str) -> Event | None:
        found = [e for e in self.events if e.kind == kind]
        return found[-1] if found else None

    @property
    def recorded_fills(self) -> list[Fill]:
        return [f for e in self.events if e.kind == RECORDED for f in e.fills]

    def summary_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "household": self.household,
            "command": self.command,
            **({"period": self.period} if self.period is not None else {}),
            "status": self.status,
            "as_of": self.as_of.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "solver_status": self.solver_status,
            "verified": self.verified,
            "tax_due": self.tax_due,
            "tracking_error": self.tracking_error,
            "trades": self.trade_count,
            "program_version": self.program_version,
            "input_hash": self.input_hash,
        }


@dataclass(frozen=True)
class Change:
    """What a state change writes, decided inside its transaction."""

    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    holdings_text: str | None = None
    holdings_as_of: dt.date | None = None
    fills: Sequence[Fill] = ()


ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    APPROVED: (PROPOSED,),
    REJECTED: (PROPOSED, APPROVED),
    RECORDED: (APPROVED, RECORDED),
}

_WHY_NOT = {
    (APPROVED, APPROVED): "it is already approved",
    (APPROVED, REJECTED): "it was rejected; propose again",
    (APPROVED, RECORDED): "its fills are already recorded",
    (REJECTED, REJECTED): "it is already rejected",
    (REJECTED, RECORDED): "fills are already recorded for it",
    (RECORDED, PROPOSED): "it is not approved yet; approve it first",
    (RECORDED, REJECTED): "it was rejected",
}


class Journal:
    """A journal database, migrated to the latest schema when opened."""

    def __init__(self, engine: Engine, url: URL, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.url = url
        self.clock = clock

    @classmethod
    def open(cls, url: URL, create: bool = False, clock: Clock = utc_now) -> Journal:
        """Open (and migrate) the journal at `url`; a missing SQLite file is created only when `create`."""
        if not create and not sqlite_exists(url):
            raise JournalError(
                f"no journal at {describe(url)}; `rebal-opt propose SCENARIO` starts one, or give --db PATH"
            )
        engine = make_engine(url)
        journal = cls(engine, url, clock)
        with journal._database_errors(), engine.begin() as conn:
            upgrade(conn)
        return journal

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            raise JournalError(f"journal {describe(self.url)}: {first}") from None

    # -- reading ------------------------------------------------------------------------------------

    def _proposal(self, row: Row[Any], events: tuple[Event, ...]) -> Proposal:
        m = row._mapping
        return Proposal(
            id=m["id"],
            household=m["household"],
            command=m["command"],
            period=m["period"],
            as_of=m["as_of"],
            scenario_text=m["scenario_text"],
            scenario_source=m["scenario_source"],
            result_json=m["result_json"],
            program_version=m["program_version"],
            solver_status=m["solver_status"],
            verified=bool(m["verified"]),
            input_hash=m["input_hash"],
            created_at=_utc(m["created_at"]),
            created_by=m["created_by"],
            tax_due=m["tax_due"],
            tracking_error=m["tracking_error"],
            trade_count=m["trade_count"],
            events=events,
        )

    def _events(self, conn: Connection, ids: list[int], with_fills: bool) -> dict[int, list[Event]]:
        out: dict[int, list[Event]] = {i: [] for i in ids}
        if not ids:
            return out
        rows = conn.execute(
            select(proposal_events).where(proposal_events.c.proposal_id.in_(ids)).order_by(proposal_events.c.id)
        ).all()
        fills: dict[int, list[Fill]] = {}
        if with_fills and rows:
            event_ids = [r.id for r in rows]
            for f in conn.execute(
                select(proposal_fills).where(proposal_fills.c.event_id.in_(event_ids)).order_by(proposal_fills.c.id)
            ).all():
                fills.setdefault(f.event_id, []).append(
                    Fill(
                        f.line,
                        f.account,
                        f.action,
                        f.security,
                        f.shares,
                        f.price,
                        f.date,
                        f.commission,
                        parse_lots_text(f.lots),
                    )
                )
        for r in rows:
            out[r.proposal_id].append(
                Event(
                    id=r.id,
                    proposal_id=r.proposal_id,
                    kind=r.kind,
                    at=_utc(r.at),
                    actor=r.actor,
                    reason=r.reason,
                    detail=json.loads(r.detail_json) if r.detail_json else {},
                    holdings_text=r.holdings_text,
                    holdings_as_of=r.holdings_as_of,
                    fills=tuple(fills.get(r.id, [])),
                )
            )
        return out

    def _load(self, conn: Connection, proposal_id: int, lock: bool = False) -> Proposal:
        query = select(proposals).where(proposals.c.id == proposal_id)
        if lock:
            query = query.with_for_update()  # PostgreSQL; SQLite holds the write lock from BEGIN IMMEDIATE
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(
                f"no proposal {proposal_id} in the journal {describe(self.url)}; `rebal-opt proposals` lists them"
            )
        events = self._events(conn, [proposal_id], with_fills=True)[proposal_id]
        return self._proposal(row, tuple(events))

    def get(self, proposal_id: int) -> Proposal:
        with self._database_errors(), self.engine.begin() as conn:
            return self._load(conn, proposal_id)

    def list(self, household: str | None = None) -> list[Proposal]:
        query = select(proposals).order_by(proposals.c.id)
        if household is not None:
            query = query.where(proposals.c.household == household)
        with self._database_errors(), self.engine.begin() as conn:
            rows = conn.execute(query).all()
            events = self._events(conn, [r.id for r in rows], with_fills=False)
        return [self._proposal(r, tuple(events[r.id])) for r in rows]

    def households(self) -> list[str]:
        with self._database_errors(), self.engine.begin() as conn:
            return list(conn.scalars(select(proposals.c.household).distinct().order_by(proposals.c.household)))

    def latest_recording(self, household: str) -> tuple[Proposal, Event] | None:
        """The household's most recent `recorded` event (its holdings after the fills), with its proposal."""
        query = (
            select(proposal_events.c.proposal_id)
            .join(proposals, proposals.c.id == proposal_events.c.proposal_id)
            .where(proposals.c.household == household, proposal_events.c.kind == RECORDED)
            .order_by(proposal_events.c.id.desc())
            .limit(1)
        )
        with self._database_errors(), self.engine.begin() as conn:
            proposal_id = conn.scalar(query)
            if proposal_id is None:
                return None
            proposal = self._load(conn, proposal_id)
        event = proposal.latest(RECORDED)
        assert event is not None
        return proposal, event

    # -- writing ------------------------------------------------------------------------------------

    def _check_still_current(self, conn: Connection, proposal: Proposal) -> None:
        """Fills of another proposal of the household recorded after this one was made changed the holdings
        this one starts from: recording it on top of its own scenario would lose them."""
        rows = conn.execute(
            select(proposal_events.c.proposal_id, proposal_events.c.at)
            .join(proposals, proposals.c.id == proposal_events.c.proposal_id)
            .where(
                proposals.c.household == proposal.household,
                proposal_events.c.kind == RECORDED,
                proposal_events.c.proposal_id != proposal.id,
            )
            .order_by(proposal_events.c.id)
        ).all()
        later = [(r.proposal_id, _utc(r.at)) for r in rows if _utc(r.at) > proposal.created_at]
        if later:
            other, at = later[-1]
            raise StateError(
                f"proposal {proposal.id} cannot be recorded: fills of proposal {other} for {proposal.household} were "
                f"recorded on {at:%Y-%m-%d %H:%M} UTC, after proposal {proposal.id} was made, so the holdings it "
                "starts from have changed; propose again from `rebal-opt holdings`"
            )

    def add(self, draft: ProposalDraft, actor: str) -> int:
        """Store a new proposal; returns its id."""
        with self._database_errors(), self.engine.begin() as conn:
            result = conn.execute(insert(proposals).values(**draft.__dict__, created_at=self.clock(), created_by=actor))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def change(
        self,
        proposal_id: int,
        kind: str,
        actor: str,
        decide: Callable[[Proposal], Change],
    ) -> Event:
        """Append a `kind` event to the proposal in one transaction.

        `decide` sees the locked proposal (events and fills included) and returns what to write, or raises
        (JournalError or any other exception) to change nothing.
        """
        with self._database_errors(), self.engine.begin() as conn:
            proposal = self._load(conn, proposal_id, lock=True)
            if proposal.status not in ALLOWED_FROM[kind]:
                why = _WHY_NOT.get((kind, proposal.status), f"it is {proposal.status}")
                raise StateError(f"proposal {proposal_id} cannot be {kind}: {why}")
            if kind == RECORDED:
                self._check_still_current(conn, proposal)
            change = decide(proposal)
            at = self.clock()
            result = conn.execute(
                insert(proposal_events).values(
                    proposal_id=proposal_id,
                    kind=kind,
                    at=at,
                    actor=actor,
                    reason=change.reason,
                    detail_json=json.dumps(change.detail, sort_keys=True) if change.detail else None,
                    holdings_text=change.holdings_text,
                    holdings_as_of=change.holdings_as_of,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            event_id = int(key[0])
            for fill in change.fills:
                conn.execute(
                    insert(proposal_fills).values(
                        event_id=event_id,
                        line=fill.line,
                        account=fill.account,
                        action=fill.action,
                        security=fill.security,
                        shares=fill.shares,
                        price=fill.price,
                        date=fill.date,
                        commission=fill.commission,
                        lots=fill.lots_text(),
                    )
                )
        return Event(
            event_id,
            proposal_id,
            kind,
            at,
            actor,
            change.reason,
            dict(change.detail),
            change.holdings_text,
            change.holdings_as_of,
            tuple(change.fills),
        )
