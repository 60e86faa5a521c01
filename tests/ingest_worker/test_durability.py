"""Nothing accepted is lost: database outages spool to disk, a killed worker replays, and a blob
store that cannot be reached for a moment does not end the writer."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError
from sqlalchemy import select

from ingest_worker.pipeline import Ingest
from ingest_worker.records import Unreadable
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import status_run
from shared.status import Observation
from tests.conftest import free_port
from tests.ingest_worker.conftest import feed, wait_for

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def test_database_outage_spools_and_replays_in_order(tmp_path: Path) -> None:
    # The database's folder is a file for now: every connection fails like an outage. When it
    # comes back (empty, no schema), the writer migrates it and replays the spool in order.
    url = f"sqlite:///{tmp_path / 'later' / 'db.sqlite'}"
    engine = make_engine(url)
    (tmp_path / "later").rmdir()
    (tmp_path / "later").write_text("not a folder")
    rest = feed("ACME", "rest_push", "s")
    ingest = Ingest(
        [rest], engine, LocalBlobStore(tmp_path / "blobs"), Spool(tmp_path / "spool.db"), 15
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        writer = asyncio.create_task(ingest.run_writer(stop))
        for minute, status in enumerate(["AVAILABLE", "CHARGING", "CHARGING", "AVAILABLE"]):
            obs = Observation("ACME", "E1", status, T0 + timedelta(minutes=minute))
            await ingest.accept(rest, [obs], raw=f"message {minute}", sender="test")
        deadline = time.monotonic() + 30
        while ingest.state.db_ok and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ingest.state.db_ok is False and spool_of(ingest).backlog()[0] == 4
        assert "SELECT" not in (ingest.state.last_error or "")
        (tmp_path / "later").unlink()
        (tmp_path / "later").mkdir()  # the database comes back
        deadline = time.monotonic() + 60
        while spool_of(ingest).backlog()[0] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await writer

    asyncio.run(scenario())
    with engine.connect() as connection:
        runs = connection.execute(
            select(status_run.c.status, status_run.c.started_at).order_by(status_run.c.started_at)
        ).all()
    assert [(s, (t - T0.replace(tzinfo=None)).seconds // 60) for s, t in runs] == [
        ("AVAILABLE", 0),
        ("CHARGING", 1),
        ("AVAILABLE", 3),
    ]
    assert ingest.state.db_ok is True
    assert LocalBlobStore(tmp_path / "blobs").list("raw/ACME/")


def spool_of(ingest: Ingest) -> Spool:
    assert ingest.spool is not None
    return ingest.spool


def _one_spooled_fault(tmp_path: Path) -> Ingest:
    """A writer on a migrated database with one spooled FAULTED observation."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    rest = feed("ACME", "rest_push", "s")
    spool = Spool(tmp_path / "spool.db")
    ingest = Ingest([rest], make_engine(url), LocalBlobStore(tmp_path / "blobs"), spool, 15)
    asyncio.run(
        ingest.accept(rest, [Observation("ACME", "E1", "FAULTED", T0)], raw="x", sender="t")
    )
    return ingest


def test_replaying_the_same_records_twice_changes_nothing(tmp_path: Path) -> None:
    ingest = _one_spooled_fault(tmp_path)
    engine, spool = ingest.engine, spool_of(ingest)
    records = spool.head(10)
    ingest.drain_once()
    # A crash after the commit but before the spool was cleared: the record comes back.
    assert not isinstance(records[0].record, Unreadable)
    spool.append(records[0].record, time.time())
    ingest.drain_once()
    with engine.connect() as connection:
        assert len(connection.execute(select(status_run)).all()) == 1


def test_a_killed_worker_loses_no_acknowledged_observation(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n')
    env = {**os.environ, "CAL_DATA_DIR": str(tmp_path / "var"), "ACME_TOKEN": "kill-test-secret"}
    env.pop("CAL_DATABASE_URL", None)
    env.pop("CAL_BLOB_CONNECTION_STRING", None)
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from chargeatlarge.cli import main; main()",
        "worker",
        "--feeds",
        str(feeds),
        "--port",
        str(port),
    ]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: _up(port), timeout=60)
        return process

    process = start()
    acknowledged = 0
    for batch in range(20):
        observations = [
            {
                "evse_uid": f"K{i}",
                "status": "AVAILABLE" if batch % 2 else "CHARGING",
                "observed_at": (T0 + timedelta(minutes=batch)).isoformat(),
            }
            for i in range(50)
        ]
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/observations",
            json={"observations": observations},
            headers={"Authorization": "Bearer kill-test-secret"},
        )
        assert response.status_code == 202
        acknowledged += response.json()["accepted"]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process = start()  # the restarted worker replays whatever was still spooled
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'chargeatlarge.db'}")

        def runs() -> int:
            with engine.connect() as connection:
                return len(connection.execute(select(status_run)).all())

        # 50 EVSEs × 20 alternating statuses, one minute apart: 1,000 runs, none lost.
        assert acknowledged == 1000
        wait_for(lambda: runs() == 1000, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_record_replayed_after_a_crash_is_audited_once(tmp_path: Path) -> None:
    from shared.db.tables import ingest_batch

    ingest = _one_spooled_fault(tmp_path)
    engine, spool = ingest.engine, spool_of(ingest)
    remove = spool.remove_through

    def crash(last_id: int) -> None:  # the process dies after the commit, before the removal
        raise SystemExit("killed")

    spool.remove_through = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        ingest.drain_once()
    spool.remove_through = remove  # type: ignore[method-assign]
    assert spool.backlog()[0] == 1
    assert ingest.drain_once() == 1  # the restarted writer replays the same record
    with engine.connect() as connection:
        assert len(connection.execute(select(status_run)).all()) == 1
        assert len(connection.execute(select(ingest_batch)).all()) == 1


class FailingOnceStore(LocalBlobStore):
    """A local blob store whose first ``put`` fails the way the Azure SDK does when the
    storage account cannot be reached (``ServiceRequestError``, not an ``OSError``)."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put(self, name: str, data: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise ServiceRequestError("<urllib3.connection.HTTPSConnection>: connection refused")
        super().put(name, data)


def test_writer_outlives_a_transient_blob_store_error(tmp_path: Path) -> None:
    """A blob store that cannot be reached for a moment delays the writer; it does not end it."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    rest = feed("ACME", "rest_push", "s")
    store = FailingOnceStore(tmp_path / "blobs", failures=1)
    ingest = Ingest([rest], engine, store, Spool(tmp_path / "spool.db"), 15)

    async def scenario() -> tuple[int, bool]:
        stop = asyncio.Event()
        writer = asyncio.create_task(ingest.run_writer(stop))
        await ingest.accept(rest, [Observation("ACME", "E1", "AVAILABLE", T0)], raw="m", sender="t")
        deadline = time.monotonic() + 120  # a busy machine; ends at the condition
        while ingest.spool.backlog()[0] and not writer.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        alive = not writer.done()
        stop.set()
        await asyncio.gather(writer, return_exceptions=True)
        return ingest.spool.backlog()[0], alive

    backlog, alive = asyncio.run(scenario())
    assert alive, "the writer task ended"
    assert backlog == 0
    with engine.connect() as connection:
        assert connection.execute(select(status_run.c.status)).scalars().all() == ["AVAILABLE"]
