"""``CAL_HANDOFF=queue``: the worker hands its records to the writer through Azure Storage Queues.

A worker replica keeps nothing on its own disk. ``QueueHandoff.put`` returns once its record is
in the queue (the feed is acknowledged only then); records that arrive while a send is under way
go together into the next message (one message per batch), compressed, at most 64 KiB as stored.
A batch too big for one message is split; a single record too big even alone (a huge raw
payload) travels as a claim check: its body in a blob under ``handoff/``, the message naming it.

Each record carries the worker's receipt time, the worker's id and a sequence number, so the
writer applies what it drains in receipt order (ties at one instant: the one received last wins).
A record's body is its model's stored form (``ingest_worker/records.py``), as in the spool.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gzip
import itertools
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from ingest_worker.records import ObservationBatch, Record, Unreadable, body_json, read_record
from ingest_worker.stopping import sleep_unless_stopped
from shared.blobstore import BlobStore
from shared.settings import Settings

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

    from ingest_worker.pipeline import Ingest

log = logging.getLogger("chargeatlarge.handoff")

MESSAGE_LIMIT = 64 * 1024  # characters of message text a Storage Queue message may hold
MAX_INFLATED = 32 * 1024 * 1024  # no message inflates beyond this (a REST body is 1 MiB)
CLAIM_PREFIX = "handoff/"
FORMAT = 1


class HandoffUnavailable(RuntimeError):
    """The queue did not take a batch: the feed must not be acknowledged (it retries)."""


class MessageError(ValueError):
    """A queue message that is not a batch of this format: it goes to the poison queue."""


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    kind: str  # "obs" | "live" | "reject", as in the spool
    record: Record | Unreadable | None  # None while it waits in a claim-check blob
    received_at: float  # the worker's time.time() at receipt
    worker: str
    seq: int
    part: str = ""  # "", or "0", "1", "10"…: where a split record's items came from
    claim: str | None = None  # blob holding the body

    @property
    def ref(self) -> str:
        """Stable identity of the record across redeliveries (audit and archive de-duplication)."""
        return f"{self.worker}:{self.seq}" + (f".{self.part}" if self.part else "")

    def order(self) -> tuple[float, str, int, str]:
        return (self.received_at, self.worker, self.seq, self.part)


class _WireRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: Literal["obs", "live", "reject"]
    t: float
    s: int
    p: str = ""
    b: dict[str, Any] | None = None
    c: str | None = None


class _WireMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1]
    w: str
    r: list[_WireRecord]


def encode(records: list[QueuedRecord]) -> str:
    """One queue message: compressed JSON of the records, base64 text."""
    workers = {r.worker for r in records}
    if len(workers) != 1:
        raise ValueError("one message carries the records of one worker")
    parts = []
    for r in records:
        fields = {"k": r.kind, "t": r.received_at, "s": r.seq, "p": r.part}
        head = json.dumps(fields, separators=(",", ":"))[:-1]
        if r.claim:
            parts.append(f'{head},"c":{json.dumps(r.claim)}}}')
        elif r.record is None or isinstance(r.record, Unreadable):
            raise ValueError(f"record {r.ref}: only a valid record or a claim check is sent")
        else:
            parts.append(f'{head},"b":{body_json(r.record)}}}')
    text = f'{{"v":{FORMAT},"w":{json.dumps(records[0].worker)},"r":[{",".join(parts)}]}}'
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def decode(text: str) -> list[QueuedRecord]:
    """The records of one message, or MessageError saying what is wrong with it."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MessageError(f"not base64 text ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise MessageError(f"not zlib-compressed ({exc})") from None
    if inflater.unconsumed_tail:
        raise MessageError(f"inflates beyond {MAX_INFLATED} bytes")
    if not inflater.eof:
        raise MessageError("truncated compressed data")
    try:
        message = _WireMessage.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise MessageError(f"not a batch of format {FORMAT}: {where}: {first['msg']}") from None
    records = []
    for item in message.r:
        if (item.b is None) == (item.c is None):
            raise MessageError(f"record {item.s}: needs exactly one of a body and a claim check")
        if item.c is not None and not item.c.startswith(CLAIM_PREFIX):
            raise MessageError(f"record {item.s}: claim check outside {CLAIM_PREFIX}")
        record = None if item.b is None else read_record(item.k, item.b)
        records.append(QueuedRecord(item.k, record, item.t, message.w, item.s, item.p, item.c))
    return records


def pack(records: list[QueuedRecord], claim: Callable[[QueuedRecord], QueuedRecord]) -> list[str]:
    """Messages within MESSAGE_LIMIT carrying every record: split by records, then by items;
    a record that cannot be split small enough goes through ``claim`` (a claim-check blob)."""
    text = encode(records)
    if len(text) <= MESSAGE_LIMIT:
        return [text]
    if len(records) > 1:
        middle = len(records) // 2
        return pack(records[:middle], claim) + pack(records[middle:], claim)
    (record,) = records
    batch = record.record
    # Splitting helps only while the items, not the raw payload, make the message big.
    if (
        isinstance(batch, ObservationBatch)
        and len(batch.items) > 1
        and len(batch.raw or "") < MESSAGE_LIMIT // 2
    ):
        middle = len(batch.items) // 2
        connectors = batch.connector_ids
        head, tail = (
            batch.model_copy(
                update={
                    "items": batch.items[:middle],
                    "connector_ids": connectors[:middle] if connectors else None,
                }
            ),
            batch.model_copy(
                update={
                    "items": batch.items[middle:],
                    "connector_ids": connectors[middle:] if connectors else None,
                    "raw": None,  # the raw payload is archived once, with the first part
                }
            ),
        )
        first = replace(record, record=head, part=record.part + "0")
        second = replace(record, record=tail, part=record.part + "1")
        return pack([first], claim) + pack([second], claim)
    return [encode([claim(record)])]


def queue_account_url(blob_account_url: str) -> str:
    """The queue endpoint of the storage account whose blob endpoint is given."""
    parts = urlsplit(blob_account_url)
    host = parts.hostname or ""
    account, _, rest = host.partition(".")
    if not rest.startswith("blob."):
        raise ValueError(
            f"CAL_BLOB_ACCOUNT_URL={blob_account_url!r}: expected https://ACCOUNT.blob.…"
            " (the queue is in the same account)"
        )
    return urlunsplit((parts.scheme, f"{account}.queue.{rest[5:]}", "", "", ""))


def queue_clients(settings: Settings) -> tuple[QueueClient, QueueClient]:
    """(queue, poison queue) clients in the storage account of the blob settings."""
    from azure.storage.queue import ExponentialRetry, QueueServiceClient

    # Fail fast enough that a feed hears of it within its own time-outs, and retries itself.
    retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=3)
    if settings.blob_connection_string:
        fields = {
            key.strip().lower(): value
            for key, _, value in (
                part.partition("=") for part in settings.blob_connection_string.split(";") if part
            )
        }
        if "blobendpoint" in fields and "queueendpoint" not in fields:
            raise ValueError(
                "CAL_HANDOFF=queue: CAL_BLOB_CONNECTION_STRING names a BlobEndpoint but no"
                " QueueEndpoint; add the queue service's endpoint"
            )
        service = QueueServiceClient.from_connection_string(
            settings.blob_connection_string, retry_policy=retry
        )
    elif settings.blob_account_url:
        from azure.identity import DefaultAzureCredential

        service = QueueServiceClient(
            queue_account_url(settings.blob_account_url),
            credential=DefaultAzureCredential(),
            retry_policy=retry,
        )
    else:
        raise ValueError(
            "CAL_HANDOFF=queue needs CAL_BLOB_CONNECTION_STRING or CAL_BLOB_ACCOUNT_URL"
        )
    return (
        service.get_queue_client(settings.queue_name),
        service.get_queue_client(f"{settings.queue_name}-poison"),
    )


def ensure_queue(queue: QueueClient) -> None:
    """Create the queue if missing. On Azure the Bicep creates them and the identities may not
    create queues (least privilege): that refusal is fine."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    try:
        queue.create_queue()
    except ResourceExistsError:
        pass
    except HttpResponseError as exc:
        if exc.status_code != 403:
            raise
        log.info("queue %s not created here (%s): expecting it to exist", queue.queue_name, exc)


def claim_blob_name(record: QueuedRecord) -> str:
    day = time.strftime("%Y-%m-%d", time.gmtime(record.received_at))
    part = f"-{record.part}" if record.part else ""
    return f"{CLAIM_PREFIX}{day}/{record.worker}-{record.seq}{part}.json.gz"


def load_claim(blobs: BlobStore, record: QueuedRecord) -> QueuedRecord:
    """The record with its body read back from its claim-check blob."""
    if record.claim is None:
        return record
    try:
        body = gzip.decompress(blobs.get(record.claim))
    except (OSError, EOFError, ValueError) as exc:
        raise MessageError(f"claim check {record.claim}: {type(exc).__name__}: {exc}") from None
    return replace(record, record=read_record(record.kind, body))


class QueueHandoff:
    """The worker side: ``await put(record)`` returns once the record is in the queue."""

    def __init__(self, queue: QueueClient, blobs: BlobStore, *, in_flight: int = 4) -> None:
        self.queue = queue
        self.blobs = blobs
        self.worker = uuid.uuid4().hex[:12]  # a restarted worker is a new worker: refs stay unique
        self._seq = itertools.count()
        self._pending: list[tuple[QueuedRecord, asyncio.Future[None]]] = []
        self._executor = ThreadPoolExecutor(in_flight, thread_name_prefix="enqueue")
        self._slots = asyncio.Semaphore(in_flight)
        self._pump: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.ok = True
        self.last_error: str | None = None
        self.messages_sent = 0
        self.records_sent = 0

    @classmethod
    def from_settings(cls, settings: Settings, blobs: BlobStore) -> QueueHandoff:
        queue, _ = queue_clients(settings)
        return cls(queue, blobs)

    def ensure(self) -> None:
        ensure_queue(self.queue)

    async def put(self, record: Record) -> None:
        queued = QueuedRecord(record.kind, record, time.time(), self.worker, next(self._seq))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((queued, future))
        if self._pump is None:
            self._pump = asyncio.create_task(self._run_pump())
        await future

    async def _run_pump(self) -> None:
        try:
            while self._pending:
                await self._slots.acquire()
                group, self._pending = self._pending, []
                if not group:
                    self._slots.release()
                    break
                task = asyncio.create_task(self._send(group))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
        finally:
            self._pump = None

    async def _send(self, group: list[tuple[QueuedRecord, asyncio.Future[None]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._send_sync, [r for r, _ in group])
        except Exception as exc:  # noqa: BLE001 - every failure means: not acknowledged
            self.ok, self.last_error = False, type(exc).__name__
            log.warning("the queue did not take %d record(s): %s", len(group), f"{exc}"[:500])
            for _, future in group:
                if not future.done():
                    future.set_exception(HandoffUnavailable("the queue is not reachable"))
        else:
            self.ok, self.last_error = True, None
            for _, future in group:
                if not future.done():
                    future.set_result(None)
        finally:
            self._slots.release()

    def _send_sync(self, records: list[QueuedRecord]) -> None:
        for text in pack(records, self._claim):
            self.queue.send_message(text)
            self.messages_sent += 1
        self.records_sent += len(records)

    def _claim(self, record: QueuedRecord) -> QueuedRecord:
        name = claim_blob_name(record)
        if record.record is None or isinstance(record.record, Unreadable):
            raise ValueError(f"record {record.ref}: only a valid record is claim-checked")
        self.blobs.put(name, gzip.compress(body_json(record.record).encode("utf-8"), 6))
        return replace(record, record=None, claim=name)

    def health(self) -> dict[str, object]:
        return {
            "queue": "ok" if self.ok else "unreachable",
            "queue_error": self.last_error,
            "enqueued_messages": self.messages_sent,
            "enqueued_records": self.records_sent,
        }

    async def close(self) -> None:
        """Send what is pending, then release the threads."""
        while self._pump is not None or self._sending:
            await asyncio.gather(
                *([self._pump] if self._pump else []), *self._sending, return_exceptions=True
            )
        with contextlib.suppress(Exception):
            self._executor.shutdown(wait=True)


async def keep_flushing_liveness(ingest: Ingest, stop: asyncio.Event, seconds: float = 1.0) -> None:
    """A queue-mode worker has no writer loop: hand on each CPO's coalesced liveness signal once
    its interval is over (``Ingest.flush_liveness``), as the spool's writer loop does."""
    while not stop.is_set():
        try:
            await ingest.flush_liveness()
        except Exception as exc:  # noqa: BLE001 - the queue may be down: the signal waits
            log.warning("liveness not handed on yet: %s", type(exc).__name__)
        await sleep_unless_stopped(stop, seconds)
