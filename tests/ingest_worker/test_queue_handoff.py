"""CAL_HANDOFF=queue against Azurite's queue service: messages within the limit, the writer's
commit-then-delete, receipt order for same-instant ties, and the poison queue."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import random
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from azure.storage.queue import QueueClient
from sqlalchemy import Engine, func, select

from ingest_worker.handoff import (
    MESSAGE_LIMIT,
    MessageError,
    QueuedRecord,
    QueueHandoff,
    decode,
    encode,
    ensure_queue,
    load_claim,
    pack,
    queue_account_url,
    queue_clients,
)
from ingest_worker.pipeline import Ingest
from ingest_worker.records import ObservationBatch
from ingest_worker.writer import QueueWriter, read_poison, requeue_poison
from shared.blobstore import AzureBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import ingest_batch, quarantine, status_run
from shared.settings import Settings
from shared.status import Observation
from tests.ingest_worker.conftest import feed, wait_for

T0 = datetime(2026, 11, 20, tzinfo=UTC)
REST = feed("ACME", "rest_push", "s")


@pytest.fixture
def queue_settings(
    tmp_path: Path, azurite_connection_string: str, request: pytest.FixtureRequest
) -> Settings:
    name = "q" + format(abs(hash(request.node.nodeid)), "x")[:16]
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        handoff="queue",
        blob_connection_string=azurite_connection_string,
        blob_container=name,
        queue_name=name,
    )
    upgrade(settings.database_url)
    return settings


def _parts(settings: Settings) -> tuple[QueueClient, QueueClient, AzureBlobStore, Engine]:
    queue, poison = queue_clients(settings)
    ensure_queue(queue)
    ensure_queue(poison)
    store = AzureBlobStore.from_settings(settings)
    engine = make_engine(settings.database_url)
    return queue, poison, store, engine


def _messages(queue: QueueClient) -> list[str]:
    """Every message now in the queue (taken briefly, then visible again)."""
    return [m.content for m in queue.receive_messages(max_messages=32, visibility_timeout=1)]


def _count(queue: QueueClient) -> int:
    """Messages in the queue, invisible ones included."""
    return queue.get_queue_properties().approximate_message_count or 0


def _poisoned(poison: QueueClient) -> list[dict]:
    return [read_poison(m.content) for m in poison.peek_messages(max_messages=32)]


def _record(seq: int, body: ObservationBatch, worker: str = "w1", at: float = 0.0) -> QueuedRecord:
    return QueuedRecord(body.kind, body, at or time.time(), worker, seq)


def _obs_body(items: list[list[str]], raw: str) -> ObservationBatch:
    return ObservationBatch.model_validate(
        {
            "cpo": "ACME",
            "source": "rest_push",
            "sender": "test",
            "received_at": datetime.now(UTC).isoformat(),
            "items": items,
            "raw": base64.b64encode(gzip.compress(raw.encode(), 1)).decode(),
        }
    )


def _typed(items: list[list[str]]) -> list[tuple[str, str, datetime]]:
    return [(evse, status, datetime.fromisoformat(at)) for evse, status, at in items]


def test_queue_url_and_connection_string_checks(tmp_path: Path) -> None:
    assert queue_account_url("https://calstore.blob.core.windows.net/") == (
        "https://calstore.queue.core.windows.net"
    )
    with pytest.raises(ValueError, match="ACCOUNT.blob"):
        queue_account_url("https://calstore.dfs.core.windows.net")
    blob_only = Settings(
        _env_file=None,
        data_dir=tmp_path,
        handoff="queue",
        blob_connection_string="AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/a;",
    )
    with pytest.raises(ValueError, match="no QueueEndpoint"):
        queue_clients(blob_only)
    with pytest.raises(ValueError, match="CAL_HANDOFF=queue needs"):
        Settings(_env_file=None, data_dir=tmp_path, handoff="queue")


def test_a_big_batch_is_split_into_messages_azure_takes(queue_settings: Settings) -> None:
    queue, _, store, _ = _parts(queue_settings)
    rng = random.Random(7)
    items = [
        [
            f"AU*ACM*E{rng.randrange(10**9):09d}",
            rng.choice(["AVAILABLE", "CHARGING"]),
            (T0 + timedelta(microseconds=rng.randrange(10**12))).isoformat(),
        ]
        for _ in range(30_000)
    ]
    # Many items and a small raw payload (an OCPI poll's records, many requests at once): split
    # by records and then by items; a big raw payload goes as a claim check (next test).
    body = _obs_body(items, "a poll of 30,000 EVSEs")
    claimed: list[QueuedRecord] = []

    def claim(record: QueuedRecord) -> QueuedRecord:
        claimed.append(record)
        raise AssertionError("nothing here needs a claim check")

    group = [_record(1, body)] + [
        _record(n, _obs_body(items[n * 100 : n * 100 + 100], f"request {n}")) for n in range(2, 300)
    ]
    texts = pack(group, claim)
    assert len(texts) > 2 and all(len(t) <= MESSAGE_LIMIT for t in texts)
    assert sum(len(decode(t)) for t in texts) > len(group)  # the big record was split
    texts = pack([_record(1, body)], claim)
    assert len(texts) > 1 and all(len(t) <= MESSAGE_LIMIT for t in texts)
    for text in texts:
        queue.send_message(text)  # the real service takes each
    records = sorted((r for t in _messages(queue) for r in decode(t)), key=QueuedRecord.order)
    batches = [r.record for r in records if isinstance(r.record, ObservationBatch)]
    assert [i for b in batches for i in b.items] == _typed(items)
    assert sum(b.raw is not None for b in batches) == 1  # archived once
    assert len({r.ref for r in records}) == len(records)
    # One character over the limit is refused by the service itself.
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError):
        queue.send_message("A" * (MESSAGE_LIMIT + 1))


def test_an_incompressible_payload_travels_as_a_claim_check(queue_settings: Settings) -> None:
    queue, _, store, _ = _parts(queue_settings)
    raw = base64.b64encode(os.urandom(300_000)).decode()
    body = _obs_body([["E1", "AVAILABLE", T0.isoformat()]], raw)
    handoff = QueueHandoff(queue, store)  # only its claim checks are used here
    texts = pack([_record(3, body, worker=handoff.worker)], handoff._claim)
    assert len(texts) == 1 and len(texts[0]) < 1000
    (record,) = decode(texts[0])
    assert record.record is None and record.claim and record.claim.startswith("handoff/")
    assert load_claim(store, record).record == body


def _ingest(
    settings: Settings, store: AzureBlobStore, engine: Engine, queue: QueueClient
) -> Ingest:
    handoff = QueueHandoff(queue, store)
    return Ingest([REST], engine, store, None, settings.max_gap_minutes, handoff=handoff)


def test_accepted_observations_reach_sql_and_their_messages_are_deleted(
    queue_settings: Settings,
) -> None:
    queue, poison, store, engine = _parts(queue_settings)
    ingest = _ingest(queue_settings, store, engine, queue)

    async def accept_all() -> None:
        await asyncio.gather(
            *(
                ingest.accept(
                    REST,
                    [Observation("ACME", f"E{n}", "CHARGING", T0 + timedelta(minutes=n))],
                    raw=f"payload {n}",
                    sender="test",
                )
                for n in range(40)
            )
        )
        assert ingest.handoff is not None
        await ingest.handoff.close()

    asyncio.run(accept_all())
    writer = QueueWriter(
        _ingest(queue_settings, store, engine, queue), queue, poison, store, batch_messages=16
    )
    total = 0
    while (drained := writer.drain_once()) > 0:
        total += drained
    assert total == 40
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(status_run)).scalar() == 40
        details = connection.execute(select(ingest_batch.c.detail)).scalars().all()
    assert len(details) == len(set(details)) == 40
    writer.finish()
    assert _count(queue) == 0  # deleted, not only invisible
    assert store.list("raw/ACME/")
    # Replaying the same messages (a redelivery after a crash between commit and delete) adds
    # nothing: the merge is exact and the audit knows each record.
    records = [
        QueuedRecord("obs", _obs_body([["E0", "CHARGING", T0.isoformat()]], "again"), 1.0, "wz", 0)
    ]
    queue.send_message(encode(records))
    queue.send_message(encode(records))
    writer = QueueWriter(_ingest(queue_settings, store, engine, queue), queue, poison, store)
    while writer.drain_once():
        pass
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(status_run)).scalar() == 40
        assert connection.execute(select(func.count()).select_from(ingest_batch)).scalar() == 41


def test_same_instant_ties_go_to_the_observation_received_last(queue_settings: Settings) -> None:
    queue, poison, store, engine = _parts(queue_settings)
    at = T0.isoformat()
    first = QueuedRecord("obs", _obs_body([["TIE", "CHARGING", at]], "a"), 1000.0, "wa", 5)
    later = QueuedRecord("obs", _obs_body([["TIE", "FAULTED", at]], "b"), 1000.5, "wb", 1)
    queue.send_message(encode([later]))  # the queue is not FIFO: the later one comes first
    queue.send_message(encode([first]))
    writer = QueueWriter(_ingest(queue_settings, store, engine, queue), queue, poison, store)
    assert writer.drain_once() == 2  # one round takes both: applied in receipt order
    with engine.connect() as connection:
        assert connection.execute(select(status_run.c.status)).scalars().all() == ["FAULTED"]


def test_malformed_messages_go_to_the_poison_queue_with_their_reason(
    queue_settings: Settings,
) -> None:
    queue, poison, store, engine = _parts(queue_settings)
    good = QueuedRecord("obs", _obs_body([["G1", "AVAILABLE", T0.isoformat()]], "g"), 1.0, "w", 0)
    bomb = base64.b64encode(zlib.compress(b"\0" * (40 * 1024 * 1024), 9)).decode()
    bad = {
        "not base64 ***": "not base64",
        base64.b64encode(b"plain bytes").decode(): "not zlib",
        bomb: "inflates beyond",
        base64.b64encode(zlib.compress(b'{"v": 2, "w": "x", "r": []}')).decode(): "format 1: v",
        base64.b64encode(
            zlib.compress(b'{"v":1,"w":"x","r":[{"k":"obs","t":1,"s":1}]}')
        ).decode(): ("exactly one of a body"),
    }
    assert len(bomb) <= MESSAGE_LIMIT
    for text in bad:
        queue.send_message(text)
    queue.send_message(encode([good]))
    writer = QueueWriter(_ingest(queue_settings, store, engine, queue), queue, poison, store)

    def settled() -> bool:
        writer.drain_once()
        return len(_poisoned(poison)) == len(bad)

    wait_for(settled, 60)
    reasons = sorted(p["reason"] for p in _poisoned(poison))
    for expected in bad.values():
        assert any(expected in reason for reason in reasons), (expected, reasons)
    assert {p["content"] for p in _poisoned(poison)} == set(bad)  # the original text kept
    writer.finish()
    assert _count(queue) == 0
    with engine.connect() as connection:  # the good message of the same round is stored
        assert connection.execute(select(status_run.c.evse_uid)).scalars().all() == ["G1"]
    with pytest.raises(MessageError):
        decode("###")


def test_a_message_that_fails_again_and_again_is_poisoned_not_dropped(
    queue_settings: Settings,
) -> None:
    queue, poison, store, engine = _parts(queue_settings)
    record = QueuedRecord("obs", _obs_body([["P1", "AVAILABLE", T0.isoformat()]], "p"), 1.0, "w", 0)
    queue.send_message(encode([record]))
    # A writer that dies while holding it, three times: taken, never deleted.
    for _ in range(3):
        wait_for(lambda: list(queue.receive_messages(max_messages=1, visibility_timeout=1)), 60)
    writer = QueueWriter(
        _ingest(queue_settings, store, engine, queue), queue, poison, store, max_dequeue=2
    )
    wait_for(lambda: writer.drain_once() == 0 and _poisoned(poison), 60)
    (poisoned,) = _poisoned(poison)
    assert "dequeued 4 times and never committed (limit 2)" in poisoned["reason"]
    (back,) = decode(poisoned["content"])
    assert isinstance(back.record, ObservationBatch)
    assert back.record.items == [("P1", "AVAILABLE", T0)]
    with engine.connect() as connection:
        assert not connection.execute(select(status_run)).all()
    # Its cause fixed, an operator puts it back (`chargeatlarge writer --requeue-poison`).
    assert requeue_poison(queue, poison, store) == (1, 0)
    assert not _poisoned(poison)
    wait_for(lambda: writer.drain_once() == 1, 60)
    with engine.connect() as connection:
        assert connection.execute(select(status_run.c.evse_uid)).scalars().all() == ["P1"]


def test_a_database_outage_holds_the_messages_and_poisons_nothing(
    queue_settings: Settings, tmp_path: Path
) -> None:
    queue, poison, store, _ = _parts(queue_settings)
    down = tmp_path / "later"
    engine = make_engine(f"sqlite:///{down / 'db.sqlite'}")
    down.rmdir()
    down.write_text("not a folder")  # every connection fails like an outage
    record = QueuedRecord("obs", _obs_body([["O1", "FAULTED", T0.isoformat()]], "o"), 1.0, "w", 0)
    queue.send_message(encode([record]))
    writer = QueueWriter(
        _ingest(queue_settings, store, engine, queue),
        queue,
        poison,
        store,
        visibility_seconds=5,
        max_dequeue=1,
    )
    failures = 0
    deadline = time.monotonic() + 60
    while failures < 3 and time.monotonic() < deadline:
        try:
            writer.drain_once()
        except Exception:  # noqa: BLE001 - the outage
            failures += 1
            time.sleep(0.5)
    assert failures == 3 and not writer._held  # nothing taken while the database is down
    (waiting,) = queue.peek_messages()
    assert waiting.dequeue_count == 0
    down.unlink()
    down.mkdir()  # the database is back (empty: the writer migrates it)
    wait_for(lambda: writer.drain_once() == 1, 60)
    assert not _poisoned(poison)
    with engine.connect() as connection:
        assert connection.execute(select(status_run.c.evse_uid)).scalars().all() == ["O1"]
        assert not connection.execute(select(quarantine)).all()


def _queued(queue: QueueClient) -> list[QueuedRecord]:
    """The records now in the queue, peeked (taking them would hide them for a while)."""
    return [r for m in queue.peek_messages(max_messages=32) for r in decode(m.content)]


def test_a_queue_mode_worker_acknowledges_only_what_the_queue_took(
    queue_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import websockets

    from ingest_worker import pipeline
    from ingest_worker.app import WorkerOptions, create_app
    from tests.ingest_worker.conftest import FEEDS, serve

    monkeypatch.setattr(pipeline, "LIVENESS_COALESCE_SECONDS", 0.5)
    queue, _, _, _ = _parts(queue_settings)
    app = create_app(queue_settings, FEEDS, WorkerOptions(snapshot_seconds=0.2))
    with serve(app) as url:
        observed = datetime.now(UTC).replace(microsecond=0)
        response = httpx.post(
            f"{url}/api/v1/observations",
            json={
                "observations": [
                    {"evse_uid": "Q1", "status": "FAULTED", "observed_at": (observed.isoformat())}
                ]
            },
            headers={"Authorization": "Bearer acme-rest-secret"},
        )
        assert response.status_code == 202
        (record,) = [r for r in _queued(queue) if r.kind == "obs"]
        assert isinstance(record.record, ObservationBatch)
        assert record.record.items == [("Q1", "FAULTED", observed)]
        assert httpx.get(f"{url}/healthz").json()["queue"] == "ok"

        async def pings() -> None:
            async with websockets.connect(
                url.replace("http://", "ws://") + "/ws/v1/observations",
                additional_headers={"Authorization": "Bearer acme-ws-secret"},
            ) as socket:
                for _ in range(3):  # the first is handed on, the others coalesced
                    await socket.send(json.dumps({"type": "ping"}))
                    assert json.loads(await socket.recv()) == {"type": "pong"}

        asyncio.run(pings())
        # The last, coalesced signal is handed on once its interval is over, with no further
        # signal to push it: the queue-mode worker flushes it itself.
        wait_for(lambda: len([r for r in _queued(queue) if r.kind == "live"]) == 2, 30)
        # The queue is gone: the CPO is told to retry, nothing is acknowledged.
        queue.delete_queue()
        response = httpx.post(
            f"{url}/api/v1/observations",
            json={
                "observations": [
                    {"evse_uid": "Q2", "status": "AVAILABLE", "observed_at": (observed.isoformat())}
                ]
            },
            headers={"Authorization": "Bearer acme-rest-secret"},
            timeout=60,
        )
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert httpx.get(f"{url}/healthz").status_code == 503
