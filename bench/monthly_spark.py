"""Benchmark: the monthly engine on DuckDB and on Spark local mode (1 and 2 cores), one month.

A synthetic month of ``--evses`` EVSEs (bench/monthly.py's generator: sessions, faults, feed
drop-outs, one site in five with opening hours) plus 1 approved exclusion per 10 EVSEs, the same
inputs for every engine. Each engine runs in a fresh process and computes every table and
writes it as Parquet (what the monthly job does between reading SQL and uploading). Prints, per
engine: Spark session start, compute + write wall time, peak memory (RSS of the process, and of
the Spark JVM), and whether the Parquet files are byte-identical to DuckDB's.

    .venv/bin/python bench/monthly_spark.py [--evses 3000] [--seed 1] [--month 2026-11]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import psutil
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monthly import synthesise  # bench/monthly.py

from shared.metrics import schema
from shared.metrics.engine import MonthInputs, MonthTables, month_tables
from shared.metrics.period import Period
from shared.monthly.job import ENGINE_MEMORY_LIMIT, write_parquet

if TYPE_CHECKING:  # pyspark is imported only when the Spark engine runs
    from shared.metrics.spark import SparkMonthTables


def inputs_for(evses: int, month: str, seed: int) -> MonthInputs:
    period = Period.for_month(month, "Australia/Sydney")
    runs, connectors = synthesise(evses, period, seed)
    rng = np.random.default_rng(seed + 1)
    count = max(1, evses // 10)
    picks = rng.integers(0, len(connectors), count)
    starts = [period.start + timedelta(seconds=int(s)) for s in rng.integers(0, 30 * 86_400, count)]
    ts = pa.timestamp("us", tz="UTC")
    scopes = [("evse", "charger", "site")[n % 3] for n in range(count)]
    column = {"evse": "evse_uid", "charger": "charger_id", "site": "site_id"}
    exclusions = pa.table(
        {
            "exclusion_id": [f"X{n}" for n in range(count)],
            "cpo_id": [connectors["cpo_id"].iloc[p] for p in picks],
            "scope": scopes,
            "scope_id": [connectors[column[s]].iloc[p] for s, p in zip(scopes, picks, strict=True)],
            "from_at": pa.array(starts, ts),
            "to_at": pa.array([s + timedelta(hours=6) for s in starts], ts),
            "cause": ["SCHEDULED_MAINTENANCE"] * count,
            "note": [""] * count,
        }
    )
    return MonthInputs(
        period=period,
        runs=runs,
        connectors=connectors,
        default_max_gap_minutes=15,
        max_gap_minutes={},
        exclusions=exclusions,
    )


class ChildMemory:
    """Peak RSS of this process's children (the Spark JVM), sampled while it runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak // 2**20


def worker(engine: str, cores: int, evses: int, month: str, seed: int, out: Path) -> dict:
    inputs = inputs_for(evses, month, seed)
    children = ChildMemory()
    started = 0.0
    computing: contextlib.AbstractContextManager[MonthTables | SparkMonthTables]
    if engine == "spark":
        from shared.metrics import spark

        began = time.perf_counter()
        session = spark.local_session(cores=cores, memory="2g")
        session.sparkContext.setLogLevel("ERROR")
        started = time.perf_counter() - began
        computing = spark.month_tables(inputs, session)
    else:
        computing = month_tables(inputs, threads=cores, memory_limit=ENGINE_MEMORY_LIMIT)
    began = time.perf_counter()
    with computing as computed:
        rows = {
            name: write_parquet(
                computed.batches(name), schema.TABLES[name], out / f"{name}.parquet"
            )
            for name in schema.TABLES
        }
    seconds = time.perf_counter() - began
    if engine == "spark":
        session.stop()
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}
    return {
        "engine": engine,
        "cores": cores,
        "runs": inputs.runs.num_rows,
        "session_start_s": round(started, 1),
        "compute_and_write_s": round(seconds, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "peak_child_rss_mb": children.stop(),
        "rows": rows,
        "hashes": hashes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "CORES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory() as out:
            result = worker(
                args.worker[0], int(args.worker[1]), args.evses, args.month, args.seed, Path(out)
            )
        print(json.dumps(result))
        return
    results = []
    for engine, cores in (("duckdb", 1), ("duckdb", 2), ("spark", 1), ("spark", 2)):
        command = [sys.executable, __file__, "--evses", str(args.evses), "--seed", str(args.seed),
                   "--month", args.month, "--worker", engine, str(cores)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    reference = results[0]
    print(
        f"month {args.month}, {args.evses} EVSEs, {reference['runs']} status runs, "
        f"{reference['rows']['daily']} daily rows; each engine in a fresh process"
    )
    print(f"{'engine':<8} {'cores':>5} {'session s':>9} {'compute+write s':>15} "
          f"{'peak MB (python)':>16} {'peak MB (JVM)':>13}  same files as DuckDB")  # fmt: skip
    for r in results:
        jvm = r["peak_child_rss_mb"] if r["engine"] == "spark" else "-"
        print(
            f"{r['engine']:<8} {r['cores']:>5} {r['session_start_s']:>9} "
            f"{r['compute_and_write_s']:>15} {r['peak_rss_mb']:>16} {jvm:>13}  "
            f"{r['hashes'] == reference['hashes']}"
        )


if __name__ == "__main__":
    main()
