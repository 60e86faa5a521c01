"""Run every simulated feed against a worker until a duration passes (or forever)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import uvicorn

from ingest_worker.feeds.config import OcpiPullFeed
from ingest_worker.simulator.ocpi_cpo import CpoState, OcpiPusher, run_ocpi_sender_feed, sender_app
from ingest_worker.simulator.ocpp_client import run_ocpp_feed
from ingest_worker.simulator.plan import SimFeed
from ingest_worker.simulator.pushers import run_rest_feed, run_ws_feed
from ingest_worker.simulator.runtime import FeedRecord, SimClock, SimSettings
from ingest_worker.stopping import sleep_unless_stopped

log = logging.getLogger("chargeatlarge.simulator")


@dataclass
class SimulationReport:
    records: dict[str, FeedRecord]

    def summary(self) -> str:
        lines = []
        for name, record in sorted(self.records.items()):
            sent = sum(record.sent.values())
            lines.append(
                f"{name}: {sent} statuses sent for {len(record.last)} EVSEs,"
                f" {record.dropouts} drop-outs, {len(record.errors)} errors"
            )
            lines += [f"    {error}" for error in record.errors[:5]]
        return "\n".join(lines)


def sender_address(feeds: list[SimFeed]) -> tuple[str, int] | None:
    """Where the OCPI Sender listens: the host and port of the pulled feeds' versions_url."""
    urls = {urlsplit(sim.feed.versions_url) for sim in feeds if isinstance(sim.feed, OcpiPullFeed)}
    addresses = {(u.hostname or "127.0.0.1", u.port or 80) for u in urls}
    if len(addresses) > 1:
        raise ValueError(f"the pulled OCPI feeds name several servers {sorted(addresses)}; use one")
    return next(iter(addresses), None)


async def simulate(
    feeds: list[SimFeed],
    worker_url: str,
    settings: SimSettings,
    duration: float | None = None,
    linger: float = 0.0,
    stop: asyncio.Event | None = None,
) -> SimulationReport:
    """Drive ``feeds`` for ``duration`` real seconds (None: until ``stop``), then keep the OCPI
    Sender answering for ``linger`` seconds so a last poll sees the final statuses."""
    stop = stop or asyncio.Event()
    clock = SimClock(settings.speed)
    records = {sim.feed.name: FeedRecord(sim.feed.cpo_id, sim.feed.kind) for sim in feeds}
    tasks: list[asyncio.Task[None]] = []
    states = {
        sim.feed.cpo_id: CpoState(sim, records[sim.feed.name])
        for sim in feeds
        if sim.feed.kind == "ocpi_pull"
    }
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    address = sender_address(feeds)
    sender_url = f"http://{address[0]}:{address[1]}" if address else None
    if address is not None:
        config = uvicorn.Config(
            sender_app(states),
            host=address[0],
            port=address[1],
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            if server_task.done():
                raise RuntimeError(f"the OCPI Sender could not listen on {address[0]}:{address[1]}")
            await asyncio.sleep(0.02)
    async with httpx.AsyncClient(timeout=10) as client:
        for sim in feeds:
            record = records[sim.feed.name]
            kind = sim.feed.kind
            if kind == "ocpp":
                job = run_ocpp_feed(sim, worker_url, settings, clock, record, stop)
            elif kind == "rest_push":
                job = run_rest_feed(sim, worker_url, settings, clock, record, stop)
            elif kind == "ws_push":
                job = run_ws_feed(sim, worker_url, settings, clock, record, stop)
            elif kind == "ocpi_push":
                pusher = OcpiPusher(sim, worker_url, settings, clock, record, client, sender_url)
                states[sim.feed.cpo_id] = pusher.state  # its Sender, on the same server
                job = pusher.run(stop)
            else:
                job = run_ocpi_sender_feed(states[sim.feed.cpo_id], settings, clock, stop)
            tasks.append(asyncio.create_task(job, name=sim.feed.name))
        try:
            if duration is None:
                await stop.wait()
            else:
                await sleep_unless_stopped(stop, duration)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for sim, result in zip(feeds, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(
                    result, asyncio.CancelledError
                ):
                    records[sim.feed.name].error(f"stopped by {type(result).__name__}: {result}")
            if server is not None and server_task is not None:
                if linger > 0:
                    await asyncio.sleep(linger)
                server.should_exit = True
                await server_task
    return SimulationReport(records)
