"""Queue mode end to end: three `chargeatlarge worker` processes and a `chargeatlarge writer` on
loopback over Azurite's queue service; a CPO pushes through all of them, one worker is killed
with SIGKILL mid-stream and so is the writer (then restarted): every acknowledged observation
ends up in SQL exactly once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shared.db.engine import make_engine, upgrade
from shared.db.tables import ingest_batch, status_run
from tests.conftest import free_port
from tests.ingest_worker.conftest import wait_for

T0 = datetime(2026, 11, 20, tzinfo=UTC)
TOKEN = "queue-test-secret"
PER_REQUEST = 50
REQUESTS = 90


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from chargeatlarge.cli import main; main()", *args]


@pytest.fixture
def queue_env(tmp_path: Path, azurite_connection_string: str, request) -> dict[str, str]:  # type: ignore[no-untyped-def]
    name = "p" + format(abs(hash(request.node.nodeid)), "x")[:16]
    database = f"sqlite:///{tmp_path / 'var' / 'chargeatlarge.db'}"
    upgrade(database)
    (tmp_path / "feeds.toml").write_text(
        '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n'
    )
    env = {
        **os.environ,
        "CAL_DATA_DIR": str(tmp_path / "var"),
        "CAL_DATABASE_URL": database,
        "CAL_HANDOFF": "queue",
        "CAL_BLOB_CONNECTION_STRING": azurite_connection_string,
        "CAL_BLOB_CONTAINER": name,
        "CAL_QUEUE_NAME": name,
        "ACME_TOKEN": TOKEN,
    }
    return env


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_workers_and_a_writer_lose_nothing_when_killed(
    queue_env: dict[str, str], tmp_path: Path
) -> None:
    feeds = str(tmp_path / "feeds.toml")
    ports = [free_port() for _ in range(3)]
    workers = {
        port: subprocess.Popen(
            _command("worker", "--feeds", feeds, "--port", str(port)),
            env=queue_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    }
    writer_log = (tmp_path / "writer.log").open("ab")

    def start_writer() -> subprocess.Popen:
        return subprocess.Popen(
            _command(
                "writer",
                "--feeds",
                feeds,
                "--snapshot-seconds",
                "0.5",
                "--visibility-seconds",
                "10",
                "--lease-seconds",
                "15",
            ),
            env=queue_env,
            stdout=writer_log,
            stderr=writer_log,
        )

    writer = start_writer()
    engine = make_engine(queue_env["CAL_DATABASE_URL"])
    try:
        for port in ports:
            wait_for(lambda port=port: _healthy(port), timeout=90)
        acknowledged: set[int] = set()
        lock = threading.Lock()
        next_request = itertools.count()
        victim = ports[0]
        alive = list(ports)

        def push(request_no: int) -> None:
            body = {
                "observations": [
                    {
                        "evse_uid": f"R{request_no:03d}-{i:02d}",
                        "status": "CHARGING" if i % 2 else "AVAILABLE",
                        "observed_at": (T0 + timedelta(seconds=request_no)).isoformat(),
                    }
                    for i in range(PER_REQUEST)
                ]
            }
            # A CPO sends to the service address; a failed request is sent again (to another
            # replica, as the load balancer would) until it is acknowledged.
            for attempt in range(30):
                port = alive[(request_no + attempt) % len(alive)]
                try:
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/api/v1/observations",
                        json=body,
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=30,
                    )
                except httpx.HTTPError:
                    continue
                if response.status_code == 202:
                    assert response.json()["accepted"] == PER_REQUEST
                    with lock:
                        acknowledged.add(request_no)
                    return
            raise AssertionError(f"request {request_no} was never acknowledged")

        def sender() -> None:
            while (request_no := next(next_request)) < REQUESTS:
                push(request_no)

        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acknowledged) >= REQUESTS // 3, timeout=120)
        workers[victim].send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
        workers[victim].wait()
        alive.remove(victim)
        wait_for(lambda: len(acknowledged) >= REQUESTS // 2, timeout=120)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer = start_writer()  # waits for the killed writer's lease, then drains
        for thread in threads:
            thread.join(timeout=300)
        assert acknowledged == set(range(REQUESTS))

        def stored() -> int:
            with engine.connect() as connection:
                return connection.execute(select(func.count()).select_from(status_run)).scalar()

        wait_for(lambda: stored() >= REQUESTS * PER_REQUEST, timeout=180)
        with engine.connect() as connection:
            runs = connection.execute(
                select(status_run.c.evse_uid, status_run.c.status, status_run.c.started_at)
            ).all()
            details = connection.execute(select(ingest_batch.c.detail)).scalars().all()
        # Exactly once: one run per observation, each with its status and instant.
        assert len(runs) == REQUESTS * PER_REQUEST
        expected = {
            (
                f"R{r:03d}-{i:02d}",
                "CHARGING" if i % 2 else "AVAILABLE",
                (T0 + timedelta(seconds=r)).replace(tzinfo=None),
            )
            for r in range(REQUESTS)
            for i in range(PER_REQUEST)
        }
        assert {(e, s, t.replace(tzinfo=None)) for e, s, t in runs} == expected
        # Each queued record is audited once, however often it was delivered.
        assert len(details) == len(set(details)) >= REQUESTS
        # The writer keeps the live snapshot: every EVSE in it.
        from shared import layout
        from shared.blobstore import AzureBlobStore
        from shared.settings import Settings

        store = AzureBlobStore.from_settings(
            Settings(
                _env_file=None,
                blob_connection_string=queue_env["CAL_BLOB_CONNECTION_STRING"],
                blob_container=queue_env["CAL_BLOB_CONTAINER"],
            )
        )

        def snapshot_rows() -> int:
            import io

            import pyarrow.parquet as pq

            if store.info(layout.LIVE_STATUS) is None:
                return 0
            return pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS))).num_rows

        wait_for(lambda: snapshot_rows() == REQUESTS * PER_REQUEST, timeout=60)
    finally:
        for process in [*workers.values(), writer]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        engine.dispose()
        writer_log.close()
