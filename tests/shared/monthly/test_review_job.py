"""Review findings on the monthly job's SQL read window (issue 3 review, 2026-11-23).

Each test is a hand-computed case written through the real storage path (ObservationStore →
SQLite → runs_reader → run_month). Each began as a strict xfail documenting a deviation from
spec section 4; the deviations are fixed and the tests now guard against their return.
"""

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from shared import layout
from shared.db.observations import ObservationStore
from shared.monthly.job import run_month
from shared.status import Observation

SYDNEY = ZoneInfo("Australia/Sydney")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SYDNEY).astimezone(UTC)


def every(evse: str, start: str, end: str, status: str, step: int = 10) -> list[Observation]:
    """One observation of ``status`` every ``step`` minutes from ``start`` to ``end`` (local)."""
    at, last, out = local(start), local(end), []
    while at <= last:
        out.append(Observation("A", evse, status, at))
        at += timedelta(minutes=step)
    return out


def month(engine, blobstore, name: str, now: datetime) -> dict:
    run_month(
        name,
        engine=engine,
        store=blobstore,
        tz="Australia/Sydney",
        default_max_gap_minutes=15,
        uptime_threshold_pct=98,
        now=now,
    )
    prefix = layout.monthly_prefix(name)
    return {
        table: pq.read_table(io.BytesIO(blobstore.get(f"{prefix}/{table}.parquet"))).to_pylist()
        for table in ("outages", "unmatched")
    }


def test_outage_started_at_spans_stored_runs_of_one_category(engine, blobstore) -> None:
    store = ObservationStore(engine)
    # FAULTED 00:00 … 00:10 on 1 Oct, then OUTOFORDER every 10 min from 00:20 on 1 Oct until
    # 02:00 on 2 Nov: one contiguous OUT_OF_ORDER run, i.e. one outage that began 1 Oct 00:00.
    store.write(
        every("E1", "2026-10-01 00:00", "2026-10-01 00:10", "FAULTED")
        + every("E1", "2026-10-01 00:20", "2026-11-02 02:00", "OUTOFORDER")
    )
    tables = month(engine, blobstore, "2026-11", now=datetime(2026, 12, 5, tzinfo=UTC))
    [outage] = tables["outages"]
    assert outage["category"] == "OUT_OF_ORDER"
    # 1 Oct 00:00 AEST (+10:00; DST starts 4 Oct) = 30 Sep 14:00 UTC.
    assert outage["started_at"] == datetime(2026, 9, 30, 14, 0, tzinfo=UTC)
    # Last confirmation 2 Nov 02:00 AEDT + 15 min max_gap = 1 Nov 15:15 UTC.
    assert outage["ended_at"] == datetime(2026, 11, 1, 15, 15, tzinfo=UTC)
    # From 1 Nov 00:00 to 2 Nov 02:15 local = 26 h 15 min.
    assert outage["minutes_in_period"] == 26 * 60 + 15


def test_unmatched_table_is_stable_when_rerun_later(engine, blobstore) -> None:
    store = ObservationStore(engine)
    # GHOST (listed nowhere) AVAILABLE every 10 min from 30 Nov 23:00 to 1 Dec 00:30 local.
    store.write(every("GHOST", "2026-11-30 23:00", "2026-12-01 00:30", "AVAILABLE"))
    first = month(engine, blobstore, "2026-11", now=datetime(2026, 12, 2, tzinfo=UTC))
    # The CPO keeps confirming it in December; nothing about November changes.
    store.write(every("GHOST", "2026-12-01 00:40", "2026-12-03 00:00", "AVAILABLE"))
    second = month(engine, blobstore, "2026-11", now=datetime(2026, 12, 6, tzinfo=UTC))
    # In November GHOST was known from 23:00 to midnight: 60 minutes.
    assert first["unmatched"][0]["known_minutes"] == second["unmatched"][0]["known_minutes"] == 60
    assert first["unmatched"] == second["unmatched"]
