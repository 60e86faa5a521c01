"""The one path every feed uses: hand records on durably, then write them to the database in order.

Contract for feed modules (``ingest_worker/feeds/*``):
- ``await ingest.accept(feed, observations, raw=…, sender=…)`` returns once the observations
  are durable (in the local spool, or in the queue); the writer commits them in arrival order.
- ``await ingest.liveness(feed, at, evse_uids=None)`` records a liveness signal (spec section 3);
  ``None`` covers every EVSE of the feed's CPO.
- ``await ingest.reject(feed, source=…, location=…, reason=…, payload=…)`` quarantines input.
- ``ingest.mark_success(feed)`` / ``ingest.mark_error(feed, message)`` keep feed health.

``Ingest`` is that facade and the wiring: records (``records.py``) go to the spool (``spool.py``,
drained by ``spool_drain.py``) or the queue (``handoff.py``); ``record_writer.py`` commits them
(audit rows, quarantine) and ``raw_archive.py`` keeps their payloads; ``feed_health.py`` the health.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from ingest_worker.feed_health import FeedHealth
from ingest_worker.feeds.config import FeedConfig
from ingest_worker.handoff import QueueHandoff
from ingest_worker.raw_archive import RawArchive
from ingest_worker.record_writer import RecordWriter, WriterState
from ingest_worker.records import LivenessSignal, ObservationBatch, Record, Rejection
from ingest_worker.spool import Spool, SpoolRecord
from ingest_worker.spool_drain import SpoolDrain
from shared.blobstore import BlobStore
from shared.db.quarantine import MAX_PAYLOAD_CHARS
from shared.status import Observation

# A CPO-wide liveness signal (a WebSocket message or ping) is stored at most once per this
# many seconds per CPO; the latest signal of each interval is the one stored, so a feed's
# known time still ends exactly max_gap after its last signal.
LIVENESS_COALESCE_SECONDS = 30.0
# A database write taking longer than this is reported in health while it still waits.
STUCK_WRITE_SECONDS = 10.0


class Ingest:
    def __init__(
        self,
        feeds: list[FeedConfig],
        engine: Engine,
        store: BlobStore,
        spool: Spool | None,
        default_max_gap_minutes: float,
        handoff: QueueHandoff | None = None,
    ) -> None:
        self.feeds = feeds
        self.engine = engine
        self.blobs = store
        self.spool = spool
        # CAL_HANDOFF=queue: records go to the queue instead (ingest_worker/handoff.py).
        self.handoff = handoff
        self.writer = RecordWriter(
            feeds,
            engine,
            RawArchive(store),
            default_max_gap_minutes,
            dead_letter_file=spool.path.parent / "dead-letter.jsonl" if spool else None,
        )
        self.drain = SpoolDrain(spool, self.writer) if spool is not None else None
        self.health = {feed.name: FeedHealth(feed.cpo_id, feed.kind) for feed in feeds}
        # CPO → (feed, latest signal not yet stored, when the last one was stored)
        self._liveness: dict[str, tuple[FeedConfig, datetime | None, float]] = {}

    # ---- called by feeds -------------------------------------------------------------------

    async def accept(
        self, feed: FeedConfig, observations: list[Observation], *, raw: bytes | str, sender: str
    ) -> None:
        if any(obs.cpo_id != feed.cpo_id for obs in observations):
            raise ValueError("an observation of another CPO reached a feed's accept()")
        raw_text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        batch = ObservationBatch.of(
            observations,
            cpo=feed.cpo_id,
            source=feed.kind,
            sender=sender,
            received_at=datetime.now(UTC),
            raw=raw_text,
        )
        await self._hand_off(batch)
        health = self.health.get(feed.name)
        if health is not None:
            health.accepted += len(observations)
        self.mark_success(feed)

    async def liveness(
        self, feed: FeedConfig, at: datetime, evse_uids: list[str] | None = None
    ) -> None:
        if evse_uids is None:
            # Every message of a busy connection would otherwise confirm every EVSE of the CPO.
            _, _, stored = self._liveness.get(feed.cpo_id, (feed, None, 0.0))
            if time.monotonic() - stored < LIVENESS_COALESCE_SECONDS:
                self._liveness[feed.cpo_id] = (feed, at, stored)
                return
            self._liveness[feed.cpo_id] = (feed, None, time.monotonic())
        await self._hand_off(LivenessSignal(cpo=feed.cpo_id, at=at, evses=evse_uids))

    async def flush_liveness(self, force: bool = False) -> None:
        """Store each CPO's latest coalesced liveness signal once its interval is over."""
        now = time.monotonic()
        for cpo_id, (feed, pending, stored) in list(self._liveness.items()):
            if pending is not None and (force or now - stored >= LIVENESS_COALESCE_SECONDS):
                self._liveness[cpo_id] = (feed, None, now)
                await self._hand_off(LivenessSignal(cpo=feed.cpo_id, at=pending))

    async def reject(
        self,
        feed: FeedConfig | None,
        *,
        source: str,
        location: str,
        reason: str,
        payload: bytes | str,
    ) -> None:
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
        rejection = Rejection(
            cpo=feed.cpo_id if feed else None,
            source=source[:32],
            location=location,
            reason=reason,
            payload=text[:MAX_PAYLOAD_CHARS],
            received_at=datetime.now(UTC),
        )
        await self._hand_off(rejection)
        if feed is not None and feed.name in self.health:
            self.health[feed.name].rejected += 1

    async def _hand_off(self, record: Record) -> None:
        """Durable once this returns: in the local spool, or in the queue (queue mode)."""
        if self.handoff is not None:
            await self.handoff.put(record)
            return
        assert self.spool is not None and self.drain is not None
        await asyncio.to_thread(self.spool.append, record, time.time())
        self.drain.wake.set()

    def mark_success(self, feed: FeedConfig) -> None:
        health = self.health.setdefault(feed.name, FeedHealth(feed.cpo_id, feed.kind))
        health.last_success_at = datetime.now(UTC)

    def mark_error(self, feed: FeedConfig, message: str) -> None:
        health = self.health.setdefault(feed.name, FeedHealth(feed.cpo_id, feed.kind))
        health.last_error_at = datetime.now(UTC)
        health.last_error = message[:500]

    # ---- the writer (record_writer.py, spool_drain.py) ----------------------------------------

    @property
    def state(self) -> WriterState:
        return self.writer.state

    @property
    def migrate(self) -> bool:
        return self.writer.migrate

    @migrate.setter
    def migrate(self, value: bool) -> None:
        self.writer.migrate = value

    @property
    def dead_letter(self) -> Callable[[str, str], None] | None:
        return self.writer.dead_letter

    @dead_letter.setter
    def dead_letter(self, value: Callable[[str, str], None] | None) -> None:
        self.writer.dead_letter = value

    def ensure_schema(self) -> None:
        self.writer.ensure_schema()

    def store_records(self, records: list[SpoolRecord]) -> None:
        self.writer.store_records(records)

    def drain_once(self) -> int:
        assert self.drain is not None, "queue mode has no spool to drain"
        return self.drain.drain_once()

    async def run_writer(self, stop: asyncio.Event) -> None:
        assert self.drain is not None, "queue mode has no spool to drain"
        await self.drain.run(stop, self.flush_liveness)

    def health_json(self) -> dict[str, object]:
        if self.spool is not None:
            backlog, oldest = self.spool.backlog()
            handoff: dict[str, object] = {
                "spool_backlog": backlog,
                "spool_oldest_age_seconds": round(time.time() - oldest, 3) if oldest else None,
            }
        else:
            handoff = {"handoff": "queue", **(self.handoff.health() if self.handoff else {})}
        state = self.state
        since = state.writing_since
        stuck = since is not None and time.monotonic() - since > STUCK_WRITE_SECONDS
        return {
            "database": "slow or locked"
            if stuck and state.db_ok
            else ("ok" if state.db_ok else "unreachable"),
            "database_error": state.last_error,
            **handoff,
            "committed_records": state.committed_records,
            "quarantined_records": state.poisoned_records,
            "feeds": [h.as_json() for h in self.health.values()],
        }
