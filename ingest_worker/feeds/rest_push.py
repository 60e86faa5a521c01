"""``POST /api/v1/observations``: a CPO pushes batches of observations with its bearer token.

The route bounds what a client may hold (body size, time, requests in flight) and hands the body
to ``push_common.observations_from_push``; the documented body is that parse's model, so the
OpenAPI schema is what the handler accepts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ingest_worker.auth import bearer_feed
from ingest_worker.feeds.config import FeedConfig
from ingest_worker.feeds.openapi import inlined_schema
from ingest_worker.feeds.push_common import (
    MAX_BODY_BYTES,
    BadPayload,
    ErrorOut,
    PushBody,
    PushResult,
    keep,
    observations_from_push,
)
from ingest_worker.pipeline import Ingest

# A slow or stuck client holds a connection; these bound what one token can hold.
BODY_SECONDS = 30.0
MAX_CONCURRENT_PER_TOKEN = 32
SOURCE = "rest_push"


class Refusal(Exception):
    """An answer other than 202; a ``reason`` is quarantined with ``payload``."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        reason: str | None = None,
        payload: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.reason = status, error, reason
        self.payload, self.headers = payload, headers

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error}, status_code=self.status, headers=self.headers)


async def read_body(request: Request, slot: asyncio.Semaphore) -> bytes:
    """The body, within what one token may hold: its size (declared and sent), the time it takes
    to arrive and the requests in flight (``slot``); else a Refusal."""
    too_large = f"body larger than {MAX_BODY_BYTES} bytes"
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Refusal(413, too_large, reason=f"body of {declared} bytes is too large")
    if slot.locked():
        raise Refusal(
            429,
            f"more than {MAX_CONCURRENT_PER_TOKEN} requests at once for this token",
            headers={"Retry-After": "1"},
        )
    body = bytearray()
    try:
        async with slot, asyncio.timeout(BODY_SECONDS):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > MAX_BODY_BYTES:
                    raise Refusal(
                        413, too_large, reason="body too large", payload=bytes(body[:65536])
                    )
    except TimeoutError:
        raise Refusal(408, f"the body did not arrive within {BODY_SECONDS:g} seconds") from None
    return bytes(body)


def router(ingest: Ingest) -> APIRouter:
    api = APIRouter()
    in_flight: dict[str, asyncio.Semaphore] = {}
    # The rest_push feed of the bearer token (401 otherwise, before the body is read).
    own_feed = Depends(bearer_feed(ingest.feeds, "rest_push"))

    @api.post(
        "/api/v1/observations",
        status_code=202,
        response_model=PushResult,
        responses={
            400: {"model": ErrorOut},
            401: {"model": ErrorOut},
            408: {"model": ErrorOut},
            413: {"model": ErrorOut},
            429: {"model": ErrorOut},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inlined_schema(PushBody)}},
            }
        },
        summary="Push status observations",
    )
    async def push_observations(request: Request, feed: FeedConfig = own_feed) -> JSONResponse:
        slot = in_flight.setdefault(feed.cpo_id, asyncio.Semaphore(MAX_CONCURRENT_PER_TOKEN))
        try:
            body = await read_body(request, slot)
        except Refusal as refusal:
            if refusal.reason is not None:
                await ingest.reject(
                    feed,
                    source=SOURCE,
                    location="body",
                    reason=refusal.reason,
                    payload=refusal.payload,
                )
            return refusal.response()
        try:
            batch = observations_from_push(body, feed.cpo_id, datetime.now(UTC))
        except BadPayload as exc:
            await ingest.reject(feed, source=SOURCE, location="body", reason=str(exc), payload=body)
            ingest.mark_error(feed, str(exc))
            return JSONResponse({"error": str(exc)}, status_code=400)
        sender = request.client.host if request.client else "unknown"
        await keep(ingest, feed, batch, body, sender, SOURCE)
        return JSONResponse(batch.result().model_dump(), status_code=202)

    return api
