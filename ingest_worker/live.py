"""The live snapshot (spec section 6): ``live/status.parquet``, one row per EVSE; feed health."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from ingest_worker.stopping import sleep_unless_stopped
from shared import layout
from shared.blobstore import BlobStore
from shared.db.observations import LatestStatus, cpo_max_gaps, latest_statuses
from shared.metrics.schema import LIVE_STATUS

if TYPE_CHECKING:
    from ingest_worker.pipeline import Ingest

log = logging.getLogger("chargeatlarge.worker.live")


def snapshot_table(
    rows: list[LatestStatus],
    max_gaps: dict[str, float | None],
    default_gap_minutes: float,
    now: datetime,
) -> pa.Table:
    """Latest status per EVSE; ``stale`` when the last confirmation is older than max_gap."""
    rows = sorted(rows, key=lambda r: (r.cpo_id, r.evse_uid))
    stale = [
        now - r.last_confirmed_at > timedelta(minutes=max_gaps.get(r.cpo_id) or default_gap_minutes)
        for r in rows
    ]
    return pa.table(
        {
            "cpo_id": [r.cpo_id for r in rows],
            "evse_uid": [r.evse_uid for r in rows],
            "status": [r.status for r in rows],
            "category": [r.category for r in rows],
            "observed_at": pa.array(
                [r.observed_at for r in rows], LIVE_STATUS.field("observed_at").type
            ),
            "last_confirmed_at": pa.array(
                [r.last_confirmed_at for r in rows], LIVE_STATUS.field("last_confirmed_at").type
            ),
            "stale": stale,
        },
        schema=LIVE_STATUS,
    )


def write_snapshot(
    engine: Engine, store: BlobStore, default_gap_minutes: float, now: datetime | None = None
) -> int:
    now = now or datetime.now(UTC)
    with engine.connect() as connection:
        rows = latest_statuses(connection)
        gaps = cpo_max_gaps(connection)
    table = snapshot_table(rows, gaps, default_gap_minutes, now)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    store.put(layout.LIVE_STATUS, buffer.getvalue())
    return table.num_rows


async def run_snapshots(
    ingest: Ingest,
    store: BlobStore,
    default_gap_minutes: float,
    interval: float,
    stop: asyncio.Event,
) -> None:
    """Rewrite the snapshot every ``interval`` seconds when something changed, and at least every
    max_gap (so ``stale`` flags turn on even when nothing arrives); feed health every time."""
    written_changes = -1
    last_write = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            changed = ingest.state.changes != written_changes
            overdue = loop.time() - last_write > 60
            if changed or overdue:
                seen = ingest.state.changes
                await asyncio.to_thread(write_snapshot, ingest.engine, store, default_gap_minutes)
                written_changes, last_write = seen, loop.time()
            health = json.dumps(
                {"written_at": datetime.now(UTC).isoformat(), **ingest.health_json()}
            )
            await asyncio.to_thread(store.put, layout.FEED_HEALTH, health.encode())
        except Exception as exc:  # noqa: BLE001 - the loop must outlive a failing database or store
            log.warning("live snapshot not written: %s", exc)
        await sleep_unless_stopped(stop, interval)
