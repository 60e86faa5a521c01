"""``chargeatlarge worker``: serve every configured feed with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from shared.settings import get_settings


@click.command()
@click.option(
    "--feeds",
    "feeds_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FEEDS.toml: one [[feed]] table per CPO feed",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--snapshot-seconds", default=5.0, show_default=True, type=float)
def worker(feeds_path: Path, host: str, port: int, snapshot_seconds: float) -> None:
    """Collect CPO status feeds into the database and keep the live snapshot fresh."""
    import uvicorn

    from ingest_worker.app import WorkerOptions, create_app
    from ingest_worker.feeds.config import FeedsFileError, load_feeds

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # not every storage request
    try:
        feeds = load_feeds(feeds_path)
    except FeedsFileError as exc:
        raise click.ClickException(str(exc)) from None
    settings = get_settings()
    # No schema upgrade here: the worker starts and spools while the database is down; its
    # writer brings the schema to head once the database answers (Ingest.ensure_schema).
    app = create_app(settings, feeds, WorkerOptions(snapshot_seconds=snapshot_seconds))
    click.echo(f"worker: {len(feeds)} feed(s) on http://{host}:{port}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        ws_max_size=1024 * 1024,
        proxy_headers=True,
        log_level="info",
        timeout_graceful_shutdown=10,
        # Bounded headers and idle keep-alive: slow or silent clients do not hold connections
        # (bodies have their own deadline, rest_push.BODY_SECONDS).
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=64 * 1024,
    )


@click.command()
@click.option(
    "--feeds",
    "feeds_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FEEDS.toml: the same file the workers serve (the writer runs its OCPI pollers)",
)
@click.option("--snapshot-seconds", default=5.0, show_default=True, type=float)
@click.option(
    "--visibility-seconds",
    default=300,
    show_default=True,
    type=click.IntRange(5, 7 * 24 * 3600),
    help="how long a taken message stays invisible before it is delivered again",
)
@click.option(
    "--max-dequeue",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="a message delivered more often than this without a commit goes to the poison queue",
)
@click.option(
    "--lease-seconds",
    default=30,
    show_default=True,
    type=click.IntRange(15, 60),
    help="the writer lease (one writer at a time); a killed writer's successor waits this long",
)
@click.option(
    "--requeue-poison",
    is_flag=True,
    help="put the poison queue's messages back on the queue, print how many, and end",
)
def writer(
    feeds_path: Path,
    snapshot_seconds: float,
    visibility_seconds: int,
    max_dequeue: int,
    lease_seconds: int,
    requeue_poison: bool,
) -> None:
    """CAL_HANDOFF=queue: drain the queue into the database, keep the live snapshot and feed
    health, and run the OCPI pollers (one writer at a time, by a blob lease)."""
    import asyncio

    from ingest_worker.feeds.config import FeedsFileError, load_feeds
    from ingest_worker.writer import WriterOptions, run_writer_process

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # not every storage request
    try:
        feeds = load_feeds(feeds_path)
    except FeedsFileError as exc:
        raise click.ClickException(str(exc)) from None
    settings = get_settings()
    if settings.handoff != "queue":
        raise click.ClickException(
            "the writer drains the queue: set CAL_HANDOFF=queue (with CAL_HANDOFF=spool the"
            " worker writes its own spool into the database)"
        )
    if requeue_poison:
        from ingest_worker.handoff import queue_clients
        from ingest_worker.writer import requeue_poison as requeue
        from shared.blobstore import AzureBlobStore

        queue, poison = queue_clients(settings)
        requeued, kept = requeue(queue, poison, AzureBlobStore.from_settings(settings))
        click.echo(f"{requeued} message(s) back on {settings.queue_name}; {kept} record(s) kept")
        return
    options = WriterOptions(
        snapshot_seconds=snapshot_seconds,
        visibility_seconds=visibility_seconds,
        max_dequeue=max_dequeue,
        lease_seconds=lease_seconds,
    )
    raise SystemExit(asyncio.run(run_writer_process(settings, feeds, options)))
