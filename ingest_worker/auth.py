"""Who is calling, once per protocol, as FastAPI dependencies. Every secret belongs to exactly one
CPO, so a caller can only ever reach its own CPO's data.

- REST push and the exclusions API: ``bearer_feed(feeds, "rest_push")`` → the CPO's
  ``FeedConfig``; refused 401 ``{"error"}`` with ``WWW-Authenticate: Bearer``.
- WebSocket push: ``ws_bearer_feed(feeds, "ws_push")`` → the CPO's ``FeedConfig``; refused by
  closing 1008 before accept (HTTP 403).
- OCPI 2.2.1: ``ocpi_caller(feeds, parties, token_a=...)`` → ``OcpiCaller`` (feed, registration,
  token); refused with an OCPI envelope, 401 (2000), or 503 (3000) while the party registry is
  not loaded.
- OCPP (a WebSocket route): ``ocpp_charge_point(feeds)``, or the plain ``charge_point_feed`` →
  ``ChargePoint`` (id, feed); refused with ``OcppRefused``: 401 JSON, ``WWW-Authenticate: Basic``.

``install_auth_errors(app)`` renders ``BearerRefused`` and ``OcppRefused``; OCPI refusals are
``HTTPException``s that ``ocpi_push.install_error_envelopes`` turns into OCPI envelopes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, HTTPException, Security, WebSocket, WebSocketException
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ingest_worker.feeds.config import FeedConfig, FeedKind, OcppFeedConfig
from ingest_worker.feeds.ocpi_common import token_candidates
from ingest_worker.feeds.ocpi_parties import (
    NOT_LOADED_RELOAD_SECONDS,
    UNKNOWN_TOKEN_RELOAD_SECONDS,
    Parties,
    Registration,
    token_sha256,
)

POLICY_VIOLATION = 1008  # WebSocket close code
UNKNOWN_BEARER = "missing or unknown bearer token"
UNKNOWN_OCPI_TOKEN = "missing or unknown credentials token"
NOT_LOADED = "party registry not loaded yet (database unreachable); retry shortly"

_bearer = HTTPBearer(auto_error=False, description="the CPO's feed token")
_ocpi_token = APIKeyHeader(
    name="Authorization",
    scheme_name="OcpiToken",
    auto_error=False,
    description="Token <Base64 of token A (until registered) or token C>",
)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def feed_for_secret(
    feeds: list[FeedConfig], secret: str | None, kinds: tuple[str, ...]
) -> FeedConfig | None:
    """The feed of one of ``kinds`` whose secret equals ``secret`` (compared in constant time)."""
    if not secret:
        return None
    found = None
    for feed in feeds:
        if feed.kind in kinds and hmac.compare_digest(feed.secret.encode(), secret.encode()):
            found = feed
    return found


# --- bearer token → CPO feed (REST push, exclusions API, WebSocket push) -----------------------


class BearerRefused(HTTPException):
    """No feed of the route's kind has this bearer token: 401 ``{"error": ...}``."""

    def __init__(self) -> None:
        super().__init__(401, UNKNOWN_BEARER, headers={"WWW-Authenticate": "Bearer"})


def bearer_feed(
    feeds: list[FeedConfig], kind: FeedKind
) -> Callable[[HTTPAuthorizationCredentials | None], Awaitable[FeedConfig]]:
    """Dependency for HTTP routes: ``Authorization: Bearer <token>`` → the ``kind`` feed whose
    secret it is (``BearerRefused`` otherwise). The route's OpenAPI shows the bearer scheme.

    ``feed: Annotated[FeedConfig, Depends(bearer_feed(ingest.feeds, "rest_push"))]``"""

    async def feed_of_bearer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> FeedConfig:
        feed = feed_for_secret(feeds, credentials.credentials if credentials else None, (kind,))
        if feed is None:
            raise BearerRefused()
        return feed

    return feed_of_bearer


def ws_bearer_feed(
    feeds: list[FeedConfig], kind: FeedKind
) -> Callable[[WebSocket], Awaitable[FeedConfig]]:
    """Dependency for WebSocket routes: the bearer token of the upgrade → the ``kind`` feed;
    otherwise the upgrade is refused (closed 1008 before accept, which is HTTP 403)."""

    async def feed_of_ws_bearer(websocket: WebSocket) -> FeedConfig:
        token = bearer_token(websocket.headers.get("authorization"))
        feed = feed_for_secret(feeds, token, (kind,))
        if feed is None:
            raise WebSocketException(code=POLICY_VIOLATION, reason=UNKNOWN_BEARER)
        return feed

    return feed_of_ws_bearer


# --- OCPI token A / C → party ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OcpiCaller:
    """An authenticated OCPI caller: its feed, its registration (None: token A of a CPO that is
    not registered yet) and the token it sent (Base64-decoded, or raw as OCPI 2.1.1 sent it)."""

    feed: FeedConfig
    registration: Registration | None
    token: str

    @property
    def parties(self) -> frozenset[tuple[str, str]]:
        return self.registration.parties if self.registration is not None else frozenset()


def ocpi_caller_of(
    feeds: list[FeedConfig], parties: Parties, authorization: str | None, *, token_a: bool
) -> OcpiCaller | None:
    """The caller of ``Authorization: Token …``: token C of a registered CPO, or (``token_a``)
    token A of a CPO not registered yet (token A stops working at registration)."""
    candidates = token_candidates(authorization)
    for candidate in candidates:
        digest = token_sha256(candidate)
        for feed in feeds:
            registration = parties.by_cpo.get(feed.cpo_id)
            if registration is not None and hmac.compare_digest(
                registration.token_c_sha256, digest
            ):
                return OcpiCaller(feed, registration, candidate)
    if not token_a:
        return None
    found = None
    for candidate in candidates:
        for feed in feeds:
            if hmac.compare_digest(feed.secret.encode(), candidate.encode()):
                found = OcpiCaller(feed, None, candidate)
    if found is not None and found.feed.cpo_id in parties.by_cpo:
        return None
    return found


def ocpi_refusal(status: int) -> HTTPException:
    """401 for an unknown token, 503 while the party registry is not loaded."""
    if status == 503:
        return HTTPException(503, NOT_LOADED, headers={"Retry-After": "5"})
    return HTTPException(401, UNKNOWN_OCPI_TOKEN)


def ocpi_caller(
    feeds: list[FeedConfig], parties: Parties, *, token_a: bool
) -> Callable[[str | None], Awaitable[OcpiCaller]]:
    """Dependency for OCPI routes: ``Authorization: Token <base64>`` → ``OcpiCaller``. Token C
    always works; token A only where ``token_a`` (versions, credentials ``GET``/``POST``/
    ``DELETE``) and only until the CPO registers. While the registrations were never read (the
    database was down at start) the caller hears 503, not 401; a miss re-reads them (rate-limited),
    so a token C issued by another replica, or a database that is back, works at once."""

    async def caller_of_ocpi_token(
        authorization: Annotated[str | None, Security(_ocpi_token)],
    ) -> OcpiCaller:
        if not parties.loaded:
            await parties.reload_if_due(NOT_LOADED_RELOAD_SECONDS)
            if not parties.loaded:
                raise ocpi_refusal(503)
        found = ocpi_caller_of(feeds, parties, authorization, token_a=token_a)
        # A token C issued by another replica since our last read: read again (rate-limited).
        if (
            found is None
            and token_candidates(authorization)
            and await parties.reload_if_due(UNKNOWN_TOKEN_RELOAD_SECONDS)
        ):
            found = ocpi_caller_of(feeds, parties, authorization, token_a=token_a)
        if found is None:
            raise ocpi_refusal(401)
        return found

    return caller_of_ocpi_token


# --- OCPP HTTP Basic → charge point -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargePoint:
    """An authenticated OCPP connection: the charge point id (the Basic user) and its feed."""

    charge_point_id: str
    feed: FeedConfig


class OcppRefused(Exception):
    """The upgrade is refused with ``status`` and a JSON ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic …`` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and password else None


def charge_point_secret(feed: FeedConfig, charge_point_id: str) -> str:
    """The password of ``charge_point_id`` on ``feed``: its own secret where the feed names one
    (``options.charge_point_secret_envs``), else the feed's."""
    if isinstance(feed, OcppFeedConfig):
        own = feed.charge_point_secrets or feed.read_charge_point_secrets()
        return own.get(charge_point_id, feed.secret)
    return feed.secret


def charge_point_feed(
    feeds: list[FeedConfig], charge_point_id: str, authorization: str | None
) -> ChargePoint:
    """HTTP Basic (user = the charge point id, password = its secret) → ``ChargePoint``;
    ``OcppRefused`` (401) otherwise."""
    where = f"/ocpp/{charge_point_id[:60]}"
    challenge = {"WWW-Authenticate": 'Basic realm="Charge@Large OCPP"'}
    credentials = basic_credentials(authorization)
    if credentials is None or credentials[0] != charge_point_id:
        raise OcppRefused(
            401, f"{where}: HTTP Basic auth required, user = the charge point id", challenge
        )
    found = None
    for feed in feeds:
        if feed.kind == "ocpp" and hmac.compare_digest(
            charge_point_secret(feed, charge_point_id).encode(), credentials[1].encode()
        ):
            found = feed
    if found is None:
        raise OcppRefused(
            401, f"{where}: wrong password for charge point {charge_point_id}", challenge
        )
    return ChargePoint(charge_point_id, found)


def ocpp_charge_point(feeds: list[FeedConfig]) -> Callable[[WebSocket], Awaitable[ChargePoint]]:
    """Dependency for ``/ocpp/{charge_point_id}``: HTTP Basic on the upgrade → ``ChargePoint``
    (``OcppRefused`` otherwise, rendered by ``install_auth_errors`` as a denial response)."""

    async def charge_point_of_basic(websocket: WebSocket) -> ChargePoint:
        return charge_point_feed(
            feeds,
            str(websocket.path_params.get("charge_point_id", "")),
            websocket.headers.get("authorization"),
        )

    return charge_point_of_basic


# --- refusals in each protocol's own form ------------------------------------------------------


def install_auth_errors(app: FastAPI) -> None:
    """Render ``BearerRefused`` as ``{"error": ...}`` and ``OcppRefused`` as a denied upgrade."""

    async def bearer_refused(connection: HTTPConnection, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BearerRefused)
        return JSONResponse({"error": exc.detail}, status_code=401, headers=exc.headers)

    async def ocpp_refused(connection: HTTPConnection, exc: Exception) -> None:
        assert isinstance(exc, OcppRefused)
        response = JSONResponse({"error": exc.message}, exc.status, headers=exc.headers)
        if not isinstance(connection, WebSocket):
            return
        try:
            await connection.send_denial_response(response)
        except RuntimeError:  # the server does not support denial responses
            await connection.close(code=POLICY_VIOLATION, reason=exc.message[:120])

    app.add_exception_handler(BearerRefused, bearer_refused)
    app.add_exception_handler(OcppRefused, ocpp_refused)
