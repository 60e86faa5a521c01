"""``POST /api/v1/observations``: a CPO pushes batches of observations with its bearer token.

The route bounds what a client may hold (body size, time, requests in flight) and hands the body
to ``push_common.observations_from_push``; the documented body is that parse's model, so the
OpenAPI schema is what the handler accepts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ingest_worker.auth import bearer_token, feed_for_secret
from ingest_worker.feeds.push_common import (
    MAX_BODY_BYTES,
    BadPayload,
    ErrorOut,
    PushBody,
    PushResult,
    observations_from_push,
)
from ingest_worker.pipeline import Ingest

# A slow or stuck client holds a connection; these bound what one token can hold.
BODY_SECONDS = 30.0
MAX_CONCURRENT_PER_TOKEN = 32


def inlined_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its ``$defs`` written in place: a schema placed inside the
    OpenAPI document must not point at ``#/$defs`` (that would be the document's root)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:  # noqa: ANN401 - any JSON value
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def router(ingest: Ingest) -> APIRouter:
    api = APIRouter()
    in_flight: dict[str, asyncio.Semaphore] = {}

    def _slots(cpo_id: str) -> asyncio.Semaphore:
        return in_flight.setdefault(cpo_id, asyncio.Semaphore(MAX_CONCURRENT_PER_TOKEN))

    @api.post(
        "/api/v1/observations",
        status_code=202,
        response_model=PushResult,
        responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inlined_schema(PushBody)}},
            }
        },
        summary="Push status observations",
    )
    async def push_observations(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        feed = feed_for_secret(ingest.feeds, bearer_token(authorization), ("rest_push",))
        if feed is None:
            return JSONResponse(
                {"error": "missing or unknown bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        declared = request.headers.get("content-length")
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > MAX_BODY_BYTES
        ):
            await ingest.reject(
                feed,
                source="rest_push",
                location="body",
                reason=f"body of {declared} bytes is too large",
                payload=b"",
            )
            return JSONResponse(
                {"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
            )
        body = bytearray()
        slot = _slots(feed.cpo_id)
        if slot.locked():
            return JSONResponse(
                {"error": f"more than {MAX_CONCURRENT_PER_TOKEN} requests at once for this token"},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        try:
            async with slot, asyncio.timeout(BODY_SECONDS):
                async for chunk in request.stream():
                    body.extend(chunk)
                    if len(body) > MAX_BODY_BYTES:
                        await ingest.reject(
                            feed,
                            source="rest_push",
                            location="body",
                            reason="body too large",
                            payload=bytes(body[:65536]),
                        )
                        return JSONResponse(
                            {"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
                        )
        except TimeoutError:
            return JSONResponse(
                {"error": f"the body did not arrive within {BODY_SECONDS:g} seconds"},
                status_code=408,
            )
        sender = request.client.host if request.client else "unknown"
        try:
            batch = observations_from_push(bytes(body), feed.cpo_id, datetime.now(UTC))
        except BadPayload as exc:
            await ingest.reject(
                feed, source="rest_push", location="body", reason=str(exc), payload=bytes(body)
            )
            ingest.mark_error(feed, str(exc))
            return JSONResponse({"error": str(exc)}, status_code=400)
        if batch.observations:
            await ingest.accept(feed, batch.observations, raw=bytes(body), sender=sender)
        if batch.rejected:
            location, reason, payload = batch.quarantine_entry()
            await ingest.reject(
                feed, source="rest_push", location=location, reason=reason, payload=payload
            )
        return JSONResponse(batch.result().model_dump(), status_code=202)

    return api
