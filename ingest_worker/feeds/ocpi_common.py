"""OCPI 2.2.1 pieces both Locations feeds share: the response envelope, tokens, request ids,
case-insensitive ids and status parsing."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.blobstore import BlobStore

log = logging.getLogger("chargeatlarge.worker.ocpi")

SUCCESS = 1000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
SERVER_ERROR = 3000

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
_ID_VALUE = re.compile(r"^[\x21-\x7e]{1,100}$")

# Maps an EVSE uid as a CPO spelled it to the static CSV's spelling (CiString, OCPI 2.2.1 16.2).
Canonical = Callable[[str, str], str]


def envelope(
    data: object = None,
    status_code: int = SUCCESS,
    message: str = "Success",
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "status_code": status_code,
        "status_message": message,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=http_status, headers=headers)


def token_header(token: str) -> str:
    """``Authorization`` value for ``token``: Base64 since OCPI 2.2."""
    return "Token " + base64.b64encode(token.encode()).decode()


def call_headers(token: str, correlation_id: str | None = None) -> dict[str, str]:
    """Headers of every request we make to a CPO: its token, a new request id, the correlation
    id."""
    return {
        "Authorization": token_header(token),
        "Accept": "application/json",
        REQUEST_ID: str(uuid.uuid4()),
        CORRELATION_ID: correlation_id or str(uuid.uuid4()),
    }


def token_candidates(header: str | None) -> list[str]:
    """What a ``Token …`` header may carry: the Base64-decoded token, and the raw value (2.1.1
    style)."""
    if not header:
        return []
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value or len(value) > 1024:
        return []
    candidates = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        if decoded:
            candidates.insert(0, decoded)
    except (binascii.Error, UnicodeDecodeError):
        pass
    return candidates


def ci(value: str) -> str:
    """The comparison key of a CiString: OCPI ids compare case-insensitively."""
    return value.casefold()


class RequestIds:
    """ASGI middleware: every answer on an ``/ocpi`` path carries the caller's ``X-Request-ID`` and
    ``X-Correlation-ID`` (new ones where the caller sent none or unusable ones)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ocpi"):
            await self.app(scope, receive, send)
            return
        sent = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        ids = []
        for name in (REQUEST_ID, CORRELATION_ID):
            value = sent.get(name.lower(), b"").decode("latin-1")
            ids.append((name, value if _ID_VALUE.match(value) else str(uuid.uuid4())))

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in ids
                    if name.lower().encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_ids)


class CanonicalEvses:
    """EVSE uids of the static site CSVs by CPO, looked up case-insensitively (like the OCPP feed,
    re-read from the blob store at most every ``refresh_seconds``)."""

    def __init__(self, store: BlobStore | None, refresh_seconds: float = 60.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._by_cpo: dict[str, dict[str, str]] = {}
        self._loaded_at: float | None = None
        self._refreshing: asyncio.Future[None] | None = None

    async def ensure_fresh(self) -> None:
        """Read the mapping the first time (callers wait); later, refresh a stale one in the
        background (reading a national set of CSVs takes seconds) and use the last meanwhile."""
        if not self.is_stale():
            return
        if self._loaded_at is None:
            await asyncio.to_thread(self.refresh_if_stale)
        elif self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(asyncio.to_thread(self.refresh_if_stale))

    def is_stale(self) -> bool:
        return self.store is not None and (
            self._loaded_at is None or time.monotonic() - self._loaded_at >= self.refresh_seconds
        )

    def refresh_if_stale(self) -> None:
        """Re-read the static CSVs when the mapping is older than the refresh interval
        (blocking)."""
        if not self.is_stale():
            return
        self._loaded_at = time.monotonic()
        if self.store is None:
            return
        try:
            from shared.sites import read_static_sites

            connectors = read_static_sites(self.store).connectors
        except Exception as exc:  # noqa: BLE001 - keep the last mapping when the store fails
            log.warning("OCPI: static sites not read, keeping the last id mapping: %s", exc)
            return
        by_cpo: dict[str, dict[str, str]] = {}
        for cpo_id, evse_uid in zip(connectors["cpo_id"], connectors["evse_uid"], strict=True):
            by_cpo.setdefault(str(cpo_id), {}).setdefault(ci(str(evse_uid)), str(evse_uid))
        self._by_cpo = by_cpo

    def canonical(self, cpo_id: str, evse_uid: str) -> str:
        """The static CSV's spelling of ``evse_uid``; unlisted EVSEs keep the CPO's spelling."""
        return self._by_cpo.get(cpo_id, {}).get(ci(evse_uid), evse_uid)
