"""Stored exclusions: an ``exclusion`` row is written once, when proposed; every state change is a
new ``exclusion_event`` row, so the trail is complete and the state is the latest event's."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, overload

import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, Select, Subquery, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from shared.db.tables import exclusion, exclusion_event
from shared.exclusions.rules import (
    STATES,
    DuplicateExclusion,
    ExclusionError,
    ExclusionNotFound,
    Proposal,
    Scope,
    State,
    StateConflict,
    clean_text,
)

MAX_ACTOR_CHARS = 200
# Which states each action may start from. A reviewer may revoke an approval (reject it); a CPO
# may withdraw its own proposal or approval.
ALLOWED_FROM: dict[State, tuple[State, ...]] = {
    "APPROVED": ("PROPOSED",),
    "REJECTED": ("PROPOSED", "APPROVED"),
    "WITHDRAWN": ("PROPOSED", "APPROVED"),
}
VERB: dict[State, str] = {"APPROVED": "approved", "REJECTED": "rejected", "WITHDRAWN": "withdrawn"}

APPROVED_SCHEMA = pa.schema(
    [
        pa.field("exclusion_id", pa.string(), nullable=False),
        pa.field("cpo_id", pa.string(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("scope_id", pa.string(), nullable=False),
        pa.field("from_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("to_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("cause", pa.string(), nullable=False),
        pa.field("note", pa.string()),
    ]
)


class Exclusion(BaseModel, frozen=True):
    """An exclusion with its current state and who proposed and last reviewed it."""

    exclusion_id: str
    cpo_id: str
    scope: Scope
    scope_id: str
    from_at: datetime
    to_at: datetime
    cause: str
    note: str | None
    state: State
    proposed_by: str
    proposed_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    reason: str | None


class Event(BaseModel, frozen=True):
    seq: int
    state: State
    actor: str
    reason: str | None
    at: datetime


def _naive(instant: datetime) -> datetime:
    """UTC without tz info, as stored; a naive instant is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


@overload
def _aware(instant: datetime) -> datetime: ...
@overload
def _aware(instant: None) -> None: ...
def _aware(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.replace(tzinfo=UTC)


def _actor(actor: str) -> str:
    text = clean_text(actor, "actor", MAX_ACTOR_CHARS)
    if text is None:
        raise ExclusionError("actor: who does this must be named")
    return text


def new_exclusion_id() -> str:
    return "ex-" + secrets.token_hex(8)


def _latest_events() -> Subquery:
    latest = (
        select(exclusion_event.c.exclusion_id, func.max(exclusion_event.c.seq).label("seq"))
        .group_by(exclusion_event.c.exclusion_id)
        .subquery("latest")
    )
    return (
        select(exclusion_event)
        .join(
            latest,
            and_(
                latest.c.exclusion_id == exclusion_event.c.exclusion_id,
                latest.c.seq == exclusion_event.c.seq,
            ),
        )
        .subquery("current")
    )


def _state(state: str) -> State:
    wanted = state.strip().upper()
    if wanted not in STATES:
        raise ExclusionError(f"state: {state[:40]!r} is not one of {', '.join(STATES)}")
    return wanted


def _current(state: str | None = None) -> Select[Any]:
    """Exclusions joined to their latest event, optionally only those in ``state`` now."""
    current = _latest_events()
    query = select(
        exclusion,
        current.c.state,
        current.c.seq,
        current.c.actor.label("event_actor"),
        current.c.reason.label("event_reason"),
        current.c.at.label("event_at"),
    ).join(current, current.c.exclusion_id == exclusion.c.exclusion_id)
    return query if state is None else query.where(current.c.state == _state(state))


def _record(row: Row[Any]) -> Exclusion:
    reviewed = row.seq > 1
    return Exclusion(
        exclusion_id=row.exclusion_id,
        cpo_id=row.cpo_id,
        scope=row.scope,
        scope_id=row.scope_id,
        from_at=_aware(row.from_at),
        to_at=_aware(row.to_at),
        cause=row.cause,
        note=row.note,
        state=row.state,
        proposed_by=row.proposed_by,
        proposed_at=_aware(row.proposed_at),
        reviewed_by=row.event_actor if reviewed else None,
        reviewed_at=_aware(row.event_at) if reviewed else None,
        reason=row.event_reason if reviewed else None,
    )


def _duplicate_of(connection: Connection, proposal: Proposal) -> Exclusion | None:
    query = _current().where(
        exclusion.c.cpo_id == proposal.cpo_id,
        exclusion.c.scope == proposal.scope,
        exclusion.c.scope_id == proposal.scope_id,
        exclusion.c.from_at == _naive(proposal.from_at),
        exclusion.c.to_at == _naive(proposal.to_at),
        exclusion.c.cause == proposal.cause,
    )
    for row in connection.execute(query):
        if row.state in ("PROPOSED", "APPROVED"):
            return _record(row)
    return None


def propose(
    engine: Engine, proposals: Sequence[Proposal], actor: str, now: datetime | None = None
) -> list[str]:
    """Store checked proposals, all or none; returns their new ids in order.

    A window the CPO has already proposed (same scope, instants and cause, still proposed or
    approved) is refused, naming the earlier one, so a re-sent request or re-imported file
    does not double it."""
    by = _actor(actor)
    at = _naive(now or datetime.now(UTC))
    ids: list[str] = []
    with engine.begin() as connection:
        seen: dict[tuple[object, ...], int] = {}
        for number, proposal in enumerate(proposals):
            key = tuple(proposal.model_dump(exclude={"note"}).values())
            if key in seen:
                raise DuplicateExclusion(
                    f"the same window is given twice (items {seen[key]} and {number})"
                )
            seen[key] = number
            earlier = _duplicate_of(connection, proposal)
            if earlier is not None:
                raise DuplicateExclusion(
                    f"{proposal.scope} {proposal.scope_id} {proposal.from_at.isoformat()} …"
                    f" {proposal.to_at.isoformat()} {proposal.cause} is already"
                    f" {earlier.state.lower()} as {earlier.exclusion_id}"
                )
            exclusion_id = new_exclusion_id()
            connection.execute(
                insert(exclusion).values(
                    exclusion_id=exclusion_id,
                    cpo_id=proposal.cpo_id,
                    scope=proposal.scope,
                    scope_id=proposal.scope_id,
                    from_at=_naive(proposal.from_at),
                    to_at=_naive(proposal.to_at),
                    cause=proposal.cause,
                    note=proposal.note,
                    proposed_by=by,
                    proposed_at=at,
                )
            )
            connection.execute(
                insert(exclusion_event).values(
                    exclusion_id=exclusion_id, seq=1, state="PROPOSED", actor=by, reason=None, at=at
                )
            )
            ids.append(exclusion_id)
    return ids


def get_exclusion(
    connection: Connection, exclusion_id: str, cpo_id: str | None = None
) -> Exclusion:
    """One exclusion; with ``cpo_id``, only if it is that CPO's (else it does not exist)."""
    return _record(_current_row(connection, exclusion_id, cpo_id))


def _current_row(connection: Connection, exclusion_id: str, cpo_id: str | None) -> Row[Any]:
    query = _current().where(exclusion.c.exclusion_id == exclusion_id)
    if cpo_id is not None:
        query = query.where(exclusion.c.cpo_id == cpo_id)
    row = connection.execute(query).first()
    if row is None:
        raise ExclusionNotFound(f"no exclusion {exclusion_id[:40]!r}")
    return row


def list_exclusions(
    connection: Connection, *, cpo_id: str | None = None, state: str | None = None
) -> list[Exclusion]:
    """Exclusions, newest proposal first, optionally of one CPO and in one current state."""
    query = _current(state)
    if cpo_id is not None:
        query = query.where(exclusion.c.cpo_id == cpo_id)
    rows = connection.execute(
        query.order_by(exclusion.c.proposed_at.desc(), exclusion.c.exclusion_id)
    )
    return [_record(row) for row in rows]


def history(connection: Connection, exclusion_id: str) -> list[Event]:
    """Every event of an exclusion, oldest first: the audit trail."""
    rows = connection.execute(
        select(exclusion_event)
        .where(exclusion_event.c.exclusion_id == exclusion_id)
        .order_by(exclusion_event.c.seq)
    )
    return [
        Event(seq=r.seq, state=r.state, actor=r.actor, reason=r.reason, at=_aware(r.at))
        for r in rows
    ]


def _change(
    engine: Engine,
    exclusion_id: str,
    state: State,
    actor: str,
    reason: str | None,
    *,
    cpo_id: str | None = None,
    now: datetime | None = None,
) -> Exclusion:
    by = _actor(actor)
    why = clean_text(reason, "reason")
    if state == "REJECTED" and why is None:
        raise ExclusionError("reason: a rejection needs a reason")
    with engine.begin() as connection:
        # State and seq from one read: a change committed since makes seq + 1 collide.
        current = _current_row(connection, exclusion_id, cpo_id)
        if current.state not in ALLOWED_FROM[state]:
            allowed = " or ".join(ALLOWED_FROM[state])
            raise StateConflict(
                f"exclusion {exclusion_id} is {current.state}; only a {allowed} exclusion can be"
                f" {VERB[state]}"
            )
        seq = current.seq
        try:
            connection.execute(
                insert(exclusion_event).values(
                    exclusion_id=exclusion_id,
                    seq=seq + 1,
                    state=state,
                    actor=by,
                    reason=why,
                    at=_naive(now or datetime.now(UTC)),
                )
            )
        except IntegrityError:
            raise StateConflict(
                f"exclusion {exclusion_id} was changed by someone else meanwhile; look again"
            ) from None
        return get_exclusion(connection, exclusion_id)


def approve(
    engine: Engine,
    exclusion_id: str,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Exclusion:
    return _change(engine, exclusion_id, "APPROVED", actor, reason, now=now)


def reject(
    engine: Engine, exclusion_id: str, actor: str, reason: str, now: datetime | None = None
) -> Exclusion:
    return _change(engine, exclusion_id, "REJECTED", actor, reason, now=now)


def withdraw(
    engine: Engine,
    exclusion_id: str,
    actor: str,
    *,
    cpo_id: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Exclusion:
    """Withdraw a proposed or approved exclusion; with ``cpo_id``, only that CPO's own."""
    return _change(engine, exclusion_id, "WITHDRAWN", actor, reason, cpo_id=cpo_id, now=now)


def approved_exclusions(connection: Connection, start: datetime, end: datetime) -> pa.Table:
    """The exclusions approved now whose window overlaps ``[start, end)`` (APPROVED_SCHEMA)."""
    query = (
        _current("APPROVED")
        .where(
            exclusion.c.from_at < _naive(end),
            exclusion.c.to_at > _naive(start),
        )
        .order_by(
            exclusion.c.cpo_id,
            exclusion.c.scope,
            exclusion.c.scope_id,
            exclusion.c.from_at,
            exclusion.c.exclusion_id,
        )
    )
    rows = connection.execute(query).all()
    columns = {
        name: [getattr(row, name) for row in rows]
        for name in ("exclusion_id", "cpo_id", "scope", "scope_id", "cause", "note")
    }
    for name in ("from_at", "to_at"):
        columns[name] = [getattr(row, name).replace(tzinfo=UTC) for row in rows]
    return pa.table({field.name: columns[field.name] for field in APPROVED_SCHEMA}, APPROVED_SCHEMA)


def table_rows(exclusions: Iterable[Exclusion]) -> list[dict[str, object]]:
    """Exclusions as flat rows for tables and CSV (instants in ISO 8601 UTC)."""
    rows = []
    for item in exclusions:
        row = item.model_dump()
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.isoformat().replace("+00:00", "Z")
        rows.append(row)
    return rows


LIST_COLUMNS = (
    "exclusion_id",
    "state",
    "cpo_id",
    "scope",
    "scope_id",
    "from_at",
    "to_at",
    "cause",
    "note",
    "proposed_by",
    "proposed_at",
    "reviewed_by",
    "reviewed_at",
    "reason",
)
