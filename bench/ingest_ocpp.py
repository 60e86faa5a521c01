"""Benchmark: OCPP through one worker. StatusNotifications/s (acknowledged and committed), the
receipt → committed-row latency the worker measures (p50 / p99), then how many concurrent OCPP
1.6J connections one worker holds with 60 s heartbeats, and its memory per connection.

    .venv/bin/python bench/ingest_ocpp.py [--senders 50] [--messages 200] [--connections 5000] [--hold 70]

The worker runs as a separate process (``chargeatlarge worker``, started by ``bench/ingest.py``'s
helper) on loopback; the charge points are plain ``websockets`` clients in this process sending
OCPP-J frames (lighter than the ``ocpp`` library's client, so the two shared cores go to the
worker). Every charge point authenticates with HTTP Basic and sends a BootNotification first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).parent))
from ingest import TOKEN, free_port, start_worker, wait_committed

STATUSES = ("Available", "Preparing", "Charging", "SuspendedEV", "Finishing")


def raise_open_files(wanted: int) -> int:
    """Lift this process's (and so the worker's) open-file limit towards ``wanted``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChargePoint:
    """One OCPP 1.6J charge point speaking raw frames (one Call at a time, as OCPP-J requires)."""

    def __init__(self, port: int, charge_point_id: str) -> None:
        self.port, self.id, self.counter = port, charge_point_id, 0
        self.ws: ClientConnection | None = None

    async def open(self) -> None:
        token = base64.b64encode(f"{self.id}:{TOKEN}".encode()).decode()
        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/ocpp/{self.id}",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=60,
            ping_interval=None,  # the worker pings; OCPP heartbeats are the application's
            max_queue=4,
            compression=None,  # charge points rarely negotiate permessage-deflate
        )
        await self.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "AC22"}
        )

    async def call(self, action: str, payload: dict[str, object]) -> dict[str, object]:
        assert self.ws is not None
        self.counter += 1
        unique_id = f"{self.counter}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        reply = json.loads(await self.ws.recv())
        if reply[0] != 3 or reply[1] != unique_id:
            raise RuntimeError(f"{self.id} {action}: {reply}")
        return reply[2]

    async def status(self, connector_id: int, status: str) -> None:
        await self.call(
            "StatusNotification",
            {
                "connectorId": connector_id,
                "errorCode": "NoError",
                "status": status,
                "timestamp": now_text(),
            },
        )


async def throughput(port: int, senders: int, messages: int) -> tuple[int, float]:
    points = [ChargePoint(port, f"RATE-{i:04d}") for i in range(senders)]
    await asyncio.gather(*(p.open() for p in points))

    async def send(point: ChargePoint, index: int) -> None:
        for n in range(messages):
            await point.status(1 + n % 2, STATUSES[(index + n) % len(STATUSES)])

    began = time.perf_counter()
    await asyncio.gather(*(send(p, i) for i, p in enumerate(points)))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(p.ws.close() for p in points if p.ws))
    return senders * messages, elapsed


async def hold(
    port: int, worker_pid: int, connections: int, seconds: float
) -> dict[str, float | str]:
    """Open ``connections`` charge points (boot + one status each), heartbeat every 60 s (spread
    evenly), hold for ``seconds``; count what stays up and measure the worker's RSS."""
    before = rss_kib(worker_pid)
    points = [ChargePoint(port, f"HOLD-{i:05d}") for i in range(connections)]
    failures: list[str] = []
    gate = asyncio.Semaphore(200)

    async def open_one(point: ChargePoint) -> None:
        async with gate:
            try:
                await point.open()
                await point.status(1, "Available")
            except Exception as exc:  # noqa: BLE001 - a bench counts every failure
                failures.append(f"{type(exc).__name__}: {exc}")
                point.ws = None

    began = time.perf_counter()
    await asyncio.gather(*(open_one(p) for p in points))
    open_seconds = time.perf_counter() - began
    alive = [p for p in points if p.ws is not None]
    connected_rss = rss_kib(worker_pid)
    beats: list[float] = []
    beat_errors = 0
    stop_at = time.monotonic() + seconds

    async def heartbeat(point: ChargePoint) -> None:
        nonlocal beat_errors
        await asyncio.sleep(random.uniform(0, 60))
        while time.monotonic() < stop_at:
            sent = time.perf_counter()
            try:
                await point.call("Heartbeat", {})
            except Exception:  # noqa: BLE001 - any failed heartbeat is counted, and that client stops
                beat_errors += 1
                return
            beats.append(time.perf_counter() - sent)
            await asyncio.sleep(60)

    tasks = [asyncio.create_task(heartbeat(p)) for p in alive]
    await asyncio.sleep(seconds)
    held_rss = rss_kib(worker_pid)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    still_open = sum(1 for p in alive if p.ws is not None and p.ws.state.name == "OPEN")
    beats.sort()
    result: dict[str, float | str] = {
        "opened": len(alive),
        "open_seconds": open_seconds,
        "failures": len(failures),
        "still_open": still_open,
        "heartbeats": len(beats),
        "heartbeat_errors": beat_errors,
        "heartbeat_p99_ms": beats[int(len(beats) * 0.99) - 1] * 1000 if beats else float("nan"),
        "rss_before_mib": before / 1024,
        "rss_connected_mib": connected_rss / 1024,
        "rss_held_mib": held_rss / 1024,
        "kib_per_connection": (held_rss - before) / max(1, len(alive)),
        "client_rss_mib": rss_kib(os.getpid()) / 1024,
    }
    if failures:
        result["first_failure"] = failures[0]
    await asyncio.gather(*(p.ws.close() for p in alive if p.ws), return_exceptions=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50, help="charge points sending statuses")
    parser.add_argument("--messages", type=int, default=200, help="StatusNotifications each")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--hold", type=float, default=70, help="seconds to hold the connections")
    args = parser.parse_args()
    limit = raise_open_files(2 * args.connections + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        worker = start_worker(Path(tmp), port, kind="ocpp")
        try:
            sent, send_seconds = asyncio.run(throughput(port, args.senders, args.messages))
            drain_seconds = wait_committed(port)
            latency = httpx.get(f"http://127.0.0.1:{port}/metrics/latency", timeout=10).json()
            held = asyncio.run(hold(port, worker.pid, args.connections, args.hold))
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    total = send_seconds + drain_seconds
    print(
        f"OCPP 1.6J: {sent:,} StatusNotifications from {args.senders} charge points, one Call at a time each"
    )
    print(
        f"  acknowledged (durable in the spool): {sent / send_seconds:,.0f} StatusNotifications/s"
    )
    print(f"  committed to the database: {sent / total:,.0f} StatusNotifications/s ({total:.1f} s)")
    print(
        f"  receipt → committed row: p50 {latency['p50_seconds'] * 1000:.0f} ms,"
        f" p99 {latency['p99_seconds'] * 1000:.0f} ms over the last {latency['samples']:,} messages"
    )
    print(
        f"OCPP connections: {held['opened']:,} of {args.connections:,} opened in {held['open_seconds']:.1f} s"
        f" ({held['failures']} failed), {held['still_open']:,} still open after {args.hold:.0f} s"
    )
    print(
        f"  heartbeats (every 60 s each): {held['heartbeats']:,} answered, {held['heartbeat_errors']} errors,"
        f" p99 {held['heartbeat_p99_ms']:.0f} ms"
    )
    print(
        f"  worker RSS: {held['rss_before_mib']:.0f} MiB idle → {held['rss_connected_mib']:.0f} MiB connected"
        f" → {held['rss_held_mib']:.0f} MiB after holding: {held['kib_per_connection']:.0f} KiB per connection"
    )
    print(f"  bench client RSS {held['client_rss_mib']:.0f} MiB; open-file limit {limit}")
    if "first_failure" in held:
        print(f"  first failure: {held['first_failure']}")
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
