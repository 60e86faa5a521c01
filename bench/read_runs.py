"""Benchmark: the monthly job's read of stored status runs (``runs_reader``) from SQLite.

Stores N runs for 5,000 EVSEs over a month in time order (as ingestion writes them), then times
streaming them back as the Arrow record batches the engine takes, with the memory growth.

    .venv/bin/python bench/read_runs.py [--runs 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from shared.db.engine import make_engine, upgrade
from shared.db.observations import runs_reader
from shared.db.tables import status_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--evses", type=int, default=5_000)
    args = parser.parse_args()
    start = datetime(2026, 10, 31, 13)  # local midnight, 1 Nov 2026, Sydney
    per_evse = args.runs // args.evses
    step = timedelta(days=30) / per_evse
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'runs.db'}"
        upgrade(url)
        engine = make_engine(url)
        rows = []
        with engine.begin() as connection:
            for j in range(per_evse):
                for evse in range(args.evses):
                    began = start + j * step
                    rows.append(
                        {
                            "cpo_id": f"CPO{evse % 12:02d}",
                            "evse_uid": f"AU*BEN*E{evse:06d}",
                            "status": "CHARGING" if j % 2 else "AVAILABLE",
                            "category": "IN_USE" if j % 2 else "AVAILABLE",
                            "started_at": began,
                            "last_confirmed_at": began + step - timedelta(minutes=1),
                        }
                    )
                    if len(rows) == 100_000:
                        connection.execute(insert(status_run), rows)
                        rows = []
            if rows:
                connection.execute(insert(status_run), rows)
        del rows
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        began, cpu = time.perf_counter(), time.process_time()
        with engine.connect() as connection:
            reader = runs_reader(
                connection,
                start,
                start + timedelta(days=30),
                timedelta(minutes=15),
                timedelta(minutes=15),
            )
            count = sum(batch.num_rows for batch in reader)
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"streamed {count:,} runs of {args.evses:,} EVSEs in {seconds:.1f} s"
        f" ({count / seconds:,.0f} runs/s, {cpu:.1f} CPU-s);"
        f" peak RSS {before:.0f} → {after:.0f} MiB"
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
