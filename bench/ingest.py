"""Benchmark: REST batch observations/s through one worker into the embedded database, and the
time from receipt to committed row (p50 / p99), measured by the worker itself.

    .venv/bin/python bench/ingest.py [--batches 200] [--batch-size 1000] [--clients 4]

The worker runs as a separate process (``chargeatlarge worker``) on loopback; the load comes
from this process. Sections for other feed kinds can be added as functions beside ``rest``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from shared.db.engine import make_engine, upgrade
from shared.db.tables import ingest_batch

TOKEN = "bench-secret"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_worker(folder: Path, port: int, kind: str = "rest_push") -> subprocess.Popen:
    feeds = folder / "feeds.toml"
    feeds.write_text(f'[[feed]]\ncpo_id = "BENCH"\nkind = "{kind}"\ntoken_env = "BENCH_TOKEN"\n')
    env = {**os.environ, "CAL_DATA_DIR": str(folder / "var"), "BENCH_TOKEN": TOKEN}
    env.pop("CAL_DATABASE_URL", None)
    upgrade(f"sqlite:///{folder / 'var' / 'chargeatlarge.db'}")
    exe = Path(sys.executable).with_name("chargeatlarge")
    process = subprocess.Popen(
        [str(exe), "worker", "--feeds", str(feeds), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("worker did not start")


async def rest(port: int, batches: int, batch_size: int, clients: int) -> tuple[int, float]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for batch in range(batches):
        queue.put_nowait(batch)
    sent = 0

    async def client() -> None:
        nonlocal sent
        async with httpx.AsyncClient(
            timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            while not queue.empty():
                batch = queue.get_nowait()
                body = {
                    "observations": [
                        {
                            "evse_uid": f"E{i:05d}",
                            "status": "CHARGING" if (batch // 6 + i) % 4 == 0 else "AVAILABLE",
                            "observed_at": (start + timedelta(minutes=5 * batch)).isoformat(),
                        }
                        for i in range(batch_size)
                    ]
                }
                response = await http.post(
                    f"http://127.0.0.1:{port}/api/v1/observations", json=body
                )
                response.raise_for_status()
                sent += response.json()["accepted"]

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return sent, time.perf_counter() - began


def wait_committed(port: int, timeout: float = 600) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        if health["spool_backlog"] == 0:
            return time.perf_counter() - began
        time.sleep(0.05)
    raise RuntimeError("the worker did not drain its spool in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        worker = start_worker(Path(tmp), port)
        try:
            sent, send_seconds = asyncio.run(
                rest(port, args.batches, args.batch_size, args.clients)
            )
            drain_seconds = wait_committed(port)
            total = send_seconds + drain_seconds
            engine = make_engine(f"sqlite:///{Path(tmp) / 'var' / 'chargeatlarge.db'}")
            with engine.connect() as connection:
                audited = connection.execute(select(func.sum(ingest_batch.c.accepted))).scalar_one()
            latency = httpx.get(f"http://127.0.0.1:{port}/metrics/latency", timeout=10).json()
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(
        f"REST push: {sent:,} observations in {args.batches} batches of {args.batch_size} from {args.clients} clients"
    )
    print(f"  acknowledged (durable in the spool): {sent / send_seconds:,.0f} observations/s")
    print(
        f"  committed to the database: {sent / total:,.0f} observations/s ({total:.1f} s, {audited:,} audited)"
    )
    print(
        f"  receipt → committed row: p50 {latency['p50_seconds'] * 1000:.0f} ms, p99 {latency['p99_seconds'] * 1000:.0f} ms"
        f" over the last {latency['samples']:,} messages"
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
