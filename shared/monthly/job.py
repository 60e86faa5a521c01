"""One month, end to end: SQL runs + static sites → processed Parquet, manifest, published report.

The Azure Function's triggers and the ``chargeatlarge monthly`` command both call ``run_month``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from shared import __version__, layout
from shared.blobstore import BlobStore
from shared.db.observations import cpo_max_gaps, runs_reader
from shared.exclusions import approved_exclusions
from shared.metrics import schema
from shared.metrics.engine import MonthInputs, MonthTables, month_tables
from shared.metrics.period import Period
from shared.monthly.history import read_history
from shared.monthly.report import REPORT_TABLES
from shared.monthly.state_reports import build_reports
from shared.programs.store import site_programs
from shared.sites import MAX_REPORTED_PROBLEMS, StaticSites, read_static_sites

if TYPE_CHECKING:
    from shared.metrics.spark import SparkMonthTables

log = logging.getLogger("chargeatlarge.monthly")
JOB_VERSION = f"chargeatlarge-monthly/{__version__}"
# DuckDB spills to disk beyond this; with the runs streamed in and the tables streamed out, a
# national month then peaks well under 2 GB (bench/monthly.py). At 1 GB part of a national
# month's pieces still spills; 1.3 GB saved about 0.5 s of 17 in the engine but took its peak to
# 2 GB (2026-12-02).
ENGINE_MEMORY_LIMIT = "1000MB"
ROW_GROUP_ROWS = 131_072
# Tables of millions of rows (one per EVSE and day, per site and hour of the week).
LARGE_TABLES = ("daily", "hour_of_week")


class MonthNotReady(ValueError):
    """The month has not started yet, so there is nothing to report."""


@dataclass(slots=True)
class MonthResult:
    month: str
    prefix: str
    report_prefix: str
    row_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    manifest: dict[str, object] = field(default_factory=dict)


def write_parquet(batches: Iterable[pa.RecordBatch], table_schema: pa.Schema, path: Path) -> int:
    """Parquet with fixed settings and fixed row groups, so the same rows always give the same
    bytes, however the batches arrive. Returns the number of rows."""
    rows = waiting = 0
    pending: list[pa.RecordBatch] = []
    with pq.ParquetWriter(
        path, table_schema, compression="zstd", use_dictionary=True, write_statistics=True
    ) as writer:
        for batch in batches:
            pending.append(batch)
            rows += batch.num_rows
            waiting += batch.num_rows
            if waiting >= ROW_GROUP_ROWS:
                table = pa.Table.from_batches(pending, table_schema)
                whole = waiting - waiting % ROW_GROUP_ROWS
                writer.write_table(table.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
                pending, waiting = table.slice(whole).to_batches(), waiting - whole
        if pending or rows == 0:
            writer.write_table(pa.Table.from_batches(pending, table_schema))
    return rows


def _write_tables(
    computed: MonthTables | SparkMonthTables, names: Iterable[str], folder: Path
) -> dict[str, int]:
    return {
        name: write_parquet(computed.batches(name), schema.TABLES[name], folder / f"{name}.parquet")
        for name in names
    }


def _static_warnings(static: StaticSites) -> list[str]:
    warnings = []
    if not static.sources:
        warnings.append(
            f"no static site CSV in {layout.STATIC_SITES_PREFIX}: every observed EVSE is unmatched"
            " and no site, charger, network or state figures can be made"
        )
    warnings.extend(
        f"static sites: {problem}" for problem in static.problems[:MAX_REPORTED_PROBLEMS]
    )
    if len(static.problems) > MAX_REPORTED_PROBLEMS:
        warnings.append(
            f"static sites: {len(static.problems) - MAX_REPORTED_PROBLEMS} more problems not listed"
        )
    return warnings


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def run_month(
    month: str,
    *,
    engine: Engine,
    store: BlobStore,
    tz: str,
    default_max_gap_minutes: float,
    uptime_threshold_pct: float,
    now: datetime | None = None,
    metrics_engine: str = "duckdb",
) -> MonthResult:
    """Compute ``month`` (YYYY-MM in ``tz``) and replace its processed folder and report.

    ``metrics_engine``: "duckdb" (in process) or "spark" (the same SQL on Spark:
    ``shared.metrics.spark``; the active session, e.g. a Databricks job's, else a local one).
    """
    now = now or datetime.now(UTC)
    period = Period.for_month(month, tz)
    if period.start > now:
        raise MonthNotReady(
            f"month {month} has not started yet (it starts {period.start:%Y-%m-%d %H:%M} UTC)"
        )
    warnings: list[str] = []
    if period.end > now:
        warnings.append(
            f"month {month} is not over yet: the figures cover it only up to"
            f" {now:%Y-%m-%d %H:%M} UTC"
        )

    # Read (and re-validated) in a thread while the runs stream into the engine.
    reader = ThreadPoolExecutor(1, thread_name_prefix="static-sites")
    reading = reader.submit(read_static_sites, store)
    reader.shutdown(wait=False)
    history = read_history(store, month)
    with tempfile.TemporaryDirectory(prefix="chargeatlarge-month-") as work:
        folder = Path(work)
        with engine.connect() as connection:
            gaps = cpo_max_gaps(connection)
            # The exclusions approved now (spec 4.3) and the sites' program assignments.
            exclusions = approved_exclusions(connection, period.start, period.end)
            programs = site_programs(connection)
            widest = max([default_max_gap_minutes, *[g for g in gaps.values() if g]])
            runs = runs_reader(
                connection,
                period.start,
                period.end,
                timedelta(minutes=widest),
                timedelta(minutes=widest),
            )
            inputs = MonthInputs(
                period=period,
                runs=runs,
                connectors=lambda: reading.result().connectors,
                default_max_gap_minutes=default_max_gap_minutes,
                max_gap_minutes=gaps,
                exclusions=exclusions,
                programs=programs,
                history=history.tables,
            )
            began = time.perf_counter()
            computing: AbstractContextManager[MonthTables | SparkMonthTables]
            if metrics_engine == "spark":
                from shared.metrics import spark

                computing = spark.month_tables(inputs)
            elif metrics_engine == "duckdb":
                computing = month_tables(inputs, memory_limit=ENGINE_MEMORY_LIMIT)
            else:
                raise ValueError(f"metrics engine {metrics_engine!r}: expected duckdb or spark")
            with computing as computed:
                computed_in = time.perf_counter() - began
                run_count = computed.run_count
                static = reading.result()
                warnings.extend(_static_warnings(static))
                for step in getattr(computed, "step_times", ()):  # DuckDB's profile
                    log.debug(
                        "%s: %.2f s (%.2f CPU-s) %s",
                        month,
                        step.seconds,
                        step.cpu_seconds,
                        step.statement,
                    )
                # Every table is queried on a connection of its own in two worker threads, the
                # small ones first: the reports read those from memory and are built (Python,
                # holding the GIL) while the big ones stream to Parquet (the engine's queries and
                # Parquet's encoding leave the GIL), so both cores stay busy.
                with ThreadPoolExecutor(2, thread_name_prefix="tables") as pool:
                    small = {
                        name: pool.submit(computed.concurrent().table, name)
                        for name in schema.TABLES
                        if name not in LARGE_TABLES
                    }
                    # One after the other: each sorts millions of rows in the engine's memory.
                    large = pool.submit(_write_tables, computed.concurrent(), LARGE_TABLES, folder)
                    report_tables = {}
                    row_counts = {}
                    for name, done in small.items():
                        table = done.result()
                        row_counts[name] = write_parquet(
                            table.to_batches(), schema.TABLES[name], folder / f"{name}.parquet"
                        )
                        if name in REPORT_TABLES:
                            report_tables[name] = table
                    if run_count == 0:
                        warnings.append(
                            f"no observations for {month}: every listed EVSE is 100 % unknown"
                        )
                    unmatched = row_counts["unmatched"]
                    if unmatched:
                        warnings.append(
                            f"{unmatched} observed EVSE(s) are not in any static site CSV; they"
                            " are listed in unmatched.parquet and left out of the site, network"
                            " and state figures"
                        )
                    for warning in warnings:
                        log.warning("%s: %s", month, warning)
                    manifest: dict[str, object] = {
                        "month": month,
                        "report_tz": tz,
                        "period_start": period.start.isoformat(),
                        "period_end": period.end.isoformat(),
                        "period_minutes": period.minutes,
                        "job_version": JOB_VERSION,
                        "metrics_engine": metrics_engine,
                        "run_at": now.isoformat(),
                        "inputs": {
                            "static_site_csvs": static.sources,
                            "static_connectors": len(static.connectors),
                            "status_runs": run_count,
                            "default_max_gap_minutes": default_max_gap_minutes,
                            "cpo_max_gap_minutes": {k: v for k, v in sorted(gaps.items()) if v},
                            "approved_exclusions": exclusions.num_rows,
                            "program_assignments": programs.num_rows,
                            # spec 4.5: the processed months (as their latest run wrote them)
                            "twelve_month_months": history.months,
                        },
                        "row_counts": {},  # filled in once the big tables are written
                        "files": {},
                        "warnings": warnings,
                    }
                    # (The reports read the manifest's period, inputs and warnings.)
                    report_files, _ = build_reports(
                        store, month, report_tables, manifest, uptime_threshold_pct
                    )
                    row_counts.update(large.result())
        log.info(
            "%s: read %d status runs and computed the tables in %.1f s; wrote them and built the"
            " reports in %.1f s",
            month,
            run_count,
            computed_in,
            time.perf_counter() - began - computed_in,
        )
        # Streamed from disk to the store, never held whole in memory (nor hashed whole).
        files = {path.name: path for path in sorted(folder.glob("*.parquet"))}
        row_counts = {name: row_counts[name] for name in schema.TABLES}
        manifest["row_counts"] = row_counts
        manifest["files"] = {name: _sha256(path) for name, path in sorted(files.items())}
        prefix = layout.monthly_prefix(month)
        # manifest.json goes last: on Azure it is the commit marker of the folder.
        store.replace_prefix(
            prefix, {**files, "manifest.json": json.dumps(manifest, indent=2).encode()}
        )

    # The national report and one per state with EVSEs (reports/YYYY-MM/<STATE>/).
    store.replace_prefix(layout.report_prefix(month), report_files)
    log.info("%s: wrote %s and %s", month, prefix, layout.report_prefix(month))
    return MonthResult(month, prefix, layout.report_prefix(month), row_counts, warnings, manifest)
