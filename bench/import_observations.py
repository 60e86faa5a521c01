"""Benchmark: import 1,000,000 observation rows through `chargeatlarge observations import`.

A month-like log for a few hundred EVSEs: re-confirmations every 5 minutes plus status changes
(sessions, the odd fault). Prints rows/s and the importing process's peak memory.

    .venv/bin/python bench/import_observations.py [--rows 1000000] [--evses 300]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def write_log(path: Path, rows: int, evses: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    steps = rows // evses
    states = ["AVAILABLE"] * evses
    with path.open("w") as out:
        out.write("evse_uid,status,observed_at\n")
        for step in range(steps):
            stamp = (start + timedelta(minutes=5 * step)).isoformat()
            for evse in range(evses):
                roll = rng.random()
                if states[evse] == "AVAILABLE" and roll < 0.04:
                    states[evse] = "CHARGING"
                elif states[evse] == "CHARGING" and roll < 0.15:
                    states[evse] = "AVAILABLE"
                elif roll < 0.0005:
                    states[evse] = "FAULTED"
                elif states[evse] == "FAULTED" and roll < 0.05:
                    states[evse] = "AVAILABLE"
                out.write(f"AU*BEN*E{evse:05d},{states[evse]},{stamp}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--evses", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("chargeatlarge")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.csv"
        write_log(log, args.rows, args.evses, args.seed)
        rows = sum(1 for _ in log.open()) - 1
        env = {**os.environ, "CAL_DATA_DIR": str(Path(tmp) / "var")}
        env.pop("CAL_DATABASE_URL", None)
        subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            [exe, "observations", "import", str(log), "--cpo", "BENCH"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        load = os.getloadavg()[0]
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        db_mib = (Path(tmp) / "var" / "chargeatlarge.db").stat().st_size / 2**20
    print(done.stdout.strip().splitlines()[-1])
    print(f"rows: {rows:,} ({args.evses} EVSEs, 5-minute re-confirmations)")
    print(f"import wall time: {elapsed:.1f} s → {rows / elapsed:,.0f} rows/s")
    # On a machine busy with other work the wall time says more about the others; the CPU time
    # the import itself used is what it costs.
    print(f"import CPU time: {cpu:.1f} s → {rows / cpu:,.0f} rows per CPU-second")
    print(f"load average (1 min) at the end: {load:.1f}")
    print(f"peak memory of the import process: {peak_mib:.0f} MiB")
    print(f"database file: {db_mib:.1f} MiB")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
