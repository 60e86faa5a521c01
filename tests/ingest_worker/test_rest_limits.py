"""Slow and piled-up clients: a body that does not arrive in time is answered 408, and one
token cannot hold more than its share of requests at once (429); others go on."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from ingest_worker.feeds import rest_push


def _stalled_request(url: str) -> socket.socket:
    """A POST that declares 100 body bytes and sends 10."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    sock.sendall(
        b"POST /api/v1/observations HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer acme-rest-secret\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"observat'
    )
    return sock


def test_a_body_that_never_arrives_gets_408(worker, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rest_push, "BODY_SECONDS", 1.0)
    url, _ = worker
    sock = _stalled_request(url)
    try:
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)  # waits for the server's answer, up to the socket time-out
            assert chunk, "connection closed without an answer"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408")
    finally:
        sock.close()


def test_one_token_cannot_hold_every_slot(worker, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rest_push, "MAX_CONCURRENT_PER_TOKEN", 2)
    url, _ = worker
    held = [_stalled_request(url) for _ in range(2)]
    try:
        body = {
            "observations": [
                {
                    "evse_uid": "E1",
                    "status": "AVAILABLE",
                    "observed_at": datetime.now(UTC).isoformat(),
                }
            ]
        }

        def post(token: str) -> httpx.Response:
            return httpx.post(
                f"{url}/api/v1/observations",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        # The two stalled requests take a moment to reach the handler: wait for the refusal.
        import time

        deadline = time.monotonic() + 30
        while (response := post("acme-rest-secret")).status_code != 429:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.1)
        assert response.headers["retry-after"] == "1"
        assert post("other-rest-secret").status_code == 202  # another CPO is not held up
    finally:
        for sock in held:
            sock.close()
