"""The stored months that feed a month's twelve-month figures (spec 4.5).

Each of the eleven report months before it counts as its latest run wrote it: a month is
processed when its folder has a ``manifest.json`` (written last, the folder's commit marker).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from shared import layout
from shared.blobstore import BlobNotFound, BlobStore
from shared.metrics import schema
from shared.metrics.engine import HISTORY_MINUTES
from shared.metrics.period import MONTH_PATTERN

MONTHS_BEFORE = 11


def months_before(month: str, count: int = MONTHS_BEFORE) -> list[str]:
    """The ``count`` calendar months before ``month`` (YYYY-MM), newest first."""
    match = MONTH_PATTERN.fullmatch(month)
    if not match:
        raise ValueError(f"month {month!r}: expected YYYY-MM")
    index = int(match.group(1)) * 12 + int(match.group(2)) - 1
    return [f"{(index - n) // 12:04d}-{(index - n) % 12 + 1:02d}" for n in range(1, count + 1)]


@dataclass(slots=True)
class TwelveMonthHistory:
    tables: dict[str, pa.Table] = field(default_factory=dict)  # level → rows with ``month``
    months: list[dict[str, object]] = field(default_factory=list)  # what fed them, for the manifest


def read_history(store: BlobStore, month: str) -> TwelveMonthHistory:
    """The previous eleven processed months' rows of every twelve-month level."""
    history = TwelveMonthHistory()
    parts: dict[str, list[pa.Table]] = {level: [] for level in schema.TWELVE_MONTH_KEYS}
    for earlier in months_before(month):
        try:
            manifest = json.loads(store.get(layout.monthly_manifest_blob(earlier)))
        except BlobNotFound:
            continue
        levels = []
        for level, keys in schema.TWELVE_MONTH_KEYS.items():
            try:
                blob = store.open(layout.monthly_table_blob(earlier, level))
            except BlobNotFound:
                continue  # written before this level existed
            with blob, pq.ParquetFile(blob) as parquet:  # only the footer and the wanted columns
                names = parquet.schema_arrow.names
                wanted = [n for n in (*keys, *HISTORY_MINUTES) if n in names]
                if not all(k in names for k in keys) or "known_minutes" not in names:
                    continue
                table = parquet.read(columns=wanted)
            parts[level].append(
                table.append_column("month", pa.array([earlier] * table.num_rows, pa.string()))
            )
            levels.append(level)
        history.months.append(
            {
                "month": earlier,
                "run_at": manifest.get("run_at"),
                "job_version": manifest.get("job_version"),
                "levels": levels,
            }
        )
    for level, tables in parts.items():
        if tables:
            history.tables[level] = pa.concat_tables(tables, promote_options="default")
    history.months.sort(key=lambda m: str(m["month"]))
    return history
