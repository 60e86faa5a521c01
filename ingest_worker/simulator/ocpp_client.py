"""Simulated OCPP charge points: the ``ocpp`` library's charge point side over ``websockets``,
HTTP Basic auth, BootNotification, Heartbeats and StatusNotifications, with drop-outs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random

import websockets
from ocpp.exceptions import OCPPError
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import datatypes as types201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ingest_worker.simulator.model import FAULTED, spelled
from ingest_worker.simulator.plan import SimEvse, SimFeed
from ingest_worker.simulator.runtime import (
    Dropouts,
    FeedRecord,
    Schedule,
    SimClock,
    SimSettings,
    now_text,
)
from ingest_worker.stopping import sleep_unless_stopped

PROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
CONNECTION_ERRORS = (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError)
# A CallError from the worker (suppress=False) or our own schema check of a request.
SESSION_ERRORS = (*CONNECTION_ERRORS, OCPPError)


def version_of(index: int) -> str:
    """Charge points alternate 1.6J and 2.0.1, so every OCPP CPO exercises both."""
    return "1.6" if index % 2 == 0 else "2.0.1"


class SimulatedChargePoint:
    def __init__(
        self,
        sim: SimFeed,
        charge_point_id: str,
        evses: list[SimEvse],
        version: str,
        worker_url: str,
        settings: SimSettings,
        clock: SimClock,
        record: FeedRecord,
    ) -> None:
        self.sim, self.id, self.evses, self.version = sim, charge_point_id, evses, version
        self.url = worker_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
        self.settings, self.clock, self.record = settings, clock, record
        self.schedule = Schedule(evses, settings, clock)
        self.dropouts = Dropouts(sim.feed.name, settings, clock)
        self.by_uid = {e.evse_uid: e for e in evses}
        self.current: dict[str, str] = {}
        self.unsent: set[str] = set()
        self.rng = random.Random(f"{settings.seed}:cp:{charge_point_id}")
        self.heartbeat_seconds = settings.heartbeat_seconds or 60.0
        self.connections = 0

    def _advance(self) -> None:
        for event in self.schedule.due():
            self.current[event.evse_uid] = event.status
            self.unsent.add(event.evse_uid)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._advance()
            if self.dropouts.silent():
                await sleep_unless_stopped(stop, self.settings.tick_seconds)
                continue
            try:
                await self._session(stop)
            except SESSION_ERRORS as exc:
                self.record.error(f"{self.id}: {type(exc).__name__}: {exc}")
                await sleep_unless_stopped(stop, 1.0)

    async def _session(self, stop: asyncio.Event) -> None:
        token = base64.b64encode(f"{self.id}:{self.sim.feed.secret}".encode()).decode()
        async with connect(
            f"{self.url}/ocpp/{self.id}",
            subprotocols=[Subprotocol(PROTOCOL[self.version])],
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=10,
        ) as ws:
            client_class = ChargePoint16 if self.version == "1.6" else ChargePoint201
            cp = client_class(self.id, ws, response_timeout=10)
            reader = asyncio.create_task(cp.start())
            try:
                # A first connection boots; a reconnect boots only sometimes (as real ones do).
                if self.connections == 0 or self.rng.random() < 0.5:
                    await self._boot(cp)
                    if self.version == "1.6":
                        await cp.call(
                            call16.StatusNotification(
                                connector_id=0, error_code="NoError", status="Available"
                            ),
                            suppress=False,
                        )
                self.connections += 1
                await self._serve(cp, stop)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, *CONNECTION_ERRORS):
                    await reader

    async def _boot(self, cp: ChargePoint16 | ChargePoint201) -> None:
        if self.version == "1.6":
            request = call16.BootNotification(
                charge_point_model="SimAC22", charge_point_vendor="ChargeAtLarge-Sim"
            )
        else:
            request = call201.BootNotification(
                charging_station=types201.ChargingStationType(
                    model="SimDC50", vendor_name="ChargeAtLarge-Sim"
                ),
                reason="PowerUp",
            )
        response = await cp.call(request, suppress=False)
        if self.settings.heartbeat_seconds is None and response.interval > 0:
            self.heartbeat_seconds = float(response.interval)

    async def _serve(self, cp: ChargePoint16 | ChargePoint201, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat_seconds
        while not stop.is_set():
            self._advance()
            if self.dropouts.silent():
                self.record.dropouts += 1
                return  # closing the socket is the drop-out
            for uid in sorted(self.unsent):
                await self._status(cp, self.by_uid[uid], self.current[uid])
                self.unsent.discard(uid)
            if loop.time() >= next_beat:
                request = call16.Heartbeat() if self.version == "1.6" else call201.Heartbeat()
                await cp.call(request, suppress=False)
                next_beat = loop.time() + self.heartbeat_seconds
            wait = min(self.schedule.seconds_to_next(), self.settings.tick_seconds * 5)
            await sleep_unless_stopped(stop, max(0.01, min(wait, next_beat - loop.time())))

    async def _status(self, cp: ChargePoint16 | ChargePoint201, evse: SimEvse, status: str) -> None:
        if self.version == "1.6":
            text = spelled(status, "ocpp1.6")
            request: object = call16.StatusNotification(
                connector_id=evse.number,
                error_code="OtherError" if status == FAULTED else "NoError",
                status=text,
                timestamp=now_text(),
            )
        else:
            text = spelled(status, "ocpp2.0.1")
            request = call201.StatusNotification(
                timestamp=now_text(), connector_status=text, evse_id=evse.number, connector_id=1
            )
        await cp.call(request, suppress=False)
        self.record.record(evse.ocpp_uid, text)


async def run_ocpp_feed(
    sim: SimFeed,
    worker_url: str,
    settings: SimSettings,
    clock: SimClock,
    record: FeedRecord,
    stop: asyncio.Event,
) -> None:
    points = [
        SimulatedChargePoint(sim, cp_id, evses, version_of(i), worker_url, settings, clock, record)
        for i, (cp_id, evses) in enumerate(sorted(sim.charge_points.items()))
    ]
    await asyncio.gather(*(point.run(stop) for point in points))
