"""Where everything lives in the blob store (spec section 6): the one source of blob names."""

from __future__ import annotations

from datetime import UTC, datetime

STATIC_SITES_PREFIX = "static/sites/"
PROCESSED_MONTHLY_PREFIX = "processed/monthly/"
REPORTS_PREFIX = "reports/"
LIVE_STATUS = "live/status.parquet"
FEED_HEALTH = "live/feeds.json"
RAW_PREFIX = "raw/"


def static_sites_blob(filename: str) -> str:
    return f"{STATIC_SITES_PREFIX}{filename}"


def monthly_prefix(month: str) -> str:
    """``processed/monthly/YYYY-MM`` (no trailing slash)."""
    return f"{PROCESSED_MONTHLY_PREFIX}{month}"


def monthly_table_blob(month: str, table: str) -> str:
    return f"{monthly_prefix(month)}/{table}.parquet"


def monthly_manifest_blob(month: str) -> str:
    return f"{monthly_prefix(month)}/manifest.json"


def report_prefix(month: str) -> str:
    """``reports/YYYY-MM`` (no trailing slash): ``report.html`` and one CSV per level."""
    return f"{REPORTS_PREFIX}{month}"


def raw_archive_blob(cpo_id: str, hour: datetime, part: int = 0) -> str:
    """``raw/{cpo_id}/YYYY/MM/DD/HH.jsonl.gz``: one append blob per CPO per UTC hour of receipt
    (``HH.{part}.jsonl.gz`` once a part holds as many appends as Azure allows)."""
    at = hour.astimezone(UTC)
    suffix = f".{part}" if part else ""
    return f"{RAW_PREFIX}{cpo_id}/{at:%Y/%m/%d/%H}{suffix}.jsonl.gz"
