"""OCPI 2.2.1 eMSP receiver for Locations, with versions and the credentials module.

Registration (OCPI 2.2.1 credentials): a CPO gets token A (its feed secret) from us out of band,
calls ``GET /ocpi/versions`` and ``POST /ocpi/2.2.1/credentials`` with its token B and versions
URL. We call that URL back with token B (versions, then the 2.2.1 endpoints), store token B
encrypted (``ocpi_tokens``), and answer with token C. From then on only token C is accepted:
token A stops working. ``PUT`` (token C) re-reads the CPO's endpoints and rotates token C;
``DELETE`` unregisters; ``GET`` returns our credentials. Every CPO role of the credentials object
registers its party, and a party belongs to one CPO only.

Locations Receiver under ``/ocpi/emsp/2.2.1/locations/{country_code}/{party_id}/{location_id}
[/{evse_uid}[/{connector_id}]]``: ``PUT``/``PATCH`` store the client-owned object (for ``GET``)
and every EVSE status as an observation. Ids are CiStrings: the URL and the body compare
case-insensitively, and EVSE uids are stored as the static CSV spells them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest_worker.auth import UNKNOWN_OCPI_TOKEN, OcpiCaller, ocpi_caller
from ingest_worker.feeds.config import FeedConfig, OcpiPushFeed
from ingest_worker.feeds.ocpi_common import (
    INVALID_PARAMETERS,
    NOT_ENOUGH_INFORMATION,
    SERVER_ERROR,
    UNKNOWN_LOCATION,
    CanonicalEvses,
    envelope,
)
from ingest_worker.feeds.ocpi_locations import (
    LocationStore,
    apply_push,
    observations_from_pushed,
    parse_pushed,
    select_object,
)
from ingest_worker.feeds.ocpi_models import (
    PATCH_MODELS,
    PUT_MODELS,
    Credentials,
    Endpoint,
    OcpiResponse,
    UrlLevel,
    Version,
    VersionDetails,
    credentials_problem,
    redacted_credentials,
)
from ingest_worker.feeds.ocpi_parties import (
    Parties,
    PartyTaken,
    RegistrationChanged,
    try_load,
)
from ingest_worker.feeds.ocpi_pull import OcpiError, discover
from ingest_worker.feeds.openapi import inlined_schema
from ingest_worker.feeds.push_common import MAX_BODY_BYTES, BadPayload, loads_json
from ingest_worker.pipeline import Ingest
from shared.status import InvalidObservation

log = logging.getLogger("chargeatlarge.worker.ocpi_push")
VERSION = "2.2.1"
OUR_ROLE = {
    "role": "EMSP",
    "party_id": "CAL",
    "country_code": "AU",
    "business_details": {"name": "Charge@Large"},
}
CALL_BACK_SECONDS = 20.0  # the CPO waits for our answer while we call it back


@dataclass(slots=True)
class Receiver:
    """Everything the OCPI routes share."""

    ingest: Ingest
    parties: Parties
    locations: LocationStore
    canonical: CanonicalEvses
    public_url: str | None = None
    feeds: list[FeedConfig] = field(default_factory=list)
    http: httpx.AsyncClient | None = None  # set while the app runs (its lifespan)

    def client(self) -> httpx.AsyncClient:
        if self.http is None:
            raise RuntimeError("the OCPI receiver's HTTP client is not open (app not started)")
        return self.http

    def base(self, request: Request) -> str:
        """Our public base URL: the configured one, else the address the server listens on
        (never the request's Host header, which the caller chooses)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = request.scope.get("server") or ("127.0.0.1", 8080)
        host = f"[{host}]" if ":" in str(host) else host
        return f"{request.scope.get('scheme', 'http')}://{host}:{port}"


def unauthorized() -> JSONResponse:
    return envelope(None, 2000, UNKNOWN_OCPI_TOKEN, http_status=401)


def unavailable(what: str) -> JSONResponse:
    return envelope(
        None,
        SERVER_ERROR,
        f"{what} (database unreachable); retry shortly",
        http_status=503,
        headers={"Retry-After": "5"},
    )


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a route that reads its body itself (bounded, quarantined)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inlined_schema(model)}},
        }
    }


def _documented(model: Any) -> dict[int | str, dict[str, Any]]:  # noqa: ANN401 - a model type
    return {200: {"model": OcpiResponse[model]}}


def router(receiver: Receiver) -> APIRouter:
    api = APIRouter(tags=["ocpi"])
    ingest, parties = receiver.ingest, receiver.parties
    # Token A works until the CPO registers, for versions and the credentials module only.
    # (Depends objects as defaults: an Annotated alias local to this function cannot be
    # resolved from the postponed annotations.)
    by_token_a_or_c = Depends(ocpi_caller(receiver.feeds, parties, token_a=True))
    by_token_c = Depends(ocpi_caller(receiver.feeds, parties, token_a=False))

    def our_credentials(request: Request, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{receiver.base(request)}/ocpi/versions",
            "roles": [OUR_ROLE],
        }

    @api.get("/ocpi/versions", responses=_documented(list[Version]))
    async def versions(request: Request, caller: OcpiCaller = by_token_a_or_c) -> JSONResponse:
        ours = Version(version=VERSION, url=f"{receiver.base(request)}/ocpi/{VERSION}")
        return envelope([ours.model_dump()])

    @api.get(f"/ocpi/{VERSION}", responses=_documented(VersionDetails))
    async def version_details(
        request: Request, caller: OcpiCaller = by_token_a_or_c
    ) -> JSONResponse:
        base = receiver.base(request)
        endpoints = [
            Endpoint(
                identifier="credentials", role="RECEIVER", url=f"{base}/ocpi/{VERSION}/credentials"
            ),
            Endpoint(
                identifier="locations", role="RECEIVER", url=f"{base}/ocpi/emsp/{VERSION}/locations"
            ),
        ]
        return envelope(VersionDetails(version=VERSION, endpoints=[*endpoints]).model_dump())

    @api.get(f"/ocpi/{VERSION}/credentials", responses=_documented(Credentials))
    async def get_credentials(
        request: Request, caller: OcpiCaller = by_token_a_or_c
    ) -> JSONResponse:
        # The token the caller used (Base64 as OCPI 2.2 sends it, or raw as 2.1.1 did).
        return envelope(our_credentials(request, caller.token))

    async def register(request: Request, caller: OcpiCaller = by_token_a_or_c) -> JSONResponse:
        feed, registration = caller.feed, caller.registration
        # credentials module: POST registers, PUT updates; each is refused in the other state.
        if request.method == "PUT" and registration is None:
            return envelope(None, 2000, "not registered yet: use POST to register", 405)
        if request.method == "POST" and registration is not None:
            return envelope(
                None, 2000, "already registered: use PUT to update the credentials", 405
            )
        raw = await _body(request)
        if raw is None:
            return envelope(
                None, INVALID_PARAMETERS, f"body larger than {MAX_BODY_BYTES} bytes", 413
            )
        try:
            credentials = Credentials.model_validate(loads_json(raw))
            parties_wanted = credentials.cpo_parties
            if not parties_wanted:
                raise ValueError("roles: no CPO role; this platform receives Locations from CPOs")
        except (BadPayload, ValidationError, ValueError) as exc:
            reason = credentials_problem(exc) if isinstance(exc, ValidationError) else str(exc)
            await _quarantine_credentials(ingest, feed, raw, f"invalid credentials: {reason}")
            return envelope(None, INVALID_PARAMETERS, f"invalid credentials object: {reason}", 400)
        refused = _party_refusal(receiver, feed, parties_wanted)
        if refused:
            await _quarantine_credentials(ingest, feed, raw, refused)
            return envelope(None, INVALID_PARAMETERS, refused, 403)
        problem = await _call_back(receiver, credentials)
        try:
            stored, token_c = await asyncio.to_thread(
                parties.register,
                feed,
                parties_wanted,
                credentials.token,
                credentials.url,
                registration,
            )
        except RegistrationChanged:
            await try_load(parties)
            if request.method == "POST":
                return envelope(None, 2000, "already registered: use PUT with token C", 405)
            return unauthorized()
        except (PartyTaken, IntegrityError) as exc:
            taken = exc if isinstance(exc, PartyTaken) else "of this object"
            message = f"party {taken} is registered by another CPO"
            await _quarantine_credentials(ingest, feed, raw, message)
            return envelope(None, INVALID_PARAMETERS, message, 403)
        except Exception as exc:  # noqa: BLE001 - the database is down: the CPO retries
            log.warning("OCPI %s: registration not stored: %s", feed.cpo_id, type(exc).__name__)
            return unavailable("the registration could not be stored")
        ingest.mark_success(feed)
        message = "Success"
        if problem:
            ingest.mark_error(feed, f"credentials: registered, but {problem}")
            log.warning("OCPI %s registered, but %s", feed.cpo_id, problem)
            message = f"registered; note: {problem}"[:500]
        log.info(
            "OCPI %s %s parties %s",
            feed.cpo_id,
            "registered" if request.method == "POST" else "updated",
            sorted(stored.parties),
        )
        return envelope(our_credentials(request, token_c), message=message)

    for method, name in (("POST", "register_credentials"), ("PUT", "update_credentials")):
        api.add_api_route(
            f"/ocpi/{VERSION}/credentials",
            register,
            methods=[method],
            name=name,
            responses=_documented(Credentials),
            openapi_extra=_body_schema(Credentials),
        )

    @api.delete(f"/ocpi/{VERSION}/credentials", responses=_documented(None))
    async def unregister(caller: OcpiCaller = by_token_a_or_c) -> JSONResponse:
        if caller.registration is None:
            return envelope(None, 2000, "not registered: nothing to unregister", 405)
        try:
            await asyncio.to_thread(parties.unregister, caller.feed)
        except Exception as exc:  # noqa: BLE001 - the database is down: the CPO retries
            log.warning(
                "OCPI %s: unregistration not stored: %s", caller.feed.cpo_id, type(exc).__name__
            )
            return unavailable("the unregistration could not be stored")
        return envelope(None)

    prefix = f"/ocpi/emsp/{VERSION}/locations/{{country_code}}/{{party_id}}/{{location_id}}"

    def endpoint(depth: int) -> Callable[..., Awaitable[Response]]:
        async def location(
            request: Request,
            country_code: str,
            party_id: str,
            location_id: str,
            caller: OcpiCaller = by_token_c,
        ) -> Response:
            ids = (location_id, None, None)
            return await _locations(request, caller, (country_code, party_id), ids)

        async def evse(
            request: Request,
            country_code: str,
            party_id: str,
            location_id: str,
            evse_uid: str,
            caller: OcpiCaller = by_token_c,
        ) -> Response:
            ids = (location_id, evse_uid, None)
            return await _locations(request, caller, (country_code, party_id), ids)

        async def connector(
            request: Request,
            country_code: str,
            party_id: str,
            location_id: str,
            evse_uid: str,
            connector_id: str,
            caller: OcpiCaller = by_token_c,
        ) -> Response:
            ids = (location_id, evse_uid, connector_id)
            return await _locations(request, caller, (country_code, party_id), ids)

        return (location, evse, connector)[depth]

    levels: tuple[UrlLevel, ...] = ("location", "evse", "connector")
    for depth, path in enumerate(
        (prefix, prefix + "/{evse_uid}", prefix + "/{evse_uid}/{connector_id}")
    ):
        handler = endpoint(depth)
        level = levels[depth]
        for method, body in (("GET", None), ("PUT", PUT_MODELS), ("PATCH", PATCH_MODELS)):
            api.add_api_route(
                path,
                handler,
                methods=[method],
                name=f"{method.lower()}_{handler.__name__}",
                responses=_documented(PUT_MODELS[level] if method == "GET" else None),
                openapi_extra=_body_schema(body[level]) if body else None,
            )

    async def _locations(
        request: Request,
        caller: OcpiCaller,
        url_party: tuple[str, str],
        ids: tuple[str, str | None, str | None],
    ) -> Response:
        feed = caller.feed
        where = request.url.path[:200]
        party = (url_party[0].upper(), url_party[1].upper())
        if party not in caller.parties:
            await ingest.reject(
                feed,
                source="ocpi_push",
                location=where,
                reason=f"{url_party[0]}/{url_party[1]} is not this token's party",
                payload=b"",
            )
            return envelope(
                None,
                INVALID_PARAMETERS,
                f"{url_party[0]}/{url_party[1]} is not the party of this token",
                403,
            )
        for name, value in zip(("location_id", "evse_uid", "connector_id"), ids, strict=True):
            if value is not None and len(value) > 36:
                return envelope(None, INVALID_PARAMETERS, f"{name}: longer than 36 characters", 400)
        key = receiver.locations.key(feed.cpo_id, party, ids[0])
        if request.method == "GET":
            stored = await receiver.locations.get(key)
            found = select_object(stored, ids[1], ids[2]) if stored else None
            if found is None:
                what = ("Location", "EVSE", "Connector")[sum(v is not None for v in ids) - 1]
                return envelope(None, UNKNOWN_LOCATION, f"unknown {what} {where}", 404)
            return envelope(found)
        raw = await _body(request)
        if raw is None:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason="body too large", payload=b""
            )
            return envelope(
                None, INVALID_PARAMETERS, f"body larger than {MAX_BODY_BYTES} bytes", 413
            )
        await receiver.canonical.ensure_fresh()
        method: Literal["PUT", "PATCH"] = "PUT" if request.method == "PUT" else "PATCH"
        try:
            pushed = parse_pushed(method, party, ids, loads_json(raw))
            observations, problems = observations_from_pushed(
                feed.cpo_id, pushed, ids, receiver.canonical.canonical
            )
        except (BadPayload, InvalidObservation) as exc:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason=str(exc), payload=raw
            )
            ingest.mark_error(
                feed, f"{exc} at {where}" if isinstance(exc, BadPayload) else str(exc)
            )
            code = NOT_ENOUGH_INFORMATION if "required" in str(exc) else INVALID_PARAMETERS
            return envelope(
                None, INVALID_PARAMETERS if isinstance(exc, BadPayload) else code, str(exc), 400
            )
        if observations:
            sender = request.client.host if request.client else "unknown"
            await ingest.accept(feed, observations, raw=raw, sender=sender)
        else:
            ingest.mark_success(feed)
        document = pushed.stored()
        try:
            await receiver.locations.change(
                key, lambda stored: apply_push(stored, method, ids, document, party)
            )
        except Exception as exc:  # noqa: BLE001 - the statuses are spooled; only GET is behind
            log.warning("OCPI %s: %s not kept for GET: %s", feed.cpo_id, where, exc)
            ingest.mark_error(feed, f"pushed object not kept for GET (blob store): {exc}")
        if problems:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason="; ".join(problems), payload=raw
            )
            return envelope(None, INVALID_PARAMETERS, "; ".join(problems)[:500], 200)
        return envelope(None)

    return api


async def _call_back(receiver: Receiver, credentials: Credentials) -> str | None:
    """Call the CPO back with its token B (its versions, then its 2.2.1 endpoints); what is
    wrong with what it answered, or None. Registration goes on whatever it answers."""
    problem = None
    try:
        found = await asyncio.wait_for(
            discover(receiver.client(), credentials.url, credentials.token, attempts=2),
            timeout=CALL_BACK_SECONDS,
        )
        if found.url("locations", "SENDER") is None:
            problem = "no Locations SENDER endpoint: pushed EVSEs are confirmed only by pushes"
        if found.peer_faults:
            problem = "; ".join([*found.peer_faults, *([problem] if problem else [])])
    except OcpiError as exc:
        problem = f"could not use the CPO's versions endpoint {credentials.url}: {exc}"
    except TimeoutError:
        problem = f"the CPO's versions endpoint {credentials.url} did not answer in time"
    except Exception as exc:  # noqa: BLE001 - whatever the CPO answers, registration goes on
        problem = (
            f"the CPO's versions endpoint {credentials.url} answered something unusable"
            f" ({type(exc).__name__})"
        )
    return problem


def _party_refusal(
    receiver: Receiver, feed: FeedConfig, wanted: list[tuple[str, str]]
) -> str | None:
    """Why this feed may not register these parties, or None."""
    own = _named_party(feed)
    if own is not None:
        other = [p for p in wanted if p != own]
        if other:
            return f"this token belongs to {own[0]}/{own[1]}, not {other[0][0]}/{other[0][1]}"
    for party in wanted:
        owner = receiver.parties.owner(party)
        if owner is not None and owner != feed.cpo_id:
            return f"party {party[0]}/{party[1]} is registered by another CPO"
        named = next(
            (f for f in receiver.feeds if f.cpo_id != feed.cpo_id and _named_party(f) == party),
            None,
        )
        if named is not None:
            return f"party {party[0]}/{party[1]} belongs to another CPO's feed"
    return None


def _named_party(feed: FeedConfig) -> tuple[str, str] | None:
    return feed.party if isinstance(feed, OcpiPushFeed) else None


async def _quarantine_credentials(
    ingest: Ingest, feed: FeedConfig, raw: bytes, reason: str
) -> None:
    """Quarantine a refused credentials object without the token it carries."""
    try:
        payload = json.dumps(redacted_credentials(loads_json(raw)))
    except BadPayload:
        payload = f"[a body of {len(raw)} bytes that is not JSON, withheld: it may hold a token]"
    await ingest.reject(
        feed, source="ocpi_push", location="credentials", reason=reason, payload=payload
    )


def install_error_envelopes(app: FastAPI) -> None:
    """404, 405 and other HTTP errors on ``/ocpi`` paths answer with an OCPI envelope."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith("/ocpi"):
            return await http_exception_handler(request, exc)
        messages = {404: "no such OCPI endpoint", 405: "method not allowed on this OCPI endpoint"}
        return envelope(
            None,
            2000 if exc.status_code < 500 else SERVER_ERROR,
            messages.get(exc.status_code, str(exc.detail)),
            exc.status_code,
            headers=dict(exc.headers or {}),
        )

    app.add_exception_handler(StarletteHTTPException, handler)


async def _body(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)
