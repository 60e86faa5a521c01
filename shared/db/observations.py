"""The observation store: writes observations and liveness signals as status runs, reads them
back."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    true,
)

from shared.db.tables import cpo, status_run
from shared.status import STATUS_CATEGORY, Observation
from shared.timeline import Run, decode_marks, encode_marks, from_us, merge_runs, to_us

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")
# SQL Server accepts at most 2,100 parameters in one statement.
IN_CHUNK = 500
# A SQLite file's runs are read by this many connections at once, each a range of run ids,
# once the table is big enough for it to pay (one core decodes about 1.5 M runs a second).
SQLITE_READERS = min(4, os.cpu_count() or 1)
SQLITE_ROWS_PER_READER = 1_000_000
# As the engine's own connections (shared.db.engine): a reader waits for a writer, e.g. one
# switching the file to WAL, instead of failing at once with "database is locked".
SQLITE_BUSY_TIMEOUT = "PRAGMA busy_timeout = 30000"


def to_db_time(instant: datetime) -> datetime:
    """Aware instant → naive UTC as stored."""
    return instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant


def from_db_time(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


@dataclass(slots=True)
class WriteResult:
    accepted: int = 0
    duplicate: int = 0

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        return self


@dataclass(frozen=True, slots=True)
class LatestStatus:
    cpo_id: str
    evse_uid: str
    status: str
    category: str
    observed_at: datetime
    last_confirmed_at: datetime


def ensure_cpo(connection: Connection, cpo_id: str, max_gap_minutes: float | None = None) -> None:
    """Register a CPO if it is new; update its max_gap when one is given."""
    row = connection.execute(select(cpo.c.cpo_id).where(cpo.c.cpo_id == cpo_id)).first()
    if row is None:
        connection.execute(
            insert(cpo).values(
                cpo_id=cpo_id,
                max_gap_minutes=max_gap_minutes,
                created_at=to_db_time(datetime.now(UTC)),
            )
        )
    elif max_gap_minutes is not None:
        connection.execute(
            cpo.update().where(cpo.c.cpo_id == cpo_id).values(max_gap_minutes=max_gap_minutes)
        )


def cpo_max_gaps(connection: Connection) -> dict[str, float | None]:
    """Configured max_gap_minutes per CPO (None where the default applies)."""
    return dict(connection.execute(select(cpo.c.cpo_id, cpo.c.max_gap_minutes)).all())


class ObservationStore:
    """Merges observations into ``status_run`` following spec section 3."""

    def __init__(self, engine: Engine, default_max_gap_minutes: float = 15) -> None:
        self.engine = engine
        self.default_max_gap = timedelta(minutes=default_max_gap_minutes)

    def max_gap(self, connection: Connection, cpo_id: str) -> timedelta:
        minutes = connection.execute(
            select(cpo.c.max_gap_minutes).where(cpo.c.cpo_id == cpo_id)
        ).scalar()
        return timedelta(minutes=minutes) if minutes else self.default_max_gap

    def write(self, observations: Sequence[Observation]) -> WriteResult:
        """Store observations (already validated) in one transaction; order = order received."""
        with self.engine.begin() as connection:
            return self.write_in(connection, observations)

    def write_in(self, connection: Connection, observations: Sequence[Observation]) -> WriteResult:
        by_cpo: dict[str, dict[str, list[tuple[int, str | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for obs in observations:
            by_cpo[obs.cpo_id][obs.evse_uid].append((to_us(obs.observed_at), obs.status))
        result = WriteResult()
        for cpo_id, by_evse in by_cpo.items():
            ensure_cpo(connection, cpo_id)
            result += self.write_points(connection, cpo_id, by_evse)
        return result

    def write_groups_in(
        self, connection: Connection, groups: Sequence[Sequence[Observation]]
    ) -> list[WriteResult]:
        """Store several groups of observations (a feed's requests, in the order received) in
        one merge, with each group's own accepted and duplicate counts (for its audit row)."""
        by_cpo: dict[str, dict[str, list[tuple[int, str | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        origins: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for index, group in enumerate(groups):
            for obs in group:
                by_cpo[obs.cpo_id][obs.evse_uid].append((to_us(obs.observed_at), obs.status))
                origins[obs.cpo_id][obs.evse_uid].append(index)
        results = [WriteResult(accepted=len(group)) for group in groups]
        for cpo_id, by_evse in by_cpo.items():
            ensure_cpo(connection, cpo_id)
            self.write_points(connection, cpo_id, by_evse, origins[cpo_id], results)
        return results

    def write_points(
        self,
        connection: Connection,
        cpo_id: str,
        by_evse: Mapping[str, list[tuple[int, str | None]]],
        origins: Mapping[str, list[int]] | None = None,
        per_origin: list[WriteResult] | None = None,
    ) -> WriteResult:
        """Merge one CPO's points (UTC instant in microseconds, raw status or None for a
        liveness signal; per EVSE in the order received) into its stored runs, exactly.

        With ``origins`` (per EVSE, the group index of each point), each duplicate is also
        moved from accepted to duplicate in ``per_origin[group]``."""
        max_gap = self.max_gap(connection, cpo_id)
        gap_us = max_gap // timedelta(microseconds=1)
        spans = {
            evse: (min(t for t, _ in pts), max(t for t, _ in pts)) for evse, pts in by_evse.items()
        }
        lo_us = min(a for a, _ in spans.values()) - gap_us
        hi_us = max(b for _, b in spans.values()) + gap_us
        lo, hi = from_us(lo_us, False), from_us(hi_us, False)
        stored = _runs_between(connection, cpo_id, list(by_evse), lo, hi)
        windows: dict[str, list[Run]] = {}
        need_before: list[str] = []
        for evse_uid, points in by_evse.items():
            first_us, last_us = spans[evse_uid]
            first, last = from_us(first_us - gap_us, False), from_us(last_us + gap_us, False)
            windows[evse_uid] = existing = [
                run
                for run in stored.get(evse_uid, [])
                if run.last_confirmed_at >= first and run.started_at <= last
            ]
            if any(s is None for _, s in points) and (
                not existing or from_us(first_us, False) < existing[0].started_at
            ):
                need_before.append(evse_uid)
        before = _status_before(connection, cpo_id, need_before, windows, lo)
        merged_by_evse = {
            evse_uid: merge_runs(windows[evse_uid], points, max_gap, before.get(evse_uid))
            for evse_uid, points in by_evse.items()
        }
        # Where the last status changed, runs after the window that start with a liveness
        # signal confirm the new one: take the chain into the merge (rare: late data only).
        changed_tail = [evse for evse, merged in merged_by_evse.items() if merged.tail_changed]
        for evse_uid in _with_carried_after(connection, cpo_id, changed_tail, hi):
            points = by_evse[evse_uid]
            existing = windows[evse_uid]
            merged = merged_by_evse[evse_uid]
            while merged.tail_changed:
                after = existing[-1].started_at if existing else from_us(spans[evse_uid][1], False)
                following = _carried_after(connection, cpo_id, evse_uid, after)
                if not following:
                    break
                existing = existing + following
                merged = merge_runs(existing, points, max_gap, before.get(evse_uid))
            windows[evse_uid], merged_by_evse[evse_uid] = existing, merged
        result = WriteResult()
        deleted: list[int] = []
        inserted: list[dict[str, object]] = []
        for evse_uid, merged in merged_by_evse.items():
            result.duplicate += merged.duplicate
            result.accepted += len(by_evse[evse_uid]) - merged.duplicate
            if origins is not None and per_origin is not None:
                for at in merged.duplicate_at:
                    group = per_origin[origins[evse_uid][at]]
                    group.accepted -= 1
                    group.duplicate += 1
            if not merged.changed:
                continue
            kept = {run.run_id for run in merged.runs if run.run_id is not None}
            deleted.extend(
                run.run_id
                for run in windows[evse_uid]
                if run.run_id is not None and run.run_id not in kept
            )
            inserted.extend(
                {
                    "cpo_id": cpo_id,
                    "evse_uid": evse_uid,
                    "status": run.status,
                    "category": STATUS_CATEGORY[run.status].value,
                    "started_at": run.started_at,
                    "last_confirmed_at": run.last_confirmed_at,
                    "instants": encode_marks(run.marks) if run.marks is not None else None,
                    "carried": run.carried,
                }
                for run in merged.runs
                if run.run_id is None
            )
        for start in range(0, len(deleted), IN_CHUNK):
            connection.execute(
                delete(status_run).where(status_run.c.run_id.in_(deleted[start : start + IN_CHUNK]))
            )
        if inserted:
            connection.execute(insert(status_run), inserted)
        return result

    def confirm(
        self, cpo_id: str, at: datetime, evse_uids: Iterable[str] | None = None
    ) -> WriteResult:
        """A liveness signal at ``at``: re-observe the last status of the EVSEs it covers.

        ``evse_uids`` None means every EVSE of the CPO (a successful OCPI poll).
        """
        with self.engine.begin() as connection:
            return self.confirm_in(connection, cpo_id, at, evse_uids)

    def confirm_in(
        self,
        connection: Connection,
        cpo_id: str,
        at: datetime,
        evse_uids: Iterable[str] | None = None,
    ) -> WriteResult:
        """Liveness is stored as an instant of its own in the run it extends, so that a late
        observation before it changes what it confirmed (spec section 3, exactness)."""
        if evse_uids is None:
            evse_uids = connection.execute(
                select(status_run.c.evse_uid).where(status_run.c.cpo_id == cpo_id).distinct()
            ).scalars()
        instant = to_us(at)
        points: dict[str, list[tuple[int, str | None]]] = {
            uid: [(instant, None)] for uid in evse_uids
        }
        if not points:
            return WriteResult()
        ensure_cpo(connection, cpo_id)
        self.write_points(connection, cpo_id, points)
        return WriteResult()


_RUN_COLUMNS = (
    status_run.c.run_id,
    status_run.c.evse_uid,
    status_run.c.status,
    status_run.c.started_at,
    status_run.c.last_confirmed_at,
    status_run.c.instants,
)


def _run_of(row: Sequence[Any]) -> Run:
    run_id, _, status, started_at, last_confirmed_at, instants = row
    marks = (
        None
        if instants is None
        else decode_marks(instants, to_us(started_at), to_us(last_confirmed_at))
    )
    return Run(status, started_at, last_confirmed_at, run_id, marks)


def _runs_between(
    connection: Connection, cpo_id: str, evse_uids: list[str], lo: datetime, hi: datetime
) -> dict[str, list[Run]]:
    query = (
        select(*_RUN_COLUMNS)
        .where(
            status_run.c.cpo_id == cpo_id,
            status_run.c.evse_uid.in_(bindparam("evse_uids", expanding=True)),
            status_run.c.last_confirmed_at >= lo,
            status_run.c.started_at <= hi,
        )
        .order_by(status_run.c.evse_uid, status_run.c.started_at)
    )
    runs: dict[str, list[Run]] = defaultdict(list)
    for start in range(0, len(evse_uids), IN_CHUNK):
        chunk = evse_uids[start : start + IN_CHUNK]
        for row in connection.execute(query, {"evse_uids": chunk}):
            runs[row[1]].append(_run_of(row))
    return runs


def _status_before(
    connection: Connection,
    cpo_id: str,
    evse_uids: list[str],
    windows: dict[str, list[Run]],
    lo: datetime,
) -> dict[str, str]:
    """The status of the latest run before each EVSE's window: what a liveness signal that
    precedes everything in the window confirms."""
    statuses: dict[str, str] = {}
    for evse_uid in evse_uids:
        window = windows[evse_uid]
        bound = min(lo, window[0].started_at) if window else lo
        row = connection.execute(
            select(status_run.c.status)
            .where(
                status_run.c.cpo_id == cpo_id,
                status_run.c.evse_uid == evse_uid,
                status_run.c.started_at < bound,
            )
            .order_by(status_run.c.started_at.desc())
            .limit(1)
        ).first()
        if row is not None:
            statuses[evse_uid] = row[0]
    return statuses


def _with_carried_after(
    connection: Connection, cpo_id: str, evse_uids: list[str], hi: datetime
) -> set[str]:
    """Those of ``evse_uids`` with a run after ``hi`` that starts with a liveness signal."""
    found: set[str] = set()
    query = (
        select(status_run.c.evse_uid)
        .where(
            status_run.c.cpo_id == cpo_id,
            status_run.c.evse_uid.in_(bindparam("evse_uids", expanding=True)),
            status_run.c.started_at > hi,
            status_run.c.carried == true(),
        )
        .distinct()
    )
    for start in range(0, len(evse_uids), IN_CHUNK):
        chunk = evse_uids[start : start + IN_CHUNK]
        found.update(connection.execute(query, {"evse_uids": chunk}).scalars())
    return found


def _carried_after(
    connection: Connection, cpo_id: str, evse_uid: str, after: datetime, page: int = 200
) -> list[Run]:
    """The runs after ``after`` that start with a liveness signal, and the observed run that
    ends the chain (its own status does not depend on what came before)."""
    found: list[Run] = []
    while True:
        rows = connection.execute(
            select(*_RUN_COLUMNS, status_run.c.carried)
            .where(
                status_run.c.cpo_id == cpo_id,
                status_run.c.evse_uid == evse_uid,
                status_run.c.started_at > after,
            )
            .order_by(status_run.c.started_at)
            .limit(page)
        ).all()
        for row in rows:
            found.append(_run_of(row[:6]))
            if not row[6]:
                return found
        if len(rows) < page:
            return found
        after = rows[-1][3]


def latest_statuses(
    connection: Connection,
    cpo_id: str | None = None,
    evse_uids: Iterable[str] | None = None,
) -> list[LatestStatus]:
    """The newest run of every EVSE (optionally of one CPO / some EVSEs): the live status."""
    newest = select(
        status_run.c.cpo_id,
        status_run.c.evse_uid,
        func.max(status_run.c.started_at).label("started_at"),
    ).group_by(status_run.c.cpo_id, status_run.c.evse_uid)
    if cpo_id is not None:
        newest = newest.where(status_run.c.cpo_id == cpo_id)
    wanted = list(evse_uids) if evse_uids is not None else None
    rows: list[LatestStatus] = []
    chunks = (
        [None]
        if wanted is None
        else [wanted[i : i + IN_CHUNK] for i in range(0, len(wanted), IN_CHUNK)]
    )
    for chunk in chunks:
        picked = newest if chunk is None else newest.where(status_run.c.evse_uid.in_(chunk))
        sub = picked.subquery()
        query = select(
            status_run.c.cpo_id,
            status_run.c.evse_uid,
            status_run.c.status,
            status_run.c.category,
            status_run.c.started_at,
            status_run.c.last_confirmed_at,
        ).join(
            sub,
            and_(
                status_run.c.cpo_id == sub.c.cpo_id,
                status_run.c.evse_uid == sub.c.evse_uid,
                status_run.c.started_at == sub.c.started_at,
            ),
        )
        rows.extend(
            LatestStatus(c, e, s, cat, from_db_time(start), from_db_time(last))
            for c, e, s, cat, start, last in connection.execute(query)
        )
    return rows


# Outages (spec section 4) carry the start of their run, which may lie well before the month;
# down runs are read this far back so that a run made of several stored runs keeps its start.
OUTAGE_LOOK_BACK = timedelta(days=62)


def runs_query(
    start: datetime, end: datetime, look_back: timedelta, look_ahead: timedelta
) -> Select[Any]:
    """The SELECT of ``runs_reader`` (tests compile it for SQL Server)."""
    # The CPO's own status word is not read: the engine works on categories only.
    return select(
        status_run.c.cpo_id,
        status_run.c.evse_uid,
        status_run.c.category,
        status_run.c.started_at,
        status_run.c.last_confirmed_at,
    ).where(
        status_run.c.started_at < to_db_time(end + look_ahead),
        or_(
            status_run.c.last_confirmed_at >= to_db_time(start - look_back),
            and_(
                # Plain comparisons: the raw cursor of runs_reader has no expanding IN.
                or_(
                    status_run.c.category == "OUT_OF_ORDER", status_run.c.category == "UNAVAILABLE"
                ),
                status_run.c.last_confirmed_at >= to_db_time(start - OUTAGE_LOOK_BACK),
            ),
        ),
    )


def runs_reader(
    connection: Connection,
    start: datetime,
    end: datetime,
    look_back: timedelta,
    look_ahead: timedelta = timedelta(0),
    batch_rows: int = 200_000,
) -> pa.RecordBatchReader:
    """Runs that can shape the timeline in ``[start, end)``, streamed as Arrow record batches.

    ``look_back`` is the largest max_gap in force, so carry-forward into the period is included;
    ``look_ahead`` (the same) brings the runs that cut a carry-forward off right after the end.
    A national month is millions of runs, so they are never all in memory: the reader yields
    batches (UTC timestamps, in no particular order) as the database returns them. A SQLite
    file is read through ADBC and Azure SQL (``mssql+pyodbc``) through arrow-odbc, both of
    which build Arrow columns natively (``odbc_arrow.runs_source`` says which); anything else
    through the driver's cursor, a chunk of rows at a time.
    """
    import pyarrow as pa

    from shared.db import odbc_arrow

    query = runs_query(start, end, look_back, look_ahead)
    sql, params = _compiled(query, connection)
    url = connection.engine.url
    source = odbc_arrow.runs_source(url)
    if source == odbc_arrow.ADBC_SQLITE and url.database:
        path = url.database
        ranges = _run_id_ranges(path)
        parts = [
            _compiled(query.where(status_run.c.run_id >= lo, status_run.c.run_id < hi), connection)
            for lo, hi in ranges
        ] or [(sql, params)]
        batches = _read_ahead(*(_adbc_sqlite_batches(path, *part, batch_rows) for part in parts))
    elif source == odbc_arrow.ARROW_ODBC and isinstance(params, tuple):
        odbc = odbc_arrow.odbc_connection_string(url, connection.dialect)
        batches = odbc_arrow.arrow_odbc_batches(odbc, sql, params, batch_rows, _runs_schema())
    else:
        batches = _cursor_batches(connection, sql, params, batch_rows)
    return pa.RecordBatchReader.from_batches(_runs_schema(), batches)


def _compiled(
    query: Select[Any], connection: Connection
) -> tuple[str, tuple[Any, ...] | dict[str, Any]]:
    """A query's SQL for the connection's dialect, and its parameters as the driver takes them."""
    compiled = query.compile(dialect=connection.dialect)
    processors: Mapping[str, Any] = compiled._bind_processors  # the dialect's own conversion
    values = compiled.construct_params()
    bound = {k: processors[k](v) if k in processors else v for k, v in values.items()}
    positions = compiled.positiontup or []
    return str(compiled), tuple(bound[k] for k in positions) if compiled.positional else bound


def _run_id_ranges(path: str) -> list[tuple[int, int]]:
    """Half-open run id ranges that split a SQLite file's runs between SQLITE_READERS readers;
    none when one reader will do."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    with adbc_sqlite.connect(path) as connection, connection.cursor() as cursor:
        cursor.execute(SQLITE_BUSY_TIMEOUT)
        # Two subqueries: SQLite answers a lone MIN or MAX of the rowid from the b-tree's ends,
        # but both in one SELECT by scanning the table.
        cursor.execute(
            "SELECT (SELECT MIN(run_id) FROM status_run), (SELECT MAX(run_id) FROM status_run)"
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return []
    low, high = int(row[0]), int(row[1]) + 1
    parts = min(SQLITE_READERS, (high - low) // SQLITE_ROWS_PER_READER)
    if parts < 2:
        return []
    cuts = [low + (high - low) * n // parts for n in range(parts + 1)]
    return list(itertools.pairwise(cuts))


def _runs_schema() -> pa.Schema:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("cpo_id", pa.string()),
            ("evse_uid", pa.string()),
            ("category", pa.string()),
            ("started_at", ts),
            ("last_confirmed_at", ts),
        ]
    )


def _read_ahead(*sources: Iterator[T]) -> Iterator[T]:
    """The items of every source, each source read one item ahead by its own worker thread
    while the caller works on the current item: the database read and DuckDB storing the runs
    overlap, and several readers share the cores. A source's items keep their order; sources
    interleave as their items arrive. The first error of a source is raised to the caller."""
    end = object()
    with ExitStack() as stack:
        workers = [
            stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="runs-read-ahead"))
            for _ in sources
        ]
        pending: dict[Future[object], int] = {
            worker.submit(next, source, end): n
            for n, (worker, source) in enumerate(zip(workers, sources, strict=True))
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):
                n = pending.pop(future)
                item = future.result()
                if item is not end:
                    pending[workers[n].submit(next, sources[n], end)] = n
                    yield item  # type: ignore[misc]  # not the sentinel, so a T


def _adbc_sqlite_batches(
    path: str, sql: str, params: tuple[Any, ...] | dict[str, Any], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import pyarrow as pa

    schema = _runs_schema()
    with adbc_sqlite.connect(path) as connection, connection.cursor() as cursor:
        cursor.execute(SQLITE_BUSY_TIMEOUT)
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(sql, params)
        for batch in cursor.fetch_record_batch():
            if batch.num_rows:
                yield pa.record_batch(
                    [_column(batch.column(i), field.type) for i, field in enumerate(schema)],
                    schema=schema,
                )


def _cursor_batches(
    connection: Connection,
    sql: str,
    params: tuple[Any, ...] | dict[str, Any],
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    schema = _runs_schema()
    raw = connection.connection.dbapi_connection
    if raw is None:
        raise RuntimeError("the connection has no DBAPI connection to read runs with")
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_rows):
            columns = list(zip(*rows, strict=True))
            yield pa.record_batch(
                [
                    _column(values, field.type)
                    for values, field in zip(columns, schema, strict=True)
                ],
                schema=schema,
            )
    finally:
        cursor.close()


def _column(values: pa.Array | Sequence[object], kind: pa.DataType) -> pa.Array:
    """One column as ``kind``. Instants arrive as naive UTC: ISO text from SQLite, datetime
    objects from pyodbc."""
    import pyarrow as pa

    if not isinstance(values, pa.Array):
        is_text = bool(values) and isinstance(values[0], str)
        values = pa.array(values, pa.string() if is_text else None)
    if pa.types.is_timestamp(kind):
        naive = values if pa.types.is_timestamp(values.type) else values.cast(pa.string())
        return naive.cast(pa.timestamp("us")).cast(kind)
    return values.cast(kind)
