"""Simulated OCPI 2.2.1 CPOs: a Sender (versions, version details, paginated Locations with
``Link``/``X-Total-Count``/``X-Limit`` and ``date_from``) that the worker's ``ocpi_pull`` polls,
and a pusher that registers through the credentials handshake and PUTs/PATCHes to the worker's
eMSP Locations receiver (``ocpi_push``)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingest_worker.simulator.model import spelled
from ingest_worker.simulator.plan import SimEvse, SimFeed, party_id, party_of
from ingest_worker.simulator.runtime import Dropouts, FeedRecord, Schedule, SimClock, SimSettings
from ingest_worker.stopping import sleep_unless_stopped

VERSION = "2.2.1"
MAX_LIMIT = 100


def _ocpi_time(instant: datetime) -> str:
    """OCPI DateTime, with milliseconds (allowed): two changes within a second keep their order."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _envelope(data: object = None, status_code: int = 1000, message: str = "Success") -> dict:
    body: dict[str, object] = {
        "status_code": status_code,
        "status_message": message,
        "timestamp": _ocpi_time(datetime.now(UTC)),
    }
    if data is not None:
        body["data"] = data
    return body


def location_object(
    cpo_id: str, site_id: str, evses: list[SimEvse], statuses: dict[str, tuple[str, datetime]]
) -> dict[str, Any]:
    """An OCPI 2.2.1 Location with its EVSEs' current statuses (``statuses``: uid → (OCPI
    status, at))."""
    site = evses[0].site
    stamps = [statuses[e.evse_uid][1] for e in evses if e.evse_uid in statuses]
    last = max(stamps) if stamps else datetime.now(UTC)
    return {
        "country_code": "AU",
        "party_id": party_id(cpo_id),
        "id": site_id,
        "publish": True,
        "name": site["site_name"],
        "address": site["address"],
        "city": site["suburb"],
        "postal_code": str(site["postcode"]),
        "state": site["state"],
        "country": "AUS",
        "coordinates": {
            "latitude": f"{site['latitude']:.6f}",
            "longitude": f"{site['longitude']:.6f}",
        },
        "time_zone": "Australia/Sydney",
        "evses": [evse_object(e, *statuses.get(e.evse_uid, ("UNKNOWN", last))) for e in evses],
        "last_updated": _ocpi_time(last),
    }


def evse_object(evse: SimEvse, status: str, at: datetime) -> dict[str, object]:
    return {
        "uid": evse.evse_uid,
        "status": status,
        "connectors": [
            {
                "id": c["id"],
                "standard": c["standard"],
                "format": "CABLE" if c["power_type"] == "DC" else "SOCKET",
                "power_type": c["power_type"],
                "max_voltage": 400 if c["power_type"] != "AC_1_PHASE" else 230,
                "max_amperage": 32,
                "max_electric_power": int(float(str(c["max_power_kw"])) * 1000),
                "last_updated": _ocpi_time(at),
            }
            for c in evse.connectors
        ],
        "last_updated": _ocpi_time(at),
    }


@dataclass
class CpoState:
    """One simulated OCPI CPO's live Locations, fed by its schedule."""

    sim: SimFeed
    record: FeedRecord
    statuses: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    silent: bool = False
    # The token its Sender accepts: the feed's secret for a pulled CPO (the worker holds it),
    # the CPO's own token B for a pushing one (handed to the worker at registration).
    token: str | None = None

    def sites(self) -> dict[str, list[SimEvse]]:
        grouped: dict[str, list[SimEvse]] = {}
        for evse in self.sim.evses:
            grouped.setdefault(evse.site_id, []).append(evse)
        return grouped


async def run_ocpi_sender_feed(
    state: CpoState, settings: SimSettings, clock: SimClock, stop: asyncio.Event
) -> None:
    """Advance one pulled CPO's statuses; its server answers 503 during drop-outs."""
    schedule = Schedule(state.sim.evses, settings, clock)
    dropouts = Dropouts(state.sim.feed.name, settings, clock)
    while not stop.is_set():
        for event in schedule.due():
            state.statuses[event.evse_uid] = (spelled(event.status, "ocpi"), datetime.now(UTC))
        silent = dropouts.silent()
        state.record.dropouts += int(silent and not state.silent)
        state.silent = silent
        await sleep_unless_stopped(
            stop, max(0.01, min(schedule.seconds_to_next(), settings.tick_seconds))
        )


def sender_app(states: dict[str, CpoState]) -> Starlette:
    """The OCPI Sender of every simulated CPO (pulled, and pushing ones, which the worker polls
    for liveness), under ``/ocpi/cpo/{cpo_id}/…``."""

    def authorised(request: Request, state: CpoState) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "token":
            return False
        candidates = {value.strip()}
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            candidates.add(base64.b64decode(value.strip(), validate=True).decode())
        return (state.token or state.sim.feed.secret) in candidates

    def guard(request: Request) -> CpoState | JSONResponse:
        """The CPO the request is for, or the refusal to send instead."""
        state = states.get(request.path_params["cpo_id"])
        if state is None:
            return JSONResponse(_envelope(None, 2003, "unknown CPO"), status_code=404)
        if not authorised(request, state):
            return JSONResponse(_envelope(None, 2000, "unknown token"), status_code=401)
        if state.silent:
            return JSONResponse(_envelope(None, 3000, "simulated drop-out"), status_code=503)
        return state

    def base(request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}/ocpi/cpo/{request.path_params['cpo_id']}"

    async def versions(request: Request) -> JSONResponse:
        if isinstance(refused := guard(request), JSONResponse):
            return refused
        return JSONResponse(_envelope([{"version": VERSION, "url": f"{base(request)}/{VERSION}"}]))

    async def details(request: Request) -> JSONResponse:
        if isinstance(refused := guard(request), JSONResponse):
            return refused
        endpoints = [
            {
                "identifier": "locations",
                "role": "SENDER",
                "url": f"{base(request)}/{VERSION}/locations",
            }
        ]
        return JSONResponse(_envelope({"version": VERSION, "endpoints": endpoints}))

    async def locations(request: Request) -> JSONResponse:
        state = guard(request)
        if isinstance(state, JSONResponse):
            return state
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = min(MAX_LIMIT, max(1, int(request.query_params.get("limit", MAX_LIMIT))))
            date_from = _parse(request.query_params.get("date_from"))
            date_to = _parse(request.query_params.get("date_to"))
        except ValueError as exc:
            return JSONResponse(_envelope(None, 2001, f"bad query: {exc}"), status_code=400)
        documents = [
            location_object(state.sim.feed.cpo_id, site_id, evses, state.statuses)
            for site_id, evses in sorted(state.sites().items())
        ]
        chosen = [
            d
            for d in documents
            if (date_from is None or _parse(str(d["last_updated"])) >= date_from)
            and (date_to is None or _parse(str(d["last_updated"])) < date_to)
        ]
        page = chosen[offset : offset + limit]
        for document in page:
            for evse in document["evses"]:
                state.record.record(evse["uid"], evse["status"])
        headers = {"X-Total-Count": str(len(chosen)), "X-Limit": str(limit)}
        if offset + limit < len(chosen):
            query = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
            query.update(offset=str(offset + limit), limit=str(limit))
            headers["Link"] = (
                f'<{base(request)}/{VERSION}/locations?{urlencode(query)}>; rel="next"'
            )
        return JSONResponse(_envelope(page), headers=headers)

    return Starlette(
        routes=[
            Route("/ocpi/cpo/{cpo_id}/versions", versions),
            Route(f"/ocpi/cpo/{{cpo_id}}/{VERSION}", details),
            Route(f"/ocpi/cpo/{{cpo_id}}/{VERSION}/locations", locations),
        ]
    )


@overload
def _parse(value: str) -> datetime: ...
@overload
def _parse(value: str | None) -> datetime | None: ...
def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class OcpiPusher:
    """A CPO that registers with the worker (token A → B/C) and pushes its Locations' changes."""

    def __init__(
        self,
        sim: SimFeed,
        worker_url: str,
        settings: SimSettings,
        clock: SimClock,
        record: FeedRecord,
        client: httpx.AsyncClient,
        sender_url: str | None = None,
    ) -> None:
        self.sender_url = sender_url
        self.sim, self.settings, self.clock, self.record, self.client = (
            sim,
            settings,
            clock,
            record,
            client,
        )
        self.versions_url = worker_url.rstrip("/") + "/ocpi/versions"
        self.token_b = secrets.token_urlsafe(24)
        self.token_c: str | None = None
        self.locations_url: str | None = None
        self.state = CpoState(sim, record, token=self.token_b)

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}

    async def _data(self, response: httpx.Response, what: str) -> Any:  # noqa: ANN401 - the JSON the worker sent
        body = response.json()
        if response.status_code != 200 or body.get("status_code") != 1000:
            raise RuntimeError(f"{what}: HTTP {response.status_code} {str(body)[:200]}")
        return body.get("data")

    async def register(self) -> None:
        """Credentials handshake: discover with token A, POST our token B, keep token C."""
        token_a = self._auth(self.sim.feed.secret)
        versions = await self._data(
            await self.client.get(self.versions_url, headers=token_a), "versions"
        )
        url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = await self._data(await self.client.get(url, headers=token_a), "version details")
        endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}
        self.locations_url = endpoints["locations"]
        credentials = {
            "token": self.token_b,
            # Our Sender (served by the simulator's OCPI server), which the worker calls back
            # and polls; without one, an address that answers nothing.
            "url": f"{self.sender_url or 'http://127.0.0.1:9'}/ocpi/cpo/{self.sim.feed.cpo_id}/versions",
            "roles": [
                {
                    "role": "CPO",
                    "country_code": party_of(self.sim.feed)[0],
                    "party_id": party_of(self.sim.feed)[1],
                    "business_details": {"name": f"{self.sim.feed.cpo_id} (simulated)"},
                }
            ],
        }
        answer = await self.client.post(endpoints["credentials"], json=credentials, headers=token_a)
        self.token_c = (await self._data(answer, "credentials"))["token"]

    def _prefix(self) -> str:
        country_code, party = party_of(self.sim.feed)
        return f"{self.locations_url}/{country_code}/{party}"

    async def put_locations(self) -> None:
        for site_id, evses in sorted(self.state.sites().items()):
            document = location_object(self.sim.feed.cpo_id, site_id, evses, self.state.statuses)
            response = await self.client.put(
                f"{self._prefix()}/{site_id}", json=document, headers=self._auth(self.token_c or "")
            )
            await self._data(response, f"PUT location {site_id}")
            for evse in document["evses"]:
                self.record.record(evse["uid"], evse["status"])

    async def patch_evse(self, evse: SimEvse) -> None:
        status, at = self.state.statuses[evse.evse_uid]
        response = await self.client.patch(
            f"{self._prefix()}/{evse.site_id}/{evse.evse_uid}",
            json={"status": status, "last_updated": _ocpi_time(at)},
            headers=self._auth(self.token_c or ""),
        )
        await self._data(response, f"PATCH EVSE {evse.evse_uid}")
        self.record.record(evse.evse_uid, status)

    async def run(self, stop: asyncio.Event) -> None:
        schedule = Schedule(self.sim.evses, self.settings, self.clock)
        dropouts = Dropouts(self.sim.feed.name, self.settings, self.clock)
        by_uid = {e.evse_uid: e for e in self.sim.evses}
        changed: set[str] = set()
        synced = False
        was_silent = False
        while not stop.is_set():
            for event in schedule.due():
                self.state.statuses[event.evse_uid] = (
                    spelled(event.status, "ocpi"),
                    datetime.now(UTC),
                )
                changed.add(event.evse_uid)
            silent = dropouts.silent()
            self.record.dropouts += int(silent and not was_silent)
            was_silent = self.state.silent = silent
            if not silent:
                try:
                    if self.token_c is None:
                        await self.register()
                    if not synced:
                        await self.put_locations()
                        synced, changed = True, set()
                    for uid in sorted(changed):
                        await self.patch_evse(by_uid[uid])
                        changed.discard(uid)
                except (httpx.HTTPError, RuntimeError, KeyError, StopIteration, ValueError) as exc:
                    self.record.error(
                        f"OCPI push {self.sim.feed.cpo_id}: {type(exc).__name__}: {exc}"
                    )
                    await sleep_unless_stopped(stop, 1.0)
                    continue
            await sleep_unless_stopped(
                stop, max(0.01, min(schedule.seconds_to_next(), self.settings.tick_seconds))
            )
