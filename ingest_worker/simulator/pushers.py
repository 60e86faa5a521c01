"""Simulated REST and WebSocket pushers: batches of ``{evse_uid, status, observed_at}`` with the
CPO's bearer token, every tick, silent during drop-outs (the WebSocket is closed then)."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets
from websockets.asyncio.client import connect

from ingest_worker.simulator.model import spelled
from ingest_worker.simulator.plan import SimFeed
from ingest_worker.simulator.runtime import (
    Dropouts,
    FeedRecord,
    Schedule,
    SimClock,
    SimSettings,
    now_text,
)
from ingest_worker.stopping import sleep_unless_stopped

PING_SECONDS = 30.0


class _Pending:
    """EVSE statuses that changed and are not yet acknowledged by the worker."""

    def __init__(self, sim: SimFeed, settings: SimSettings, clock: SimClock) -> None:
        self.schedule = Schedule(sim.evses, settings, clock)
        self.dropouts = Dropouts(sim.feed.name, settings, clock)
        self.current: dict[str, str] = {}

    def advance(self) -> None:
        for event in self.schedule.due():
            self.current[event.evse_uid] = event.status

    def body(self) -> tuple[dict[str, object], dict[str, str]]:
        sent = {uid: spelled(status, "push") for uid, status in sorted(self.current.items())}
        items = [
            {"evse_uid": uid, "status": s, "observed_at": now_text()} for uid, s in sent.items()
        ]
        return {"observations": items}, sent


async def run_rest_feed(
    sim: SimFeed,
    worker_url: str,
    settings: SimSettings,
    clock: SimClock,
    record: FeedRecord,
    stop: asyncio.Event,
) -> None:
    pending = _Pending(sim, settings, clock)
    headers = {"Authorization": f"Bearer {sim.feed.secret}"}
    url = worker_url.rstrip("/") + "/api/v1/observations"
    silent = False
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            pending.advance()
            if pending.dropouts.silent():
                record.dropouts += 0 if silent else 1
                silent = True
                await sleep_unless_stopped(stop, settings.tick_seconds)
                continue
            silent = False
            if pending.current:
                body, sent = pending.body()
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    record.error(f"POST {url}: {type(exc).__name__}: {exc}")
                    await sleep_unless_stopped(stop, 1.0)
                    continue
                if response.status_code == 202:
                    for uid, status in sent.items():
                        record.record(uid, status)
                    pending.current.clear()
                else:
                    record.error(f"POST {url}: HTTP {response.status_code} {response.text[:200]}")
                    await sleep_unless_stopped(stop, 1.0)
                    continue
            await sleep_unless_stopped(
                stop, max(0.01, min(pending.schedule.seconds_to_next(), settings.tick_seconds))
            )


async def run_ws_feed(
    sim: SimFeed,
    worker_url: str,
    settings: SimSettings,
    clock: SimClock,
    record: FeedRecord,
    stop: asyncio.Event,
) -> None:
    pending = _Pending(sim, settings, clock)
    url = worker_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
    url += "/ws/v1/observations"
    headers = {"Authorization": f"Bearer {sim.feed.secret}"}
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        pending.advance()
        if pending.dropouts.silent():
            await sleep_unless_stopped(stop, settings.tick_seconds)
            continue
        try:
            async with connect(url, additional_headers=headers, open_timeout=10) as ws:
                next_ping = loop.time() + PING_SECONDS
                while not stop.is_set():
                    pending.advance()
                    if pending.dropouts.silent():
                        record.dropouts += 1
                        break
                    if pending.current:
                        body, sent = pending.body()
                        await ws.send(json.dumps(body))
                        reply = json.loads(await ws.recv())
                        if reply.get("accepted") == len(sent):
                            for uid, status in sent.items():
                                record.record(uid, status)
                            pending.current.clear()
                        else:
                            record.error(f"WS {url}: {json.dumps(reply)[:200]}")
                    if loop.time() >= next_ping:
                        await ws.send(json.dumps({"type": "ping"}))
                        await ws.recv()
                        next_ping = loop.time() + PING_SECONDS
                    wait = min(pending.schedule.seconds_to_next(), settings.tick_seconds)
                    await sleep_unless_stopped(stop, max(0.01, wait))
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError, ValueError) as exc:
            record.error(f"WS {url}: {type(exc).__name__}: {exc}")
            await sleep_unless_stopped(stop, 1.0)
