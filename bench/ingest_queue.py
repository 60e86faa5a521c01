"""Benchmark: queue mode (CAL_HANDOFF=queue) on Azurite — each part alone, then together.

    .venv/bin/python bench/ingest_queue.py [--batch-size 1000] [--clients 8] [--seconds 20]

1. queue messages/s: Azurite's queue service alone, sending and taking+deleting messages of the
   size a 1,000-observation REST batch becomes (threads of one process, like a worker's sends);
2. REST ingest per worker process: one `chargeatlarge worker` in queue mode, no writer:
   observations/s acknowledged (each in the queue before its 202);
3. writer merges/s: one `chargeatlarge writer` draining what step 2 queued into SQLite;
4. together: 2 worker processes and one writer, load on both workers for ``--seconds``:
   acknowledged observations/s, and receipt (worker) → committed (writer) p50/p99 as the writer
   measures it for every record, read from its ``live/feeds.json``.

Azurite (installed by ``make setup``) runs here with its default on-disk persistence; the
database is the embedded SQLite file. Everything runs on this machine, the load included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest_worker.handoff import QueuedRecord, encode  # noqa: E402
from ingest_worker.records import ObservationBatch  # noqa: E402
from shared.db.engine import make_engine, upgrade  # noqa: E402
from shared.db.tables import ingest_batch  # noqa: E402
from shared.status import Observation  # noqa: E402

TOKEN = "bench-secret"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
EVSES = 1_000  # --evses: 1,000 as bench/ingest.py (each batch re-observes the same EVSEs)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_azurite(folder: Path) -> tuple[list[subprocess.Popen], str]:
    import socket

    processes, ports = [], {}
    for service in ("blob", "queue"):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    str(ROOT / "node_modules" / ".bin" / f"azurite-{service}"),
                    f"--{service}Host",
                    "127.0.0.1",
                    f"--{service}Port",
                    str(port),
                    "--location",
                    str(folder),
                    "--silent",
                    "--skipApiVersionCheck",
                    "--disableTelemetry",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        ports[service] = port
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={KEY};BlobEndpoint=http://127.0.0.1:{ports['blob']}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{ports['queue']}/devstoreaccount1;"
    )
    return processes, connection


class Setup:
    """One isolated queue, container and SQLite database."""

    def __init__(self, folder: Path, connection: str, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.database = f"sqlite:///{folder / 'chargeatlarge.db'}"
        upgrade(self.database)
        self.feeds = folder / "feeds.toml"
        self.feeds.write_text('[[feed]]\ncpo_id = "BENCH"\nkind = "rest_push"\ntoken_env = "T"\n')
        self.env = {
            **os.environ,
            "CAL_DATA_DIR": str(folder),
            "CAL_DATABASE_URL": self.database,
            "CAL_HANDOFF": "queue",
            "CAL_BLOB_CONNECTION_STRING": connection,
            "CAL_BLOB_CONTAINER": name,
            "CAL_QUEUE_NAME": name,
            "T": TOKEN,
        }
        self.connection = connection
        self.name = name

    def command(self, *args: str) -> subprocess.Popen:
        exe = Path(sys.executable).with_name("chargeatlarge")
        return subprocess.Popen(
            [str(exe), *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"{args[0]}-{time.time_ns()}.log").open("wb"),
        )

    def worker(self) -> tuple[subprocess.Popen, int]:
        port = free_port()
        process = self.command("worker", "--feeds", str(self.feeds), "--port", str(port))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return process, port
            except httpx.HTTPError:
                time.sleep(0.2)
        process.kill()
        raise RuntimeError("worker did not start")

    def writer(self) -> subprocess.Popen:
        return self.command(
            "writer", "--feeds", str(self.feeds), "--snapshot-seconds", "1", "--lease-seconds", "15"
        )

    def audited(self) -> int:
        engine = make_engine(self.database)
        try:
            with engine.connect() as connection:
                return int(
                    connection.execute(select(func.sum(ingest_batch.c.accepted))).scalar() or 0
                )
        finally:
            engine.dispose()

    def writer_health(self) -> dict:
        from azure.storage.blob import BlobServiceClient

        blob = BlobServiceClient.from_connection_string(self.connection).get_blob_client(
            self.name, "live/feeds.json"
        )
        return json.loads(blob.download_blob().readall())


def body(batch: int, size: int) -> dict:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    first = (batch * size) % EVSES
    return {
        "observations": [
            {
                "evse_uid": f"E{(first + i) % EVSES:06d}",
                "status": "CHARGING" if (batch // 7 + i) % 4 == 0 else "AVAILABLE",
                "observed_at": (start + timedelta(seconds=batch)).isoformat(),
            }
            for i in range(size)
        ]
    }


async def load(
    ports: list[int],
    size: int,
    clients: int,
    *,
    batches: int | None,
    seconds: float | None,
    rate: float | None = None,
) -> tuple[int, float]:
    """POST batches round-robin over the workers; (observations acknowledged, seconds)."""
    counter = iter(range(10**9))
    acknowledged = 0
    began = time.perf_counter()

    async def client(index: int) -> None:
        nonlocal acknowledged
        async with httpx.AsyncClient(
            timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            while True:
                batch = next(counter)
                if batches is not None and batch >= batches:
                    return
                if seconds is not None and time.perf_counter() - began > seconds:
                    return
                if rate:  # an offered load: batch n leaves no earlier than n * size / rate
                    ahead = began + batch * size / rate - time.perf_counter()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                port = ports[(batch + index) % len(ports)]
                response = await http.post(
                    f"http://127.0.0.1:{port}/api/v1/observations", json=body(batch, size)
                )
                response.raise_for_status()
                acknowledged += response.json()["accepted"]

    await asyncio.gather(*(client(i) for i in range(clients)))
    return acknowledged, time.perf_counter() - began


def wait_audited(setup: Setup, expected: int, timeout: float = 900) -> tuple[float, float]:
    """(seconds until everything is committed, seconds from the first commit on)."""
    began = time.perf_counter()
    first: float | None = None
    while (done := setup.audited()) < expected:
        if first is None and done:
            first = time.perf_counter()
        if time.perf_counter() - began > timeout:
            raise RuntimeError(f"only {done:,} of {expected:,} committed")
        time.sleep(0.05)
    end = time.perf_counter()
    return end - began, end - (first or began)


def queue_alone(connection: str, size: int, seconds: float) -> dict[str, float]:
    from azure.storage.queue import QueueClient

    name = "rawbench"
    queue = QueueClient.from_connection_string(connection, name)
    queue.create_queue()
    batch = ObservationBatch.of(
        [
            Observation(
                "BENCH", o["evse_uid"], o["status"], datetime.fromisoformat(o["observed_at"])
            )
            for o in body(3, size)["observations"]
        ],
        cpo="BENCH",
        source="rest_push",
        sender="bench",
        received_at=datetime.now(UTC),
        raw="x" * 2000,
    )
    record = QueuedRecord("obs", batch, time.time(), "w", 0)
    text = encode([record])
    sent = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def sender() -> None:
        nonlocal sent
        client = QueueClient.from_connection_string(connection, name)
        while time.perf_counter() < stop_at:
            client.send_message(text)
            with lock:
                sent += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    send_rate = sent / (time.perf_counter() - began)
    taken = 0
    began = time.perf_counter()
    while taken < sent:
        page = list(queue.receive_messages(max_messages=32, messages_per_page=32))
        if not page:
            break
        for message in page:
            queue.delete_message(message)
        taken += len(page)
    take_rate = taken / (time.perf_counter() - began)
    return {"bytes": len(text), "send": send_rate, "take": take_rate, "sent": sent}


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--queue-seconds", type=float, default=5.0)
    parser.add_argument(
        "--rate", type=float, help="step 4 offers this many observations/s instead of all it can"
    )
    parser.add_argument("--only-together", action="store_true", help="step 4 alone")
    parser.add_argument(
        "--evses",
        type=int,
        default=EVSES,
        help="EVSEs the batches cycle through (50000: a national network, fewer points per"
        " EVSE in each of the writer's transactions)",
    )
    args = parser.parse_args()
    globals()["EVSES"] = args.evses
    print(f"load average before: {os.getloadavg()[0]:.1f}; {args.evses:,} EVSEs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        azurite, connection = start_azurite(folder / "azurite")
        try:
            if not args.only_together:
                raw = queue_alone(connection, args.batch_size, args.queue_seconds)
                print(
                    f"1. Azurite queue alone, {raw['bytes']:,}-character messages"
                    f" ({args.batch_size:,} observations each): send {raw['send']:,.0f} messages/s"
                    f" (4 threads), receive+delete {raw['take']:,.0f} messages/s (32 per receive)"
                )

                one = Setup(folder / "one", connection, "benchone")
                worker, port = one.worker()
                sent, seconds = asyncio.run(
                    load([port], args.batch_size, args.clients, batches=None, seconds=args.seconds)
                )
                stop(worker)
                print(
                    f"2. REST ingest, one worker process in queue mode: {sent / seconds:,.0f}"
                    f" observations/s acknowledged ({sent:,} in {seconds:.1f} s, {args.clients}"
                    f" clients, {args.batch_size:,} per request)"
                )
                writer = one.writer()
                whole, drain = wait_audited(one, sent)
                stop(writer)
                messages = sent // args.batch_size
                print(
                    f"3. writer merges, draining that queue into SQLite: {sent / drain:,.0f}"
                    f" observations/s, {messages / drain:,.0f} messages/s of {args.batch_size:,}"
                    f" ({drain:.1f} s from its first commit; {whole:.1f} s with start-up and lease)"
                )

            both = Setup(folder / "both", connection, "benchboth")
            writer = both.writer()
            (w1, p1), (w2, p2) = both.worker(), both.worker()
            sent, seconds = asyncio.run(
                load(
                    [p1, p2],
                    args.batch_size,
                    args.clients,
                    batches=None,
                    seconds=args.seconds,
                    rate=args.rate,
                )
            )
            settle, _ = wait_audited(both, sent)
            time.sleep(2.5)  # the writer publishes its health every snapshot (1 s) — let it
            health = both.writer_health()
            stop(w1, w2, writer)
            print(
                f"4. two worker processes and one writer"
                f"{f' (offered {args.rate:,.0f}/s)' if args.rate else ''}: {sent / seconds:,.0f}"
                " observations/s"
                f" acknowledged ({sent:,} in {seconds:.1f} s); all committed {settle:.1f} s after"
                f" the load ended; receipt → committed p50"
                f" {health['receipt_to_commit_p50_seconds']} s, p99"
                f" {health['receipt_to_commit_p99_seconds']} s over"
                f" {health['receipt_to_commit_samples']:,} batches"
            )
        finally:
            stop(*azurite)
    print(
        f"load average after: {os.getloadavg()[0]:.1f};"
        f" machine: {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
