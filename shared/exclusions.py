"""Excluded downtime (spec 4.3): proposing, reviewing and withdrawing exclusion windows, and the
approved ones the monthly job uses.

An exclusion row is written once; every state change is a new ``exclusion_event`` row, so the
trail is complete and the state is the latest event's. The CLI, the worker's REST routes and
the dashboard's review page all call the functions here.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from shared.db.tables import exclusion, exclusion_event
from shared.status import InvalidObservation, check_id, parse_instant

Scope = Literal["evse", "charger", "site"]
State = Literal["PROPOSED", "APPROVED", "REJECTED", "WITHDRAWN"]
SCOPES: tuple[Scope, ...] = ("evse", "charger", "site")
STATES: tuple[State, ...] = ("PROPOSED", "APPROVED", "REJECTED", "WITHDRAWN")
CAUSES = (
    "UTILITY_INTERRUPTION",
    "VEHICLE_FAULT",
    "SCHEDULED_MAINTENANCE",
    "VANDALISM",
    "NATURAL_DISASTER",
)
SCOPE_COLUMNS: dict[str, str] = {"evse": "evse_uid", "charger": "charger_id", "site": "site_id"}
MAX_FUTURE_START = timedelta(days=90)
MAX_TEXT_CHARS = 2000
MAX_ACTOR_CHARS = 200
IMPORT_COLUMNS = ("cpo_id", "scope", "scope_id", "from", "to", "cause", "note")
MAX_IMPORT_BYTES = 16 * 1024 * 1024
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


class ExclusionError(ValueError):
    """A proposal or review that cannot be accepted; the message names the field and why."""


class ExclusionNotFound(LookupError):
    """No such exclusion (or not one the asking CPO may see)."""


class StateConflict(ExclusionError):
    """The exclusion's current state does not allow the action."""


class DuplicateExclusion(ExclusionError):
    """The same window is already proposed or approved."""


class Proposal(BaseModel, frozen=True):
    """A checked exclusion window, instants in UTC."""

    cpo_id: str
    scope: Scope
    scope_id: str
    from_at: datetime
    to_at: datetime
    cause: str
    note: str | None = None


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


class SiteScopes:
    """Which EVSEs, chargers and sites each CPO's static CSVs list."""

    def __init__(self, ids: dict[tuple[str, str], set[str]]) -> None:
        self._ids = ids
        self._cpos = {cpo for cpo, _ in ids}

    @classmethod
    def from_connectors(cls, connectors: pd.DataFrame) -> SiteScopes:
        ids: dict[tuple[str, str], set[str]] = {}
        for scope, column in SCOPE_COLUMNS.items():
            for cpo_id, values in connectors.groupby("cpo_id")[column]:
                ids[(str(cpo_id), scope)] = {str(value) for value in values}
        return cls(ids)

    def check(self, cpo_id: str, scope: str, scope_id: str) -> None:
        if scope_id in self._ids.get((cpo_id, scope), ()):
            return
        if cpo_id not in self._cpos:
            raise ExclusionError(
                f"scope_id: {cpo_id} has no static sites loaded, so {scope} {scope_id!r} is not"
                " listed; load its static site CSV first (chargeatlarge sites load)"
            )
        raise ExclusionError(
            f"scope_id: {scope} {scope_id!r} is not in {cpo_id}'s static site CSV"
            f" (a {scope} is named by its {SCOPE_COLUMNS[scope]})"
        )


def _text(value: object, field: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExclusionError(f"{field}: expected text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        raise ExclusionError(f"{field}: longer than {limit} characters")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise ExclusionError(f"{field}: contains control characters")
    return text


def one_year_after(instant: datetime) -> datetime:
    """The same calendar instant a year later (29 February → 1 March)."""
    try:
        return instant.replace(year=instant.year + 1)
    except ValueError:
        return instant.replace(year=instant.year + 1, month=3, day=1)


def check_proposal(
    *,
    cpo_id: object,
    scope: object,
    scope_id: object,
    from_at: object,
    to_at: object,
    cause: object,
    note: object = None,
    scopes: SiteScopes,
    now: datetime | None = None,
) -> Proposal:
    """Every rule of a proposal; raises ExclusionError listing each problem by field."""
    now = now or datetime.now(UTC)
    problems: list[str] = []

    def attempt(check):  # type: ignore[no-untyped-def]
        try:
            return check()
        except (ExclusionError, InvalidObservation) as exc:
            problems.append(str(exc))
            return None

    cpo = attempt(lambda: check_id(cpo_id, "cpo_id"))
    scope_text = scope.strip().lower() if isinstance(scope, str) else scope
    if scope_text not in SCOPES:
        problems.append(f"scope: {str(scope)[:40]!r} is not one of {', '.join(SCOPES)}")
    ident = attempt(lambda: check_id(scope_id, "scope_id"))
    start = attempt(lambda: parse_instant(from_at, "from"))
    end = attempt(lambda: parse_instant(to_at, "to"))
    cause_text = cause.strip().upper() if isinstance(cause, str) else cause
    if cause_text not in CAUSES:
        problems.append(f"cause: {str(cause)[:40]!r} is not one of {', '.join(CAUSES)}")
    note_text = attempt(lambda: _text(note, "note"))
    if start is not None and end is not None:
        if end <= start:
            problems.append(f"to: {end.isoformat()} is not after from ({start.isoformat()})")
        elif end > one_year_after(start):
            problems.append(
                f"to: the window from {start.isoformat()} to {end.isoformat()} is longer than a"
                " year; split it, or ask for a review of the site instead"
            )
    if start is not None and start - now > MAX_FUTURE_START:
        problems.append(
            f"from: {start.isoformat()} is more than {MAX_FUTURE_START.days} days in the future"
        )
    if cpo is not None and scope_text in SCOPES and ident is not None:
        attempt(lambda: scopes.check(cpo, scope_text, ident))  # type: ignore[arg-type]
    if problems:
        raise ExclusionError("; ".join(problems))
    return Proposal(
        cpo_id=cpo,  # type: ignore[arg-type]
        scope=scope_text,  # type: ignore[arg-type]
        scope_id=ident,  # type: ignore[arg-type]
        from_at=start,  # type: ignore[arg-type]
        to_at=end,  # type: ignore[arg-type]
        cause=cause_text,  # type: ignore[arg-type]
        note=note_text,
    )


def _naive(instant: datetime) -> datetime:
    """UTC without tz info, as stored; a naive instant is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


def _aware(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.replace(tzinfo=UTC)


def _actor(actor: str) -> str:
    text = _text(actor, "actor", MAX_ACTOR_CHARS)
    if text is None:
        raise ExclusionError("actor: who does this must be named")
    return text


def new_exclusion_id() -> str:
    return "ex-" + secrets.token_hex(8)


def _latest_events():  # type: ignore[no-untyped-def]
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
    return wanted  # type: ignore[return-value]


def _current(state: str | None = None):  # type: ignore[no-untyped-def]
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


def _record(row) -> Exclusion:  # type: ignore[no-untyped-def]
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


def _current_row(connection: Connection, exclusion_id: str, cpo_id: str | None):  # type: ignore[no-untyped-def]
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
        Event(seq=r.seq, state=r.state, actor=r.actor, reason=r.reason, at=_aware(r.at))  # type: ignore[arg-type]
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
    why = _text(reason, "reason")
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


@dataclass(frozen=True, slots=True)
class ImportProblem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ParsedImport:
    proposals: list[tuple[int, Proposal]]
    problems: list[ImportProblem]


def parse_import_csv(
    data: bytes, source: str, scopes: SiteScopes, now: datetime | None = None
) -> ParsedImport:
    """A CSV ``cpo_id,scope,scope_id,from,to,cause,note`` → checked proposals by line, and every
    bad line with its reason. A file that is not such a CSV raises ExclusionError."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ExclusionError(f"{source}: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExclusionError(f"{source}:{line}: not UTF-8; save the file as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise ExclusionError(f"{source}:1: not a CSV header ({exc})") from None
    missing = [name for name in IMPORT_COLUMNS if name not in header and name != "note"]
    if not header or missing:
        raise ExclusionError(
            f"{source}:1: missing column(s) {', '.join(missing or IMPORT_COLUMNS)};"
            f" expected the header {','.join(IMPORT_COLUMNS)}"
        )
    reader.fieldnames = header
    parsed = ParsedImport([], [])
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                parsed.problems.append(
                    ImportProblem(
                        source, line, f"expected {len(header)} fields, got a different count"
                    )
                )
                continue
            try:
                proposal = check_proposal(
                    cpo_id=row["cpo_id"],
                    scope=row["scope"],
                    scope_id=row["scope_id"],
                    from_at=row["from"],
                    to_at=row["to"],
                    cause=row["cause"],
                    note=row.get("note"),
                    scopes=scopes,
                    now=now,
                )
            except ExclusionError as exc:
                parsed.problems.append(ImportProblem(source, line, str(exc)))
                continue
            parsed.proposals.append((line, proposal))
    except csv.Error as exc:
        raise ExclusionError(f"{source}:{reader.line_num}: not valid CSV ({exc})") from None
    return parsed


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
