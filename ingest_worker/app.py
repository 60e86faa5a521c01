"""The worker's ASGI app: every push feed's routes, health, and the background tasks
(spool writer, live snapshot, OCPI pollers) that live as long as the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from ingest_worker.auth import install_auth_errors
from ingest_worker.feeds import exclusions as exclusion_routes
from ingest_worker.feeds import ocpi_push, rest_push, ws_push
from ingest_worker.feeds.config import FeedConfig
from ingest_worker.feeds.ocpi_common import CanonicalEvses, RequestIds
from ingest_worker.feeds.ocpi_locations import LocationStore
from ingest_worker.feeds.ocpi_parties import Parties, keep_loading, try_load
from ingest_worker.feeds.ocpi_pull import OcpiPuller
from ingest_worker.feeds.ocpi_push_poll import PushPoller
from ingest_worker.feeds.ocpi_tokens import cipher_for
from ingest_worker.handoff import HandoffUnavailable, QueueHandoff, keep_flushing_liveness
from ingest_worker.live import run_snapshots, write_snapshot
from ingest_worker.operator import operator_only
from ingest_worker.pipeline import Ingest
from ingest_worker.spool import Spool
from shared.blobstore import BlobStore, open_blobstore
from shared.db.engine import make_engine
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    snapshot_seconds: float = 5.0
    spool_path: Path | None = None
    public_url: str | None = None  # overrides CAL_PUBLIC_URL (tests)


def create_app(
    settings: Settings,
    feeds: list[FeedConfig],
    options: WorkerOptions = WorkerOptions(),
    store: BlobStore | None = None,
) -> FastAPI:
    engine = make_engine(settings.database_url)
    store = store or open_blobstore(settings)
    # CAL_HANDOFF=queue: this process only acknowledges and enqueues; `chargeatlarge writer`
    # merges into SQL, keeps the live snapshot and runs the pollers (one of each, leased).
    queue_mode = settings.handoff == "queue"
    handoff = QueueHandoff.from_settings(settings, store) if queue_mode else None
    spool = (
        None
        if queue_mode
        else Spool(options.spool_path or settings.data_dir / "spool" / "worker-spool.db")
    )
    ingest = Ingest(feeds, engine, store, spool, settings.max_gap_minutes, handoff=handoff)
    parties = Parties(engine, cipher_for(settings))
    canonical = CanonicalEvses(store)
    receiver = ocpi_push.Receiver(
        ingest,
        parties,
        LocationStore(store),
        canonical,
        public_url=options.public_url or settings.public_url,
        feeds=[feed for feed in feeds if feed.kind == "ocpi_push"],
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        await try_load(parties)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False
        ) as client:
            receiver.http = client
            tasks = [
                # The database may be down at start: registrations load when it is back.
                asyncio.create_task(keep_loading(parties, stop), name="ocpi parties"),
            ]
            if handoff is not None:
                try:
                    await asyncio.to_thread(handoff.ensure)
                except Exception as exc:  # noqa: BLE001 - feeds hear 503 until the queue answers
                    logging.getLogger("chargeatlarge.worker").warning("queue: %s", exc)
                tasks.append(
                    asyncio.create_task(keep_flushing_liveness(ingest, stop), name="liveness")
                )
            else:
                tasks += [
                    asyncio.create_task(ingest.run_writer(stop), name="writer"),
                    asyncio.create_task(
                        run_snapshots(
                            ingest, store, settings.max_gap_minutes, options.snapshot_seconds, stop
                        ),
                        name="live",
                    ),
                ]
            tasks += [
                asyncio.create_task(
                    OcpiPuller(feed, ingest, client, canonical=canonical).run(stop),
                    name=f"poll {feed.name}",
                )
                for feed in feeds
                if feed.kind == "ocpi_pull" and handoff is None
            ]
            tasks += [
                asyncio.create_task(
                    PushPoller(
                        feed, ingest, client, parties, canonical, settings.max_gap_minutes
                    ).run(stop),
                    name=f"liveness poll {feed.name}",
                )
                for feed in feeds
                if feed.kind == "ocpi_push" and handoff is None
            ]
            app.state.stop = stop
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                # Commit what is still spooled before the process ends (best effort; it stays
                # spooled), then write the live snapshot with it, so nothing accepted is missing.
                with contextlib.suppress(Exception):
                    await ingest.flush_liveness(force=True)
                    while spool is not None and await asyncio.to_thread(ingest.drain_once) > 0:
                        pass
                if handoff is not None:
                    await handoff.close()  # every record spooled above is in the queue
                with contextlib.suppress(Exception):
                    if ingest.state.committed_records:
                        await asyncio.to_thread(
                            write_snapshot, engine, store, settings.max_gap_minutes
                        )
                if spool is not None:
                    spool.close()
                engine.dispose()

    app = FastAPI(
        title="Charge@Large ingest worker",
        version="1.0",
        description="Status feeds from Charge Point Operators: REST and WebSocket push, OCPI 2.2.1, OCPP.",
        lifespan=lifespan,
        # The API docs name every route and model: served below, to operators only.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    operator = [Depends(operator_only(settings))]
    app.state.ingest = ingest
    app.include_router(rest_push.router(ingest))
    app.include_router(exclusion_routes.router(ingest))
    app.include_router(ws_push.router(ingest))
    app.include_router(ocpi_push.router(receiver))
    ocpi_push.install_error_envelopes(app)
    install_auth_errors(app)

    @app.exception_handler(HandoffUnavailable)
    async def queue_unavailable(_request: Request, exc: HandoffUnavailable) -> JSONResponse:
        """Not acknowledged: the queue did not take it, so the CPO must send it again."""
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    app.add_middleware(RequestIds)
    if any(feed.kind == "ocpp" for feed in feeds):
        from ingest_worker.feeds import ocpp

        ocpp.register(app, feeds, ingest, store)

    @app.get("/livez", tags=["operations"])
    async def livez() -> JSONResponse:
        """The process answers: for container liveness probes, which must not restart the worker
        while the database is down (that is when its spool is working)."""
        return JSONResponse({"status": "alive"})

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        """Aggregate health for probes and anyone: no CPO, EVSE, SQL text or values."""
        health = await asyncio.to_thread(ingest.health_json)
        ok = health["database"] == "ok" and health.get("queue", "ok") == "ok"
        public = {key: value for key, value in health.items() if key != "feeds"}
        return JSONResponse(
            {"status": "ok" if ok else "degraded", **public}, status_code=200 if ok else 503
        )

    @app.get("/openapi.json", include_in_schema=False, dependencies=operator)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=operator)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="openapi.json", title=app.title)

    @app.get("/redoc", include_in_schema=False, dependencies=operator)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="openapi.json", title=app.title)

    @app.get("/metrics/latency", tags=["operations"], dependencies=operator)
    async def latency() -> JSONResponse:
        """Receipt → committed row for the last messages (seconds)."""
        samples = sorted(ingest.state.commit_latencies)
        if not samples:
            return JSONResponse({"samples": 0, "p50_seconds": None, "p99_seconds": None})

        def pick(q: float) -> float:
            return samples[min(len(samples) - 1, int(q * len(samples)))]

        return JSONResponse(
            {"samples": len(samples), "p50_seconds": pick(0.5), "p99_seconds": pick(0.99)}
        )

    @app.get("/feeds", tags=["operations"], dependencies=operator)
    async def feed_status() -> JSONResponse:
        return JSONResponse([h.as_json() for h in ingest.health.values()])

    return app
