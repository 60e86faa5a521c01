"""Review of the ingest worker (issue 4): deviations found, each shown by a strict-xfail test.

Every test states the behaviour the issue or the spec asks for. It is marked ``xfail(strict=True)``
because the current code does not do it yet: when a fix lands, the test passes, strict xfail
turns that into a failure, and the marker must be removed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from ingest_worker.feeds.ocpi_common import token_header
from ingest_worker.feeds.ocpi_pull import OcpiPuller
from ingest_worker.pipeline import Ingest
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.observations import latest_statuses
from shared.db.tables import status_run
from shared.status import Observation
from tests.ingest_worker.conftest import feed, serve, stored_runs, wait_for
from tests.ingest_worker.test_ocpi_push import handshake

T0 = datetime(2026, 11, 20, tzinfo=UTC)


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
        deadline = time.monotonic() + 8
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


def test_each_payload_is_archived_once_across_retries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'later.db'}"  # no schema yet: writes fail like an outage
    engine = make_engine(url)
    rest = feed("ACME", "rest_push", "s")
    store = LocalBlobStore(tmp_path / "blobs")
    ingest = Ingest([rest], engine, store, Spool(tmp_path / "spool.db"), 15)
    ingest.migrate = False  # the schema arrives by hand below, as from a deployment

    def accept(status: str, minute: int, raw: str) -> None:
        obs = Observation("ACME", "E1", status, T0 + timedelta(minutes=minute))
        asyncio.run(ingest.accept(rest, [obs], raw=raw, sender="t"))

    accept("AVAILABLE", 0, "payload-one")
    with pytest.raises(Exception):  # noqa: B017 - the database is not there yet
        ingest.drain_once()
    accept("CHARGING", 1, "payload-two")
    with pytest.raises(Exception):  # noqa: B017
        ingest.drain_once()
    upgrade(url)  # the database is back
    assert ingest.drain_once() == 2
    payloads = [
        json.loads(line)["payload"]
        for info in store.list("raw/ACME/")
        for line in gzip.decompress(store.get(info.name)).decode().splitlines()
    ]
    assert sorted(payloads) == ["payload-one", "payload-two"]


def _broken_cpo() -> FastAPI:
    """An OCPI CPO whose version details carry ``endpoints`` as a number, not a list."""
    app = FastAPI()

    def envelope(data: object) -> JSONResponse:
        return JSONResponse(
            {"data": data, "status_code": 1000, "timestamp": "2026-11-20T00:00:00Z"}
        )

    @app.get("/ocpi/versions")
    async def versions(request: Request) -> JSONResponse:
        return envelope([{"version": "2.2.1", "url": f"{request.base_url}ocpi/2.2.1"}])

    @app.get("/ocpi/2.2.1")
    async def details() -> JSONResponse:
        return envelope({"version": "2.2.1", "endpoints": 5})

    return app


def test_hostile_version_details_do_not_end_the_poller(worker_settings) -> None:
    engine = make_engine(worker_settings.database_url)
    with serve(_broken_cpo()) as cpo_url:
        pull = feed(
            "PULL",
            "ocpi_pull",
            "cpo-token",
            versions_url=f"{cpo_url}/ocpi/versions",
            poll_seconds=1,
        )
        ingest = Ingest(
            [pull],
            engine,
            LocalBlobStore(worker_settings.data_dir / "b"),
            Spool(worker_settings.data_dir / "s.db"),
            15,
        )

        async def scenario() -> tuple[bool, str | None]:
            stop = asyncio.Event()
            async with httpx.AsyncClient(timeout=5) as client:
                task = asyncio.create_task(OcpiPuller(pull, ingest, client).run(stop))
                await asyncio.sleep(1.5)
                alive = not task.done()
                stop.set()
                await asyncio.gather(task, return_exceptions=True)
            return alive, ingest.health[pull.name].last_error

        alive, last_error = asyncio.run(scenario())
    assert alive, "the poller task ended"
    assert last_error and "endpoints" in last_error


def test_a_status_dated_far_in_the_future_does_not_become_the_live_status(worker) -> None:
    url, settings = worker
    auth = {"Authorization": "Bearer acme-rest-secret"}
    now = datetime.now(UTC)
    ahead = {"evse_uid": "E1", "status": "FAULTED", "observed_at": (now + timedelta(days=365))}
    present = {"evse_uid": "E1", "status": "AVAILABLE", "observed_at": now - timedelta(minutes=1)}
    for item in (ahead, present):
        body = {"observations": [{**item, "observed_at": item["observed_at"].isoformat()}]}
        assert httpx.post(f"{url}/api/v1/observations", headers=auth, json=body).status_code == 202
    wait_for(lambda: ("ACME", "E1", "AVAILABLE") in stored_runs(settings))
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        latest = {r.evse_uid: r.status for r in latest_statuses(connection, cpo_id="ACME")}
    engine.dispose()
    assert latest == {"E1": "AVAILABLE"}


def test_second_credentials_post_is_405(worker) -> None:
    url, _ = worker
    token_c = handshake(url, "acme-token-a")
    again = httpx.post(
        f"{url}/ocpi/2.2.1/credentials",
        headers={"Authorization": token_header(token_c)},
        json={
            "token": "another-token-b",
            "url": "https://cpo.example/ocpi/versions",
            "roles": [{"role": "CPO", "party_id": "ACM", "country_code": "AU"}],
        },
    )
    assert again.status_code == 405
