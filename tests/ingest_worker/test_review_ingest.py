"""Review of the ingest worker (issue 4): deviations found, each shown by a strict-xfail test.

Every test states the behaviour the issue or the spec asks for. It is marked ``xfail(strict=True)``
because the current code does not do it yet: when a fix lands, the test passes, strict xfail
turns that into a failure, and the marker must be removed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from azure.core.exceptions import ServiceRequestError
from sqlalchemy import select

from ingest_worker.pipeline import Ingest
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import status_run
from shared.status import Observation
from tests.ingest_worker.conftest import feed

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
