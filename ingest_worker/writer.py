"""``chargeatlarge writer`` (``CAL_HANDOFF=queue``): drain the queue into SQL.

One writer at a time, by a lease on the blob ``leases/writer``: the process waits for it before it
does anything and ends when it cannot keep it (a deploy that briefly runs two revisions still has
one writer). The writer alone runs the OCPI pollers (pull polls and the Locations liveness polls
of push feeds), so each feed is polled once however many ingest replicas run; and it keeps the
live snapshot and ``live/feeds.json``.

Each round takes up to ``batch_messages`` messages (fewer while rounds run long), applies their
records in receipt order (worker receipt time, worker, sequence) in one transaction through the
spool's record writer (``record_writer.py``: a record that cannot be stored is quarantined with its
reason), and deletes each message only after that commit. While the database is down the writer
takes nothing (and retries a batch it already holds until it commits); a message dequeued more
than ``max_dequeue`` times (the writer died holding it each time) or one that is not a batch goes
to the poison queue with its reason and the original text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import signal
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from ingest_worker.feeds.config import FeedConfig
from ingest_worker.handoff import (
    MESSAGE_LIMIT,
    MessageError,
    QueuedRecord,
    decode,
    load_claim,
)
from ingest_worker.pipeline import Ingest
from ingest_worker.records import ObservationBatch, Record, Rejection, Unreadable
from ingest_worker.retry import is_transient, wait
from ingest_worker.retry import public_error as _public_error
from ingest_worker.spool import SpoolRecord
from shared.blobstore import BlobStore
from shared.settings import Settings

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient, QueueMessage

log = logging.getLogger("chargeatlarge.writer")
LEASE_BLOB = "leases/writer"
ROUND_SECONDS = 1.0  # what a round (one transaction) aims to take


@dataclass(slots=True)
class Held:
    """A received message the writer holds (invisible to others) until its commit."""

    message: Any  # azure.storage.queue.QueueMessage
    records: list[QueuedRecord]


@dataclass(slots=True)
class WriterStats:
    messages_deleted: int = 0
    messages_poisoned: int = 0
    queue_ok: bool = True
    queue_error: str | None = None
    lag_seconds: float | None = None  # enqueued → received, of the last message taken
    errors: dict[str, str] = field(default_factory=dict)  # message id → last failure seen


class QueueWriter:
    def __init__(
        self,
        ingest: Ingest,
        queue: QueueClient,
        poison: QueueClient,
        blobs: BlobStore,
        *,
        batch_messages: int = 64,
        visibility_seconds: int = 300,
        max_dequeue: int = 5,
    ) -> None:
        self.ingest = ingest
        self.queue = queue
        self.poison_queue = poison
        self.blobs = blobs
        self.batch_messages = batch_messages
        # Messages taken per round, between 8 and batch_messages: a round that found the queue
        # fuller than it could take doubles it (throughput); a slow round that emptied it halves
        # it (latency).
        self.round_messages = min(16, batch_messages)
        self.visibility = visibility_seconds
        self.max_dequeue = max_dequeue
        self.stats = WriterStats()
        self._held: list[Held] = []
        # Deletes run beside the next round (each after its commit): one request per message.
        self._deleter = ThreadPoolExecutor(8, thread_name_prefix="delete")
        self._deleting: list[Future[None]] = []
        ingest.dead_letter = self.dead_letter
        own = ingest.handoff.worker if ingest.handoff is not None else None
        self._own_worker = own  # records this process enqueued (its pollers) are counted already

    # ---- one round -------------------------------------------------------------------------

    def drain_once(self) -> int:
        """Commit one batch of messages and delete them; returns how many records."""
        if not self._held:
            # Take nothing while the database is down: messages wait in the queue untouched
            # (their dequeue count does not grow, so an outage poisons nothing).
            self._database_answers()
            self._held = self._receive()
        if not self._held:
            return 0
        held = self._held
        began = time.monotonic()
        queued = sorted((r for h in held for r in h.records), key=QueuedRecord.order)
        records = [
            SpoolRecord(index, _loaded(r), r.received_at, ref=r.ref)
            for index, r in enumerate(queued)
        ]
        try:
            self.ingest.store_records(records)
        except Exception as exc:
            for item in held:
                self.stats.errors[item.message.id] = _public_error(exc)
            raise
        self._count_feeds(queued)
        self._deleting = [f for f in self._deleting if not f.done()]
        self._deleting += [self._deleter.submit(self._delete, item) for item in held]
        self._held = []
        self._adapt(len(held), time.monotonic() - began)
        return len(records)

    def _adapt(self, taken: int, seconds: float) -> None:
        if taken >= self.round_messages:
            # A backlog: bigger transactions merge more points per EVSE at once (throughput).
            self.round_messages = min(self.batch_messages, self.round_messages * 2)
        elif seconds > ROUND_SECONDS * 2:
            # Keeping up, but slowly: smaller rounds commit sooner (latency).
            self.round_messages = max(8, self.round_messages // 2)

    def finish(self) -> None:
        """Wait for the deletes under way (at shutdown)."""
        self._deleter.shutdown(wait=True)

    def _receive(self) -> list[Held]:
        held: list[Held] = []
        for message in self.queue.receive_messages(
            messages_per_page=min(32, self.round_messages),
            max_messages=self.round_messages,
            visibility_timeout=self.visibility,
        ):
            self.stats.queue_ok, self.stats.queue_error = True, None
            if message.inserted_on is not None:
                self.stats.lag_seconds = (datetime.now(UTC) - message.inserted_on).total_seconds()
            if message.dequeue_count and message.dequeue_count > self.max_dequeue:
                last = self.stats.errors.get(message.id) or "the writer stopped while holding it"
                self._poison(
                    message,
                    f"dequeued {message.dequeue_count} times and never committed"
                    f" (limit {self.max_dequeue}); last failure: {last}",
                )
                continue
            try:
                records = [load_claim(self.blobs, r) for r in decode(message.content or "")]
            except MessageError as exc:
                self._poison(message, f"malformed message: {exc}")
                continue
            except Exception as exc:
                if is_transient(exc):  # the blob store did not answer: the message comes back
                    self.stats.errors[message.id] = _public_error(exc)
                    continue
                raise
            held.append(Held(message, records))
        return held

    def _database_answers(self) -> None:
        with self.ingest.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        self.ingest.ensure_schema()

    def _delete(self, item: Held) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.queue.delete_message(item.message.id, item.message.pop_receipt)
        except ResourceNotFoundError:
            # Its invisibility ran out and it went back: it will be applied again, which the
            # exact merge makes a no-op.
            log.warning("message %s was visible again before its delete", item.message.id)
        except Exception as exc:  # noqa: BLE001 - it comes back and is applied again: a no-op
            log.warning("message %s not deleted (%s)", item.message.id, _public_error(exc))
            return
        self.stats.messages_deleted += 1
        self.stats.errors.pop(item.message.id, None)
        for record in item.records:
            if record.claim:
                with contextlib.suppress(Exception):
                    self.blobs.delete(record.claim)

    # ---- the poison queue ------------------------------------------------------------------

    def _poison(self, message: QueueMessage, reason: str) -> None:
        """Move a message to the poison queue with its reason; never drop it."""
        log.error("message %s to the poison queue: %s", message.id, reason)
        self.poison(
            {
                "reason": reason,
                "message_id": message.id,
                "dequeue_count": message.dequeue_count,
                "inserted_on": message.inserted_on.isoformat() if message.inserted_on else None,
                "content": message.content,
            }
        )
        self.queue.delete_message(message.id, message.pop_receipt)
        self.stats.messages_poisoned += 1
        self.stats.errors.pop(message.id, None)

    def poison(self, document: dict[str, Any]) -> None:
        """One poison message: compressed JSON, or its content in a blob when too big."""
        text = poison_text(document)
        if len(text) > MESSAGE_LIMIT:
            name = f"handoff/poison/{time.strftime('%Y-%m-%d')}/{time.time_ns()}.json"
            self.blobs.put(name, json.dumps(document).encode("utf-8"))
            text = poison_text({"reason": document["reason"], "content_blob": name})
        self.poison_queue.send_message(text)

    def dead_letter(self, reason: str, payload: str) -> None:
        """A record not even quarantine takes (``Ingest._poison``): to the poison queue."""
        self.poison({"reason": reason, "record": payload})

    # ---- feed health from what the ingest replicas received ----------------------------------

    def _count_feeds(self, records: list[QueuedRecord]) -> None:
        health = self.ingest.health
        by_feed: dict[tuple[str | None, str], FeedConfig] = {
            (f.cpo_id, f.kind): f for f in self.ingest.feeds
        }
        for record in records:
            item = record.record
            if record.worker == self._own_worker or not isinstance(
                item, ObservationBatch | Rejection
            ):
                continue
            feed = by_feed.get((item.cpo, item.source))
            if feed is None or feed.name not in health:
                continue
            entry = health[feed.name]
            if isinstance(item, ObservationBatch):
                entry.accepted += len(item.items)
                at = datetime.fromtimestamp(record.received_at, UTC)
                if entry.last_success_at is None or at > entry.last_success_at:
                    entry.last_success_at = at
            else:
                entry.rejected += 1

    def health(self) -> dict[str, object]:
        samples = sorted(self.ingest.state.commit_latencies)
        pick = (
            (lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))], 3))
            if samples
            else (lambda q: None)
        )
        return {
            "receipt_to_commit_samples": len(samples),
            "receipt_to_commit_p50_seconds": pick(0.5),
            "receipt_to_commit_p99_seconds": pick(0.99),
            "queue_reads": "ok" if self.stats.queue_ok else "unreachable",
            "queue_read_error": self.stats.queue_error,
            "queue_lag_seconds": self.stats.lag_seconds,
            "messages_held": len(self._held),
            "messages_deleted": self.stats.messages_deleted,
            "messages_poisoned": self.stats.messages_poisoned,
        }

    # ---- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop``; back off while the database or the queue fails."""
        delay, idle = 0.5, 0.1
        while not stop.is_set():
            try:
                await self.ingest.flush_liveness()
                drained = await asyncio.to_thread(self.drain_once)
                self.ingest.state.db_ok, self.ingest.state.last_error = True, None
                delay = 0.5
            except Exception as exc:  # noqa: BLE001 - retry, never end
                if type(exc).__module__.startswith("azure."):
                    self.stats.queue_ok, self.stats.queue_error = False, _public_error(exc)
                else:
                    self.ingest.state.db_ok = False
                    self.ingest.state.last_error = _public_error(exc)
                log.warning("write failed, keeping the messages: %s", f"{exc}"[:2000])
                await wait(stop, delay)
                delay = min(delay * 2, 30)
                continue
            if drained:
                idle = 0.1
            else:  # an empty queue is asked again after 0.1 s, then less often, up to every 1 s
                await wait(stop, idle)
                idle = min(idle * 2, 1.0)


def _loaded(record: QueuedRecord) -> Record | Unreadable:
    """The record's model (``load_claim`` has read any claim check by now)."""
    if record.record is None:
        return Unreadable(record.kind, None, f"claim check {record.claim} not read")
    return record.record


def poison_text(document: dict[str, Any]) -> str:
    data = json.dumps(document, separators=(",", ":"), default=str).encode("utf-8")
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def read_poison(text: str) -> dict[str, Any]:
    """A poison message as written by ``QueueWriter.poison``."""
    return json.loads(zlib.decompress(base64.b64decode(text)))


def requeue_poison(queue: QueueClient, poison: QueueClient, blobs: BlobStore) -> tuple[int, int]:
    """Put every poisoned message back on the queue, once its cause is fixed (an outage that
    outlasted ``max_dequeue`` restarts, a bug); returns (requeued, kept). A record that not even
    quarantine took is no message and stays. Needs an identity that may take from the poison
    queue (an operator's, not the writer's)."""
    requeued = kept = 0
    while True:
        page = list(poison.receive_messages(max_messages=32, visibility_timeout=120))
        if not page:
            return requeued, kept
        for message in page:
            document = read_poison(message.content)
            if "content_blob" in document:
                document = json.loads(blobs.get(document["content_blob"]))
            content = document.get("content")
            if not content:
                kept += 1  # visible again in two minutes, after this run
                continue
            queue.send_message(content)
            poison.delete_message(message)
            requeued += 1


# ---- the lease ------------------------------------------------------------------------------


class WriterLease:
    """A blob lease that makes one process the writer."""

    def __init__(self, container: ContainerClient, seconds: int = 30) -> None:
        if not 15 <= seconds <= 60:
            raise ValueError("a blob lease lasts 15 to 60 seconds")
        self.blob = container.get_blob_client(LEASE_BLOB)
        self.seconds = seconds
        self.lease: Any = None
        self.renewed = 0.0

    async def acquire(self, stop: asyncio.Event) -> bool:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            await asyncio.to_thread(self.blob.upload_blob, b"", overwrite=False)
        waiting_logged = False
        while not stop.is_set():
            try:
                self.lease = await asyncio.to_thread(
                    self.blob.acquire_lease, lease_duration=self.seconds
                )
                self.renewed = time.monotonic()
                log.info("writer lease acquired")
                return True
            except HttpResponseError as exc:
                if exc.status_code != 409:
                    log.warning("writer lease: %s", _public_error(exc))
                elif not waiting_logged:
                    log.info("another writer holds %s: waiting for it", LEASE_BLOB)
                    waiting_logged = True
            except Exception as exc:  # noqa: BLE001 - the store may be down: keep trying
                log.warning("writer lease: %s", _public_error(exc))
            await wait(stop, min(5.0, self.seconds / 3))
        return False

    async def keep(self, stop: asyncio.Event, lost: asyncio.Event) -> None:
        """Renew every third of the lease; when it cannot be kept, set ``lost`` and ``stop``."""
        while not stop.is_set():
            await wait(stop, self.seconds / 3)
            if stop.is_set():
                break
            try:
                await asyncio.to_thread(self.lease.renew)
                self.renewed = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - logged; the lease is tried again or given up
                log.warning("writer lease not renewed: %s", _public_error(exc))
                if time.monotonic() - self.renewed > self.seconds - 5 or _lease_gone(exc):
                    log.error("writer lease lost: stopping")
                    lost.set()
                    stop.set()

    def release(self) -> None:
        with contextlib.suppress(Exception):
            if self.lease is not None:
                self.lease.release()


def _lease_gone(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) in (409, 412)


# ---- the process ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriterOptions:
    snapshot_seconds: float = 5.0
    visibility_seconds: int = 300
    max_dequeue: int = 5
    batch_messages: int = 128
    lease_seconds: int = 30


async def run_writer_process(
    settings: Settings, feeds: list[FeedConfig], options: WriterOptions = WriterOptions()
) -> int:
    """The whole writer: lease, queue drain, live snapshot, feed health and the OCPI pollers.
    Returns the exit status (1 when the lease was lost)."""
    import httpx

    from ingest_worker.feeds.ocpi_common import CanonicalEvses
    from ingest_worker.feeds.ocpi_parties import Parties, keep_loading
    from ingest_worker.feeds.ocpi_pull import OcpiPuller
    from ingest_worker.feeds.ocpi_push_poll import PushPoller
    from ingest_worker.feeds.ocpi_tokens import cipher_for
    from ingest_worker.handoff import QueueHandoff, ensure_queue, queue_clients
    from ingest_worker.live import run_snapshots, write_snapshot
    from shared.blobstore import AzureBlobStore
    from shared.db.engine import make_engine

    stop, lost = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    store = AzureBlobStore.from_settings(settings)
    queue, poison = queue_clients(settings)
    for each in (queue, poison):
        await asyncio.to_thread(ensure_queue, each)
    lease = WriterLease(store.container, options.lease_seconds)
    if not await lease.acquire(stop):
        return 0
    engine = make_engine(settings.database_url)
    handoff = QueueHandoff(queue, store)  # what the pollers receive goes through the queue too
    ingest = Ingest(feeds, engine, store, None, settings.max_gap_minutes, handoff=handoff)
    writer = QueueWriter(
        ingest,
        queue,
        poison,
        store,
        batch_messages=options.batch_messages,
        visibility_seconds=options.visibility_seconds,
        max_dequeue=options.max_dequeue,
    )
    base_health = ingest.health_json
    ingest.health_json = lambda: {**base_health(), **writer.health()}  # type: ignore[method-assign]  # the queue writer's health joins the worker's
    parties = Parties(engine, cipher_for(settings))
    canonical = CanonicalEvses(store)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False
    ) as client:
        tasks = [
            asyncio.create_task(lease.keep(stop, lost), name="lease"),
            asyncio.create_task(writer.run(stop), name="writer"),
            asyncio.create_task(
                run_snapshots(
                    ingest, store, settings.max_gap_minutes, options.snapshot_seconds, stop
                ),
                name="live",
            ),
            asyncio.create_task(keep_loading(parties, stop), name="ocpi parties"),
        ]
        tasks += [
            asyncio.create_task(
                OcpiPuller(feed, ingest, client, canonical=canonical).run(stop),
                name=f"poll {feed.name}",
            )
            for feed in feeds
            if feed.kind == "ocpi_pull"
        ]
        tasks += [
            asyncio.create_task(
                PushPoller(feed, ingest, client, parties, canonical, settings.max_gap_minutes).run(
                    stop
                ),
                name=f"liveness poll {feed.name}",
            )
            for feed in feeds
            if feed.kind == "ocpi_push"
        ]
        log.info("writer: draining %s into the database", settings.queue_name)
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(Exception):
        await ingest.flush_liveness(force=True)
    await handoff.close()
    await asyncio.to_thread(writer.finish)
    if not lost.is_set():
        with contextlib.suppress(Exception):
            if ingest.state.committed_records:
                await asyncio.to_thread(write_snapshot, engine, store, settings.max_gap_minutes)
        lease.release()
    engine.dispose()
    return 1 if lost.is_set() else 0
