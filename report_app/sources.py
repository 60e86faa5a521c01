"""Where the dashboard's data comes from: blobs and the database (shared caches: ``caches``).

A missing or corrupt input becomes a ``DataProblem`` whose message the page shows as its empty
state, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from report_app.data import DataProblem
from report_app.live_data import LiveData, live_evses
from shared import layout
from shared.blobstore import BlobNotFound, BlobStore
from shared.jurisdictions import Viewer
from shared.metrics import schema
from shared.metrics.period import MONTH_PATTERN
from shared.monthly.state_reports import state_report_prefix
from shared.sites import STATES, StaticSites

MAX_FEEDS_JSON_BYTES = 5_000_000


def _read_arrow(
    store: BlobStore,
    name: str,
    expected: pa.Schema,
    what: str,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
) -> pa.Table:
    """The blob as a table of ``columns`` (default: all of ``expected``), checked and cast.

    Only the named columns are decoded (Parquet column projection); ``categorical`` string
    columns stay dictionary-encoded (pandas categoricals once converted).
    """
    if columns is not None:
        expected = pa.schema([expected.field(c) for c in columns])
    dictionary = [c for c in categorical if c in expected.names]
    expected = pa.schema(
        [f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in dictionary else f
         for f in expected]
    )  # fmt: skip
    try:
        blob = store.open(name)
    except BlobNotFound:
        raise DataProblem(f"No {what} yet: {name} has not been written.") from None
    # Read in place (a ranged read per column chunk on Azure), not downloaded whole.
    try:
        with blob, pq.ParquetFile(blob, read_dictionary=dictionary) as file:
            present = set(file.schema_arrow.names)
            wanted = [f.name for f in expected if f.name in present]
            # a month processed before contract version 2 fills some columns from others
            copies = {VERSION_ONE.get(f.name) for f in expected if f.name not in present}
            wanted += sorted(c for c in copies if isinstance(c, str) and c in present)
            table = file.read(columns=list(dict.fromkeys(wanted)))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataProblem(f"{name} is not a readable Parquet file ({exc}).") from None
    table = _version_one_filled(table, expected)
    missing = [f.name for f in expected if f.name not in table.column_names]
    if missing:
        raise DataProblem(f"{name} lacks the columns {', '.join(missing)}.")
    try:
        table = table.select([f.name for f in expected]).cast(expected)
    except (pa.ArrowException, ValueError) as exc:
        raise DataProblem(f"{name} has columns of the wrong type ({exc}).") from None
    return table


# Columns that contract version 2 added, and what they are in a month processed before it: no
# closed time or exclusions then, and all unknown time counted as no data; LGA, opening hours
# and twelve-month figures unknown. A copy names the column whose values it takes.
VERSION_ONE = {
    "closed_minutes": 0.0, "excluded_minutes": 0.0, "unknown_reported_minutes": 0.0,
    "no_data_minutes": "unknown_minutes", "uptime_excl_pct": "uptime_pct",
    "excluded_minutes_in_period": 0.0, "causes": "",
    "uptime_12m_pct": None, "uptime_excl_12m_pct": None, "months_in_12m": None,
    "lga_code": None, "lga_name": None, "opening_hours": None, "time_zone": None,
}  # fmt: skip


def _version_one_filled(table: pa.Table, expected: pa.Schema) -> pa.Table:
    """A table written before contract version 2, given the columns it did not have yet."""
    for field in expected:
        if field.name in table.column_names or field.name not in VERSION_ONE:
            continue
        fill = VERSION_ONE[field.name]
        if isinstance(fill, str) and fill in table.column_names:
            column = table.column(fill).cast(field.type)
        else:
            column = pa.nulls(table.num_rows, field.type) if fill is None else pa.array(
                [fill] * table.num_rows, field.type)  # fmt: skip
        table = table.append_column(field.name, column)
    return table


def read_live_status(store: BlobStore) -> pd.DataFrame:
    """``live/status.parquet``, one row per EVSE, checked against ``schema.LIVE_STATUS``."""
    table = _read_arrow(store, layout.LIVE_STATUS, schema.LIVE_STATUS, "live data")
    return table.to_pandas(date_as_object=False)


def live_signature(store: BlobStore) -> tuple[object, ...]:
    """Cheap check for the live poll: when the snapshot or a static site file last changed."""
    live = store.info(layout.LIVE_STATUS)
    sites = tuple((b.name, b.size, b.last_modified) for b in store.list(layout.STATIC_SITES_PREFIX))
    return (live.last_modified, live.size) if live else None, sites


def available_months(store: BlobStore) -> list[str]:
    """Months with a committed ``manifest.json`` under ``processed/monthly/``, newest first."""
    months = set()
    for blob in store.list(layout.PROCESSED_MONTHLY_PREFIX):
        rest = blob.name[len(layout.PROCESSED_MONTHLY_PREFIX) :]
        month, _, name = rest.partition("/")
        if name == "manifest.json" and MONTH_PATTERN.fullmatch(month):
            months.add(month)
    return sorted(months, reverse=True)


def check_month(month: str) -> str:
    if not isinstance(month, str) or not MONTH_PATTERN.fullmatch(month):
        raise DataProblem(f"{str(month)[:20]!r} is not a month (YYYY-MM).")
    return month


def read_month_table(
    store: BlobStore,
    month: str,
    table: str,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
) -> pd.DataFrame:
    """One monthly table (or its ``columns``), checked against ``shared.metrics.schema``."""
    return read_month_arrow(store, month, table, columns, categorical).to_pandas(
        date_as_object=False  # datetime64, not one Python object per row
    )


def read_month_arrow(
    store: BlobStore,
    month: str,
    table: str,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
) -> pa.Table:
    """``read_month_table``'s table as Arrow: no pandas copy, for builders that need none."""
    check_month(month)
    if table not in schema.TABLES:
        raise DataProblem(f"{table!r} is not a monthly table.")
    unknown = [c for c in columns or () if c not in schema.TABLES[table].names]
    if unknown:
        raise DataProblem(f"{table} has no columns {', '.join(unknown)}.")
    return _read_arrow(
        store,
        layout.monthly_table_blob(month, table),
        schema.TABLES[table],
        f"{table} figures",
        columns,
        categorical,
    )


def read_feed_health(store: BlobStore) -> pd.DataFrame:
    """``live/feeds.json`` from the worker as one row per feed; unknown fields are ignored."""
    columns = ["cpo_id", "kind", "last_success_at", "last_error_at", "last_error", "lag_seconds"]
    info = store.info(layout.FEED_HEALTH)
    if info is None:
        raise DataProblem(f"No feed health yet: {layout.FEED_HEALTH} has not been written.")
    if info.size > MAX_FEEDS_JSON_BYTES:
        raise DataProblem(f"{layout.FEED_HEALTH} is {info.size} bytes, over the 5 MB limit.")
    try:
        payload = json.loads(store.get(layout.FEED_HEALTH))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataProblem(f"{layout.FEED_HEALTH} is not valid JSON ({exc}).") from None
    except BlobNotFound:
        raise DataProblem(
            f"No feed health yet: {layout.FEED_HEALTH} has not been written."
        ) from None
    feeds = payload.get("feeds") if isinstance(payload, dict) else payload
    if not isinstance(feeds, list):
        raise DataProblem(f"{layout.FEED_HEALTH} has no list of feeds.")
    rows = []
    for feed in feeds:
        if not isinstance(feed, dict):
            continue
        row = {c: feed.get(c) for c in columns}
        row = {
            c: v if isinstance(v, str | int | float) or v is None else str(v)
            for c, v in row.items()
        }
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    frame["lag_seconds"] = pd.to_numeric(frame["lag_seconds"], errors="coerce")
    for column in ("cpo_id", "kind", "last_error", "last_success_at", "last_error_at"):
        frame[column] = frame[column].astype("string").str.slice(0, 300)
    return frame


def quarantine_counts(database_url: str | None) -> pd.DataFrame:
    """Quarantined inputs per CPO and source: total and the newest ``received_at``."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db.engine import make_engine
    from shared.db.tables import quarantine

    if not database_url:
        raise DataProblem("No database is configured, so quarantine counts are unavailable.")
    try:
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        quarantine.c.cpo_id,
                        quarantine.c.source,
                        func.count().label("quarantined"),
                        func.max(quarantine.c.received_at).label("last_received_at"),
                    )
                    .group_by(quarantine.c.cpo_id, quarantine.c.source)
                    .order_by(quarantine.c.cpo_id, quarantine.c.source)
                ).all()
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0][:200]
        if "no such table" in reason or "Invalid object name" in reason:
            reason += "; run `chargeatlarge db upgrade` to create the schema"
        raise DataProblem(
            f"The database cannot be read for quarantine counts ({reason})."
        ) from None
    frame = pd.DataFrame(
        [tuple(r) for r in rows], columns=["cpo_id", "source", "quarantined", "last_received_at"]
    )
    frame["cpo_id"] = frame["cpo_id"].fillna("(unknown)")
    return frame


@dataclass(frozen=True)
class PublishedReport:
    month: str
    jurisdiction: str | None  # a state, or None for the national report
    files: tuple[str, ...]  # names under its folder, report.html first


def published_reports(store: BlobStore, viewer: Viewer) -> list[PublishedReport]:
    """The reports ``viewer`` may open, newest month first: the national one (analysts) and
    one per state of the viewer's. Nothing of another state is listed."""
    found: dict[tuple[str, str | None], list[str]] = {}
    for blob in store.list(layout.REPORTS_PREFIX):
        month, _, rest = blob.name[len(layout.REPORTS_PREFIX) :].partition("/")
        if not MONTH_PATTERN.fullmatch(month) or not rest:
            continue
        parts = rest.split("/")
        if len(parts) == 1 and viewer.national:
            found.setdefault((month, None), []).append(parts[0])
        elif len(parts) == 2 and parts[0] in STATES and viewer.allows(parts[0]):
            found.setdefault((month, parts[0]), []).append(parts[1])
    reports = []
    for month, state in sorted(found, key=lambda k: (k[0], k[1] or ""), reverse=True):
        names = found[(month, state)]
        if "report.html" in names:
            csvs = sorted(n for n in names if REPORT_FILE_RE.match(n) and n.endswith(".csv"))
            reports.append(PublishedReport(month, state, ("report.html", *csvs)))
    # newest month first; in a month the national report, then the states alphabetically
    reports.sort(key=lambda r: r.jurisdiction or "")
    return sorted(reports, key=lambda r: (r.month, r.jurisdiction is None), reverse=True)


REPORT_FILE_RE = re.compile(r"^(report\.html|[a-z0-9_]{1,40}\.csv)$")


def report_blob(month: str, name: str, state: str | None = None) -> str:
    """The blob name of a published report file, refusing anything but ``report.html``/``x.csv``
    under a month's folder or one of its state folders."""
    if not MONTH_PATTERN.fullmatch(month or "") or not REPORT_FILE_RE.match(name or ""):
        raise DataProblem("No such report file.")
    if state is None:
        return f"{layout.report_prefix(month)}/{name}"
    if state not in STATES:
        raise DataProblem("No such report file.")
    return f"{state_report_prefix(month, state)}/{name}"


def report_download_name(month: str, name: str, state: str | None = None) -> str:
    """``2026-10-site.csv`` or ``2026-10-NSW-site.csv``: a download says whose figures it holds."""
    return f"{month}-{state}-{name}" if state else f"{month}-{name}"


class StaticSitesCache:
    """Static sites re-read (and re-validated) only when a file under ``static/sites/`` changed.

    The live snapshot is rewritten every few seconds; validating tens of thousands of CSV rows
    each time would cost seconds for nothing.
    """

    def __init__(self) -> None:
        self._key: object = None
        self._sites: StaticSites | None = None

    def get(self, store: BlobStore) -> StaticSites:
        from shared.sites import read_static_sites

        key = tuple(
            (b.name, b.size, b.last_modified) for b in store.list(layout.STATIC_SITES_PREFIX)
        )
        if self._sites is None or key != self._key:
            self._sites = read_static_sites(store)
            self._key = key
        return self._sites


def load_live(store: BlobStore, static_sites: StaticSitesCache | None = None) -> LiveData:
    """Read the live snapshot and the static sites and join them; problems become messages."""
    problems: list[str] = []
    try:
        status = read_live_status(store)
    except DataProblem as exc:
        status = None
        problems.append(str(exc))
    static = (static_sites or StaticSitesCache()).get(store)
    if static.connectors.empty:
        problems.append(
            f"No static site lists under {layout.STATIC_SITES_PREFIX}: sites cannot be placed."
        )
    data = live_evses(status, static.connectors)
    data.problems = problems + [f"Static sites: {p}" for p in static.problems[:20]]
    return data
