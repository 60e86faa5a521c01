"""Benchmark: the monthly job on a synthetic national month, beside a plain pandas version.

50,000 EVSEs (default) with sessions, faults and feed drop-outs for 2026-11, as the status runs
that storage holds (re-confirmations every 5 minutes are folded into last_confirmed_at), stored
in the embedded SQLite database in time order as ingestion writes them, with the static site CSV
in a local blob folder. One site in five has opening hours (three patterns, a WA site on Perth
time among them), and 300 approved exclusions (EVSE, charger and site scope; plus proposed and
rejected ones that must not count) are in the database. Prints, each measured in a fresh process:
- the whole job (``run_month``: read the runs and exclusions from SQL, compute every table,
  write the Parquet files, manifest and report to the blob store): wall time and peak memory;
- the engine alone on the same runs read from a Parquet file, and a straightforward pandas
  implementation of the EVSE minute figures on that file; that both agree, and the ratio.

    .venv/bin/python bench/monthly.py [--evses 50000] [--seed 1] [--profile] [--data DIR]

``--data DIR`` keeps the synthesised month (runs, database, site CSV) in DIR and reuses it on
the next run with the same ``--evses`` and ``--seed``, skipping the set-up (minutes at national
scale, most of it SQLite inserts).

Each run also prints CPU seconds (user + system, every thread): on a shared machine compare
those. ``--profile`` prints the engine run's wall and CPU time per SQL statement and output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared import layout
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.exclusions import (
    CAUSES,
    SCOPES,
    Proposal,
    approve,
    approved_exclusions,
    propose,
    reject,
)
from shared.metrics import schema
from shared.metrics.engine import MonthInputs, month_tables
from shared.metrics.period import Period
from shared.monthly.job import ENGINE_MEMORY_LIMIT, run_month, write_parquet
from shared.sites import store_sites, validate_sites_csv, write_sites_csv

CATEGORY = {
    "AVAILABLE": "AVAILABLE",
    "CHARGING": "IN_USE",
    "FAULTED": "OUT_OF_ORDER",
    "UNAVAILABLE": "UNAVAILABLE",
}
# Every fifth site has opening hours, in turn one of these; the others are open all the time.
OPENING_HOURS = ("Mo-Fr 07:00-19:00; Sa 08:00-16:00", "Mo-Su 06:00-22:00", "Fr-Mo 09:00-02:00")
EXCLUSIONS = 300
STATES = np.array(["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"])


def synthesise(evses: int, period: Period, seed: int) -> tuple[pa.Table, pd.DataFrame]:
    """Status runs and static connectors for ``evses`` EVSEs over ``period`` (plus look-back)."""
    rng = np.random.default_rng(seed)
    start = int(period.start.timestamp() * 1e6) - 3_600_000_000
    end = int(period.end.timestamp() * 1e6)
    minute = 60_000_000
    rows_evse, rows_status, rows_start, rows_last = [], [], [], []
    for index in range(evses):
        dc = index % 4 == 0
        mean_idle = (150 if dc else 400) * minute
        t = start + int(rng.integers(0, 60)) * minute
        n = int((end - start) / mean_idle * 2.2) + 8
        idle = rng.exponential(mean_idle, n).astype(np.int64)
        busy = rng.exponential((35 if dc else 150) * minute, n).astype(np.int64)
        roll = rng.random(n)
        for k in range(n):
            if t >= end:
                break
            if roll[k] < 0.004:
                status, length = "FAULTED", int(rng.exponential(600 * minute))
            elif roll[k] < 0.006:
                status, length = "UNAVAILABLE", int(rng.exponential(120 * minute))
            else:
                status, length = "AVAILABLE", int(idle[k])
            rows_evse.append(index)
            rows_status.append(status)
            rows_start.append(t)
            rows_last.append(t + length)
            t += length + minute
            if roll[k] > 0.99:  # a feed drop-out: nothing for 20 minutes to 6 hours
                t += int(rng.uniform(20, 360)) * minute
            if status == "AVAILABLE" and t < end:
                rows_evse.append(index)
                rows_status.append("CHARGING")
                rows_start.append(t)
                rows_last.append(t + int(busy[k]))
                t += int(busy[k]) + minute
    uids = np.array([f"AU*BEN*E{i:06d}" for i in range(evses)], dtype=object)
    sites = np.arange(evses) // 3
    cpos = np.array([f"CPO{s % 12:02d}" for s in sites], dtype=object)
    evse_index = np.array(rows_evse)
    ts = pa.timestamp("us", tz="UTC")
    runs = pa.table(
        {
            "cpo_id": pa.array(cpos[evse_index], pa.string()),
            "evse_uid": pa.array(uids[evse_index], pa.string()),
            "status": pa.array(rows_status, pa.string()),
            "category": pa.array([CATEGORY[s] for s in rows_status], pa.string()),
            "started_at": pa.array(
                np.array(rows_start, dtype="datetime64[us]"), pa.timestamp("us")
            ).cast(ts),
            "last_confirmed_at": pa.array(
                np.array(rows_last, dtype="datetime64[us]"), pa.timestamp("us")
            ).cast(ts),
        }
    )
    connectors = pd.DataFrame(
        {
            "cpo_id": cpos, "site_id": [f"S{s:06d}" for s in sites], "site_name": "Bench site",
            "address": "1 Bench St", "suburb": "Goulburn", "state": STATES[sites % 8],
            "postcode": "2580", "latitude": -34.75, "longitude": 149.72,
            "charger_id": [f"C{i // 3:06d}-{i % 3 // 2}" for i in range(evses)],
            "evse_uid": uids, "connector_id": "1", "connector_standard": "IEC_62196_T2_COMBO",
            "power_type": "DC", "max_power_kw": 150.0, "ocpp_charge_point_id": None,
            "ocpp_evse_id": None, "program": None, "commissioned_on": None,
            "decommissioned_on": None, "attribution": None,
            "lga_code": None, "lga_name": None, "time_zone": None,
            "opening_hours": [OPENING_HOURS[s // 5 % 3] if s % 5 == 0 else "" for s in sites],
        }
    )  # fmt: skip
    return runs, connectors


def store_exclusions(connectors: pd.DataFrame, period: Period, path: str, seed: int) -> None:
    """EXCLUSIONS approved windows over random EVSEs, chargers and sites, and a few proposed
    and rejected ones, stored through the exclusion workflow."""
    rng = np.random.default_rng(seed + 1)
    engine = make_engine(f"sqlite:///{path}")
    start = int(period.start.timestamp())
    picks = connectors.iloc[rng.integers(0, len(connectors), EXCLUSIONS + 40)]
    proposals = []
    for n, (_, row) in enumerate(picks.iterrows()):
        scope = SCOPES[n % 3]
        scope_id = row[{"evse": "evse_uid", "charger": "charger_id", "site": "site_id"}[scope]]
        begin = start + int(rng.integers(-86_400, 30 * 86_400))
        proposals.append(
            Proposal(cpo_id=row["cpo_id"], scope=scope, scope_id=scope_id,
                     from_at=datetime.fromtimestamp(begin, UTC),
                     to_at=datetime.fromtimestamp(
                         begin + int(rng.integers(1_800, 2 * 86_400)), UTC),
                     cause=CAUSES[n % len(CAUSES)], note=f"bench {n}")
        )  # fmt: skip
    ids = propose(engine, proposals, actor="bench")
    for n, exclusion_id in enumerate(ids):
        if n < EXCLUSIONS:
            approve(engine, exclusion_id, actor="bench reviewer")
        elif n % 2:
            reject(engine, exclusion_id, actor="bench reviewer", reason="not outside control")
    engine.dispose()


def pandas_evse_figures(runs: pa.Table, period: Period, gap_minutes: float) -> pd.DataFrame:
    """The EVSE minute figures the straightforward way: pandas, one frame, group-by shifts."""
    frame = runs.to_pandas()
    frame = frame.sort_values(["cpo_id", "evse_uid", "started_at"])
    gap = pd.Timedelta(minutes=gap_minutes)
    following = frame.groupby(["cpo_id", "evse_uid"])["started_at"].shift(-1)
    until = (frame["last_confirmed_at"] + gap).where(
        following.isna(), np.minimum(frame["last_confirmed_at"] + gap, following)
    )
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    f = frame["started_at"].clip(lower=start, upper=end)
    t = until.clip(lower=start, upper=end)
    frame["minutes"] = (t - f).dt.total_seconds() / 60
    pivot = frame.pivot_table(
        index=["cpo_id", "evse_uid"],
        columns="category",
        values="minutes",
        aggfunc="sum",
        fill_value=0,
    )
    pivot["known_minutes"] = pivot.sum(axis=1)
    pivot["unknown_minutes"] = period.minutes - pivot["known_minutes"]
    up = pivot.get("AVAILABLE", 0) + pivot.get("IN_USE", 0) + pivot.get("RESERVED", 0)
    pivot["uptime_pct"] = 100 * up / pivot["known_minutes"].where(pivot["known_minutes"] > 0)
    return pivot.reset_index()


def store_database(runs: pa.Table, path: str) -> None:
    """The runs as ingestion leaves them: a migrated SQLite file, rows in order of start."""
    import pyarrow.compute as pc

    upgrade(f"sqlite:///{path}")
    runs = runs.sort_by("started_at")
    text = {
        name: pc.strftime(runs.column(name).cast(pa.timestamp("us")), "%Y-%m-%d %H:%M:%S")
        for name in ("started_at", "last_confirmed_at")
    }
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA synchronous = OFF")  # set-up only: no need to survive a crash
        for offset in range(0, runs.num_rows, 500_000):
            columns = [
                runs.column(name).slice(offset, 500_000).to_pylist()
                for name in ("cpo_id", "evse_uid", "status", "category")
            ] + [text[name].slice(offset, 500_000).to_pylist() for name in text]
            connection.executemany(
                "INSERT INTO status_run (cpo_id, evse_uid, status, category, started_at,"
                " last_confirmed_at) VALUES (?, ?, ?, ?, ?, ?)",
                zip(*columns, strict=True),
            )


def peak_rss_mib() -> float:
    """This process's own peak resident memory. (ru_maxrss would not do: Linux carries the
    parent's peak over into a child at exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, every thread included (the figure to
    compare on a busy machine, where wall time depends on the others)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(kind: str, folder: str, memory_limit: str | None) -> None:
    """Run one side in a fresh process."""

    period = Period.for_month("2026-11", "Australia/Sydney")
    began = time.perf_counter()
    if kind == "job":
        logging.basicConfig(level=logging.INFO, format="  job log: %(message)s")
        result = run_month(
            "2026-11",
            engine=make_engine(f"sqlite:///{folder}/chargeatlarge.db"),
            store=LocalBlobStore(Path(folder) / "blobs"),
            tz="Australia/Sydney",
            default_max_gap_minutes=15,
            uptime_threshold_pct=98,
            now=datetime(2026, 12, 5, tzinfo=UTC),
        )
        detail = ", ".join(f"{k} {v:,}" for k, v in result.row_counts.items())
        print(json.dumps({"seconds": time.perf_counter() - began, "peak_mib": peak_rss_mib(),
                          "cpu_seconds": cpu_seconds(), "detail": detail}))  # fmt: skip
        return
    pf = pq.ParquetFile(f"{folder}/runs.parquet")
    if kind == "engine":
        # Streamed in, streamed out, as the job does.
        runs = pa.RecordBatchReader.from_batches(pf.schema_arrow, pf.iter_batches(200_000))
        connectors = pq.read_table(f"{folder}/connectors.parquet").to_pandas()
        engine = make_engine(f"sqlite:///{folder}/chargeatlarge.db")
        with engine.connect() as connection:
            exclusions = approved_exclusions(connection, period.start, period.end)
        inputs = MonthInputs(period, runs, connectors, 15, {}, exclusions=exclusions)
        profile: list[tuple[str, float, float]] = []
        with month_tables(inputs, memory_limit=memory_limit) as tables:
            profile += [(t.statement, t.seconds, t.cpu_seconds) for t in tables.step_times]
            counts = {}
            for name in schema.TABLES:
                wall, cpu = time.perf_counter(), cpu_seconds()
                counts[name] = write_parquet(
                    tables.batches(name), schema.TABLES[name], Path(folder) / f"{name}.parquet"
                )
                profile.append((f"query and write {name}.parquet", time.perf_counter() - wall,
                                cpu_seconds() - cpu))  # fmt: skip
        Path(folder, "profile.json").write_text(json.dumps(profile))
        detail = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    else:
        runs = pf.read(
            columns=["cpo_id", "evse_uid", "category", "started_at", "last_confirmed_at"]
        )
        pandas_evse_figures(runs, period, 15).to_parquet(f"{folder}/pandas_evse.parquet")
        detail = "EVSE minute figures"
    print(
        json.dumps(
            {"seconds": time.perf_counter() - began, "peak_mib": peak_rss_mib(),
             "cpu_seconds": cpu_seconds(), "detail": detail}
        )
    )  # fmt: skip


def run_child(kind: str, folder: str, memory_limit: str | None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--folder", folder]
    if memory_limit:
        command += ["--memory-limit", memory_limit]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[:6000]}")
    for line in done.stderr.splitlines():
        if line.startswith("  job log:") and "computed the tables" in line:
            print(line)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--memory-limit", default=ENGINE_MEMORY_LIMIT, help="DuckDB working-memory cap (engine run)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print the engine's time per SQL statement"
    )
    parser.add_argument("--data", help="keep the synthesised month here and reuse it next time")
    parser.add_argument("--child", choices=["job", "engine", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.memory_limit)
        return

    period = Period.for_month("2026-11", "Australia/Sydney")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.data or scratch
        marker = Path(folder, "synthesised.json")
        wanted = {"evses": args.evses, "seed": args.seed}
        if marker.exists() and json.loads(marker.read_text()) == wanted:
            print(f"reusing the synthesised month in {folder}")
        else:
            Path(folder).mkdir(parents=True, exist_ok=True)
            marker.unlink(missing_ok=True)
            Path(folder, "chargeatlarge.db").unlink(missing_ok=True)
            synthesise_and_store(args, period, folder)
            marker.write_text(json.dumps(wanted))
        run_all(args, folder)
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}"
    )


def synthesise_and_store(args: argparse.Namespace, period: Period, folder: str) -> None:
    began = time.perf_counter()
    runs, connectors = synthesise(args.evses, period, args.seed)
    pq.write_table(runs, f"{folder}/runs.parquet")
    pq.write_table(
        pa.Table.from_pandas(connectors, preserve_index=False), f"{folder}/connectors.parquet"
    )
    print(
        f"synthesised {runs.num_rows:,} status runs for {args.evses:,} EVSEs"
        f" ({runs.num_rows / args.evses:.0f}"
        f" per EVSE) in {time.perf_counter() - began:.1f} s"
    )
    began = time.perf_counter()
    store_database(runs, f"{folder}/chargeatlarge.db")
    store_exclusions(connectors, period, f"{folder}/chargeatlarge.db", args.seed)
    csv = write_sites_csv(connectors.to_dict("records"))
    validated = validate_sites_csv(csv, "bench_sites.csv")
    assert not validated.problems, validated.problems[:3]
    store_sites(LocalBlobStore(Path(folder) / "blobs"), validated)
    print(
        f"stored them in SQLite (time order), {EXCLUSIONS} approved exclusions and the site CSV"
        f" ({int((connectors['opening_hours'] != '').sum()):,} connectors with opening hours)"
        f" in {time.perf_counter() - began:.1f} s"
    )
    del runs, connectors


def run_all(args: argparse.Namespace, folder: str) -> None:
    job = run_child("job", folder, None)
    print(
        f"whole job (SQLite → DuckDB capped at {ENGINE_MEMORY_LIMIT} → Parquet, manifest,"
        f" report): {job['seconds']:.1f} s ({job['cpu_seconds']:.1f} CPU-s),"
        f" peak {job['peak_mib']:.0f} MiB"
        f" — {job['detail']}"
    )
    engine = run_child("engine", folder, args.memory_limit)
    print(
        f"engine alone (runs from Parquet, all {len(schema.TABLES)} tables,"
        f" memory_limit {args.memory_limit}): {engine['seconds']:.1f} s"
        f" ({engine['cpu_seconds']:.1f} CPU-s), peak {engine['peak_mib']:.0f} MiB"
    )
    if args.profile:
        print("engine profile (wall s, CPU s of every thread) per statement, then per output:")
        for statement, wall, cpu in json.loads(Path(folder, "profile.json").read_text()):
            print(f"  {wall:7.2f} {cpu:7.2f}  {statement}")
    baseline = run_child("pandas", folder, None)
    print(
        f"pandas (EVSE minute figures only): {baseline['seconds']:.1f} s"
        f" ({baseline['cpu_seconds']:.1f} CPU-s), peak {baseline['peak_mib']:.0f} MiB"
    )
    ours = pq.read_table(f"{folder}/evse.parquet").to_pandas().set_index(["cpo_id", "evse_uid"])
    theirs = pd.read_parquet(f"{folder}/pandas_evse.parquet").set_index(["cpo_id", "evse_uid"])
    # The pandas version knows nothing of opening hours: compare the always-open EVSEs.
    open_all_time = ours.index[ours["opening_hours"].isna()].intersection(theirs.index)
    diff = (
        (theirs.loc[open_all_time, "unknown_minutes"] - ours.loc[open_all_time, "unknown_minutes"])
        .abs()
        .max()
    )
    print(
        f"largest difference in unknown_minutes between the two ({len(open_all_time):,} EVSEs"
        f" open all the time): {diff:.6f} minutes"
    )
    print(
        f"closed minutes {ours['closed_minutes'].sum():,.0f}, excluded minutes"
        f" {ours['excluded_minutes'].sum():,.0f}"
        f" on {(ours['excluded_minutes'] > 0).sum():,} EVSEs"
    )
    job_store = LocalBlobStore(Path(folder) / "blobs")
    same = [
        name
        for name in schema.TABLES
        if job_store.get(layout.monthly_table_blob("2026-11", name))
        == Path(f"{folder}/{name}.parquet").read_bytes()
    ]
    print(
        "tables byte-identical between the job and the engine run:"
        f" {len(same)} of {len(schema.TABLES)}"
    )
    print(
        f"ratio pandas / engine: {baseline['seconds'] / engine['seconds']:.2f} ×"
        " (the engine also builds"
        f" {len(schema.TABLES) - 1} more tables)"
    )


if __name__ == "__main__":
    main()
