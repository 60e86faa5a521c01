"""Program assignments in SQL: what an import stores, manual assign / unassign, and the tables
the CLI lists and the monthly job reads.

An import owns the non-manual assignments of each (cpo_id, program, round) its rows name and
replaces them whole, so re-importing a corrected list leaves no stale match behind. Manual rows
(``matched_by = "manual"``, assigned or taken out) are never touched by an import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import Connection, and_, bindparam, delete, insert, select, true, update

from shared.db.tables import cpo, program_assignment

MANUAL = "manual"
PROGRAMS_SCHEMA = pa.schema(
    [
        pa.field("cpo_id", pa.string(), nullable=False),
        pa.field("site_id", pa.string(), nullable=False),
        pa.field("program", pa.string(), nullable=False),
        pa.field("round", pa.string()),
    ]
)

Key = tuple[str, str, str]  # cpo_id, site_id, program


class Assignment(BaseModel):
    """One stored row of ``program_assignment``."""

    cpo_id: str
    site_id: str
    program: str
    round: str | None
    assigned: bool
    matched_by: str
    distance_m: float | None
    source: str | None
    listed_address: str | None
    updated_at: datetime

    @property
    def key(self) -> Key:
        return (self.cpo_id, self.site_id, self.program)


class NewAssignment(BaseModel):
    """What an import wants stored for one matched row."""

    cpo_id: str
    site_id: str
    program: str
    round: str | None
    matched_by: str
    distance_m: float | None
    source: str
    listed_address: str | None

    @property
    def key(self) -> Key:
        return (self.cpo_id, self.site_id, self.program)


class NotAssigned(LookupError):
    """``programs unassign`` named a site that is not in that program."""


@dataclass(slots=True)
class StoreResult:
    stored: int = 0
    removed: list[Assignment] = field(default_factory=list)  # earlier matches the list dropped
    kept_manual: list[tuple[NewAssignment, Assignment]] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def assignments(
    connection: Connection, *, include_unassigned: bool = False, cpo_ids: Iterable[str] = ()
) -> list[Assignment]:
    """Stored rows in (program, round, cpo_id, site_id) order."""
    t = program_assignment
    query = select(t).order_by(t.c.program, t.c.round, t.c.cpo_id, t.c.site_id)
    if not include_unassigned:
        query = query.where(t.c.assigned == true())
    wanted = sorted(set(cpo_ids))
    if wanted:
        query = query.where(t.c.cpo_id.in_(wanted))
    return [Assignment.model_validate(row._asdict()) for row in connection.execute(query)]


def _delete(connection: Connection, keys: Iterable[Key]) -> None:
    t = program_assignment
    params = [{"c": c, "s": s, "p": p} for c, s, p in keys]
    if params:
        connection.execute(
            delete(t).where(
                and_(
                    t.c.cpo_id == bindparam("c"),
                    t.c.site_id == bindparam("s"),
                    t.c.program == bindparam("p"),
                )
            ),
            params,
        )


def store_import(
    connection: Connection,
    new: Iterable[NewAssignment],
    scope: Iterable[tuple[str, str, str | None]],
    now: datetime | None = None,
) -> StoreResult:
    """Replace the non-manual assignments of every (cpo_id, program, round) in ``scope`` by
    ``new``; a site a person assigned or took out keeps what the person said."""
    now = now or _now()
    scope = set(scope)
    wanted = list(new)
    cpo_ids = {c for c, _, _ in scope} | {n.cpo_id for n in wanted}
    existing = {a.key: a for a in assignments(connection, include_unassigned=True, cpo_ids=cpo_ids)}
    result = StoreResult()
    fresh: dict[Key, NewAssignment] = {}
    for item in wanted:
        held = existing.get(item.key)
        if held is not None and held.matched_by == MANUAL:
            result.kept_manual.append((item, held))
        else:
            fresh.setdefault(item.key, item)
    stale = [
        a
        for a in existing.values()
        if a.matched_by != MANUAL and (a.cpo_id, a.program, a.round) in scope
    ]
    result.removed = [a for a in stale if a.key not in fresh]
    _delete(connection, {a.key for a in stale} | {k for k in fresh if k in existing})
    if fresh:
        connection.execute(
            insert(program_assignment),
            [{**item.model_dump(), "assigned": True, "updated_at": now} for item in fresh.values()],
        )
    result.stored = len(fresh)
    return result


def assign(
    connection: Connection,
    *,
    cpo_id: str,
    site_id: str,
    program: str,
    round: str | None,
    now: datetime | None = None,
) -> Assignment | None:
    """Put a site in a program by hand; returns what it replaces, if anything."""
    key = (cpo_id, site_id, program)
    held = {a.key: a for a in assignments(connection, include_unassigned=True, cpo_ids=[cpo_id])}
    before = held.get(key)
    _delete(connection, [key])
    connection.execute(
        insert(program_assignment).values(
            cpo_id=cpo_id,
            site_id=site_id,
            program=program,
            round=round,
            assigned=True,
            matched_by=MANUAL,
            distance_m=None,
            source=MANUAL,
            listed_address=before.listed_address if before else None,
            updated_at=now or _now(),
        )
    )
    return before


def unassign(
    connection: Connection,
    *,
    cpo_id: str,
    site_id: str,
    program: str,
    round: str | None,
    now: datetime | None = None,
) -> Assignment:
    """Take a site out of a program by hand. The row stays, as manual and not assigned, so that
    re-importing the funder's list does not put the site back."""
    t = program_assignment
    held = next(
        (
            a
            for a in assignments(connection, cpo_ids=[cpo_id])
            if a.key == (cpo_id, site_id, program)
        ),
        None,
    )
    if held is None:
        raise NotAssigned(f"site {site_id} of {cpo_id} is not in program {program!r}")
    if round is not None and held.round != round:
        raise NotAssigned(
            f"site {site_id} of {cpo_id} is in program {program!r} round"
            f" {held.round or '(none)'}, not round {round}"
        )
    connection.execute(
        update(t)
        .where(t.c.cpo_id == cpo_id, t.c.site_id == site_id, t.c.program == program)
        .values(assigned=False, matched_by=MANUAL, source=MANUAL, updated_at=now or _now())
    )
    return held


def operator_names(connection: Connection) -> dict[str, str | None]:
    """Every CPO of the database with its name (``cpo.name``, often empty)."""
    return {row.cpo_id: row.name for row in connection.execute(select(cpo.c.cpo_id, cpo.c.name))}


def site_programs(connection: Connection) -> pa.Table:
    """Every site assigned to a program: ``cpo_id, site_id, program, round``, sorted, for the
    monthly job (the engine takes cpo_id, site_id, program; static CSV programs come on top)."""
    rows = assignments(connection)
    rows.sort(key=lambda a: (a.cpo_id, a.site_id, a.program))
    return pa.table(
        {
            "cpo_id": pa.array([a.cpo_id for a in rows], pa.string()),
            "site_id": pa.array([a.site_id for a in rows], pa.string()),
            "program": pa.array([a.program for a in rows], pa.string()),
            "round": pa.array([a.round for a in rows], pa.string()),
        },
        schema=PROGRAMS_SCHEMA,
    )
