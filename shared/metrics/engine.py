"""The metrics engine: stored status runs + static sites → every monthly table of spec section 4.

Pure: it takes tables and returns tables (no settings, no clients). The heart is the SQL in
``sql/`` (window functions over the runs), run here on DuckDB; the same statements port to a
distributed SQL engine. Durations are summed as exact integer microseconds, so the figures
are identical run after run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from shared.metrics import schema
from shared.metrics.formulas import figure_columns, minute_columns, minutes, pct, summed
from shared.metrics.period import Period, local_midnight_utc
from shared.status import Category

SQL_DIR = Path(__file__).parent / "sql"
STEPS = sorted(SQL_DIR.glob("*.sql"))


@dataclass(frozen=True, slots=True)
class MonthInputs:
    period: Period
    # cpo_id, evse_uid, category, started_at, last_confirmed_at (UTC); other columns unused
    runs: pa.Table | pa.RecordBatchReader
    connectors: pd.DataFrame  # shared.sites.StaticSites.connectors
    default_max_gap_minutes: float
    max_gap_minutes: Mapping[str, float | None]  # per CPO, None → default


CONNECTOR_SCHEMA = pa.schema(
    [("cpo_id", pa.string()), ("evse_uid", pa.string()), ("connector_id", pa.string()),
     ("charger_id", pa.string()), ("site_id", pa.string()), ("state", pa.string()),
     ("site_name", pa.string()), ("address", pa.string()), ("suburb", pa.string()),
     ("postcode", pa.string()), ("latitude", pa.float64()), ("longitude", pa.float64()),
     ("program", pa.string()), ("connector_standard", pa.string()), ("power_type", pa.string()),
     ("max_power_kw", pa.float64()), ("commissioned_on", pa.date32()),
     ("decommissioned_on", pa.date32())]
)  # fmt: skip


def connectors_table(connectors: pd.DataFrame) -> pa.Table:
    """The static connectors with the columns and types the SQL expects."""
    columns = {}
    for field in CONNECTOR_SCHEMA:
        values = connectors[field.name] if field.name in connectors else [None] * len(connectors)
        values = [None if v is None or (isinstance(v, float) and pd.isna(v)) else v for v in values]
        if pa.types.is_string(field.type):
            values = [None if v is None else str(v) for v in values]
        columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=CONNECTOR_SCHEMA)


def midnights_table(connectors: pa.Table, tz: str) -> pa.Table:
    """Local midnight (as naive UTC) of every commissioning date that occurs."""
    days = sorted(
        {
            d
            for name in ("commissioned_on", "decommissioned_on")
            for d in connectors.column(name).to_pylist()
            if d
        }
    )
    return pa.table(
        {
            "day": pa.array(days, pa.date32()),
            "utc": pa.array(
                [local_midnight_utc(d, tz).replace(tzinfo=None) for d in days], pa.timestamp("us")
            ),
        }
    )


def _buckets_table(buckets, kind: str) -> pa.Table:
    """Local days or hours as UTC intervals, numbered; each hour carries its day's number."""
    day_numbers = {day: number for number, day in enumerate(sorted({b.day for b in buckets}))}
    if kind == "days":
        return pa.table(
            {
                "day": pa.array([b.day for b in buckets], pa.date32()),
                "day_no": pa.array([day_numbers[b.day] for b in buckets], pa.int64()),
                "f": pa.array([b.start.replace(tzinfo=None) for b in buckets], pa.timestamp("us")),
                "t": pa.array([b.end.replace(tzinfo=None) for b in buckets], pa.timestamp("us")),
            }
        )
    first = buckets[0].start if buckets else None
    if any(b.end - b.start != timedelta(hours=1) for b in buckets):
        raise ValueError(
            "report time zones whose clock shifts by part of an hour are not supported"
        )
    return pa.table(
        {
            "idx": pa.array(
                [round((b.start - first).total_seconds()) // 3600 for b in buckets], pa.int64()
            ),
            "hour_of_week": pa.array([b.weekday * 24 + b.hour for b in buckets], pa.int64()),
            "day_no": pa.array([day_numbers[b.day] for b in buckets], pa.int64()),
            "f": pa.array([b.start.replace(tzinfo=None) for b in buckets], pa.timestamp("us")),
            "t": pa.array([b.end.replace(tzinfo=None) for b in buckets], pa.timestamp("us")),
        }
    )


class MonthTables:
    """The monthly tables of one computed month, streamed out of the engine's database."""

    def __init__(self, con: duckdb.DuckDBPyConnection, queries: dict[str, str], run_count: int):
        self._con = con
        self._queries = queries
        self.run_count = run_count  # status runs the engine read

    def batches(self, table: str, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """``table``'s rows in order, as record batches of exactly ``schema.TABLES[table]``."""
        target = schema.TABLES[table]
        reader = self._con.sql(self._queries[table]).to_arrow_reader(batch_rows)
        for batch in reader:
            # Naive UTC timestamps become UTC-zoned ones by the cast.
            columns = [batch.column(field.name).cast(field.type) for field in target]
            yield pa.record_batch(columns, schema=target)

    def table(self, table: str) -> pa.Table:
        return pa.Table.from_batches(list(self.batches(table)), schema=schema.TABLES[table])


@contextmanager
def month_tables(
    inputs: MonthInputs, threads: int | None = None, memory_limit: str | None = None
) -> Iterator[MonthTables]:
    """Compute every table of ``shared.metrics.schema.TABLES`` for one month; stream them out.

    The engine works in a DuckDB database in a temporary folder, so its tables are compressed
    and, beyond ``memory_limit`` (e.g. "1GB"), spill to disk instead of growing in memory.
    ``inputs.runs`` may be a reader: it is read once, as it streams.
    """
    period = inputs.period
    cpos = set(inputs.max_gap_minutes) | set(inputs.connectors["cpo_id"])
    connectors = connectors_table(inputs.connectors)
    bounds = pa.table(
        {
            "ps": pa.array([period.start.replace(tzinfo=None)], pa.timestamp("us")),
            "pe": pa.array([period.end.replace(tzinfo=None)], pa.timestamp("us")),
        }
    )
    config: dict[str, object] = {"preserve_insertion_order": False}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    with tempfile.TemporaryDirectory(prefix="chargeatlarge-engine-") as work:
        config["temp_directory"] = str(Path(work) / "spill")
        con = duckdb.connect(str(Path(work) / "month.duckdb"), config=config)
        try:
            # Naive timestamps in the engine are UTC, whatever the machine's zone.
            con.execute("SET TimeZone = 'UTC'")
            run_count = _load_runs(con, inputs.runs)
            observed = {c for (c,) in con.sql("SELECT DISTINCT cpo_id FROM runs").fetchall()}
            gaps = _gaps_table(cpos | observed, inputs)
            for name, table in (
                ("gaps", gaps),
                ("connectors", connectors),
                ("midnights", midnights_table(connectors, period.tz)),
                ("period", bounds),
                ("days", _buckets_table(period.days(), "days")),
                ("hours", _buckets_table(period.hours(), "hours")),
            ):
                con.register(name, table)  # read in place, no copy
            for step in STEPS:
                con.execute(step.read_text())
            yield MonthTables(con, _outputs(con, inputs), run_count)
        finally:
            con.close()


def _gaps_table(cpos: set[str], inputs: MonthInputs) -> pa.Table:
    """Each CPO's max_gap in microseconds (its own where set, else the default)."""
    ordered = sorted(cpos)
    minutes = [inputs.max_gap_minutes.get(c) or inputs.default_max_gap_minutes for c in ordered]
    return pa.table(
        {
            "cpo_id": pa.array(ordered, pa.string()),
            "max_gap_us": pa.array([round(m * 60e6) for m in minutes], pa.int64()),
        }
    )


def _load_runs(con: duckdb.DuckDBPyConnection, runs: pa.Table | pa.RecordBatchReader) -> int:
    """Store the input runs once, compactly: a one-byte category, naive UTC timestamps."""
    values = ", ".join(f"'{c.value}'" for c in Category)
    con.execute(f"CREATE TYPE category AS ENUM ({values})")
    con.register("runs_input", runs)
    try:
        con.execute(
            """
            CREATE TABLE runs AS
            SELECT CAST(cpo_id AS VARCHAR) AS cpo_id, CAST(evse_uid AS VARCHAR) AS evse_uid,
                   CAST(CAST(category AS VARCHAR) AS category) AS category,
                   CAST(started_at AS TIMESTAMP) AS started_at,
                   CAST(last_confirmed_at AS TIMESTAMP) AS last_confirmed_at
            FROM runs_input
            """
        )
    except duckdb.ConversionException as error:
        raise ValueError(
            f"status runs hold a category that is not one of {values}: {error}"
        ) from error
    con.unregister("runs_input")
    pa.default_memory_pool().release_unused()  # the streamed batches are gone: give it back
    return con.sql("SELECT COUNT(*) FROM runs").fetchone()[0]


def compute_month(
    inputs: MonthInputs, threads: int | None = None, memory_limit: str | None = None
) -> dict[str, pa.Table]:
    """Every table of ``shared.metrics.schema.TABLES`` for one month, in memory."""
    with month_tables(inputs, threads, memory_limit) as tables:
        return {name: tables.table(name) for name in schema.TABLES}


def _outputs(con: duckdb.DuckDBPyConnection, inputs: MonthInputs) -> dict[str, str]:
    """Builds the EVSE table every level rolls up from; returns the query of each output."""
    gap_default = inputs.default_max_gap_minutes
    con.execute(
        f"""
        CREATE TABLE evse_full AS
        SELECT ek.cpo_id, ek.evse_uid, u.matched,
               s.charger_id, s.site_id, s.state, s.site_name, s.address, s.suburb, s.postcode,
               s.latitude, s.longitude, s.program, s.power_type, s.max_power_kw,
               s.connector_standards,
               e.* EXCLUDE (k),
               COALESCE(g.max_gap_us / 60e6, {gap_default}) AS max_gap_minutes
        FROM universe AS u
        JOIN evse_keys AS ek ON ek.k = u.k
        JOIN evse_us AS e ON e.k = u.k
        LEFT JOIN evse_static AS s ON s.k = u.k
        LEFT JOIN gaps AS g ON g.cpo_id = ek.cpo_id
        """
    )
    figures = ", ".join(figure_columns("x"))
    tables: dict[str, str] = {}
    tables["evse"] = f"""
        SELECT x.cpo_id, x.evse_uid, x.charger_id, x.site_id, x.state, x.site_name, x.address,
               x.suburb, x.postcode, x.latitude, x.longitude, x.program, x.power_type,
               x.max_power_kw, x.connector_standards, x.matched, x.max_gap_minutes, {figures}
        FROM evse_full AS x ORDER BY x.cpo_id, x.evse_uid
        """
    tables["connector"] = f"""
        SELECT c.cpo_id, c.evse_uid, CAST(c.connector_id AS VARCHAR) AS connector_id, x.charger_id,
               x.site_id, x.state, x.program, c.connector_standard, c.power_type, c.max_power_kw,
               {figures}
        FROM connectors AS c
        JOIN evse_full AS x ON x.cpo_id = c.cpo_id AND x.evse_uid = c.evse_uid
        ORDER BY c.cpo_id, c.evse_uid, connector_id
        """
    sums = ", ".join(summed("x"))
    group_figures = ", ".join(figure_columns("g"))
    tables["charger"] = f"""
        WITH g AS (
            SELECT x.cpo_id, x.charger_id, MIN(x.site_id) AS site_id, MIN(x.state) AS state,
                   string_agg(DISTINCT x.program, ',' ORDER BY x.program) AS program,
                   MAX(x.max_power_kw) AS max_power_kw, COUNT(*) AS evse_count, {sums}
            FROM evse_full AS x WHERE x.matched GROUP BY x.cpo_id, x.charger_id
        )
        SELECT g.cpo_id, g.charger_id, g.site_id, g.state, g.program, g.max_power_kw,
               g.evse_count, {group_figures}
        FROM g ORDER BY g.cpo_id, g.charger_id
        """
    tables["site"] = f"""
        WITH g AS (
            SELECT x.cpo_id, x.site_id, MIN(x.state) AS state, MIN(x.site_name) AS site_name,
                   MIN(x.address) AS address, MIN(x.suburb) AS suburb, MIN(x.postcode) AS postcode,
                   MIN(x.latitude) AS latitude, MIN(x.longitude) AS longitude,
                   string_agg(DISTINCT x.program, ',' ORDER BY x.program) AS program,
                   MAX(x.max_power_kw) AS max_power_kw, COUNT(*) AS evse_count, {sums}
            FROM evse_full AS x WHERE x.matched GROUP BY x.cpo_id, x.site_id
        )
        SELECT g.cpo_id, g.site_id, g.state, g.site_name, g.address, g.suburb, g.postcode,
               g.latitude, g.longitude, g.program, g.max_power_kw, g.evse_count, {group_figures},
               {pct("a.any_up_us", "a.any_known_us")} AS any_up_pct
        FROM g LEFT JOIN site_any_up_us AS a ON a.cpo_id = g.cpo_id AND a.site_id = g.site_id
        ORDER BY g.cpo_id, g.site_id
        """
    for level, key in (("network", "cpo_id"), ("state", "state")):
        tables[level] = f"""
            WITH g AS (
                SELECT x.{key}, COUNT(DISTINCT x.cpo_id || '/' || x.site_id) AS site_count,
                       COUNT(*) AS evse_count, {sums}
                FROM evse_full AS x WHERE x.matched GROUP BY x.{key}
            )
            SELECT g.{key}, g.site_count, g.evse_count, {group_figures} FROM g ORDER BY g.{key}
            """
    tables["unmatched"] = f"""
        SELECT x.cpo_id, x.evse_uid, r.first_observed_at, r.last_confirmed_at,
               {minutes("x.period_us - x.not_in_service_us - x.unknown_us")} AS known_minutes
        FROM evse_full AS x
        JOIN (SELECT r.cpo_id, r.evse_uid, MIN(r.started_at) AS first_observed_at,
                     MAX(LEAST(r.last_confirmed_at, p.pe)) AS last_confirmed_at
              FROM runs AS r CROSS JOIN period AS p
              WHERE r.started_at < p.pe
              GROUP BY r.cpo_id, r.evse_uid) AS r
          ON r.cpo_id = x.cpo_id AND r.evse_uid = x.evse_uid
        WHERE NOT x.matched ORDER BY x.cpo_id, x.evse_uid
        """
    tables["outages"] = f"""
        SELECT ek.cpo_id, ek.evse_uid, s.charger_id, s.site_id, s.state, CAST(o.category AS VARCHAR) AS category,
               o.started_at, o.ended_at, {minutes("o.us_in_period")} AS minutes_in_period
        FROM outages_us AS o
        JOIN evse_keys AS ek ON ek.k = o.k
        LEFT JOIN evse_static AS s ON s.k = o.k
        ORDER BY ek.cpo_id, ek.evse_uid, o.started_at
        """
    tables["daily"] = f"""
        SELECT ek.cpo_id, ek.evse_uid, s.charger_id, s.site_id, s.state, d.day AS date,
               {", ".join(minute_columns("d"))}
        FROM daily_us AS d
        JOIN evse_keys AS ek ON ek.k = d.k
        LEFT JOIN evse_static AS s ON s.k = d.k
        ORDER BY ek.cpo_id, ek.evse_uid, d.day
        """
    tables["hour_of_week"] = f"""
        SELECT h.cpo_id, h.site_id, st.state, h.hour_of_week,
               h.hour_of_week // 24 AS day_of_week, h.hour_of_week % 24 AS hour,
               {minutes("h.in_use_us")} AS in_use_minutes, {minutes("h.known_us")} AS known_minutes,
               {pct("h.in_use_us", "h.known_us")} AS utilisation_pct
        FROM hour_of_week_us AS h
        JOIN (SELECT cpo_id, site_id, MIN(state) AS state FROM evse_static GROUP BY cpo_id, site_id) AS st
          ON st.cpo_id = h.cpo_id AND st.site_id = h.site_id
        ORDER BY h.cpo_id, h.site_id, h.hour_of_week
        """
    return tables
