"""The metrics engine: stored status runs + static sites → every monthly table of spec section 4.

Pure: it takes tables and returns tables (no settings, no clients). The heart is the SQL in
``sql/`` (window functions over the runs), run here on DuckDB; the same statements port to a
distributed SQL engine. Durations are summed as exact integer microseconds, so the figures
are identical run after run.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from shared.metrics import schema
from shared.metrics.formulas import (
    ENGINE_ONLY_CATEGORIES,
    US_PER_MINUTE,
    bigint_columns,
    category_list,
    category_sums,
    figure_columns,
    known_us,
    minute_columns,
    minutes,
    pct,
    summed,
    twelve_month_columns,
)
from shared.metrics.period import Bucket, Period, local_midnight_utc
from shared.opening_hours import open_intervals, parse_opening_hours, site_time_zone
from shared.status import Category

SQL_DIR = Path(__file__).parent / "sql"
STEPS = sorted(SQL_DIR.glob("*.sql"))
# The steps' biggest table (a row per piece), which no output reads.
INTERMEDIATE_TABLES = ("pieces",)
_CATEGORY_SUMS = re.compile(r"\{\{category_sums:(.*?)\}\}")
_CATEGORY_LIST = re.compile(r"\{\{categories:(\w+)\}\}")
_BIGINT_SUMS = re.compile(r"\{\{bigint_sums:(\w+)\}\}")


def render(sql: str) -> str:
    """A step's SQL with its generated parts filled in: ``{{category_sums:EXPR}}`` (one sum
    column per piece category), ``{{categories:down}}`` / ``not_known`` (category sets) and
    ``{{bigint_sums:ALIAS}}`` (every sum column of ALIAS as BIGINT)."""
    sql = _CATEGORY_SUMS.sub(lambda m: category_sums(m.group(1)), sql)
    sql = _BIGINT_SUMS.sub(lambda m: bigint_columns(m.group(1)), sql)
    return _CATEGORY_LIST.sub(lambda m: category_list(m.group(1)), sql)


EXCLUSION_SCOPES = ("evse", "charger", "site")
EXCLUSIONS_INPUT = pa.schema(
    [("exclusion_id", pa.string()), ("cpo_id", pa.string()), ("scope", pa.string()),
     ("scope_id", pa.string()), ("from_at", pa.timestamp("us", tz="UTC")),
     ("to_at", pa.timestamp("us", tz="UTC")), ("cause", pa.string()), ("note", pa.string())]
)  # fmt: skip
PROGRAMS_INPUT = pa.schema(
    [("cpo_id", pa.string()), ("site_id", pa.string()), ("program", pa.string())]
)
# What a previous month's stored row gives the twelve-month figures (spec 4.5).
HISTORY_MINUTES = (
    "available_minutes",
    "in_use_minutes",
    "reserved_minutes",
    "excluded_minutes",
    "known_minutes",
)
# Open windows start this long before the period: any week holds an open instant, so whether
# a run under way at the period's start was in service before it is decided inside this reach.
OPEN_WINDOW_REACH = timedelta(days=8)
EARLIEST = datetime(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class MonthInputs:
    period: Period
    # cpo_id, evse_uid, category, started_at, last_confirmed_at (UTC); other columns unused
    runs: pa.Table | pa.RecordBatchReader
    # shared.sites.StaticSites.connectors, or a function giving them: the engine asks for them
    # once the runs are stored, so the job reads the static sites while the runs stream in.
    connectors: pd.DataFrame | Callable[[], pd.DataFrame]
    default_max_gap_minutes: float
    max_gap_minutes: Mapping[str, float | None]  # per CPO, None → default
    # Approved exclusions (EXCLUSIONS_INPUT columns); only those overlapping the period count.
    exclusions: pa.Table | None = None
    # Site → grant program assignments (PROGRAMS_INPUT): fill program where the CSV has none.
    programs: pa.Table | None = None
    # Per level of schema.TWELVE_MONTH_KEYS: the previous eleven processed months' rows, as
    # stored: the level's key columns, ``month`` (YYYY-MM) and HISTORY_MINUTES.
    history: Mapping[str, pa.Table] = field(default_factory=dict)


CONNECTOR_SCHEMA = pa.schema(
    [("cpo_id", pa.string()), ("evse_uid", pa.string()), ("connector_id", pa.string()),
     ("charger_id", pa.string()), ("site_id", pa.string()), ("state", pa.string()),
     ("site_name", pa.string()), ("address", pa.string()), ("suburb", pa.string()),
     ("postcode", pa.string()), ("latitude", pa.float64()), ("longitude", pa.float64()),
     ("program", pa.string()), ("connector_standard", pa.string()), ("power_type", pa.string()),
     ("max_power_kw", pa.float64()), ("commissioned_on", pa.date32()),
     ("decommissioned_on", pa.date32()), ("lga_code", pa.string()), ("lga_name", pa.string()),
     ("opening_hours", pa.string()), ("time_zone", pa.string())]
)  # fmt: skip


def connectors_table(connectors: pd.DataFrame) -> pa.Table:
    """The static connectors with the columns and types the SQL expects (empty text is null)."""
    columns = {}
    for field_ in CONNECTOR_SCHEMA:
        values = connectors[field_.name] if field_.name in connectors else [None] * len(connectors)
        values = [None if v is None or (isinstance(v, float) and pd.isna(v)) else v for v in values]
        if pa.types.is_string(field_.type):
            values = [None if v is None or str(v).strip() == "" else str(v) for v in values]
        columns[field_.name] = pa.array(values, field_.type)
    return pa.table(columns, schema=CONNECTOR_SCHEMA)


def opening_hours_tables(connectors: pa.Table, period: Period) -> tuple[pa.Table, pa.Table]:
    """(site_hours, open_windows): each site's opening hours and zone, and the UTC open windows
    of every distinct (hours, zone) group ``hk`` from 8 days before the period to its end."""
    # All connectors of a site carry the same hours (spec 5, checked on load); take the least.
    per_site = (
        connectors.group_by(["cpo_id", "site_id"])
        .aggregate([("opening_hours", "min"), ("time_zone", "min"), ("state", "min")])
        .sort_by([("cpo_id", "ascending"), ("site_id", "ascending")])
    )
    sites = zip(
        *(
            per_site.column(name).to_pylist()
            for name in ("cpo_id", "site_id", "opening_hours_min", "time_zone_min", "state_min")
        ),
        strict=True,
    )
    groups: dict[tuple[str, str], int] = {}
    rows: dict[str, list] = {
        k: [] for k in ("cpo_id", "site_id", "hk", "opening_hours", "time_zone")
    }
    windows: dict[str, list] = {"hk": [], "f": [], "t": []}
    reach_start = period.start - OPEN_WINDOW_REACH
    for cpo_id, site_id, text, zone_name, state in sites:
        where = f"site {cpo_id}/{site_id}"
        try:
            zone = site_time_zone(state or "", zone_name)
            hours = parse_opening_hours(text or "")
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        hk = None
        if not hours.always_open:
            hk = groups.get((text, zone))
            if hk is None:
                hk = groups[(text, zone)] = len(groups)
                windows["hk"].append(hk)
                windows["f"].append(EARLIEST)
                windows["t"].append(reach_start.replace(tzinfo=None))
                for lo, hi in open_intervals(hours, reach_start, period.end, zone):
                    windows["hk"].append(hk)
                    windows["f"].append(lo.replace(tzinfo=None))
                    windows["t"].append(hi.replace(tzinfo=None))
        rows["cpo_id"].append(cpo_id)
        rows["site_id"].append(site_id)
        rows["hk"].append(hk)
        rows["opening_hours"].append(None if hours.always_open else text.strip())
        rows["time_zone"].append(zone)
    site_hours = pa.table(
        {
            "cpo_id": pa.array(rows["cpo_id"], pa.string()),
            "site_id": pa.array(rows["site_id"], pa.string()),
            "hk": pa.array(rows["hk"], pa.int32()),
            "opening_hours": pa.array(rows["opening_hours"], pa.string()),
            "time_zone": pa.array(rows["time_zone"], pa.string()),
        }
    )
    open_windows = pa.table(
        {
            "hk": pa.array(windows["hk"], pa.int32()),
            "f": pa.array(windows["f"], pa.timestamp("us")),
            "t": pa.array(windows["t"], pa.timestamp("us")),
        }
    )
    return site_hours, open_windows


def exclusions_table(exclusions: pa.Table | None) -> pa.Table:
    """The approved exclusions, checked, with naive UTC timestamps for the SQL."""
    if exclusions is None:
        exclusions = EXCLUSIONS_INPUT.empty_table()
    missing = [n for n in EXCLUSIONS_INPUT.names if n not in exclusions.column_names]
    if missing:
        raise ValueError(f"exclusions: missing column(s) {', '.join(missing)}")
    table = exclusions.select(EXCLUSIONS_INPUT.names).cast(EXCLUSIONS_INPUT)
    for row in table.to_pylist():
        where = f"exclusion {row['exclusion_id']!r}"
        if row["scope"] not in EXCLUSION_SCOPES:
            raise ValueError(
                f"{where}: scope {row['scope']!r} is not one of {', '.join(EXCLUSION_SCOPES)}"
            )
        if row["from_at"] is None or row["to_at"] is None or not row["to_at"] > row["from_at"]:
            raise ValueError(f"{where}: to_at must be after from_at")
    naive = pa.timestamp("us")
    return pa.table(
        {
            **{n: table.column(n) for n in EXCLUSIONS_INPUT.names if n not in ("from_at", "to_at")},
            "from_at": table.column("from_at").cast(naive),
            "to_at": table.column("to_at").cast(naive),
        }
    )


def programs_table(programs: pa.Table | None) -> pa.Table:
    if programs is None:
        return PROGRAMS_INPUT.empty_table()
    return programs.select(PROGRAMS_INPUT.names).cast(PROGRAMS_INPUT)


def history_table(level: str, history: Mapping[str, pa.Table]) -> pa.Table:
    """A level's previous months as key columns, ``month`` and the microseconds 4.5 sums."""
    keys = schema.TWELVE_MONTH_KEYS[level]
    table = history.get(level)
    if table is None or table.num_rows == 0:
        return pa.table(
            {**{k: pa.array([], pa.string()) for k in keys}, "month": pa.array([], pa.string()),
             **{m: pa.array([], pa.float64()) for m in HISTORY_MINUTES}}
        )  # fmt: skip
    columns = {k: table.column(k).cast(pa.string()) for k in (*keys, "month")}
    for name in HISTORY_MINUTES:
        # Months written before a figure existed (excluded time) add nothing to it.
        columns[name] = (
            table.column(name).cast(pa.float64())
            if name in table.column_names
            else pa.nulls(table.num_rows, pa.float64())
        )
    return pa.table(columns)


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


def _buckets_table(buckets: Sequence[Bucket], kind: str) -> pa.Table:
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
    first = buckets[0].start if buckets else datetime(2000, 1, 1)  # no hours: no rows
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


@dataclass(frozen=True, slots=True)
class StepTime:
    """How long one statement of the engine took: wall seconds, and CPU seconds of the whole
    process (every DuckDB thread; the figure to compare on a busy machine)."""

    statement: str
    seconds: float
    cpu_seconds: float


_STATEMENT_TARGET = re.compile(
    r"^\s*(CREATE OR REPLACE TABLE|CREATE TABLE|INSERT INTO|DELETE FROM|DROP TABLE|ALTER TABLE)"
    r"\s+(\w+)",
    re.MULTILINE,
)


def _timed(con: duckdb.DuckDBPyConnection, sql: str, step: str) -> StepTime:
    began, cpu = time.perf_counter(), time.process_time()
    con.execute(sql)
    target = _STATEMENT_TARGET.search(sql)
    what = f"{target.group(1).split()[0].lower()} {target.group(2)}" if target else "statement"
    return StepTime(f"{step}: {what}", time.perf_counter() - began, time.process_time() - cpu)


class MonthTables:
    """The monthly tables of one computed month, streamed out of the engine's database."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        queries: dict[str, str],
        run_count: int,
        step_times: list[StepTime] | None = None,
        inputs: Mapping[str, pa.Table] | None = None,
    ) -> None:
        self._con = con
        self._queries = queries
        self._inputs = dict(inputs or {})  # registered on ``con`` by name
        self.run_count = run_count  # status runs the engine read
        # Storing the runs, then each statement of the SQL steps, in order (a profile).
        self.step_times = step_times or []

    def concurrent(self) -> MonthTables:
        """The same tables through a connection of their own (the inputs registered on it too),
        to stream one table in another thread while this one streams others: a DuckDB
        connection serves one thread at a time."""
        cursor = self._con.cursor()
        for name, table in self._inputs.items():
            cursor.register(name, table)
        return MonthTables(cursor, self._queries, self.run_count, self.step_times, self._inputs)

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


def input_tables(inputs: MonthInputs, observed_cpos: set[str]) -> dict[str, pa.Table]:
    """Every table the SQL steps read besides ``runs`` (``observed_cpos``: its CPOs), by name.

    Checks the static inputs first: bad opening hours or exclusions raise before any SQL runs.
    """
    period = inputs.period
    static = (
        inputs.connectors if isinstance(inputs.connectors, pd.DataFrame) else inputs.connectors()
    )
    cpos = set(inputs.max_gap_minutes) | set(static["cpo_id"])
    connectors = connectors_table(static)
    site_hours, open_windows = opening_hours_tables(connectors, period)
    exclusions = exclusions_table(inputs.exclusions)
    bounds = pa.table(
        {
            "ps": pa.array([period.start.replace(tzinfo=None)], pa.timestamp("us")),
            "pe": pa.array([period.end.replace(tzinfo=None)], pa.timestamp("us")),
        }
    )
    return {
        "gaps": _gaps_table(cpos | observed_cpos, inputs),
        "connectors": connectors,
        "midnights": midnights_table(connectors, period.tz),
        "period": bounds,
        "days": _buckets_table(period.days(), "days"),
        "hours": _buckets_table(period.hours(), "hours"),
        "site_hours": site_hours,
        "open_windows": open_windows,
        "exclusions": exclusions,
        "programs": programs_table(inputs.programs),
        **{
            f"history_{level}": history_table(level, inputs.history)
            for level in schema.TWELVE_MONTH_KEYS
        },
    }


@contextmanager
def month_tables(
    inputs: MonthInputs, threads: int | None = None, memory_limit: str | None = None
) -> Iterator[MonthTables]:
    """Compute every table of ``shared.metrics.schema.TABLES`` for one month; stream them out.

    The engine works in an in-memory DuckDB database whose tables, beyond ``memory_limit``
    (e.g. "1GB"), spill to a temporary folder instead of growing in memory. (A database file
    would compress every table as it is written: for a national month that costs more CPU
    than the spilling it saves, bench/monthly.py.) ``inputs.runs`` may be a reader: it is read
    once, as it streams. ``MonthTables.step_times`` profiles each statement.
    """
    config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    with tempfile.TemporaryDirectory(prefix="chargeatlarge-engine-") as work:
        config["temp_directory"] = str(Path(work) / "spill")
        con = duckdb.connect(":memory:", config=config)
        try:
            # Naive timestamps in the engine are UTC, whatever the machine's zone.
            con.execute("SET TimeZone = 'UTC'")
            # The optimizer that swaps a hash join's build and probe sides by its cardinality
            # estimates misjudges the steps' CTEs and unions: in pieces it built the hash table
            # on the 12 M timeline rows rather than the 50,000 EVSEs. Without it the join order
            # optimizer's choice stands: a national month's steps take 42 CPU-s, not 69.
            con.execute("SET disabled_optimizers = 'build_side_probe_side'")
            began, cpu = time.perf_counter(), time.process_time()
            run_count = _load_runs(con, inputs.runs)
            loaded = (time.perf_counter() - began, time.process_time() - cpu)
            observed = {c for (c,) in con.sql("SELECT DISTINCT cpo_id FROM runs").fetchall()}
            registered = input_tables(inputs, observed)
            for name, table in registered.items():
                con.register(name, table)  # read in place, no copy
            times = [StepTime("store the runs", *loaded)]
            for step in STEPS:
                for statement in con.extract_statements(render(step.read_text())):
                    times.append(_timed(con, statement.query, step.stem))
            evse_full, queries = output_sql(inputs)
            times.append(_timed(con, evse_full, "outputs"))
            for name in INTERMEDIATE_TABLES:  # memory for the outputs' queries and their readers
                times.append(_timed(con, f"DROP TABLE {name}", "outputs"))
            yield MonthTables(con, queries, run_count, times, registered)
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


def _naive_instants(runs: pa.Table | pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The runs with zoned timestamps as naive UTC ones, batch by batch, as they stream.

    Arrow keeps a zoned timestamp as UTC, so dropping the zone changes no value and costs
    nothing, while DuckDB's cast of a TIMESTAMPTZ to TIMESTAMP goes through its time-zone
    calendar row by row (a second per ten million instants).
    """
    reader = runs if isinstance(runs, pa.RecordBatchReader) else runs.to_reader()
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) else f
        for f in reader.schema
    ]
    target = pa.schema(fields)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield pa.record_batch(
                [column.cast(f.type) for column, f in zip(batch.columns, target, strict=True)],
                schema=target,
            )

    return pa.RecordBatchReader.from_batches(target, batches())


def _load_runs(con: duckdb.DuckDBPyConnection, runs: pa.Table | pa.RecordBatchReader) -> int:
    """Store the input runs once, compactly: a one-byte category, naive UTC timestamps."""
    values = ", ".join(f"'{c.value}'" for c in Category)
    engine_only = ", ".join(f"'{c}'" for c in ENGINE_ONLY_CATEGORIES)
    con.execute(f"CREATE TYPE category AS ENUM ({values}, {engine_only})")
    con.register("runs_input", _naive_instants(runs))
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
    counted = con.sql(
        f"SELECT COUNT(*), COUNT(*) FILTER (WHERE category IN ({engine_only})) FROM runs"
    ).fetchall()[0]
    if counted[1]:
        raise ValueError(f"status runs hold a category that is not one of {values}")
    pa.default_memory_pool().release_unused()  # the streamed batches are gone: give it back
    return int(counted[0])


def compute_month(
    inputs: MonthInputs, threads: int | None = None, memory_limit: str | None = None
) -> dict[str, pa.Table]:
    """Every table of ``shared.metrics.schema.TABLES`` for one month, in memory."""
    with month_tables(inputs, threads, memory_limit) as tables:
        return {name: tables.table(name) for name in schema.TABLES}


def _history_sums(level: str) -> str:
    """One row per key of ``level``'s previous months: the sums spec 4.5 adds to this month's."""
    keys = ", ".join(schema.TWELVE_MONTH_KEYS[level])
    us = {m: f"CAST(round(COALESCE({m}, 0) * {US_PER_MINUTE}) AS BIGINT)" for m in HISTORY_MINUTES}
    up = " + ".join(us[m] for m in ("available_minutes", "in_use_minutes", "reserved_minutes"))
    return f"""
        SELECT {keys}, SUM({up}) AS up_us, SUM({us["excluded_minutes"]}) AS excluded_us,
               SUM({us["known_minutes"]}) AS known_us, COUNT(DISTINCT month) AS months
        FROM history_{level} GROUP BY {keys}
        """


def _history_join(level: str, src: str) -> str:
    on = " AND ".join(f"h.{k} = {src}.{k}" for k in schema.TWELVE_MONTH_KEYS[level])
    return f"LEFT JOIN ({_history_sums(level)}) AS h ON {on}"


def output_sql(inputs: MonthInputs) -> tuple[str, dict[str, str]]:
    """(the statement that builds ``evse_full``, run after STEPS; each output table's query)."""
    gap_default = inputs.default_max_gap_minutes
    evse_full = f"""
        CREATE TABLE evse_full AS
        SELECT ek.cpo_id, ek.evse_uid, u.matched,
               s.charger_id, s.site_id, s.state, s.site_name, s.address, s.suburb, s.postcode,
               s.latitude, s.longitude, s.lga_code, s.lga_name, s.program, s.power_type,
               s.max_power_kw, s.connector_standards, s.opening_hours, s.time_zone,
               e.* EXCLUDE (k),
               COALESCE(g.max_gap_us / 60e6, {gap_default}) AS max_gap_minutes
        FROM universe AS u
        JOIN evse_keys AS ek ON ek.k = u.k
        JOIN evse_us AS e ON e.k = u.k
        LEFT JOIN evse_static AS s ON s.k = u.k
        LEFT JOIN gaps AS g ON g.cpo_id = ek.cpo_id
        """
    figures = ", ".join(figure_columns("x"))
    tables: dict[str, str] = {}
    tables["evse"] = f"""
        SELECT x.cpo_id, x.evse_uid, x.charger_id, x.site_id, x.state, x.site_name, x.address,
               x.suburb, x.postcode, x.latitude, x.longitude, x.lga_code, x.lga_name, x.program,
               x.power_type, x.max_power_kw, x.connector_standards, x.opening_hours, x.matched,
               x.max_gap_minutes, {figures}, {", ".join(twelve_month_columns("x", "h"))}
        FROM evse_full AS x {_history_join("evse", "x")}
        ORDER BY x.cpo_id, x.evse_uid
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
    twelve = ", ".join(twelve_month_columns("g", "h"))
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
                   MIN(x.lga_code) AS lga_code, MIN(x.lga_name) AS lga_name,
                   string_agg(DISTINCT x.program, ',' ORDER BY x.program) AS program,
                   MIN(x.opening_hours) AS opening_hours, MIN(x.time_zone) AS time_zone,
                   MAX(x.max_power_kw) AS max_power_kw, COUNT(*) AS evse_count, {sums}
            FROM evse_full AS x WHERE x.matched GROUP BY x.cpo_id, x.site_id
        )
        SELECT g.cpo_id, g.site_id, g.state, g.site_name, g.address, g.suburb, g.postcode,
               g.latitude, g.longitude, g.lga_code, g.lga_name, g.program, g.opening_hours,
               g.time_zone, g.max_power_kw, g.evse_count, {group_figures},
               {pct("a.any_up_us", "a.any_known_us")} AS any_up_pct, {twelve}
        FROM g LEFT JOIN site_any_up_us AS a ON a.cpo_id = g.cpo_id AND a.site_id = g.site_id
        {_history_join("site", "g")}
        ORDER BY g.cpo_id, g.site_id
        """
    # An EVSE whose connectors name several programs is in each of them.
    programs = "UNNEST(string_split(x.program, ',')) AS program"
    for level, keys, source, where in (
        ("network", ("cpo_id",), "x.*", "TRUE"),
        ("state", ("state",), "x.*", "TRUE"),
        ("program", ("program",), f"x.* EXCLUDE (program), {programs}", "x.program IS NOT NULL"),
        ("lga", ("state", "lga_code", "lga_name"), "x.*", "x.lga_code IS NOT NULL"),
    ):
        key_list = ", ".join(f"x.{k}" for k in keys)
        tables[level] = f"""
            WITH x AS (SELECT {source} FROM evse_full AS x WHERE x.matched AND {where}),
            g AS (
                SELECT {key_list}, COUNT(DISTINCT x.cpo_id || '/' || x.site_id) AS site_count,
                       COUNT(*) AS evse_count, {sums}
                FROM x GROUP BY {key_list}
            )
            SELECT {", ".join(f"g.{k}" for k in keys)}, g.site_count, g.evse_count,
                   {group_figures}, {twelve}
            FROM g {_history_join(level, "g")}
            ORDER BY {", ".join(f"g.{k}" for k in keys)}
            """
    tables["unmatched"] = f"""
        SELECT x.cpo_id, x.evse_uid, r.first_observed_at, r.last_confirmed_at,
               {minutes(known_us("x"))} AS known_minutes
        FROM evse_full AS x
        JOIN evse_keys AS ek ON ek.cpo_id = x.cpo_id AND ek.evse_uid = x.evse_uid
        JOIN observed_span AS r ON r.k = ek.k
        WHERE NOT x.matched ORDER BY x.cpo_id, x.evse_uid
        """
    tables["outages"] = f"""
        SELECT ek.cpo_id, ek.evse_uid, s.charger_id, s.site_id, s.state,
               CAST(o.category AS VARCHAR) AS category, o.started_at, o.ended_at,
               {minutes("o.us_in_period")} AS minutes_in_period,
               {minutes("o.excluded_us_in_period")} AS excluded_minutes_in_period, o.causes
        FROM outages_us AS o
        JOIN evse_keys AS ek ON ek.k = o.k
        LEFT JOIN evse_static AS s ON s.k = o.k
        ORDER BY ek.cpo_id, ek.evse_uid, o.started_at
        """
    tables["exclusions"] = """
        SELECT x.exclusion_id, x.cpo_id, x.scope, x.scope_id, x.from_at, x.to_at, x.cause, x.note,
               (SELECT COUNT(DISTINCT e.k) FROM exclusion_evse AS e
                JOIN evse_static AS s ON s.k = e.k
                WHERE e.exclusion_id = x.exclusion_id) AS evse_count
        FROM exclusions AS x CROSS JOIN period AS p
        WHERE x.from_at < p.pe AND x.to_at > p.ps
        ORDER BY x.cpo_id, x.from_at, x.exclusion_id
        """
    tables["daily"] = f"""
        SELECT ek.cpo_id, ek.evse_uid, s.charger_id, s.site_id, s.state, d.day AS date,
               {", ".join(minute_columns("d"))}
        FROM daily_us AS d
        JOIN evse_keys AS ek ON ek.k = d.k
        LEFT JOIN evse_static AS s ON s.k = d.k
        ORDER BY d.k, d.day
        """
    tables["hour_of_week"] = f"""
        SELECT st.cpo_id, st.site_id, st.state, h.hour_of_week,
               h.hour_of_week // 24 AS day_of_week, h.hour_of_week % 24 AS hour,
               {minutes("h.in_use_us")} AS in_use_minutes, {minutes("h.known_us")} AS known_minutes,
               {pct("h.in_use_us", "h.known_us")} AS utilisation_pct
        FROM hour_of_week_us AS h
        JOIN (SELECT site_k, MIN(cpo_id) AS cpo_id, MIN(site_id) AS site_id, MIN(state) AS state
              FROM evse_static GROUP BY site_k) AS st
          ON st.site_k = h.site_k
        ORDER BY h.site_k, h.hour_of_week
        """
    return evse_full, tables
