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
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest_worker.feeds.config import FeedConfig, OcpiPushFeed
from ingest_worker.feeds.ocpi_common import (
    INVALID_PARAMETERS,
    NOT_ENOUGH_INFORMATION,
    SERVER_ERROR,
    UNKNOWN_LOCATION,
    CanonicalEvses,
    ci,
    envelope,
    evse_observation,
    location_observations,
    token_candidates,
)
from ingest_worker.feeds.ocpi_models import Credentials, credentials_problem, redacted_credentials
from ingest_worker.feeds.ocpi_pull import OcpiError, discover
from ingest_worker.feeds.ocpi_tokens import TokenCipher, TokenUnreadable
from ingest_worker.feeds.push_common import MAX_BODY_BYTES, BadPayload, loads_json
from ingest_worker.pipeline import Ingest
from shared.blobstore import BlobNotFound, BlobStore
from shared.db.observations import to_db_time
from shared.db.tables import ocpi_party, ocpi_party_role
from shared.status import InvalidObservation

log = logging.getLogger("chargeatlarge.worker.ocpi_push")
VERSION = "2.2.1"
OUR_ROLE = {
    "role": "EMSP",
    "party_id": "CAL",
    "country_code": "AU",
    "business_details": {"name": "Charge@Large"},
}
RELOAD_SECONDS = 30.0  # registrations re-read from SQL (made by another process)
UNKNOWN_TOKEN_RELOAD_SECONDS = 5.0  # an unknown token re-reads them at most this often
CALL_BACK_SECONDS = 20.0  # the CPO waits for our answer while we call it back
LOCATIONS_PREFIX = "ocpi/locations/"  # blob folder of the client-owned Locations we received


@dataclass(frozen=True, slots=True)
class Registration:
    """One CPO's OCPI connection: its parties, our token C (hashed) and its token B."""

    cpo_id: str
    parties: frozenset[tuple[str, str]]
    token_c_sha256: str
    versions_url: str | None
    token_b: str | None = field(default=None, repr=False)  # None: stored, but unreadable


class PartyTaken(ValueError):
    """A party of the credentials object belongs to another CPO."""


class RegistrationChanged(ValueError):
    """The stored registration is not the one the caller's token belongs to (another replica
    registered or rotated it since this one last read them)."""


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Parties:
    """Registered CPOs, kept in SQL (token B encrypted) and mirrored in memory for the hot path."""

    def __init__(self, engine: Engine, cipher: TokenCipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.by_cpo: dict[str, Registration] = {}
        self.loaded = False
        self.loaded_at = float("-inf")
        self.changed = asyncio.Event()

    def load(self) -> None:
        with self.engine.begin() as connection:
            rows = connection.execute(select(ocpi_party)).all()
            roles = connection.execute(select(ocpi_party_role)).all()
            by_cpo: dict[str, Registration] = {}
            for row in rows:
                token_b: str | None
                if self.cipher.is_ciphertext(row.token_b):
                    try:
                        token_b = self.cipher.decrypt(row.token_b)
                    except TokenUnreadable:
                        log.error(
                            "OCPI %s: stored token B cannot be decrypted with CAL_SECRET_KEY;"
                            " token C still works, the Locations poll waits for a credentials PUT",
                            row.cpo_id,
                        )
                        token_b = None
                else:  # stored in plain text before tokens were encrypted: encrypt it now
                    token_b = row.token_b
                    connection.execute(
                        update(ocpi_party)
                        .where(ocpi_party.c.cpo_id == row.cpo_id)
                        .values(token_b=self.cipher.encrypt(token_b))
                    )
                parties = frozenset(
                    (r.country_code, r.party_id) for r in roles if r.cpo_id == row.cpo_id
                ) or frozenset({(row.country_code.upper(), row.party_id.upper())})
                by_cpo[row.cpo_id] = Registration(
                    row.cpo_id, parties, row.token_c_sha256, row.versions_url, token_b
                )
        self.loaded_at = time.monotonic()
        self.loaded = True
        if by_cpo != self.by_cpo:
            self.by_cpo = by_cpo
            self.changed.set()

    def owner(self, party: tuple[str, str]) -> str | None:
        return next((r.cpo_id for r in self.by_cpo.values() if party in r.parties), None)

    def register(
        self,
        feed: FeedConfig,
        parties: list[tuple[str, str]],
        token_b: str,
        url: str,
        replacing: Registration | None = None,
    ) -> tuple[Registration, str]:
        """Store the CPO's registration (a new one, or a new version of ``replacing``); returns
        it and the new token C."""
        token_c = secrets.token_urlsafe(32)
        now = to_db_time(datetime.now(UTC))
        with self.engine.begin() as connection:
            stored = connection.execute(
                select(ocpi_party.c.token_c_sha256).where(ocpi_party.c.cpo_id == feed.cpo_id)
            ).scalar_one_or_none()
            expected = replacing.token_c_sha256 if replacing is not None else None
            if stored != expected:
                raise RegistrationChanged(feed.cpo_id)
            taken = connection.execute(
                select(ocpi_party_role.c.country_code, ocpi_party_role.c.party_id).where(
                    ocpi_party_role.c.cpo_id != feed.cpo_id,
                    ocpi_party_role.c.country_code.in_(sorted({p[0] for p in parties})),
                    ocpi_party_role.c.party_id.in_(sorted({p[1] for p in parties})),
                )
            ).all()
            clash = sorted({(r.country_code, r.party_id) for r in taken} & set(parties))
            if clash:
                raise PartyTaken(", ".join(f"{c}/{p}" for c, p in clash))
            connection.execute(
                delete(ocpi_party_role).where(ocpi_party_role.c.cpo_id == feed.cpo_id)
            )
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
            connection.execute(
                insert(ocpi_party).values(
                    cpo_id=feed.cpo_id,
                    country_code=parties[0][0],
                    party_id=parties[0][1],
                    token_b=self.cipher.encrypt(token_b),
                    token_c_sha256=_sha(token_c),
                    versions_url=url,
                    registered_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                insert(ocpi_party_role),
                [{"cpo_id": feed.cpo_id, "country_code": c, "party_id": p} for c, p in parties],
            )
        registration = Registration(feed.cpo_id, frozenset(parties), _sha(token_c), url, token_b)
        self.by_cpo[feed.cpo_id] = registration
        self.changed.set()
        return registration, token_c

    def unregister(self, feed: FeedConfig) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                delete(ocpi_party_role).where(ocpi_party_role.c.cpo_id == feed.cpo_id)
            )
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
        self.by_cpo.pop(feed.cpo_id, None)
        self.changed.set()


async def try_load(parties: Parties) -> bool:
    """One attempt to load the registrations; False (logged) while the database is unreachable."""
    try:
        await asyncio.to_thread(parties.load)
    except Exception as exc:  # noqa: BLE001 - database down or locked: keep_loading retries
        log.warning("OCPI registrations not loaded: %s", exc)
        return False
    return True


async def keep_loading(
    parties: Parties,
    stop: asyncio.Event,
    first_delay: float = 0.5,
    refresh_seconds: float = RELOAD_SECONDS,
) -> None:
    """Load the registrations, retrying with backoff while the database is down, then reload them
    every ``refresh_seconds``: another process (a second replica, the queue-mode writer that runs
    the Locations polls) sees a registration made here."""
    delay = first_delay
    while not stop.is_set():
        wait = delay if not parties.loaded else refresh_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        if stop.is_set():
            return
        await try_load(parties)
        # One small SELECT: while none succeeded, CPOs get 503, so retry soon.
        delay = first_delay if parties.loaded else min(delay * 2, 5.0)


class LocationStore:
    """The client-owned Locations pushed to us, for the Receiver ``GET``: one JSON blob per
    Location under ``ocpi/locations/{cpo_id}/{country_code}/{party_id}/``, cached in memory for
    ``fresh_seconds`` (another replica may have changed the blob since)."""

    def __init__(self, store: BlobStore, cached: int = 2_000, fresh_seconds: float = 10.0) -> None:
        self.store = store
        self.cached = cached  # a national network has tens of thousands of Locations
        self.fresh_seconds = fresh_seconds
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._locks = [asyncio.Lock() for _ in range(64)]  # striped: one per key would grow

    @staticmethod
    def key(cpo_id: str, party: tuple[str, str], location_id: str) -> str:
        return (
            f"{LOCATIONS_PREFIX}{cpo_id}/{party[0]}/{party[1]}/"
            f"{quote(ci(location_id), safe='')}.json"
        )

    async def get(self, key: str) -> dict[str, Any] | None:
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.fresh_seconds:
            self._cache.move_to_end(key)
            return cached[1]
        try:
            raw = await asyncio.to_thread(self.store.get, key)
        except BlobNotFound:
            return None
        location = json.loads(raw)
        self._keep(key, location)
        return location

    def _keep(self, key: str, location: dict[str, Any]) -> None:
        self._cache[key] = (time.monotonic(), location)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cached:
            self._cache.popitem(last=False)

    async def change(
        self, key: str, edit: Callable[[dict[str, Any] | None], dict[str, Any]]
    ) -> None:
        """Apply ``edit`` to the stored Location (None when there is none) and store the result."""
        async with self._locks[hash(key) % len(self._locks)]:
            current = await self.get(key)
            changed = edit(json.loads(json.dumps(current)) if current is not None else None)
            await asyncio.to_thread(self.store.put, key, json.dumps(changed).encode("utf-8"))
            self._keep(key, changed)


def _find(items: Any, key: str, value: str) -> int | None:
    if not isinstance(items, list):
        return None
    return next(
        (
            i
            for i, item in enumerate(items)
            if isinstance(item, dict)
            and isinstance(item.get(key), str)
            and ci(item[key]) == ci(value)
        ),
        None,
    )


def _later(a: Any, b: Any) -> Any:
    return max((v for v in (a, b) if isinstance(v, str)), default=a)


def apply_push(
    location: dict[str, Any] | None,
    method: str,
    ids: tuple[str, str | None, str | None],
    document: dict[str, Any],
    party: tuple[str, str],
) -> dict[str, Any]:
    """The stored Location after a PUT or PATCH of the Location, one of its EVSEs or a Connector."""
    location_id, evse_uid, connector_id = ids
    if evse_uid is None:
        if method == "PUT" or location is None:
            return {"country_code": party[0], "party_id": party[1], "id": location_id, **document}
        return {**location, **document}
    location = location or {
        "country_code": party[0],
        "party_id": party[1],
        "id": location_id,
        "evses": [],
    }
    evses = location.setdefault("evses", [])
    if not isinstance(evses, list):
        evses = location["evses"] = []
    index = _find(evses, "uid", evse_uid)
    evse = evses[index] if index is not None else {"uid": evse_uid}
    if connector_id is None:
        evse = {"uid": evse_uid, **document} if method == "PUT" else {**evse, **document}
    else:
        connectors = evse.setdefault("connectors", [])
        if not isinstance(connectors, list):
            connectors = evse["connectors"] = []
        at = _find(connectors, "id", connector_id)
        current = connectors[at] if at is not None else {"id": connector_id}
        new = {"id": connector_id, **document} if method == "PUT" else {**current, **document}
        if at is None:
            connectors.append(new)
        else:
            connectors[at] = new
        evse["last_updated"] = _later(evse.get("last_updated"), document.get("last_updated"))
    if index is None:
        evses.append(evse)
    else:
        evses[index] = evse
    location["last_updated"] = _later(location.get("last_updated"), document.get("last_updated"))
    return location


def select_object(
    location: dict[str, Any], evse_uid: str | None, connector_id: str | None
) -> dict[str, Any] | None:
    """The stored Location, EVSE or Connector a Receiver GET asks for."""
    if evse_uid is None:
        return location
    index = _find(location.get("evses"), "uid", evse_uid)
    if index is None:
        return None
    evse = location["evses"][index]
    if connector_id is None:
        return evse
    at = _find(evse.get("connectors"), "id", connector_id)
    return evse["connectors"][at] if at is not None else None


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

    def by_token_a(self, request: Request) -> FeedConfig | None:
        """The unregistered feed whose token A this is (token A stops working at registration)."""
        found = None
        for candidate in token_candidates(request.headers.get("authorization")):
            for feed in self.feeds:
                if hmac.compare_digest(feed.secret.encode(), candidate.encode()):
                    found = feed
        if found is not None and found.cpo_id in self.parties.by_cpo:
            return None
        return found

    def by_token_c(self, request: Request) -> tuple[FeedConfig, Registration] | None:
        for candidate in token_candidates(request.headers.get("authorization")):
            digest = _sha(candidate)
            for feed in self.feeds:
                registration = self.parties.by_cpo.get(feed.cpo_id)
                if registration is not None and hmac.compare_digest(
                    registration.token_c_sha256, digest
                ):
                    return feed, registration
        return None


def unauthorized() -> JSONResponse:
    return envelope(None, 2000, "missing or unknown credentials token", http_status=401)


def unavailable(what: str) -> JSONResponse:
    return envelope(
        None,
        SERVER_ERROR,
        f"{what} (database unreachable); retry shortly",
        http_status=503,
        headers={"Retry-After": "5"},
    )


def not_loaded() -> JSONResponse:
    return unavailable("OCPI registrations are not loaded yet")


def router(receiver: Receiver) -> APIRouter:
    api = APIRouter()
    ingest, parties = receiver.ingest, receiver.parties

    async def authorised(
        request: Request, *, token_a: bool
    ) -> tuple[FeedConfig, Registration | None] | JSONResponse:
        if not parties.loaded:
            return not_loaded()
        for attempt in range(2):
            found = receiver.by_token_c(request)
            if found is not None:
                return found
            feed = receiver.by_token_a(request) if token_a else None
            if feed is not None:
                return feed, None
            # A token C issued by another replica since our last reload: re-read (rate-limited).
            stale = time.monotonic() - parties.loaded_at > UNKNOWN_TOKEN_RELOAD_SECONDS
            if attempt or not stale or not request.headers.get("authorization"):
                break
            if not await try_load(parties):
                break
        return unauthorized()

    def our_credentials(request: Request, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{receiver.base(request)}/ocpi/versions",
            "roles": [OUR_ROLE],
        }

    @api.get("/ocpi/versions", tags=["ocpi"])
    async def versions(request: Request) -> JSONResponse:
        who = await authorised(request, token_a=True)
        if isinstance(who, JSONResponse):
            return who
        return envelope([{"version": VERSION, "url": f"{receiver.base(request)}/ocpi/{VERSION}"}])

    @api.get(f"/ocpi/{VERSION}", tags=["ocpi"])
    async def version_details(request: Request) -> JSONResponse:
        who = await authorised(request, token_a=True)
        if isinstance(who, JSONResponse):
            return who
        base = receiver.base(request)
        return envelope(
            {
                "version": VERSION,
                "endpoints": [
                    {
                        "identifier": "credentials",
                        "role": "RECEIVER",
                        "url": f"{base}/ocpi/{VERSION}/credentials",
                    },
                    {
                        "identifier": "locations",
                        "role": "RECEIVER",
                        "url": f"{base}/ocpi/emsp/{VERSION}/locations",
                    },
                ],
            }
        )

    @api.get(f"/ocpi/{VERSION}/credentials", tags=["ocpi"])
    async def get_credentials(request: Request) -> JSONResponse:
        who = await authorised(request, token_a=True)
        if isinstance(who, JSONResponse):
            return who
        feed, registration = who
        # The token the caller used (Base64 as OCPI 2.2 sends it, or raw as 2.1.1 did).
        token = next(
            candidate
            for candidate in token_candidates(request.headers.get("authorization"))
            if (
                hmac.compare_digest(_sha(candidate), registration.token_c_sha256)
                if registration is not None
                else hmac.compare_digest(candidate.encode(), feed.secret.encode())
            )
        )
        return envelope(our_credentials(request, token))

    @api.api_route(f"/ocpi/{VERSION}/credentials", methods=["POST", "PUT"], tags=["ocpi"])
    async def register(request: Request) -> JSONResponse:
        who = await authorised(request, token_a=request.method == "POST")
        if isinstance(who, JSONResponse):
            if request.method == "PUT" and who.status_code == 401 and receiver.by_token_a(request):
                return envelope(None, 2000, "not registered yet: use POST to register", 405)
            return who
        feed, registration = who
        # credentials module: POST registers, PUT updates; each is refused in the other state.
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
        # Call the CPO back with its token B: its versions, then its 2.2.1 endpoints.
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
            problem = f"the CPO's versions endpoint {credentials.url} answered something unusable ({type(exc).__name__})"
        try:
            registration, token_c = await asyncio.to_thread(
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
            sorted(registration.parties),
        )
        return envelope(our_credentials(request, token_c), message=message)

    @api.delete(f"/ocpi/{VERSION}/credentials", tags=["ocpi"])
    async def unregister(request: Request) -> JSONResponse:
        who = await authorised(request, token_a=True)
        if isinstance(who, JSONResponse):
            return who
        feed, registration = who
        if registration is None:
            return envelope(None, 2000, "not registered: nothing to unregister", 405)
        try:
            await asyncio.to_thread(parties.unregister, feed)
        except Exception as exc:  # noqa: BLE001 - the database is down: the CPO retries
            log.warning("OCPI %s: unregistration not stored: %s", feed.cpo_id, type(exc).__name__)
            return unavailable("the unregistration could not be stored")
        return envelope(None)

    prefix = f"/ocpi/emsp/{VERSION}/locations/{{country_code}}/{{party_id}}/{{location_id}}"

    def endpoint(
        depth: int,
    ) -> Callable[..., Awaitable[Response]]:
        async def location(
            request: Request, country_code: str, party_id: str, location_id: str
        ) -> Response:
            return await _locations(request, country_code, party_id, location_id, None, None)

        async def evse(
            request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str
        ) -> Response:
            return await _locations(request, country_code, party_id, location_id, evse_uid, None)

        async def connector(
            request: Request,
            country_code: str,
            party_id: str,
            location_id: str,
            evse_uid: str,
            connector_id: str,
        ) -> Response:
            return await _locations(
                request, country_code, party_id, location_id, evse_uid, connector_id
            )

        return (location, evse, connector)[depth]

    for depth, path in enumerate(
        (prefix, prefix + "/{evse_uid}", prefix + "/{evse_uid}/{connector_id}")
    ):
        handler = endpoint(depth)
        for method in ("GET", "PUT", "PATCH"):
            api.add_api_route(
                path,
                handler,
                methods=[method],
                tags=["ocpi"],
                name=f"{method.lower()}_{handler.__name__}",
            )

    async def _locations(
        request: Request,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None,
        connector_id: str | None,
    ) -> Response:
        who = await authorised(request, token_a=False)
        if isinstance(who, JSONResponse):
            return who
        feed, registration = who
        assert registration is not None
        where = request.url.path[:200]
        party = (country_code.upper(), party_id.upper())
        if party not in registration.parties:
            await ingest.reject(
                feed,
                source="ocpi_push",
                location=where,
                reason=f"{country_code}/{party_id} is not this token's party",
                payload=b"",
            )
            return envelope(
                None,
                INVALID_PARAMETERS,
                f"{country_code}/{party_id} is not the party of this token",
                403,
            )
        ids = (location_id, evse_uid, connector_id)
        for name, value in zip(("location_id", "evse_uid", "connector_id"), ids, strict=True):
            if value is not None and len(value) > 36:
                return envelope(None, INVALID_PARAMETERS, f"{name}: longer than 36 characters", 400)
        key = receiver.locations.key(feed.cpo_id, party, location_id)
        if request.method == "GET":
            stored = await receiver.locations.get(key)
            found = select_object(stored, evse_uid, connector_id) if stored else None
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
        canonical = receiver.canonical.canonical
        try:
            document = loads_json(raw)
            if not isinstance(document, dict):
                raise InvalidObservation("body: expected a JSON object")
            if request.method == "PATCH" and "last_updated" not in document:
                raise InvalidObservation("last_updated: required in a PATCH")
            _check_ids(document, party, ids, request.method)
            problems: list[str] = []
            if connector_id is not None:
                observations = []  # a Connector carries no status of its own
            elif evse_uid is not None:
                obs = evse_observation(
                    feed.cpo_id, {**document, "uid": evse_uid}, "evse", canonical=canonical
                )
                observations = [obs] if obs else []
            else:
                observations, problems = location_observations(
                    feed.cpo_id, document, canonical=canonical
                )
        except BadPayload as exc:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason=str(exc), payload=raw
            )
            ingest.mark_error(feed, f"{exc} at {where}")
            return envelope(None, INVALID_PARAMETERS, str(exc), 400)
        except InvalidObservation as exc:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason=str(exc), payload=raw
            )
            ingest.mark_error(feed, str(exc))
            return envelope(
                None,
                INVALID_PARAMETERS if "required" not in str(exc) else NOT_ENOUGH_INFORMATION,
                str(exc),
                400,
            )
        if observations:
            sender = request.client.host if request.client else "unknown"
            await ingest.accept(feed, observations, raw=raw, sender=sender)
        else:
            ingest.mark_success(feed)
        try:
            await receiver.locations.change(
                key, lambda stored: apply_push(stored, request.method, ids, document, party)
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


def _check_ids(
    document: dict[str, Any],
    party: tuple[str, str],
    ids: tuple[str, str | None, str | None],
    method: str,
) -> None:
    """The body's ids must be the URL's (compared case-insensitively: they are CiStrings)."""
    location_id, evse_uid, connector_id = ids
    if evse_uid is None:
        for name, expected in (("country_code", party[0]), ("party_id", party[1])):
            value = document.get(name)
            if value is not None and (not isinstance(value, str) or ci(value) != ci(expected)):
                raise InvalidObservation(f"{name}: {value!r} differs from the URL's {expected!r}")
    name, expected = (
        ("id", location_id)
        if evse_uid is None
        else ("uid", evse_uid)
        if connector_id is None
        else ("id", connector_id)
    )
    value = document.get(name)
    checked = method == "PUT" or evse_uid is not None
    if value is not None and checked and (not isinstance(value, str) or ci(value) != ci(expected)):
        raise InvalidObservation(f"{name}: {value!r} differs from the URL's {expected!r}")


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
