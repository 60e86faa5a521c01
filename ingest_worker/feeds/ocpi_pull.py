"""OCPI 2.2.1 eMSP client that polls a CPO's Locations (Sender interface).

Version discovery (versions → 2.2.1 details → the ``locations`` SENDER endpoint), then paginated
GETs that follow ``Link: <…>; rel="next"`` (``X-Limit`` and ``X-Total-Count`` are read and checked),
with ``date_from`` for incremental polls. Every complete poll is a liveness signal for all EVSEs
of the CPO. Network errors and 5xx answers are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ingest_worker.feeds.ocpi_common import location_observations, token_header
from ingest_worker.feeds.push_common import BadPayload, loads_json
from ingest_worker.feeds_config import FeedConfig
from ingest_worker.pipeline import Ingest
from shared.status import InvalidObservation

log = logging.getLogger("chargeatlarge.worker.ocpi_pull")
VERSION = "2.2.1"
MAX_PAGES = 10_000
MAX_PAGE_BYTES = 20 * 1024 * 1024


class OcpiError(RuntimeError):
    """The CPO's OCPI endpoint answered something we cannot use."""


@dataclass(slots=True)
class PollResult:
    locations: int
    observations: int
    pages: int
    total_count: int | None


class OcpiPuller:
    def __init__(
        self, feed: FeedConfig, ingest: Ingest, client: httpx.AsyncClient, page_limit: int = 100
    ) -> None:
        self.feed = feed
        self.ingest = ingest
        self.client = client
        self.page_limit = page_limit
        self.locations_url: str | None = None
        self.last_poll_started: datetime | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": token_header(self.feed.secret), "Accept": "application/json"}

    async def _get(
        self, url: str, params: dict[str, str] | None = None, attempts: int = 4
    ) -> httpx.Response:
        delay = 0.5
        for attempt in range(1, attempts + 1):
            try:
                response = await self.client.get(url, params=params, headers=self.headers)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise OcpiError(f"GET {url}: {type(exc).__name__}: {exc}") from None
            else:
                if response.status_code < 500:
                    if response.status_code != 200:
                        raise OcpiError(f"GET {url}: HTTP {response.status_code}")
                    if len(response.content) > MAX_PAGE_BYTES:
                        raise OcpiError(f"GET {url}: response larger than {MAX_PAGE_BYTES} bytes")
                    return response
                if attempt == attempts:
                    raise OcpiError(
                        f"GET {url}: HTTP {response.status_code} after {attempts} attempts"
                    )
            await asyncio.sleep(delay)
            delay *= 2
        raise OcpiError(f"GET {url}: no answer")  # pragma: no cover - the loop returns or raises

    @staticmethod
    def _data(response: httpx.Response, what: str) -> object:
        try:
            document = loads_json(response.content)
        except BadPayload as exc:
            raise OcpiError(f"{what}: {exc}") from None
        if not isinstance(document, dict) or "status_code" not in document:
            raise OcpiError(f"{what}: not an OCPI response envelope")
        if document["status_code"] != 1000:
            raise OcpiError(
                f"{what}: OCPI status {document['status_code']} {document.get('status_message', '')}"
            )
        return document.get("data")

    async def discover(self) -> str:
        versions = self._data(await self._get(self.feed.versions_url), "versions")
        if not isinstance(versions, list):
            raise OcpiError("versions: data is not a list")
        match = next(
            (v for v in versions if isinstance(v, dict) and v.get("version") == VERSION), None
        )
        if match is None or not isinstance(match.get("url"), str):
            raise OcpiError(f"versions: the CPO offers no OCPI {VERSION}")
        details = self._data(await self._get(match["url"]), "version details")
        endpoints = details.get("endpoints", []) if isinstance(details, dict) else []
        if not isinstance(endpoints, list):
            raise OcpiError("version details: endpoints is not a list")
        for endpoint in endpoints:
            if (
                isinstance(endpoint, dict)
                and endpoint.get("identifier") == "locations"
                and endpoint.get("role", "SENDER") == "SENDER"
            ):
                self.locations_url = str(endpoint["url"])
                return self.locations_url
        raise OcpiError(f"version details: no locations SENDER endpoint in OCPI {VERSION}")

    async def poll(self) -> PollResult:
        """One full (first time) or incremental poll; when it completes, liveness for every EVSE."""
        if self.locations_url is None:
            await self.discover()
        started = datetime.now(UTC)
        params = {"limit": str(self.page_limit)}
        if self.last_poll_started is not None:
            params["date_from"] = self.last_poll_started.strftime("%Y-%m-%dT%H:%M:%SZ")
        url: str | None = self.locations_url
        pages = locations = count = 0
        total: int | None = None
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise OcpiError(f"locations: more than {MAX_PAGES} pages; stopping")
            response = await self._get(url, params if pages == 1 else None)
            data = self._data(response, f"locations page {pages}")
            if not isinstance(data, list):
                raise OcpiError(f"locations page {pages}: data is not a list")
            total = _int_header(response, "X-Total-Count", total)
            limit = _int_header(response, "X-Limit", None)
            if limit is not None and len(data) > limit:
                raise OcpiError(
                    f"locations page {pages}: {len(data)} objects, more than X-Limit {limit}"
                )
            for index, location in enumerate(data):
                locations += 1
                try:
                    observations, problems = location_observations(
                        self.feed.cpo_id, location, f"locations[{index}]"
                    )
                except InvalidObservation as exc:
                    observations, problems = [], [str(exc)]
                if observations:
                    await self.ingest.accept(
                        self.feed, observations, raw=json.dumps(location), sender=url
                    )
                    count += len(observations)
                if problems:
                    await self.ingest.reject(
                        self.feed,
                        source="ocpi_pull",
                        location=f"page {pages} item {index}",
                        reason="; ".join(problems),
                        payload=json.dumps(location),
                    )
            url = response.links.get("next", {}).get("url")
            if url is not None and not _same_origin(url, self.locations_url):
                # Our token goes with every request: never follow a link to another server.
                raise OcpiError(
                    f"locations page {pages}: next link {url[:100]!r} leaves {self.locations_url}"
                )
        if total is not None and "date_from" not in params and locations < total:
            self.ingest.mark_error(
                self.feed, f"X-Total-Count said {total} locations, the pages held {locations}"
            )
        # The poll vouches for the statuses as they were when it began.
        await self.ingest.liveness(self.feed, started)
        self.last_poll_started = started
        self.ingest.mark_success(self.feed)
        return PollResult(locations, count, pages, total)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                result = await self.poll()
                log.info(
                    "%s: %d locations, %d statuses in %d page(s)",
                    self.feed.name,
                    result.locations,
                    result.observations,
                    result.pages,
                )
            except Exception as exc:  # noqa: BLE001 - no answer of a CPO may end the poller
                self.ingest.mark_error(self.feed, str(exc))
                log.warning("%s: poll failed: %s", self.feed.name, exc)
                self.locations_url = None  # rediscover next time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.feed.poll_seconds)


def _same_origin(url: str, base: str | None) -> bool:
    first, second = httpx.URL(url), httpx.URL(base or "")
    return (first.scheme, first.host, first.port) == (second.scheme, second.host, second.port)


def _int_header(response: httpx.Response, name: str, default: int | None) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise OcpiError(f"{name}: {value[:20]!r} is not a number") from None
