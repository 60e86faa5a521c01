"""Typed spool records and queue messages: what the previous version wrote still replays, every
kind round-trips, a bad body is named and quarantined; feed audit rows carry real duplicate
counts; connector_id is kept in the raw archive and nowhere else."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from ingest_worker.handoff import QueuedRecord, decode, encode
from ingest_worker.pipeline import Ingest
from ingest_worker.raw_archive import read_archive
from ingest_worker.records import (
    LivenessSignal,
    ObservationBatch,
    Rejection,
    Unreadable,
    body_json,
    read_record,
)
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import ingest_batch, quarantine, status_run
from shared.status import Observation
from tests.ingest_worker.conftest import feed

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ACME = feed("ACME", "rest_push", "a")


def _old_raw(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 1)).decode("ascii")


def _old_spool(path: Path) -> None:
    """A spool exactly as the previous (untyped) worker left it: table, kinds and JSON bodies
    written by hand the way its ``Ingest`` built them (isoformat instants, item lists)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL, body TEXT NOT NULL, spooled_at REAL NOT NULL)"
    )
    rows = [
        (
            "obs",
            {
                "cpo": "ACME",
                "source": "rest_push",
                "sender": "203.0.113.9",
                "received_at": "2026-11-20T10:00:01.250000+00:00",
                "items": [
                    ["E1", "AVAILABLE", "2026-11-20T10:00:00+00:00"],
                    ["E2", "CHARGING", "2026-11-20T10:00:00+00:00"],
                ],
                "raw": _old_raw('{"observations": "as sent"}'),
            },
        ),
        ("live", {"cpo": "ACME", "at": "2026-11-20T10:05:00+00:00", "evses": None}),
        (
            "reject",
            {
                "cpo": "ACME",
                "source": "rest_push",
                "location": "item 3",
                "reason": "status: unknown raw status 'EXPLODING'",
                "payload": '{"status": "EXPLODING"}',
                "received_at": "2026-11-20T10:00:01.250000+00:00",
            },
        ),
    ]
    for kind, body in rows:
        db.execute(
            "INSERT INTO spool (kind, body, spooled_at) VALUES (?, ?, ?)",
            (kind, json.dumps(body, separators=(",", ":")), 1_763_632_801.25),
        )
    db.close()


def _ingest(tmp_path: Path, spool: Spool | None = None) -> tuple[Ingest, Spool]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    spool = spool or Spool(tmp_path / "spool.db")
    blobs = LocalBlobStore(tmp_path / "blobs")
    return Ingest([ACME], make_engine(url), blobs, spool, 15), spool


def test_a_spool_written_by_the_previous_version_replays(tmp_path: Path) -> None:
    _old_spool(tmp_path / "old-spool.db")
    ingest, spool = _ingest(tmp_path, Spool(tmp_path / "old-spool.db"))
    kinds = [type(r.record) for r in spool.head(10)]
    assert kinds == [ObservationBatch, LivenessSignal, Rejection]
    assert ingest.drain_once() == 3
    with ingest.engine.connect() as connection:
        runs = connection.execute(
            select(status_run.c.evse_uid, status_run.c.status, status_run.c.last_confirmed_at)
        ).all()
        audit = connection.execute(
            select(ingest_batch.c.sender, ingest_batch.c.accepted, ingest_batch.c.duplicate)
        ).all()
        rejects = connection.execute(select(quarantine.c.location, quarantine.c.reason)).all()
    confirmed = datetime(2026, 11, 20, 10, 5)  # the liveness signal confirmed both EVSEs
    assert sorted(runs) == [("E1", "AVAILABLE", confirmed), ("E2", "CHARGING", confirmed)]
    assert audit == [("203.0.113.9", 2, 0)]
    assert rejects == [("item 3", "status: unknown raw status 'EXPLODING'")]
    assert spool.backlog()[0] == 0
    (blob,) = ingest.blobs.list("raw/")
    assert blob.name == "raw/ACME/2026/11/20/10.jsonl.gz"
    (line,) = read_archive(ingest.blobs, blob.name)
    assert line["payload"] == '{"observations": "as sent"}' and line["spool_id"] == 1


def test_a_queue_message_of_the_previous_version_decodes(tmp_path: Path) -> None:
    body = {
        "cpo": "ACME",
        "source": "rest_push",
        "sender": "t",
        "received_at": "2026-11-20T10:00:01+00:00",
        "items": [["Q1", "FAULTED", "2026-11-20T10:00:00+00:00"]],
        "raw": None,
    }
    document = {"v": 1, "w": "w1", "r": [{"k": "obs", "t": 1.5, "s": 7, "p": "1", "b": body}]}
    text = base64.b64encode(zlib.compress(json.dumps(document).encode())).decode()
    (record,) = decode(text)
    assert record.ref == "w1:7.1" and isinstance(record.record, ObservationBatch)
    assert record.record.observations() == [Observation("ACME", "Q1", "FAULTED", T0)]
    again = decode(encode([record]))  # and what this version sends reads back the same
    assert again == [record]


RECORDS: list[ObservationBatch | LivenessSignal | Rejection] = [
    ObservationBatch.of(
        [Observation("ACME", "E1", "AVAILABLE", T0), Observation("ACME", "E2", "FAULTED", T0, "2")],
        cpo="ACME",
        source="rest_push",
        sender="t",
        received_at=T0,
        raw="payload",
    ),
    LivenessSignal(cpo="ACME", at=T0, evses=["E1"]),
    LivenessSignal(cpo="ACME", at=T0),
    Rejection(cpo=None, source="ocpp", location="cp1", reason="bad", payload="[2]", received_at=T0),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: f"{r.kind}")
def test_every_kind_round_trips_through_its_stored_form(
    record: ObservationBatch | LivenessSignal | Rejection,
) -> None:
    assert read_record(record.kind, body_json(record)) == record
    assert "kind" not in json.loads(body_json(record))  # stored beside the body, as before


BAD = [
    ("obs", '{"cpo": "ACME"}', "not a valid obs record: source: Field required (and 3 more)"),
    ("live", '{"cpo": "ACME", "at": "soon"}', "not a valid live record: at: Input should be"),
    ("obs", "not json", "not a valid obs record: body: Invalid JSON"),
    ("gone", "{}", "unknown record kind 'gone'"),
    (
        "obs",
        json.dumps(
            {
                "cpo": "A",
                "source": "s",
                "sender": "s",
                "received_at": T0.isoformat(),
                "items": [["E1", "AVAILABLE", T0.isoformat()]],
                "connector_ids": ["1", "2"],
            }
        ),
        "connector_ids: 2 for 1 items",
    ),
]


@pytest.mark.parametrize(("kind", "body", "error"), BAD, ids=[b[2][:30] for b in BAD])
def test_a_body_that_does_not_validate_reads_as_unreadable_with_the_reason(
    kind: str, body: str, error: str
) -> None:
    record = read_record(kind, body)
    assert isinstance(record, Unreadable) and record.kind == kind
    assert error in record.error


def test_audit_rows_of_feed_records_carry_their_real_duplicate_counts(tmp_path: Path) -> None:
    ingest, _ = _ingest(tmp_path)
    first = [Observation("ACME", "E1", "AVAILABLE", T0), Observation("ACME", "E2", "CHARGING", T0)]
    later = T0 + timedelta(minutes=1)
    requests = [
        first,  # new: 2 accepted
        first,  # the same again (a CPO's retry): 2 duplicates
        [Observation("ACME", "E1", "AVAILABLE", T0), Observation("ACME", "E1", "FAULTED", later)],
        [Observation("ACME", "E1", "FAULTED", later)],  # 1 duplicate, of the request before
    ]

    async def send() -> None:
        for observations in requests:
            await ingest.accept(ACME, observations, raw="r", sender="t")

    asyncio.run(send())
    assert ingest.drain_once() == 4  # one transaction, one merge
    with ingest.engine.connect() as connection:
        audit = connection.execute(
            select(ingest_batch.c.accepted, ingest_batch.c.duplicate).order_by(
                ingest_batch.c.batch_id
            )
        ).all()
    assert audit == [(2, 0), (0, 2), (1, 1), (0, 1)]


def test_connector_id_is_kept_in_the_raw_archive_not_in_the_runs(tmp_path: Path) -> None:
    ingest, spool = _ingest(tmp_path)
    observations = [
        Observation("ACME", "E1", "CHARGING", T0, "2"),
        Observation("ACME", "E2", "AVAILABLE", T0),
    ]
    asyncio.run(ingest.accept(ACME, observations, raw="as sent", sender="t"))
    (spooled,) = spool.head(10)
    assert isinstance(spooled.record, ObservationBatch)
    assert spooled.record.observations() == observations  # the spool drops nothing
    ingest.drain_once()
    (blob,) = ingest.blobs.list("raw/ACME/")
    (line,) = read_archive(ingest.blobs, blob.name)
    assert line["connectors"] == [["E1", "2"]]
    assert "connector_id" not in {
        c["name"] for c in inspect(ingest.engine).get_columns("status_run")
    }


def test_spool_and_queue_carry_the_same_stored_body(tmp_path: Path) -> None:
    record = RECORDS[0]
    spool = Spool(tmp_path / "spool.db")
    spool.append(record, 1.0)
    with sqlite3.connect(tmp_path / "spool.db") as db:
        (stored,) = db.execute("SELECT body FROM spool").fetchone()
    (queued,) = decode(encode([QueuedRecord("obs", record, 1.0, "w", 0)]))
    assert json.loads(stored) == json.loads(body_json(record))
    assert queued.record == record == spool.head(1)[0].record


def test_a_parsed_body_goes_through_the_union_on_kind() -> None:
    body = json.loads(body_json(RECORDS[1]))
    assert read_record("live", body) == RECORDS[1]
    wrong = read_record("gone", body)
    assert isinstance(wrong, Unreadable)
    assert "does not match any of the expected tags: 'obs', 'live', 'reject'" in wrong.error
    mixed = read_record("obs", body)  # a liveness body under the observations kind
    assert isinstance(mixed, Unreadable) and "not a valid obs record" in mixed.error
