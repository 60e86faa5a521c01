"""OCPI 2.2.1 eMSP receiver for Locations, with versions and the credentials handshake.

A CPO gets token A (its feed secret) from us out of band, calls ``GET /ocpi/versions`` and then
``POST /ocpi/2.2.1/credentials`` with its token B; we answer with token C, which it uses from then
on for ``PUT``/``PATCH`` of Locations, EVSEs and Connectors under
``/ocpi/emsp/2.2.1/locations/{country_code}/{party_id}/…``. Token A is not accepted there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, delete, insert, select

from ingest_worker.feeds.ocpi_common import (
    INVALID_PARAMETERS,
    NOT_ENOUGH_INFORMATION,
    envelope,
    evse_observation,
    location_observations,
    token_candidates,
)
from ingest_worker.feeds.push_common import MAX_BODY_BYTES, BadPayload, loads_json
from ingest_worker.feeds_config import FeedConfig
from ingest_worker.pipeline import Ingest
from shared.db.observations import to_db_time
from shared.db.tables import ocpi_party
from shared.status import InvalidObservation

VERSION = "2.2.1"


@dataclass(frozen=True, slots=True)
class Party:
    cpo_id: str
    country_code: str
    party_id: str
    token_c_sha256: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Parties:
    """Registered parties, kept in SQL and mirrored in memory for the hot path."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.by_cpo: dict[str, Party] = {}

    def load(self) -> None:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    ocpi_party.c.cpo_id,
                    ocpi_party.c.country_code,
                    ocpi_party.c.party_id,
                    ocpi_party.c.token_c_sha256,
                )
            ).all()
        self.by_cpo = {
            r.cpo_id: Party(r.cpo_id, r.country_code, r.party_id, r.token_c_sha256) for r in rows
        }

    def register(
        self, feed: FeedConfig, country_code: str, party_id: str, token_b: str, url: str | None
    ) -> str:
        token_c = secrets.token_urlsafe(32)
        now = to_db_time(datetime.now(UTC))
        with self.engine.begin() as connection:
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
            connection.execute(
                insert(ocpi_party).values(
                    cpo_id=feed.cpo_id,
                    country_code=country_code,
                    party_id=party_id,
                    token_b=token_b,
                    token_c_sha256=_sha(token_c),
                    versions_url=url,
                    registered_at=now,
                    updated_at=now,
                )
            )
        self.by_cpo[feed.cpo_id] = Party(feed.cpo_id, country_code, party_id, _sha(token_c))
        return token_c

    def unregister(self, feed: FeedConfig) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
        self.by_cpo.pop(feed.cpo_id, None)


def router(ingest: Ingest, parties: Parties) -> APIRouter:
    api = APIRouter()
    feeds = [feed for feed in ingest.feeds if feed.kind == "ocpi_push"]

    def by_token_a(request: Request) -> FeedConfig | None:
        for candidate in token_candidates(request.headers.get("authorization")):
            for feed in feeds:
                if hmac.compare_digest(feed.secret.encode(), candidate.encode()):
                    return feed
        return None

    def by_token_c(request: Request) -> tuple[FeedConfig, Party] | None:
        for candidate in token_candidates(request.headers.get("authorization")):
            digest = _sha(candidate)
            for feed in feeds:
                party = parties.by_cpo.get(feed.cpo_id)
                if party is not None and hmac.compare_digest(party.token_c_sha256, digest):
                    return feed, party
        return None

    def unauthorized() -> JSONResponse:
        return envelope(None, 2000, "missing or unknown credentials token", http_status=401)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @api.get("/ocpi/versions", tags=["ocpi"])
    async def versions(request: Request) -> JSONResponse:
        if by_token_a(request) is None and by_token_c(request) is None:
            return unauthorized()
        return envelope([{"version": VERSION, "url": f"{base(request)}/ocpi/{VERSION}"}])

    @api.get(f"/ocpi/{VERSION}", tags=["ocpi"])
    async def version_details(request: Request) -> JSONResponse:
        if by_token_a(request) is None and by_token_c(request) is None:
            return unauthorized()
        return envelope(
            {
                "version": VERSION,
                "endpoints": [
                    {
                        "identifier": "credentials",
                        "role": "RECEIVER",
                        "url": f"{base(request)}/ocpi/{VERSION}/credentials",
                    },
                    {
                        "identifier": "locations",
                        "role": "RECEIVER",
                        "url": f"{base(request)}/ocpi/emsp/{VERSION}/locations",
                    },
                ],
            }
        )

    @api.api_route(f"/ocpi/{VERSION}/credentials", methods=["POST", "PUT"], tags=["ocpi"])
    async def register(request: Request) -> JSONResponse:
        found = by_token_c(request)
        feed = by_token_a(request) or (found[0] if found else None)
        if feed is None:
            return unauthorized()
        registered = feed.cpo_id in parties.by_cpo
        # credentials module: POST registers, PUT updates; each is refused in the other state.
        if request.method == "POST" and registered:
            return envelope(
                None, 2000, "already registered: use PUT to update the credentials", 405
            )
        if request.method == "PUT" and not registered:
            return envelope(None, 2000, "not registered yet: use POST to register", 405)
        raw = await _body(request)
        if raw is None:
            return envelope(
                None, INVALID_PARAMETERS, f"body larger than {MAX_BODY_BYTES} bytes", 413
            )
        try:
            credentials = loads_json(raw)
            token_b = credentials["token"]
            url = credentials.get("url")
            role = next(r for r in credentials["roles"] if r.get("role") == "CPO")
            country_code, party_id = (
                str(role["country_code"]).upper(),
                str(role["party_id"]).upper(),
            )
            if not (isinstance(token_b, str) and 0 < len(token_b) <= 255):
                raise ValueError("token: 1 to 255 characters")
            if len(country_code) != 2 or len(party_id) != 3:
                raise ValueError("roles: country_code has 2 and party_id 3 characters")
        except (BadPayload, ValueError, KeyError, TypeError, AttributeError, StopIteration) as exc:
            await ingest.reject(
                feed,
                source="ocpi_push",
                location="credentials",
                reason=f"invalid credentials: {exc}",
                payload=raw,
            )
            return envelope(None, INVALID_PARAMETERS, f"invalid credentials object: {exc}", 400)
        expected = (feed.country_code, feed.party_id)
        if expected != (None, None) and expected != (country_code, party_id):
            return envelope(
                None, INVALID_PARAMETERS, f"this token belongs to {expected[0]}/{expected[1]}", 403
            )
        token_c = await asyncio.to_thread(
            parties.register, feed, country_code, party_id, token_b, url
        )
        ingest.mark_success(feed)
        return envelope(
            {
                "token": token_c,
                "url": f"{base(request)}/ocpi/versions",
                "roles": [
                    {
                        "role": "EMSP",
                        "party_id": "CAL",
                        "country_code": "AU",
                        "business_details": {"name": "Charge@Large"},
                    }
                ],
            }
        )

    @api.delete(f"/ocpi/{VERSION}/credentials", tags=["ocpi"])
    async def unregister(request: Request) -> JSONResponse:
        found = by_token_c(request)
        if found is None:
            return unauthorized()
        await asyncio.to_thread(parties.unregister, found[0])
        return envelope(None)

    prefix = f"/ocpi/emsp/{VERSION}/locations/{{country_code}}/{{party_id}}/{{location_id}}"

    async def location(
        request: Request, country_code: str, party_id: str, location_id: str
    ) -> JSONResponse:
        return await _locations(request, country_code, party_id, location_id, None, None)

    async def evse(
        request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> JSONResponse:
        return await _locations(request, country_code, party_id, location_id, evse_uid, None)

    async def connector(
        request: Request,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
    ) -> JSONResponse:
        return await _locations(
            request, country_code, party_id, location_id, evse_uid, connector_id
        )

    for path, endpoint in (
        (prefix, location),
        (prefix + "/{evse_uid}", evse),
        (prefix + "/{evse_uid}/{connector_id}", connector),
    ):
        for method in ("PUT", "PATCH"):
            api.add_api_route(
                path,
                endpoint,
                methods=[method],
                tags=["ocpi"],
                name=f"{method.lower()}_{endpoint.__name__}",
            )

    async def _locations(
        request: Request,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None,
        connector_id: str | None,
    ) -> JSONResponse:
        found = by_token_c(request)
        if found is None:
            return unauthorized()
        feed, party = found
        if (country_code.upper(), party_id.upper()) != (party.country_code, party.party_id):
            await ingest.reject(
                feed,
                source="ocpi_push",
                location=request.url.path[:200],
                reason=f"{country_code}/{party_id} is not this token's party",
                payload=b"",
            )
            return envelope(
                None,
                INVALID_PARAMETERS,
                f"{country_code}/{party_id} is not the party of this token",
                403,
            )
        for name, value in (
            ("location_id", location_id),
            ("evse_uid", evse_uid),
            ("connector_id", connector_id),
        ):
            if value is not None and len(value) > 36:
                return envelope(None, INVALID_PARAMETERS, f"{name}: longer than 36 characters", 400)
        raw = await _body(request)
        if raw is None:
            await ingest.reject(
                feed,
                source="ocpi_push",
                location=request.url.path[:200],
                reason="body too large",
                payload=b"",
            )
            return envelope(
                None, INVALID_PARAMETERS, f"body larger than {MAX_BODY_BYTES} bytes", 413
            )
        where = request.url.path[:200]
        try:
            document = loads_json(raw)
            if not isinstance(document, dict):
                raise InvalidObservation("body: expected a JSON object")
            if request.method == "PATCH" and "last_updated" not in document:
                raise InvalidObservation("last_updated: required in a PATCH")
            problems: list[str] = []
            if connector_id is not None:
                observations = []  # a Connector carries no status of its own
            elif evse_uid is not None:
                if document.get("uid", evse_uid) != evse_uid:
                    raise InvalidObservation(
                        f"uid: {document.get('uid')!r} differs from the URL's {evse_uid!r}"
                    )
                obs = evse_observation(feed.cpo_id, {**document, "uid": evse_uid}, "evse")
                observations = [obs] if obs else []
            else:
                if request.method == "PUT" and document.get("id", location_id) != location_id:
                    raise InvalidObservation(
                        f"id: {document.get('id')!r} differs from the URL's {location_id!r}"
                    )
                observations, problems = location_observations(feed.cpo_id, document)
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
        if problems:
            await ingest.reject(
                feed, source="ocpi_push", location=where, reason="; ".join(problems), payload=raw
            )
            return envelope(None, INVALID_PARAMETERS, "; ".join(problems)[:500], 200)
        return envelope(None)

    return api


async def _body(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)
