"""Real servers on loopback for the worker tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.feeds.config import FeedConfig
from shared.db.engine import make_engine, upgrade
from shared.db.tables import quarantine, status_run
from shared.settings import Settings
from tests.conftest import free_port


@contextlib.contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=1024 * 1024,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def feed(cpo_id: str, kind: str, secret: str, **extra) -> FeedConfig:
    return FeedConfig(
        cpo_id=cpo_id, kind=kind, token_env=f"{cpo_id}_{kind}".upper(), secret=secret, **extra
    )


FEEDS = [
    feed("ACME", "rest_push", "acme-rest-secret"),
    feed("ACME", "ws_push", "acme-ws-secret"),
    feed("OTHER", "rest_push", "other-rest-secret"),
    feed("ACME", "ocpi_push", "acme-token-a", country_code="AU", party_id="ACM"),
    feed("OTHER", "ocpi_push", "other-token-a"),
]


@pytest.fixture
def worker_settings(tmp_path: Path) -> Settings:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def worker(worker_settings: Settings) -> Iterator[tuple[str, Settings]]:
    app = create_app(worker_settings, FEEDS, WorkerOptions(snapshot_seconds=0.2))
    with serve(app) as url:
        yield url, worker_settings


def wait_for(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def query_rows(settings: Settings, statement) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Rows of ``statement`` on the worker's database, through a short-lived engine."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(statement)]
    finally:
        engine.dispose()


def stored_runs(settings: Settings) -> list[tuple]:
    return query_rows(
        settings,
        select(status_run.c.cpo_id, status_run.c.evse_uid, status_run.c.status).order_by(
            status_run.c.cpo_id, status_run.c.evse_uid, status_run.c.started_at
        ),
    )


def quarantined(settings: Settings) -> list[tuple]:
    return query_rows(
        settings,
        select(
            quarantine.c.cpo_id, quarantine.c.source, quarantine.c.location, quarantine.c.reason
        ).order_by(quarantine.c.quarantine_id),
    )


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)
