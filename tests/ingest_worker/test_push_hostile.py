"""Hostile and merely unusual input on the REST and WebSocket push paths, as a table: each gets
its answer (a 4xx with a JSON error, or 202 with per-item rejects by index), valid items of the
same batch are stored, nothing unstorable reaches SQL, and the worker stays up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from sqlalchemy import select

from shared.db.tables import status_run
from tests.ingest_worker.conftest import query_rows, stored_runs, wait_for

NOW = datetime.now(UTC)
GOOD = {"evse_uid": "GOOD-1", "status": "AVAILABLE", "observed_at": NOW.isoformat()}
AUTH = {"Authorization": "Bearer acme-rest-secret"}


def item(**changes: object) -> dict[str, object]:
    return {**GOOD, "evse_uid": "BAD", **changes}


# (name, body as bytes, expected HTTP status, indexes rejected when 202)
BODIES: list[tuple[str, bytes, int, list[int]]] = [
    ("not JSON", b"{nope", 400, []),
    ("a JSON string", b'"observations"', 400, []),
    ("observations not a list", b'{"observations": {"a": 1}}', 400, []),
    ("deep nesting", b'{"observations": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400, []),
    ("an integer of 10,000 digits", b'{"observations": [' + b"7" * 10_000 + b"]}", 400, []),
    ("over 1 MiB", b'{"observations": ["' + b"x" * (1024 * 1024) + b'"]}', 413, []),
    ("invalid UTF-8", b'{"observations": [{"evse_uid": "\xff\xfe"}]}', 400, []),
    ("another CPO's id on the batch", json.dumps({"cpo_id": "OTHER", "observations": [GOOD]}).encode(), 400, []),
    ("items of every kind of wrong", json.dumps({"observations": [
        GOOD,
        item(status="EXPLODED"),
        item(observed_at="0001-01-01T00:05:00Z"),
        item(observed_at="1999-12-31T23:59:59Z"),
        item(observed_at=(NOW + timedelta(hours=1)).isoformat()),
        item(observed_at="2026-11-01T00:00:00"),  # no offset
        item(observed_at="9999-12-31T23:59:59-14:00"),
        item(evse_uid="E" * 65),
        item(evse_uid="bad\x00id"),
        item(evse_uid=""),
        item(evse_uid=12345),
        item(status=None),
        item(cpo_id="OTHER"),
        "a string",
        None,
        [GOOD],
    ]}).encode(), 202, list(range(1, 16))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "status", "rejected"), BODIES, ids=[b[0] for b in BODIES])
def test_rest_answers_hostile_bodies(
    worker, name: str, body: bytes, status: int, rejected: list[int]
) -> None:  # type: ignore[no-untyped-def]
    url, settings = worker
    response = httpx.post(
        f"{url}/api/v1/observations",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == status, response.text[:500]
    answer = response.json()
    if status == 202:
        assert [r["index"] for r in answer["rejected"]] == rejected
        assert all(r["error"] for r in answer["rejected"])
        wait_for(lambda: stored_runs(settings) == [("ACME", "GOOD-1", "AVAILABLE")], timeout=30)
    else:
        assert answer["error"]
    # the worker is up and stores what comes next; nothing unstorable reached SQL
    after = httpx.post(
        f"{url}/api/v1/observations",
        json={"observations": [{**GOOD, "evse_uid": "NEXT"}]},
        headers=AUTH,
        timeout=30,
    )
    assert after.status_code == 202
    wait_for(lambda: ("ACME", "NEXT", "AVAILABLE") in stored_runs(settings), timeout=30)
    instants = query_rows(settings, select(status_run.c.started_at, status_run.c.evse_uid))
    assert all(at.year >= 2000 and e in ("GOOD-1", "NEXT") for at, e in instants)


MESSAGES: list[tuple[str, str | bytes, str]] = [
    ("binary frame", b"\x00\x01", "error"),
    ("not JSON", "{nope", "error"),
    ("deep nesting", "[" * 50_000 + "]" * 50_000, "error"),
    ("huge integer", "9" * 10_000, "error"),
    ("ancient instant", json.dumps(item(observed_at="0001-01-01T00:05:00Z")), "rejected"),
    ("unknown status", json.dumps(item(status="EXPLODED")), "rejected"),
]


@pytest.mark.parametrize(("name", "message", "answer"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_websocket_answers_hostile_messages(
    worker, name: str, message: str | bytes, answer: str
) -> None:  # type: ignore[no-untyped-def]
    url, settings = worker

    async def talk() -> list[dict]:
        async with websockets.connect(
            url.replace("http://", "ws://") + "/ws/v1/observations",
            additional_headers={"Authorization": "Bearer acme-ws-secret"},
            max_size=None,
        ) as socket:
            replies = []
            for frame in (message, json.dumps({**GOOD, "evse_uid": "WS-NEXT"})):
                await socket.send(frame)
                replies.append(json.loads(await socket.recv()))
            return replies

    first, second = asyncio.run(talk())
    if answer == "error":
        assert first.get("error")
    else:
        assert first["accepted"] == 0 and first["rejected"][0]["index"] == 0
    assert second["accepted"] == 1  # the same connection goes on
    wait_for(lambda: ("ACME", "WS-NEXT", "AVAILABLE") in stored_runs(settings), timeout=30)
