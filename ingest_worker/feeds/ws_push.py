"""``/ws/v1/observations``: a CPO streams observations over a WebSocket with its bearer token.

Each text message is one observation (``push_common.ObservationItem``) or a batch
(``PushBody``) and is answered with the same ``PushResult`` as the REST API. Every message, and
an application-level ``{"type": "ping"}`` (answered ``{"type": "pong"}``), is a liveness signal
for all EVSEs of the CPO (stored coalesced, see ``Ingest.liveness``). A connection may send
``MESSAGES_PER_SECOND`` messages a second (bursts of ``BURST``); beyond that a message is
answered with an error and not taken. A token may hold ``MAX_CONNECTIONS_PER_TOKEN``
connections at once; one more is closed with 1013 (try again later).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from ingest_worker.auth import ws_bearer_feed
from ingest_worker.feeds.config import FeedConfig
from ingest_worker.feeds.push_common import BadPayload, is_ping, keep, observations_from_push
from ingest_worker.pipeline import Ingest

TRY_AGAIN_LATER = 1013
MAX_CONNECTIONS_PER_TOKEN = 16
# Per connection: a steady rate and a burst; messages beyond are answered with an error and
# not taken, so one connection cannot flood the spool and the writer.
MESSAGES_PER_SECOND = 200.0
BURST = 400.0


class RateLimit:
    """A token bucket: ``allow()`` is False once the connection sends faster than its rate."""

    def __init__(self, rate: float = MESSAGES_PER_SECOND, burst: float = BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def router(ingest: Ingest) -> APIRouter:
    api = APIRouter()
    open_connections: dict[str, int] = {}
    # The ws_push feed of the upgrade's bearer token (else closed 1008 before accept: HTTP 403).
    own_feed = Depends(ws_bearer_feed(ingest.feeds, "ws_push"))

    @api.websocket("/ws/v1/observations")
    async def observations_socket(websocket: WebSocket, feed: FeedConfig = own_feed) -> None:
        if open_connections.get(feed.cpo_id, 0) >= MAX_CONNECTIONS_PER_TOKEN:
            await websocket.accept()  # so that the client reads the reason, not a bare 403
            await websocket.close(
                code=TRY_AGAIN_LATER,
                reason=f"more than {MAX_CONNECTIONS_PER_TOKEN} connections for this token",
            )
            return
        open_connections[feed.cpo_id] = open_connections.get(feed.cpo_id, 0) + 1
        try:
            await websocket.accept()
            await _serve(websocket, feed)
        finally:
            open_connections[feed.cpo_id] -= 1

    async def _serve(websocket: WebSocket, feed: FeedConfig) -> None:
        sender = websocket.client.host if websocket.client else "unknown"
        limit = RateLimit(MESSAGES_PER_SECOND, BURST)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if not limit.allow():
                    await websocket.send_json(
                        {"error": f"more than {MESSAGES_PER_SECOND:g} messages per second;"
                         " this message was not taken, send it again later"}
                    )  # fmt: skip
                    continue
                text = message.get("text")
                if text is None:
                    await ingest.reject(
                        feed,
                        source="ws_push",
                        location="message",
                        reason="binary frame; send JSON text",
                        payload=message.get("bytes") or b"",
                    )
                    await websocket.send_json(
                        {"error": "binary frames are not accepted; send JSON text"}
                    )
                    continue
                now = datetime.now(UTC)
                if is_ping(text):
                    await ingest.liveness(feed, now)
                    await websocket.send_json({"type": "pong"})
                    continue
                try:
                    batch = observations_from_push(text, feed.cpo_id, now, single_allowed=True)
                except BadPayload as exc:
                    await ingest.reject(
                        feed, source="ws_push", location="message", reason=str(exc), payload=text
                    )
                    await websocket.send_json({"error": str(exc)})
                    continue
                await keep(ingest, feed, batch, text, sender, "ws_push")
                # After the message's own statuses: the connection vouches for all of them now.
                await ingest.liveness(feed, datetime.now(UTC))
                await websocket.send_json(batch.result().model_dump())
        except WebSocketDisconnect:
            return

    return api
