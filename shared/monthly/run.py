"""The monthly job wired to the configured database and blob store (entry points call these)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.blobstore import open_blobstore
from shared.db.engine import make_engine
from shared.metrics.period import previous_month
from shared.monthly.job import MonthResult, run_month
from shared.settings import Settings


def run_month_with_settings(
    month: str, settings: Settings, now: datetime | None = None, metrics_engine: str = "duckdb"
) -> MonthResult:
    engine = make_engine(settings.database_url)
    try:
        return run_month(
            month,
            engine=engine,
            store=open_blobstore(settings),
            tz=settings.report_tz,
            default_max_gap_minutes=settings.max_gap_minutes,
            uptime_threshold_pct=settings.uptime_threshold_pct,
            now=now,
            metrics_engine=metrics_engine,
        )
    finally:
        engine.dispose()


def run_previous_month(settings: Settings, now: datetime | None = None) -> MonthResult:
    """What the monthly timer does: the calendar month before ``now`` in the report zone."""
    now = now or datetime.now(UTC)
    return run_month_with_settings(previous_month(now, settings.report_tz), settings, now)
