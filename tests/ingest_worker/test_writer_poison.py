"""No batch can block the writer: records that cannot be stored go to quarantine with their
reason, transient failures are retried, and the next CPO's observations still commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Executable, select

from ingest_worker.pipeline import Ingest
from ingest_worker.records import LivenessSignal
from ingest_worker.retry import is_transient
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import quarantine, status_run
from shared.settings import Settings
from shared.status import Observation
from tests.ingest_worker.conftest import feed, quarantined, stored_runs, wait_for

T0 = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def ingest(tmp_path: Path) -> Ingest:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    feeds = [feed("ACME", "rest_push", "a"), feed("BETA", "rest_push", "b")]
    return Ingest(
        feeds, make_engine(url), LocalBlobStore(tmp_path / "blobs"), Spool(tmp_path / "s.db"), 15
    )


def rows(ingest: Ingest, statement: Executable) -> list[tuple]:
    with ingest.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(statement)]


def test_the_four_observations_that_jammed_the_writer(ingest: Ingest) -> None:
    # AVAILABLE at T0, AVAILABLE and FINISHING at T0+60 s, then a late CHARGING at T0+30 s:
    # once two runs with one start, now the exact timeline, and the writer goes on.
    acme = ingest.feeds[0]
    for seconds, status in (
        (0, "AVAILABLE"),
        (60, "AVAILABLE"),
        (60, "FINISHING"),
        (30, "CHARGING"),
    ):
        obs = Observation("ACME", "E1", status, T0 + timedelta(seconds=seconds))
        asyncio.run(ingest.accept(acme, [obs], raw="x", sender="t"))
        assert ingest.drain_once() == 1
    assert rows(
        ingest,
        select(status_run.c.status, status_run.c.started_at).order_by(status_run.c.started_at),
    ) == [
        ("AVAILABLE", T0.replace(tzinfo=None)),
        ("CHARGING", (T0 + timedelta(seconds=30)).replace(tzinfo=None)),
        ("FINISHING", (T0 + timedelta(seconds=60)).replace(tzinfo=None)),
    ]
    assert spool_of(ingest).backlog()[0] == 0


def spool_of(ingest: Ingest) -> Spool:
    assert ingest.spool is not None
    return ingest.spool


def spool_raw(path: Path, kind: str, body: object) -> None:
    """A row as any version of the worker (or a broken one) may have left it in the spool."""
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO spool (kind, body, spooled_at) VALUES (?, ?, ?)",
            (kind, json.dumps(body), time.time()),
        )


def obs_record(items: object, **changes: object) -> dict[str, object]:
    return {
        "cpo": "ACME",
        "source": "rest_push",
        "sender": "t",
        "received_at": T0.isoformat(),
        "items": items,
        "raw": "H4sIAAAAAAAAA6tWSi0qyi9SsgIAiV5bWQ8AAAA=",
        **changes,
    }


# Spooled records that cannot be stored (written before the edge refused such input, or by a
# broken peer of the queue): each goes to quarantine, and the next CPO's records commit.
POISON: list[tuple[str, str, dict[str, object]]] = [
    ("year 1 overflows the merge", "obs", obs_record([["E1", "AVAILABLE", "0001-01-01T00:05:00+00:00"]])),
    ("an unknown status", "obs", obs_record([["E1", "EXPLODED", T0.isoformat()]])),
    ("an item of the wrong shape", "obs", obs_record([["E1", "AVAILABLE"]])),
    ("items not a list", "obs", obs_record(7)),
    ("not an instant", "obs", obs_record([["E1", "AVAILABLE", "yesterday"]])),
    ("no CPO", "obs", obs_record([["E1", "AVAILABLE", T0.isoformat()]], cpo=None)),
    # Its observation is valid and stored; the archive step cannot read the payload.
    ("a raw payload that is not gzip", "obs", obs_record([["E9", "AVAILABLE", T0.isoformat()]], raw="bm90Z3ppcA==")),
    ("liveness at no instant", "live", {"cpo": "ACME", "at": "soon", "evses": None}),
    ("liveness of EVSEs not a list", "live", {"cpo": "ACME", "at": T0.isoformat(), "evses": 5}),
    ("a reject without its fields", "reject", {"cpo": "ACME"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "body"), POISON, ids=[p[0] for p in POISON])
def test_a_record_that_cannot_be_stored_is_quarantined_and_the_next_cpo_commits(
    ingest: Ingest, name: str, kind: str, body: dict[str, object]
) -> None:
    spool_raw(spool_of(ingest).path, kind, body)
    beta = ingest.feeds[1]
    asyncio.run(
        ingest.accept(beta, [Observation("BETA", "B1", "CHARGING", T0)], raw="ok", sender="t")
    )
    assert ingest.drain_once() == 2
    kept = [("ACME", "E9")] if name.startswith("a raw payload") else []
    assert rows(ingest, select(status_run.c.cpo_id, status_run.c.evse_uid)) == [
        *kept,
        ("BETA", "B1"),
    ]
    ((location, reason, payload),) = rows(
        ingest, select(quarantine.c.location, quarantine.c.reason, quarantine.c.payload)
    )
    assert location.startswith("spool record") and "could not be stored" in reason
    assert json.loads(payload)["kind"] == kind  # the whole record is kept
    assert spool_of(ingest).backlog()[0] == 0
    assert ingest.health_json()["quarantined_records"] == 1


def test_transient_and_permanent_failures_are_told_apart() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert is_transient(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert is_transient(ConnectionResetError())
    assert is_transient(OSError(28, "No space left on device"))
    import gzip

    assert not is_transient(gzip.BadGzipFile("Not a gzipped file"))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not is_transient(OverflowError("date value out of range"))
    assert not is_transient(ValueError("bad"))


@pytest.mark.parametrize(
    "observed_at",
    ["0001-01-01T00:05:00Z", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00"],
)
def test_push_refuses_instants_storage_cannot_hold(worker, observed_at: str) -> None:
    url, settings = worker
    body = {
        "observations": [
            {"evse_uid": "E1", "status": "AVAILABLE", "observed_at": observed_at},
            {"evse_uid": "E2", "status": "AVAILABLE", "observed_at": datetime.now(UTC).isoformat()},
        ]
    }
    response = httpx.post(
        f"{url}/api/v1/observations",
        json=body,
        headers={"Authorization": "Bearer acme-rest-secret"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [0]
    assert "observed_at" in result["rejected"][0]["error"]
    wait_for(lambda: stored_runs(settings) == [("ACME", "E2", "AVAILABLE")], timeout=30)
    wait_for(lambda: quarantined(settings), timeout=30)
    health = httpx.get(f"{url}/healthz", timeout=30)
    assert health.status_code == 200


def test_huge_integers_and_deep_nesting_are_answered_not_crashed(worker) -> None:
    url, settings = worker
    headers = {"Authorization": "Bearer acme-rest-secret", "Content-Type": "application/json"}
    for body in (
        '{"observations": [{"evse_uid": "E1", "status": "AVAILABLE", "observed_at": '
        + "9" * 5000
        + "}]}",
        '{"observations": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ):
        response = httpx.post(
            f"{url}/api/v1/observations", content=body, headers=headers, timeout=30
        )
        assert 400 <= response.status_code < 500, response.text
        assert "error" in response.json()
    ok = httpx.post(
        f"{url}/api/v1/observations",
        json={
            "observations": [
                {
                    "evse_uid": "E9",
                    "status": "CHARGING",
                    "observed_at": datetime.now(UTC).isoformat(),
                }
            ]
        },  # fmt: skip
        headers={"Authorization": "Bearer acme-rest-secret"},
        timeout=30,
    )
    assert ok.status_code == 202
    wait_for(lambda: ("ACME", "E9", "CHARGING") in stored_runs(settings), timeout=30)


def test_cpo_wide_liveness_is_coalesced_to_the_latest_signal(ingest: Ingest) -> None:
    # A busy WebSocket confirms every EVSE of its CPO with each message: stored once per
    # interval, the latest signal last, so the known time still ends max_gap after it.
    acme = ingest.feeds[0]
    asyncio.run(
        ingest.accept(acme, [Observation("ACME", "E1", "AVAILABLE", T0)], raw="x", sender="t")
    )
    signals = [T0 + timedelta(seconds=s) for s in range(1, 101)]

    async def flood() -> None:
        for at in signals:
            await ingest.liveness(acme, at)
        await ingest.flush_liveness(force=True)

    asyncio.run(flood())
    live = [r for r in spool_of(ingest).head(1000) if r.kind == "live"]
    assert [r.record.at for r in live if isinstance(r.record, LivenessSignal)] == [
        signals[0],
        signals[-1],
    ]
    ingest.drain_once()
    assert rows(ingest, select(status_run.c.last_confirmed_at)) == [
        (signals[-1].replace(tzinfo=None),)
    ]


def test_healthz_shows_a_locked_database_while_the_write_waits(
    worker: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from ingest_worker import pipeline

    monkeypatch.setattr(pipeline, "STUCK_WRITE_SECONDS", 1.0)
    url, settings = worker
    path = settings.database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        response = httpx.post(
            f"{url}/api/v1/observations",
            json={
                "observations": [
                    {
                        "evse_uid": "L1",
                        "status": "AVAILABLE",
                        "observed_at": datetime.now(UTC).isoformat(),
                    }
                ]
            },  # fmt: skip
            headers={"Authorization": "Bearer acme-rest-secret"},
            timeout=30,
        )
        assert response.status_code == 202
        wait_for(
            lambda: httpx.get(f"{url}/healthz", timeout=30).json()["database"] == "slow or locked",
            timeout=25,
        )
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 503
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_for(lambda: ("ACME", "L1", "AVAILABLE") in stored_runs(settings), timeout=60)
    wait_for(lambda: httpx.get(f"{url}/healthz", timeout=30).status_code == 200, timeout=60)
