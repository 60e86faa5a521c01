"""The OCPI pull client against a real (test) CPO server on loopback, also one whose answers it
cannot read."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ingest_worker.feeds.ocpi_common import token_candidates
from ingest_worker.feeds.ocpi_pull import OcpiError, OcpiPuller
from ingest_worker.pipeline import Ingest
from ingest_worker.spool import Spool
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine
from tests.ingest_worker.conftest import feed, serve, stored_runs


def envelope(data, status_code: int = 1000) -> dict:  # type: ignore[no-untyped-def]
    return {
        "data": data,
        "status_code": status_code,
        "status_message": "Success",
        "timestamp": "2026-11-20T00:00:00Z",
    }


class FakeCpo:
    """A CPO's OCPI 2.2.1 Locations sender with pagination, date_from and a flaky first call."""

    def __init__(self, locations: int, fail_first: int = 0) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        self.locations = [
            {
                "id": f"L{i}",
                "last_updated": self.now.isoformat(),
                "evses": [
                    {
                        "uid": f"E{i}",
                        "status": "AVAILABLE" if i % 2 else "CHARGING",
                        "last_updated": (self.now - timedelta(seconds=30)).isoformat(),
                    }
                ],
            }
            for i in range(locations)
        ]
        self.fail_first = fail_first
        self.foreign_next: str | None = None
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.app = FastAPI()

        @self.app.middleware("http")
        async def keep_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
            self.headers.append(dict(request.headers))
            return await call_next(request)

        @self.app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            if "cpo-issued-token" not in token_candidates(request.headers.get("authorization")):
                return JSONResponse(envelope(None, 2000), status_code=401)
            return JSONResponse(
                envelope(
                    [
                        {"version": "2.1.1", "url": f"{request.base_url}ocpi/2.1.1"},
                        {"version": "2.2.1", "url": f"{request.base_url}ocpi/2.2.1"},
                    ]
                )
            )

        @self.app.get("/ocpi/2.2.1")
        async def details(request: Request) -> JSONResponse:
            return JSONResponse(
                envelope(
                    {
                        "version": "2.2.1",
                        "endpoints": [
                            {
                                "identifier": "locations",
                                "role": "SENDER",
                                "url": f"{request.base_url}ocpi/cpo/2.2.1/locations",
                            }
                        ],
                    }
                )
            )

        @self.app.get("/ocpi/cpo/2.2.1/locations")
        async def locations_page(request: Request) -> JSONResponse:
            self.requests.append(dict(request.query_params))
            if self.fail_first > 0:
                self.fail_first -= 1
                return JSONResponse({"error": "busy"}, status_code=503)
            offset = int(request.query_params.get("offset", 0))
            limit = min(int(request.query_params.get("limit", 2)), 2)
            selected = self.locations
            if "date_from" in request.query_params:
                since = datetime.fromisoformat(
                    request.query_params["date_from"].replace("Z", "+00:00")
                )
                selected = [
                    loc for loc in selected if datetime.fromisoformat(loc["last_updated"]) >= since
                ]
            page = selected[offset : offset + limit]
            headers = {"X-Total-Count": str(len(selected)), "X-Limit": "2"}
            if offset + limit < len(selected):
                extra = (
                    f"&date_from={request.query_params['date_from']}"
                    if "date_from" in request.query_params
                    else ""
                )
                headers["Link"] = (
                    f'<{request.base_url}ocpi/cpo/2.2.1/locations?offset={offset + limit}&limit={limit}{extra}>; rel="next"'
                )
            if self.foreign_next:
                headers["Link"] = f'<{self.foreign_next}>; rel="next"'
            return JSONResponse(envelope(page), headers=headers)


def make_ingest(worker_settings, feeds) -> Ingest:  # type: ignore[no-untyped-def]
    engine = make_engine(worker_settings.database_url)
    return Ingest(
        feeds,
        engine,
        LocalBlobStore(worker_settings.blob_dir),
        Spool(worker_settings.data_dir / "spool.db"),
        15,
    )


def test_discovery_pagination_and_incremental_polls(worker_settings) -> None:
    cpo = FakeCpo(locations=5, fail_first=1)
    with serve(cpo.app) as url:
        pull = feed("PULLCPO", "ocpi_pull", "cpo-issued-token", versions_url=f"{url}/ocpi/versions")
        ingest = make_ingest(worker_settings, [pull])

        async def scenario():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(timeout=5) as client:
                puller = OcpiPuller(pull, ingest, client, page_limit=2)
                first = await puller.poll()
                cpo.locations[0]["evses"][0]["status"] = "OUTOFORDER"
                cpo.locations[0]["last_updated"] = datetime.now(UTC).isoformat()
                cpo.locations[0]["evses"][0]["last_updated"] = datetime.now(UTC).isoformat()
                second = await puller.poll()
                return first, second

        first, second = asyncio.run(scenario())
        while ingest.drain_once():
            pass
    assert (first.locations, first.observations, first.pages, first.total_count) == (5, 5, 3, 5)
    assert second.locations == 1 and "date_from" in cpo.requests[-1]
    assert (
        cpo.requests[0] == {"limit": "2"} and len(cpo.requests) == 5
    )  # one 503 retried, 3 pages, 1 incremental page
    runs = stored_runs(worker_settings)
    assert ("PULLCPO", "E0", "OUTOFORDER") in runs and len({r[1] for r in runs}) == 5
    assert ingest.health["PULLCPO/ocpi_pull"].last_success_at is not None


@pytest.mark.parametrize(
    ("token", "message"),
    [("wrong-token", "HTTP 401")],
)
def test_refused_token_is_reported(worker_settings, token: str, message: str) -> None:
    cpo = FakeCpo(locations=1)
    with serve(cpo.app) as url:
        pull = feed("PULLCPO", "ocpi_pull", token, versions_url=f"{url}/ocpi/versions")
        ingest = make_ingest(worker_settings, [pull])

        async def scenario():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(timeout=5) as client:
                await OcpiPuller(pull, ingest, client).poll()

        with pytest.raises(OcpiError, match=message):
            asyncio.run(scenario())


def test_unreachable_cpo_is_an_error_after_retries(worker_settings) -> None:
    from tests.conftest import free_port

    pull = feed(
        "PULLCPO", "ocpi_pull", "t", versions_url=f"http://127.0.0.1:{free_port()}/ocpi/versions"
    )
    ingest = make_ingest(worker_settings, [pull])

    async def scenario():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(timeout=1) as client:
            await OcpiPuller(pull, ingest, client).poll()

    with pytest.raises(OcpiError, match="ConnectError"):
        asyncio.run(scenario())


def test_a_next_link_to_another_server_is_not_followed(worker_settings) -> None:
    """Our token never goes to another origin: the poll pages by offset and health says why."""
    cpo = FakeCpo(locations=5)
    cpo.foreign_next = (
        "http://198.51.100.7/ocpi/cpo/2.2.1/locations?offset=2"  # our token must not go there
    )
    with serve(cpo.app) as url:
        pull = feed("PULLCPO", "ocpi_pull", "cpo-issued-token", versions_url=f"{url}/ocpi/versions")
        ingest = make_ingest(worker_settings, [pull])

        async def scenario():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(timeout=5) as client:
                return await OcpiPuller(pull, ingest, client, page_limit=2).poll()

        result = asyncio.run(scenario())
    assert result.locations == 5 and result.pages == 3
    assert [r.get("offset") for r in cpo.requests] == [None, "2", "4"]
    error = ingest.health["PULLCPO/ocpi_pull"].last_error or ""
    assert "198.51.100.7" in error and "another server" in error and "offset" in error


def test_lower_case_ids_map_to_the_static_csv_and_request_ids_are_sent(worker_settings) -> None:
    from ingest_worker.feeds.ocpi_common import CanonicalEvses

    cpo = FakeCpo(locations=2)
    for location in cpo.locations:
        location["evses"][0]["uid"] = location["evses"][0]["uid"].lower()  # e0, e1
    store = LocalBlobStore(worker_settings.blob_dir)
    store_static_sites(store, "PULLCPO", ["E0", "E1"])
    with serve(cpo.app) as url:
        pull = feed("PULLCPO", "ocpi_pull", "cpo-issued-token", versions_url=f"{url}/ocpi/versions")
        ingest = make_ingest(worker_settings, [pull])
        canonical = CanonicalEvses(store)

        async def scenario():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(timeout=5) as client:
                return await OcpiPuller(pull, ingest, client, canonical=canonical).poll()

        asyncio.run(scenario())
        while ingest.drain_once():
            pass
    assert {r[1] for r in stored_runs(worker_settings)} == {"E0", "E1"}
    request_ids = [h["x-request-id"] for h in cpo.headers]
    assert len(set(request_ids)) == len(request_ids) == len(cpo.headers) >= 3
    assert len({h["x-correlation-id"] for h in cpo.headers[2:]}) == 1  # one poll, one correlation


def store_static_sites(store, cpo_id: str, evse_uids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A static site CSV listing ``evse_uids`` of ``cpo_id`` (one connector each)."""
    from shared.sites import store_sites, validate_sites_csv

    header = (
        "cpo_id,site_id,site_name,address,suburb,state,postcode,latitude,longitude,"
        "charger_id,evse_uid,connector_id,connector_standard,power_type,max_power_kw\n"
    )
    rows = "".join(
        f"{cpo_id},S1,Site,1 Main St,Goulburn,NSW,2580,-34.75,149.72,C1,{uid},1,"
        "IEC_62196_T2,AC_3_PHASE,22\n"
        for uid in evse_uids
    )
    validated = validate_sites_csv((header + rows).encode(), f"{cpo_id.lower()}.csv")
    assert not validated.problems, validated.problems
    store_sites(store, validated)


def _broken_cpo() -> FastAPI:
    """An OCPI CPO whose version details carry ``endpoints`` as a number, not a list."""
    app = FastAPI()

    def envelope(data: object) -> JSONResponse:
        return JSONResponse(
            {"data": data, "status_code": 1000, "timestamp": "2026-11-20T00:00:00Z"}
        )

    @app.get("/ocpi/versions")
    async def versions(request: Request) -> JSONResponse:
        return envelope([{"version": "2.2.1", "url": f"{request.base_url}ocpi/2.2.1"}])

    @app.get("/ocpi/2.2.1")
    async def details() -> JSONResponse:
        return envelope({"version": "2.2.1", "endpoints": 5})

    return app


def test_hostile_version_details_do_not_end_the_poller(worker_settings) -> None:
    """Version details the poller cannot read are its feed's error, not the end of the poller."""
    engine = make_engine(worker_settings.database_url)
    with serve(_broken_cpo()) as cpo_url:
        pull = feed(
            "PULL",
            "ocpi_pull",
            "cpo-token",
            versions_url=f"{cpo_url}/ocpi/versions",
            poll_seconds=1,
        )
        ingest = Ingest(
            [pull],
            engine,
            LocalBlobStore(worker_settings.data_dir / "b"),
            Spool(worker_settings.data_dir / "s.db"),
            15,
        )

        async def scenario() -> tuple[bool, str | None]:
            stop = asyncio.Event()
            async with httpx.AsyncClient(timeout=5) as client:
                # Two failed polls (poll_seconds=1) show the poller went on after the first.
                errors: list[str] = []
                second_error = asyncio.Event()
                mark_error = ingest.mark_error

                def counted(feed, message):  # type: ignore[no-untyped-def]
                    mark_error(feed, message)
                    errors.append(message)
                    if len(errors) == 2:
                        second_error.set()

                ingest.mark_error = counted
                task = asyncio.create_task(OcpiPuller(pull, ingest, client).run(stop))
                waiting = asyncio.create_task(second_error.wait())
                # whichever comes first: the second error, or the poller ending (a busy machine
                # gets 120 s)
                await asyncio.wait({task, waiting}, timeout=120, return_when="FIRST_COMPLETED")
                alive = not task.done() and second_error.is_set()
                waiting.cancel()
                stop.set()
                await asyncio.gather(task, return_exceptions=True)
            return alive, ingest.health[pull.name].last_error

        alive, last_error = asyncio.run(scenario())
    assert alive, "the poller task ended"
    assert last_error and "endpoints" in last_error
