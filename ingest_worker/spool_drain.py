"""Spool mode's writer loop: drain the local spool into the database, oldest first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ingest_worker.record_writer import RecordWriter
from ingest_worker.retry import public_error, wait
from ingest_worker.spool import Spool

log = logging.getLogger("chargeatlarge.worker")
BATCH_RECORDS = 500


class SpoolDrain:
    def __init__(self, spool: Spool, writer: RecordWriter) -> None:
        self.spool = spool
        self.writer = writer
        self.wake = asyncio.Event()  # set when something was spooled

    def drain_once(self) -> int:
        """Commit the oldest spooled records (in order) and remove them; returns how many.

        When the batch fails for a reason that is not transient, each record is tried on its
        own, and one that fails again goes to quarantine with the reason: no record can block
        the spool for every CPO.
        """
        records = self.spool.head(BATCH_RECORDS)
        if not records:
            return 0
        self.writer.store_records(records)
        self.spool.remove_through(records[-1].id)
        return len(records)

    async def run(self, stop: asyncio.Event, before_each: Callable[[], Awaitable[None]]) -> None:
        """Drain until ``stop``; back off while the database fails.

        Only transient failures are retried; a record that cannot be stored for a reason
        retrying will not cure is quarantined by the writer and the loop moves on.
        """
        state = self.writer.state
        delay = 0.5
        while not stop.is_set():
            try:
                await before_each()
                drained = await asyncio.to_thread(self.drain_once)
                state.db_ok, state.last_error, delay = True, None, 0.5
            except Exception as exc:  # noqa: BLE001 - database, blob store or other: retry, never end
                state.db_ok = False
                # Health pages show the kind of failure, never SQL text or bound values.
                state.last_error = public_error(exc)
                log.warning("write failed, keeping the spool: %s", f"{exc}"[:2000])
                await wait(stop, delay)
                delay = min(delay * 2, 30)
                continue
            if not drained:
                self.wake.clear()
                await wait(self.wake, 0.5, also=stop)
