"""The one path every feed uses: spool durably, then write to the database in order.

Contract for feed modules (``ingest_worker/feeds/*``):
- ``await ingest.accept(feed, observations, raw=…, sender=…)`` returns once the observations
  are durable (in the local spool); the writer commits them to SQL in arrival order.
- ``await ingest.liveness(feed, at, evse_uids=None)`` records a liveness signal (spec section 3);
  ``None`` covers every EVSE of the feed's CPO.
- ``await ingest.reject(feed, source=…, location=…, reason=…, payload=…)`` quarantines input.
- ``ingest.mark_success(feed)`` / ``ingest.mark_error(feed, message)`` keep feed health.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ingest_worker.feeds.config import FeedConfig
from ingest_worker.handoff import QueueHandoff
from ingest_worker.spool import Spool, SpoolRecord
from shared import layout
from shared.blobstore import BlobStore
from shared.db.audit import quarantine_rows
from shared.db.observations import ObservationStore, ensure_cpo, to_db_time
from shared.db.tables import ingest_batch
from shared.status import Observation

log = logging.getLogger("chargeatlarge.worker")
BATCH_RECORDS = 500
# A CPO-wide liveness signal (a WebSocket message or ping) is stored at most once per this
# many seconds per CPO; the latest signal of each interval is the one stored, so a feed's
# known time still ends exactly max_gap after its last signal.
LIVENESS_COALESCE_SECONDS = 30.0
# A database write taking longer than this is reported in health while it still waits.
STUCK_WRITE_SECONDS = 10.0


def is_transient(exc: BaseException) -> bool:
    """Errors that retrying can cure: the database unreachable, locked or timing out (SQLite's
    "database is locked" and a schema not yet migrated are OperationalErrors too), or the
    blob store unreachable. Anything else is a property of the records and will fail again."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # An OSError from the operating system (a full disk, a dropped mount) carries an errno; one
    # raised by a decoder over bad bytes (gzip.BadGzipFile) does not, and will fail again.
    if isinstance(exc, OSError):
        return exc.errno is not None
    return type(exc).__module__.startswith(("azure.", "urllib3", "requests"))


@dataclass(slots=True)
class FeedHealth:
    cpo_id: str
    kind: str
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    accepted: int = 0
    rejected: int = 0

    def as_json(self) -> dict[str, object]:
        now = datetime.now(UTC)
        return {
            "cpo_id": self.cpo_id,
            "kind": self.kind,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "last_error": self.last_error,
            "lag_seconds": (now - self.last_success_at).total_seconds()
            if self.last_success_at
            else None,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }


@dataclass(slots=True)
class WriterState:
    db_ok: bool = True
    last_error: str | None = None
    committed_records: int = 0
    poisoned_records: int = 0
    schema_ready: bool = False
    # monotonic time the current database write began (None when idle): a write held up by a
    # lock shows in health at once, not only when it times out
    writing_since: float | None = None
    changes: int = 0  # bumped whenever stored statuses may have changed
    commit_latencies: list[float] = field(default_factory=list)


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
        # Where a record goes that not even quarantine takes (queue mode: the poison queue).
        self.dead_letter: Callable[[str, str], None] | None = None
        self.observations = ObservationStore(engine, default_max_gap_minutes)
        self.health = {feed.name: FeedHealth(feed.cpo_id, feed.kind) for feed in feeds}
        self.state = WriterState()
        self._wake = asyncio.Event()
        self._registered: set[str] = set()
        # CPO → (feed, latest signal not yet stored, when the last one was stored)
        self._liveness: dict[str, tuple[FeedConfig, datetime | None, float]] = {}
        self.migrate = True  # bring the schema to head once the database answers

    # ---- called by feeds -------------------------------------------------------------------

    async def accept(
        self, feed: FeedConfig, observations: list[Observation], *, raw: bytes | str, sender: str
    ) -> None:
        if any(obs.cpo_id != feed.cpo_id for obs in observations):
            raise ValueError("an observation of another CPO reached a feed's accept()")
        raw_text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        body = {
            "cpo": feed.cpo_id,
            "source": feed.kind,
            "sender": sender[:200],
            "received_at": datetime.now(UTC).isoformat(),
            "items": [[o.evse_uid, o.status, o.observed_at.isoformat()] for o in observations],
            "raw": base64.b64encode(gzip.compress(raw_text.encode("utf-8"), 1)).decode("ascii"),
        }
        await self._hand_off("obs", body)
        health = self.health.get(feed.name)
        if health is not None:
            health.accepted += len(observations)
        self.mark_success(feed)
        self._wake.set()

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
        await self._spool_liveness(feed, at, evse_uids)

    async def _spool_liveness(
        self, feed: FeedConfig, at: datetime, evse_uids: list[str] | None
    ) -> None:
        body = {"cpo": feed.cpo_id, "at": at.astimezone(UTC).isoformat(), "evses": evse_uids}
        await self._hand_off("live", body)
        self._wake.set()

    async def flush_liveness(self, force: bool = False) -> None:
        """Store each CPO's latest coalesced liveness signal once its interval is over."""
        now = time.monotonic()
        for cpo_id, (feed, pending, stored) in list(self._liveness.items()):
            if pending is not None and (force or now - stored >= LIVENESS_COALESCE_SECONDS):
                self._liveness[cpo_id] = (feed, None, now)
                await self._spool_liveness(feed, pending, None)

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
        body = {
            "cpo": feed.cpo_id if feed else None,
            "source": source,
            "location": location,
            "reason": reason,
            "payload": text[:1_000_000],
            "received_at": datetime.now(UTC).isoformat(),
        }
        await self._hand_off("reject", body)
        if feed is not None and feed.name in self.health:
            self.health[feed.name].rejected += 1
        self._wake.set()

    async def _hand_off(self, kind: str, body: Mapping[str, Any]) -> None:
        """Durable once this returns: in the local spool, or in the queue (queue mode)."""
        if self.handoff is not None:
            await self.handoff.put(kind, dict(body))
        else:
            assert self.spool is not None
            await asyncio.to_thread(self.spool.append, kind, dict(body), time.time())

    def mark_success(self, feed: FeedConfig) -> None:
        health = self.health.setdefault(feed.name, FeedHealth(feed.cpo_id, feed.kind))
        health.last_success_at = datetime.now(UTC)

    def mark_error(self, feed: FeedConfig, message: str) -> None:
        health = self.health.setdefault(feed.name, FeedHealth(feed.cpo_id, feed.kind))
        health.last_error_at = datetime.now(UTC)
        health.last_error = message[:500]

    # ---- the writer ------------------------------------------------------------------------

    async def run_writer(self, stop: asyncio.Event) -> None:
        """Drain the spool into the database until ``stop``; back off while the database fails.

        Only transient failures are retried; a record that cannot be stored for a reason
        retrying will not cure is quarantined by ``drain_once`` and the writer moves on.
        """
        delay = 0.5
        while not stop.is_set():
            try:
                await self.flush_liveness()
                drained = await asyncio.to_thread(self.drain_once)
                self.state.db_ok, self.state.last_error, delay = True, None, 0.5
            except Exception as exc:  # noqa: BLE001 - database, blob store or other: retry, never end
                self.state.db_ok = False
                # Health pages show the kind of failure, never SQL text or bound values.
                self.state.last_error = _public_error(exc)
                log.warning("write failed, keeping the spool: %s", f"{exc}"[:2000])
                await _wait(stop, delay)
                delay = min(delay * 2, 30)
                continue
            if not drained:
                self._wake.clear()
                await _wait(self._wake, 0.5, also=stop)

    def ensure_schema(self) -> None:
        """The schema at head, once the database answers (the worker starts without it)."""
        if self.state.schema_ready:
            return
        if self.migrate:
            from shared.db.engine import upgrade

            upgrade(self.engine.url.render_as_string(hide_password=False))
        self.state.schema_ready = True

    def drain_once(self) -> int:
        """Commit the oldest spooled records (in order) and remove them; returns how many.

        When the batch fails for a reason that is not transient, each record is tried on its
        own, and one that fails again goes to quarantine with the reason: no record can block
        the spool for every CPO.
        """
        assert self.spool is not None
        records = self.spool.head(BATCH_RECORDS)
        if not records:
            return 0
        self.store_records(records)
        self.spool.remove_through(records[-1].id)
        return len(records)

    def store_records(self, records: list[SpoolRecord]) -> None:
        """Commit records in the order given (quarantining those that cannot be stored);
        raises only for transient failures, when nothing of the batch may be taken as done."""
        self.state.writing_since = time.monotonic()
        try:
            self._store_records(records)
        finally:
            self.state.writing_since = None

    def _store_records(self, records: list[SpoolRecord]) -> None:
        self.ensure_schema()
        try:
            self._commit(records)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("a batch of %d records failed (%s); storing them one by one",
                        len(records), _public_error(exc))  # fmt: skip
            for record in records:
                try:
                    self._commit([record])
                except Exception as single:
                    if is_transient(single):
                        raise
                    self._poison(record, single)
        now = time.time()
        self.state.commit_latencies.extend(now - r.spooled_at for r in records if r.kind == "obs")
        del self.state.commit_latencies[:-10_000]
        self.state.committed_records += len(records)
        self.state.changes += 1

    def _poison(self, record: SpoolRecord, exc: Exception) -> None:
        """Quarantine a record that cannot be stored, with its reason (the raw payload kept)."""
        body = record.body
        payload = json.dumps({"kind": record.kind, **body}, default=str)
        reason = f"could not be stored ({_public_error(exc)}); kept here instead"
        name = f"record {record.ref}" if record.ref else f"spool record {record.id}"
        log.error("%s quarantined: %s", name, f"{exc}"[:2000])
        self.state.poisoned_records += 1
        try:
            with self.engine.begin() as connection:
                quarantine_rows(
                    connection,
                    source=str(body.get("source") or f"spool:{record.kind}")[:32],
                    received_at=to_db_time(datetime.now(UTC)),
                    items=[(_cpo_of(body), name, reason, payload)],
                )
        except Exception as again:
            if is_transient(again):
                raise
            # Not even quarantine takes it: keep it beside the spool, never drop it.
            if self.dead_letter is not None:
                self.dead_letter(reason, payload)
                return
            assert self.spool is not None
            dead = self.spool.path.parent / "dead-letter.jsonl"
            with dead.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"reason": reason, "record": payload}) + "\n")
            log.error("spool record %d written to %s (%s)", record.id, dead, again)

    def _commit(self, records: list[SpoolRecord]) -> None:
        registered: set[str] = set()
        with self.engine.begin() as connection:
            for cpo_id in {r.body["cpo"] for r in records if r.body.get("cpo")} - self._registered:
                feed_gap = next(
                    (
                        f.max_gap_minutes
                        for f in self.feeds
                        if f.cpo_id == cpo_id and f.max_gap_minutes
                    ),
                    None,
                )
                ensure_cpo(connection, cpo_id, feed_gap)
                registered.add(cpo_id)
            pending: list[Observation] = []
            for record in records:
                if record.kind == "obs":
                    pending.extend(_observations(record))
                    self._audit(connection, record)
                    continue
                if pending:
                    self.observations.write_in(connection, pending)
                    pending = []
                if record.kind == "live":
                    at = datetime.fromisoformat(record.body["at"])
                    self.observations.confirm_in(
                        connection, record.body["cpo"], at, record.body["evses"]
                    )
                elif record.kind == "reject":
                    body = record.body
                    quarantine_rows(
                        connection,
                        source=body["source"],
                        received_at=to_db_time(datetime.fromisoformat(body["received_at"])),
                        items=[(body["cpo"], body["location"], body["reason"], body["payload"])],
                    )
            if pending:
                self.observations.write_in(connection, pending)
        self._registered |= registered  # only once the transaction that registered them committed
        # Archived after the commit, so retries during an outage archive nothing twice; a crash
        # between the two replays the records, which commits nothing new and archives them then.
        self._archive_raw(records)

    def _audit(self, connection, record: SpoolRecord) -> None:  # type: ignore[no-untyped-def]
        body = record.body
        received = to_db_time(datetime.fromisoformat(body["received_at"]))
        detail = json.dumps({"record": record.ref} if record.ref else {"spool_id": record.id})
        # A record replayed after a crash between commit and spool removal is audited once.
        already = connection.execute(
            select(ingest_batch.c.batch_id).where(
                ingest_batch.c.cpo_id == body["cpo"],
                ingest_batch.c.received_at == received,
                ingest_batch.c.detail == detail,
            )
        ).first()
        if already is not None:
            return
        connection.execute(
            insert(ingest_batch).values(
                cpo_id=body["cpo"],
                source=body["source"],
                sender=body["sender"],
                received_at=received,
                finished_at=to_db_time(datetime.now(UTC)),
                accepted=len(body["items"]),
                duplicate=0,
                rejected=0,
                detail=detail,
            )
        )

    def _archive_raw(self, records: list[SpoolRecord]) -> None:
        by_cpo_day: dict[tuple[str, str], list[str]] = defaultdict(list)
        for record in records:
            if record.kind != "obs" or record.body.get("raw") is None:
                continue  # the later parts of a split batch: archived with the first
            day = record.body["received_at"][:10]
            line = json.dumps(
                {
                    **({"record": record.ref} if record.ref else {"spool_id": record.id}),
                    "received_at": record.body["received_at"],
                    "source": record.body["source"],
                    "sender": record.body["sender"],
                    "payload": gzip.decompress(base64.b64decode(record.body["raw"])).decode(
                        "utf-8"
                    ),
                }
            )
            by_cpo_day[(record.body["cpo"], day)].append(line)
        first, last = records[0].id, records[-1].id
        label = f"{first:012d}-{last:012d}"
        if records[0].ref:
            # Queue mode: named by the records themselves, so a batch replayed as it was
            # overwrites its own archive; lines carry their record ref for de-duplication.
            digest = hashlib.sha1("\n".join(r.ref or "" for r in records).encode()).hexdigest()
            label = f"{records[0].ref.replace(':', '-').replace('.', '-')}-{digest[:12]}"
        for (cpo_id, day), lines in by_cpo_day.items():
            name = layout.raw_archive_blob(
                cpo_id, datetime.fromisoformat(day).date(), f"{label}.jsonl.gz"
            )
            self.blobs.put(name, gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), 6))

    def health_json(self) -> dict[str, object]:
        if self.spool is not None:
            backlog, oldest = self.spool.backlog()
            handoff: dict[str, object] = {
                "spool_backlog": backlog,
                "spool_oldest_age_seconds": round(time.time() - oldest, 3) if oldest else None,
            }
        else:
            handoff = {"handoff": "queue", **(self.handoff.health() if self.handoff else {})}
        since = self.state.writing_since
        stuck = since is not None and time.monotonic() - since > STUCK_WRITE_SECONDS
        return {
            "database": "slow or locked"
            if stuck and self.state.db_ok
            else ("ok" if self.state.db_ok else "unreachable"),
            "database_error": self.state.last_error,
            **handoff,
            "committed_records": self.state.committed_records,
            "quarantined_records": self.state.poisoned_records,
            "feeds": [h.as_json() for h in self.health.values()],
        }


def _cpo_of(body: dict[str, object]) -> str | None:
    cpo = body.get("cpo")
    return cpo[:64] if isinstance(cpo, str) else None


def _public_error(exc: BaseException) -> str:
    """What a health page may say of a failure: its kind, not SQL text, values or ids."""
    kind = type(exc).__name__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        kind = f"{kind} ({type(exc.orig).__name__})"
    text = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
    hint = "database locked" if "locked" in text else ""
    if isinstance(exc, OperationalError) and not hint:
        hint = "database unreachable or schema not ready"
    return f"{kind}: {hint}" if hint else kind


def _observations(record: SpoolRecord) -> list[Observation]:
    cpo_id = record.body["cpo"]
    return [
        Observation(cpo_id, evse, status, datetime.fromisoformat(at))
        for evse, status, at in record.body["items"]
    ]


async def _wait(event: asyncio.Event, seconds: float, also: asyncio.Event | None = None) -> None:
    waiters = [asyncio.ensure_future(event.wait())]
    if also is not None:
        waiters.append(asyncio.ensure_future(also.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
