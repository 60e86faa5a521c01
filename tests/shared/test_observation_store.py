"""The observation store on a real SQLite file: runs, liveness, live status, period reads."""

import itertools
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from shared.db.observations import (
    ObservationStore,
    ensure_cpo,
    latest_statuses,
    runs_reader,
)
from shared.db.tables import status_run
from shared.status import Observation

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def obs(evse: str, minute: float, status: str, cpo: str = "ACME") -> Observation:
    return Observation(cpo, evse, status, T0 + timedelta(minutes=minute))


def stored_runs(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                status_run.c.evse_uid,
                status_run.c.status,
                status_run.c.category,
                status_run.c.started_at,
                status_run.c.last_confirmed_at,
            ).order_by(status_run.c.evse_uid, status_run.c.started_at)
        )
        return [
            (
                e,
                s,
                c,
                (a - T0.replace(tzinfo=None)) / timedelta(minutes=1),
                (b - T0.replace(tzinfo=None)) / timedelta(minutes=1),
            )
            for e, s, c, a, b in rows
        ]


def test_observations_become_runs(engine: Engine) -> None:
    store = ObservationStore(engine, 15)
    result = store.write(
        [
            obs("E1", 0, "AVAILABLE"),
            obs("E1", 5, "AVAILABLE"),
            obs("E1", 10, "CHARGING"),
            obs("E2", 0, "FAULTED"),
        ]
    )
    assert (result.accepted, result.duplicate) == (4, 0)
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 5),
        ("E1", "CHARGING", "IN_USE", 10, 10),
        ("E2", "FAULTED", "OUT_OF_ORDER", 0, 0),
    ]
    again = store.write([obs("E1", 5, "AVAILABLE"), obs("E1", 10, "CHARGING")])
    assert (again.accepted, again.duplicate) == (0, 2)
    assert len(stored_runs(engine)) == 3


def test_cpo_max_gap_splits_runs(engine: Engine) -> None:
    with engine.begin() as connection:
        ensure_cpo(connection, "SLOW", max_gap_minutes=60)
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE", "SLOW"), obs("E1", 40, "AVAILABLE", "SLOW")])
    store.write([obs("E1", 0, "AVAILABLE"), obs("E1", 40, "AVAILABLE")])
    runs = stored_runs(engine)
    # SLOW keeps one run (40 ≤ 60); ACME's default 15 minutes splits it in two.
    assert runs.count(("E1", "AVAILABLE", "AVAILABLE", 0, 40)) == 1
    assert runs.count(("E1", "AVAILABLE", "AVAILABLE", 0, 0)) == 1
    assert runs.count(("E1", "AVAILABLE", "AVAILABLE", 40, 40)) == 1


def test_liveness_confirms_the_last_status(engine: Engine) -> None:
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE"), obs("E2", 0, "CHARGING"), obs("E2", 5, "FINISHING")])
    store.confirm("ACME", T0 + timedelta(minutes=10))
    store.confirm("ACME", T0 + timedelta(minutes=40), evse_uids=["E1"])  # 30 min later: a new run
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 10),
        ("E1", "AVAILABLE", "AVAILABLE", 40, 40),
        ("E2", "CHARGING", "IN_USE", 0, 0),
        ("E2", "FINISHING", "IN_USE", 5, 10),
    ]
    with engine.connect() as connection:
        latest = {row.evse_uid: row for row in latest_statuses(connection, cpo_id="ACME")}
    assert latest["E1"].status == "AVAILABLE"
    assert latest["E1"].observed_at == T0 + timedelta(minutes=40)
    assert latest["E2"].status == "FINISHING"
    assert latest["E2"].last_confirmed_at == T0 + timedelta(minutes=10)


def test_cpos_are_kept_apart(engine: Engine) -> None:
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE", "ACME"), obs("E1", 0, "FAULTED", "OTHER")])
    with engine.connect() as connection:
        latest = {(row.cpo_id, row.evse_uid): row.status for row in latest_statuses(connection)}
    assert latest == {("ACME", "E1"): "AVAILABLE", ("OTHER", "E1"): "FAULTED"}


def test_many_evses_in_one_batch(engine: Engine) -> None:
    # More EVSEs than one IN (...) list may hold on SQL Server.
    store = ObservationStore(engine, 15)
    batch = [obs(f"E{i:04d}", 0, "AVAILABLE") for i in range(1200)]
    assert store.write(batch).accepted == 1200
    later = [obs(f"E{i:04d}", 5, "AVAILABLE") for i in range(1200)]
    assert store.write(later).accepted == 1200
    assert len(stored_runs(engine)) == 1200
    with engine.connect() as connection:
        assert len(latest_statuses(connection, evse_uids=[f"E{i:04d}" for i in range(700)])) == 700


def test_runs_reader_reads_the_look_back(engine: Engine) -> None:
    store = ObservationStore(engine, 15)
    store.write(
        [
            obs("E1", -100, "AVAILABLE"),  # ended long before: out
            obs("E1", -10, "CHARGING"),  # carries into the period: in
            obs("E1", 30, "AVAILABLE"),
            obs("E1", 200, "FAULTED"),  # starts after the period: out
        ]
    )
    with engine.connect() as connection:
        reader = runs_reader(connection, T0, T0 + timedelta(minutes=120), timedelta(minutes=15))
        table = reader.read_all().sort_by("started_at")
    assert table.column("category").to_pylist() == ["IN_USE", "AVAILABLE"]
    assert "status" not in table.column_names  # the engine works on categories only
    assert table.column("started_at").to_pylist()[0] == T0 - timedelta(minutes=10)
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"


def test_liveness_confirms_the_status_at_its_own_instant(engine: Engine) -> None:
    # A poll that began at minute 10 ends after a change reported at minute 20 was stored:
    # it vouches for the status at 10 (AVAILABLE), not for CHARGING.
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE"), obs("E1", 20, "CHARGING")])
    store.confirm("ACME", T0 + timedelta(minutes=10))
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 10),
        ("E1", "CHARGING", "IN_USE", 20, 20),
    ]


def test_late_observation_before_liveness_changes_what_it_confirmed(engine: Engine) -> None:
    # Heartbeats at 10 and 20 confirmed AVAILABLE; a FAULTED at 5 that arrives afterwards
    # makes them confirm FAULTED, as if it had come in order; an observation at 40 ends it.
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE"), obs("E1", 40, "AVAILABLE")])
    store.confirm("ACME", T0 + timedelta(minutes=10))
    store.confirm("ACME", T0 + timedelta(minutes=20))
    store.confirm("ACME", T0 + timedelta(minutes=30))
    store.write([obs("E1", 5, "FAULTED")])
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 0),
        ("E1", "FAULTED", "OUT_OF_ORDER", 5, 30),
        ("E1", "AVAILABLE", "AVAILABLE", 40, 40),
    ]


def test_late_observation_reaches_carried_runs_after_a_gap(engine: Engine) -> None:
    # After a 30-minute silence the heartbeat at 60 starts a run of the last status (carried);
    # a late FAULTED at 50 changes that run's status, far outside the late point's own window.
    store = ObservationStore(engine, 15)
    store.write([obs("E1", 0, "AVAILABLE")])
    for minute in (60, 70, 80, 90):
        store.confirm("ACME", T0 + timedelta(minutes=minute))
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 0),
        ("E1", "AVAILABLE", "AVAILABLE", 60, 90),
    ]
    store.write([obs("E1", 20, "FAULTED")])
    assert stored_runs(engine) == [
        ("E1", "AVAILABLE", "AVAILABLE", 0, 0),
        ("E1", "FAULTED", "OUT_OF_ORDER", 20, 20),
        ("E1", "FAULTED", "OUT_OF_ORDER", 60, 90),
    ]


def test_runs_query_compiles_for_sql_server() -> None:
    from sqlalchemy.dialects.mssql import pyodbc

    from shared.db.observations import runs_query

    sql = str(
        runs_query(
            T0, T0 + timedelta(days=30), timedelta(minutes=15), timedelta(minutes=15)
        ).compile(dialect=pyodbc.dialect())
    )
    assert "FROM status_run" in sql and "LIMIT" not in sql


def test_runs_reader_reads_a_sqlite_file_as_the_cursor_does(engine: Engine) -> None:
    """The job reads a SQLite file through ADBC; Azure SQL goes through the driver's cursor.
    Both must give the same runs, types included."""
    from shared.db.observations import _cursor_batches, runs_query

    store = ObservationStore(engine, 15)
    store.write(
        [obs(f"E{i}", minute, status) for i in range(3) for minute, status in
         ((-10, "CHARGING"), (30, "AVAILABLE"), (50, "FAULTED"), (90, "OUTOFORDER"))]
    )  # fmt: skip
    end = T0 + timedelta(minutes=120)
    with engine.connect() as connection:
        reader = runs_reader(connection, T0, end, timedelta(minutes=15), batch_rows=4)
        batches = list(reader)
        query = runs_query(T0, end, timedelta(minutes=15), timedelta(0))
        compiled = query.compile(dialect=connection.dialect)
        params = tuple(
            compiled._bind_processors.get(k, lambda v: v)(compiled.construct_params()[k])
            for k in compiled.positiontup
        )
        by_cursor = pa.Table.from_batches(
            list(_cursor_batches(connection, str(compiled), params, 5))
        )
    assert [b.num_rows for b in batches] == [4, 4, 4]  # streamed, not read whole
    by_adbc = pa.Table.from_batches(batches)
    assert by_adbc.schema == by_cursor.schema
    keys = [("evse_uid", "ascending"), ("started_at", "ascending")]
    assert by_adbc.sort_by(keys).to_pylist() == by_cursor.sort_by(keys).to_pylist()
    assert by_adbc.num_rows == 12


def test_a_big_sqlite_file_is_read_by_several_readers_with_the_same_runs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SQLITE_ROWS_PER_READER runs, the file is read in run id ranges by several
    connections at once: every run still comes exactly once, with the filter applied."""
    from shared.db import observations

    store = ObservationStore(engine, 15)
    store.write(
        [obs(f"E{i}", minute, status) for i in range(7) for minute, status in
         ((-300, "CHARGING"), (-10, "CHARGING"), (30, "AVAILABLE"), (50, "FAULTED"),
          (90, "OUTOFORDER"), (400, "AVAILABLE"))]
    )  # fmt: skip
    end = T0 + timedelta(minutes=120)

    def read() -> pa.Table:
        with engine.connect() as connection:
            return pa.Table.from_batches(
                list(runs_reader(connection, T0, end, timedelta(minutes=15), batch_rows=3))
            )

    one = read()
    path = engine.url.database
    assert path and observations._run_id_ranges(path) == []  # small: one reader
    monkeypatch.setattr(observations, "SQLITE_READERS", 3)
    monkeypatch.setattr(observations, "SQLITE_ROWS_PER_READER", 4)
    ranges = observations._run_id_ranges(path)
    assert len(ranges) == 3 and all(lo < hi for lo, hi in ranges)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # no run id left out
    several = read()
    keys = [("evse_uid", "ascending"), ("started_at", "ascending")]
    assert several.num_rows == one.num_rows > 0
    assert several.sort_by(keys).to_pylist() == one.sort_by(keys).to_pylist()


def test_run_columns_from_pyodbc_datetimes_are_utc() -> None:
    """pyodbc (Azure SQL) hands back naive datetime objects of UTC; SQLite hands back text."""
    from shared.db.observations import _column

    ts = pa.timestamp("us", tz="UTC")
    naive = datetime(2026, 11, 1, 13, 0, 0, 123456)
    assert _column((naive,), ts).to_pylist() == [naive.replace(tzinfo=UTC)]
    assert _column(("2026-11-01 13:00:00.123456",), ts).to_pylist() == [naive.replace(tzinfo=UTC)]
    assert _column(("AVAILABLE",), pa.string()).to_pylist() == ["AVAILABLE"]


def test_read_ahead_keeps_order_passes_errors_on_and_stops_with_its_reader() -> None:
    from shared.db.observations import _read_ahead

    assert list(_read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]
    assert list(_read_ahead(iter([]))) == []

    def failing():
        yield 1
        raise RuntimeError("database went away at batch 2")

    reader = _read_ahead(failing())
    assert next(reader) == 1
    with pytest.raises(RuntimeError, match="batch 2"):
        next(reader)

    produced = []

    def counting():
        for n in range(1000):
            produced.append(n)
            yield n

    reader = _read_ahead(counting())
    assert [next(reader), next(reader)] == [0, 1]
    reader.close()
    assert len(produced) <= 3  # read at most one ahead, then stopped


def test_read_ahead_of_several_sources_gives_every_item_once_in_each_sources_order() -> None:
    from shared.db.observations import _read_ahead

    items = list(_read_ahead(iter(range(0, 50)), iter(range(100, 130)), iter([])))
    assert sorted(items) == [*range(0, 50), *range(100, 130)]
    assert [n for n in items if n < 100] == list(range(0, 50))
    assert [n for n in items if n >= 100] == list(range(100, 130))

    def failing():
        yield 1
        raise RuntimeError("second reader lost its file")

    with pytest.raises(RuntimeError, match="second reader"):
        list(_read_ahead(iter(range(1000)), failing()))
