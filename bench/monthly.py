"""Benchmark: the monthly engine on a synthetic national month, beside a plain pandas version.

50,000 EVSEs (default) with sessions, faults and feed drop-outs for 2026-11, as the status runs
that storage holds (re-confirmations every 5 minutes are folded into last_confirmed_at). Prints
wall time and peak memory of the engine (all ten tables) and of a straightforward pandas
implementation of the EVSE figures on the same runs, checks that both agree, and the ratio.

    .venv/bin/python bench/monthly.py [--evses 50000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.metrics.engine import MonthInputs, compute_month
from shared.metrics.period import Period

CATEGORY = {
    "AVAILABLE": "AVAILABLE",
    "CHARGING": "IN_USE",
    "FAULTED": "OUT_OF_ORDER",
    "UNAVAILABLE": "UNAVAILABLE",
}


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
            "address": "1 Bench St", "suburb": "Goulburn", "state": np.array(["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"])[sites % 8],
            "postcode": "2580", "latitude": -34.75, "longitude": 149.72, "charger_id": [f"C{i // 3:06d}-{i % 3 // 2}" for i in range(evses)],
            "evse_uid": uids, "connector_id": "1", "connector_standard": "IEC_62196_T2_COMBO",
            "power_type": "DC", "max_power_kw": 150.0, "ocpp_charge_point_id": None, "ocpp_evse_id": None,
            "program": None, "commissioned_on": None, "decommissioned_on": None, "attribution": None,
        }
    )  # fmt: skip
    return runs, connectors


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


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    period = Period.for_month("2026-11", "Australia/Sydney")
    began = time.perf_counter()
    runs, connectors = synthesise(args.evses, period, args.seed)
    print(
        f"synthesised {runs.num_rows:,} status runs for {args.evses:,} EVSEs in {time.perf_counter() - began:.1f} s"
        f" (process peak so far {peak_rss_mib():.0f} MiB)"
    )
    inputs = MonthInputs(
        period=period,
        runs=runs,
        connectors=connectors,
        default_max_gap_minutes=15,
        max_gap_minutes={},
    )

    before = peak_rss_mib()
    began = time.perf_counter()
    tables = compute_month(inputs)
    engine_s = time.perf_counter() - began
    engine_peak = peak_rss_mib()
    rows = ", ".join(f"{k} {v.num_rows:,}" for k, v in tables.items())
    print(
        f"engine (DuckDB, all ten tables): {engine_s:.1f} s; process peak {engine_peak:.0f} MiB"
        f" (was {before:.0f} MiB before the engine) — {rows}"
    )

    tracemalloc.start()
    began = time.perf_counter()
    baseline = pandas_evse_figures(runs, period, 15)
    pandas_s = time.perf_counter() - began
    pandas_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"pandas (EVSE minute figures only): {pandas_s:.1f} s; {pandas_peak:.0f} MiB allocated at peak"
    )

    evse = tables["evse"].to_pandas().set_index(["cpo_id", "evse_uid"])
    joined = baseline.set_index(["cpo_id", "evse_uid"]).join(evse.add_suffix("_engine"))
    diff = (joined["unknown_minutes"] - joined["unknown_minutes_engine"]).abs().max()
    print(f"largest difference in unknown_minutes between the two: {diff:.6f} minutes")
    print(
        f"ratio pandas / engine: {pandas_s / engine_s:.2f} × (the engine also builds nine more tables)"
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
