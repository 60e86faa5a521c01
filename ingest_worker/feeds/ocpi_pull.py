"""OCPI 2.2.1 eMSP client that polls a CPO's Locations (Sender interface).

Version discovery (versions → 2.2.1 details → the ``locations`` SENDER endpoint), then paginated
GETs that follow ``Link: <…>; rel="next"`` (``X-Limit`` and ``X-Total-Count`` are read and checked),
with ``date_from`` for incremental polls. Every complete poll is a liveness signal for all EVSEs
of the CPO. Network errors and 5xx answers are retried with exponential backoff.

The same client polls the Locations Sender of an ``ocpi_push`` CPO with its token B (see
``ocpi_push_poll``). Where a CPO's implementation is itself wrong in a way we can work around (a
``next`` link to another origin or outside the Locations endpoint), the poll goes on by
``offset``/``limit`` and feed health says what the CPO got wrong.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from pydantic import ValidationError

from ingest_worker.feeds.config import FeedConfig, OcpiPullFeed
from ingest_worker.feeds.ocpi_common import CanonicalEvses, call_headers
from ingest_worker.feeds.ocpi_locations import observations_from_location, parse_location
from ingest_worker.feeds.ocpi_models import Version, VersionDetails
from ingest_worker.feeds.push_common import BadPayload, loads_json
from ingest_worker.pipeline import Ingest
from ingest_worker.stopping import sleep_unless_stopped
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
    peer_faults: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Discovery:
    """A CPO's OCPI 2.2.1 endpoints, by (identifier, role)."""

    version_url: str
    endpoints: dict[tuple[str, str], str]
    peer_faults: list[str] = field(default_factory=list)

    def url(self, identifier: str, role: str) -> str | None:
        return self.endpoints.get((identifier, role))


async def get_ocpi(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    params: dict[str, str] | None = None,
    attempts: int = 4,
    correlation_id: str | None = None,
) -> httpx.Response:
    """GET with our token and request ids; retries network errors and 5xx with backoff, and
    follows redirects only on the same server (``/locations`` → ``/locations/``)."""
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            response = await client.get(
                url, params=params, headers=call_headers(token, correlation_id)
            )
            for _ in range(3):
                target = response.headers.get("location") if response.is_redirect else None
                if target is None:
                    break
                moved = response.url.join(target)
                if _address(moved) != _address(response.url) or moved.scheme != response.url.scheme:
                    raise OcpiError(
                        f"GET {url}: redirected to another server, {str(moved)[:120]!r}"
                    )
                response = await client.get(moved, headers=call_headers(token, correlation_id))
        except httpx.TransportError as exc:
            if attempt == attempts:
                raise OcpiError(f"GET {url}: {type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise OcpiError(f"GET {url[:200]!r}: not a usable URL ({exc})") from None
        else:
            if response.status_code < 500:
                if response.status_code != 200:
                    raise OcpiError(f"GET {url}: HTTP {response.status_code}")
                if len(response.content) > MAX_PAGE_BYTES:
                    raise OcpiError(f"GET {url}: response larger than {MAX_PAGE_BYTES} bytes")
                return response
            if attempt == attempts:
                raise OcpiError(f"GET {url}: HTTP {response.status_code} after {attempts} attempts")
        await asyncio.sleep(delay)
        delay *= 2
    raise OcpiError(f"GET {url}: no answer")  # pragma: no cover - the loop returns or raises


def ocpi_data(response: httpx.Response, what: str) -> object:
    """The ``data`` of an OCPI envelope with status 1000, or an error saying what came instead."""
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


async def discover(
    client: httpx.AsyncClient,
    versions_url: str,
    token: str,
    attempts: int = 4,
    correlation_id: str | None = None,
) -> Discovery:
    """Versions → the 2.2.1 details → every endpoint; says clearly what a CPO got wrong."""
    correlation_id = correlation_id or str(uuid.uuid4())
    versions = ocpi_data(
        await get_ocpi(client, versions_url, token, None, attempts, correlation_id), "versions"
    )
    faults: list[str] = []
    if isinstance(versions, dict) and "endpoints" in versions:
        raise OcpiError(
            f"versions: {versions_url} answers a version details object, not the list of versions;"
            " the CPO gave us its version details URL (or its versions endpoint is wrong)"
        )
    if not isinstance(versions, list):
        raise OcpiError("versions: data is not a list of versions")
    offered = [_version(v) for v in versions]
    match = next((v for v in offered if v is not None and v.version == VERSION), None)
    if match is None:
        named = ", ".join(v.version for v in offered if v is not None)
        raise OcpiError(f"versions: the CPO offers OCPI {named or 'no version'}, not {VERSION}")
    version_url = _same_server_scheme(match.url, versions_url, "version URL", faults)
    details = ocpi_data(
        await get_ocpi(client, version_url, token, None, attempts, correlation_id),
        "version details",
    )
    if isinstance(details, list) and len(details) == 1 and isinstance(details[0], dict):
        # OCPI 2.2.1 data is one object; a list of one is a CPO's fault we can read past.
        faults.append("version details: data is a list, OCPI 2.2.1 has one object")
        details = details[0]
    try:
        described = VersionDetails.model_validate(details)
    except ValidationError:
        raise OcpiError("version details: no list of endpoints") from None
    if described.version != VERSION:
        raise OcpiError(
            f"version details: {match.url} describes version {described.version!r}, not {VERSION}"
        )
    endpoints: dict[tuple[str, str], str] = {}
    for endpoint in described.usable_endpoints():
        endpoints[(endpoint.identifier, endpoint.role)] = _same_server_scheme(
            endpoint.url, versions_url, f"{endpoint.identifier} endpoint URL", faults
        )
    return Discovery(version_url, endpoints, faults)


def _version(item: object) -> Version | None:
    """One entry of a versions list, or None where it is not a version object."""
    try:
        return Version.model_validate(item)
    except ValidationError:
        return None


def _same_server_scheme(url: str, versions_url: str, what: str, faults: list[str]) -> str:
    """``url`` with the scheme of the versions URL when both name the same host and port.

    Some implementations write ``https://`` into every URL they hand out whatever they are served
    on (pyOCPI and extrawest-ocpi do); the server that answered the versions URL is the same one,
    so its scheme is the one that works, and the token goes nowhere else.
    """
    try:
        given, versions = httpx.URL(url), httpx.URL(versions_url)
    except httpx.InvalidURL:
        return url
    if given.scheme == versions.scheme or _address(given) != _address(versions):
        return url
    if not any("scheme" in fault for fault in faults):
        faults.append(
            f"{what} {url[:120]!r} says {given.scheme} but the same server answers"
            f" {versions.scheme} at {versions_url[:120]!r}; using {versions.scheme} (scheme"
            " hard-coded by the CPO's implementation)"
        )
    return str(given.copy_with(scheme=versions.scheme))


class OcpiPuller:
    """Polls one CPO's Locations Sender. ``token`` and ``versions_url`` default to the feed's
    (``ocpi_pull``); an ``ocpi_push`` feed gives the token B and versions URL of its
    registration."""

    def __init__(
        self,
        feed: FeedConfig,
        ingest: Ingest,
        client: httpx.AsyncClient,
        page_limit: int = 100,
        *,
        token: Callable[[], str | None] | None = None,
        versions_url: Callable[[], str | None] | None = None,
        canonical: CanonicalEvses | None = None,
        source: str = "ocpi_pull",
    ) -> None:
        self.feed = feed
        self.ingest = ingest
        self.client = client
        self.page_limit = page_limit
        self.token = token or (lambda: feed.secret)
        self.versions_url = versions_url or (
            lambda: feed.versions_url if isinstance(feed, OcpiPullFeed) else None
        )
        self.canonical = canonical
        self.source = source
        self.locations_url: str | None = None
        self.discovered_faults: list[str] = []
        self.last_poll_started: datetime | None = None

    @property
    def poll_seconds(self) -> float:
        return self.feed.poll_seconds if isinstance(self.feed, OcpiPullFeed) else 60.0

    async def discover(self) -> str:
        versions_url, token = self.versions_url(), self.token()
        if not versions_url or not token:
            raise OcpiError("no versions URL or token to discover the CPO's endpoints with")
        discovery = await discover(self.client, versions_url, token)
        self.discovered_faults = discovery.peer_faults
        url = discovery.url("locations", "SENDER")
        if url is None:
            raise OcpiError(f"version details: no locations SENDER endpoint in OCPI {VERSION}")
        self.locations_url = url
        return url

    def _usable_next(self, url: str) -> str | None:
        """Why a ``next`` link cannot be followed, or None when it can."""
        link, base = httpx.URL(url), httpx.URL(self.locations_url or "")
        if _address(link) != _address(base):
            # Our token goes with every request: never to another server.
            return f"points to another server than {self.locations_url}"
        if link.scheme != base.scheme:
            return (
                f"uses {link.scheme} where the Locations endpoint {self.locations_url}"
                f" is {base.scheme}"
            )
        if not link.path.rstrip("/").startswith(base.path.rstrip("/")):
            return f"is outside the Locations endpoint {base.path}"
        return None

    async def poll(self) -> PollResult:
        """One full (first time) or incremental poll; when it completes, liveness for every EVSE."""
        if self.locations_url is None:
            await self.discover()
        assert self.locations_url is not None
        token = self.token()
        if not token:
            raise OcpiError("no token to call the CPO with")
        if self.canonical is not None:
            await self.canonical.ensure_fresh()
        correlation_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        first_params = {"limit": str(self.page_limit)}
        if self.last_poll_started is not None:
            first_params["date_from"] = self.last_poll_started.strftime("%Y-%m-%dT%H:%M:%SZ")
        url: str | None = self.locations_url
        params: dict[str, str] | None = first_params
        pages = locations = count = 0
        total: int | None = None
        faults = list(self.discovered_faults)
        by_offset = False
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise OcpiError(f"locations: more than {MAX_PAGES} pages; stopping")
            response = await get_ocpi(
                self.client, url, token, params, correlation_id=correlation_id
            )
            data = ocpi_data(response, f"locations page {pages}")
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
                count += await self._take(location, pages, index, url)
            link = response.links.get("next", {}).get("url")
            why = self._usable_next(link) if link is not None and not by_offset else None
            if link is not None and why is not None:
                by_offset = True
                faults.append(
                    f"locations page {pages}: the CPO's next link {link[:120]!r} {why}; "
                    + (
                        "paging by offset instead"
                        if total is not None
                        else "without X-Total-Count it cannot be paged by offset: stopped here"
                    )
                )
            url, params = self._next(link, data, first_params, locations, total, by_offset)
        if total is not None and "date_from" not in first_params and locations < total:
            faults.append(f"X-Total-Count said {total} locations, the pages held {locations}")
        # The poll vouches for the statuses as they were when it began.
        await self.ingest.liveness(self.feed, started)
        self.last_poll_started = started
        self.ingest.mark_success(self.feed)
        if faults:
            self.ingest.mark_error(self.feed, "CPO's OCPI implementation: " + "; ".join(faults))
        return PollResult(locations, count, pages, total, faults)

    def _next(
        self,
        link: str | None,
        data: list[object],
        first_params: dict[str, str],
        seen: int,
        total: int | None,
        by_offset: bool,
    ) -> tuple[str | None, dict[str, str] | None]:
        """The next page: the CPO's ``next`` link, or offset paging where that link is unusable."""
        if not by_offset:
            return link, None
        if not data or total is None or seen >= total:
            return None, None  # offset paging needs X-Total-Count to know where to stop
        return self.locations_url, {**first_params, "offset": str(seen)}

    async def _take(self, location: object, page: int, index: int, sender: str) -> int:
        """Accept the statuses of one Location, quarantine its bad parts; returns how many."""
        try:
            kwargs = {"canonical": self.canonical.canonical} if self.canonical else {}
            where = f"locations[{index}]"
            observations, problems = observations_from_location(
                self.feed.cpo_id, parse_location(location, where), where, **kwargs
            )
        except InvalidObservation as exc:
            observations, problems = [], [str(exc)]
        if observations:
            await self.ingest.accept(
                self.feed, observations, raw=json.dumps(location), sender=sender
            )
        if problems:
            await self.ingest.reject(
                self.feed,
                source=self.source,
                location=f"page {page} item {index}",
                reason="; ".join(problems),
                payload=json.dumps(location),
            )
        return len(observations)

    async def run(self, stop: asyncio.Event, interval: float | None = None) -> None:
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
            await sleep_unless_stopped(stop, interval or self.poll_seconds)


def _address(url: httpx.URL) -> tuple[str, int]:
    return url.host, url.port or (443 if url.scheme == "https" else 80)


def _int_header(response: httpx.Response, name: str, default: int | None) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise OcpiError(f"{name}: {value[:20]!r} is not a number") from None
