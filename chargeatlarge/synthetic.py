"""Seeded synthetic data: status histories of EVSEs and large national site sets.

Pure and deterministic: the same arguments and seed give the same rows, on any machine. Used by
the demo backfill, tests and benchmarks.

``generate_history`` streams observation rows (spec section 3) for a set of EVSEs. What each
EVSE does is the CPO simulator's status model (``ingest_worker.simulator.model``: sessions on a
daily profile in Sydney local time, DC sessions short and AC ones long, reservations, faults and
maintenance), so a backfilled month and the live feeds of the demo tell one story:

- feed drop-outs per CPO (the model's drop-out spells; every EVSE of the CPO silent); when the
  feed comes back it reports every EVSE's current status;
- otherwise the unchanged status is re-confirmed every ``confirm_every``.

Memory stays flat in the number of rows: one small generator per EVSE.
"""

from __future__ import annotations

import csv
import heapq
import math
import random
import time
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest_worker.simulator.model import ModelParams, dropouts, status_events

PROFILE_TZ = ZoneInfo("Australia/Sydney")
# The one status model, with the simulator's default parameters.
PARAMS = ModelParams()
DC_SHARE_WHEN_UNKNOWN = 0.4

Segment = tuple[str, float, float]  # status, start, end (epoch seconds)


def _epoch(value: datetime, name: str) -> float:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware, got naive {value.isoformat()}")
    return value.timestamp()


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def feed_dropouts(cpo_id: str, start: float, end: float, seed: int) -> list[tuple[float, float]]:
    """The CPO feed's silent windows ``[from, to)`` in whole epoch seconds, sorted, apart: the
    model's drop-out spells of the feed, from ``start`` until ``end``."""
    windows: list[tuple[float, float]] = []
    for begin, finish in dropouts(seed, cpo_id, datetime.fromtimestamp(start, UTC), PARAMS):
        a, b = float(math.ceil(begin.timestamp())), float(math.ceil(finish.timestamp()))
        if a >= end:
            return windows
        if b > a:
            windows.append((a, b))
    return windows


def _segments(
    seed: int, cpo_id: str, evse_uid: str, start: float, end: float, dc: bool
) -> Iterator[Segment]:
    """Status segments of one EVSE from ``start`` to ``end``: the model's status changes."""
    events = status_events(
        seed, f"{cpo_id}|{evse_uid}", datetime.fromtimestamp(start, UTC), PARAMS, PROFILE_TZ, dc
    )
    previous = next(events)
    for event in events:
        until = event.at.timestamp()
        yield (previous.status, previous.at.timestamp(), until)
        if until >= end:
            return
        previous = event


def _merged(segments: Iterable[Segment], end: float) -> Iterator[Segment]:
    """Round to whole seconds, clip to ``end``, drop empty segments, join equal neighbours."""
    current: Segment | None = None
    for status, start, stop in segments:
        a, b = float(round(start)), float(min(round(stop), end))
        if a >= end:
            break
        if b <= a:
            continue
        if current is not None and current[0] == status:
            current = (status, current[1], b)
            continue
        if current is not None:
            yield current
        current = (status, a, b)
    if current is not None:
        yield current


def _evse_observations(
    cpo_id: str,
    evse_uid: str,
    start: float,
    end: float,
    seed: int,
    confirm: float,
    dc: bool | None,
    dropouts: list[tuple[float, float]],
) -> Iterator[tuple[int, str]]:
    """(whole epoch second, status) of one EVSE, strictly increasing in time."""
    if dc is None:
        dc = random.Random(f"{seed}|evse|{cpo_id}|{evse_uid}").random() < DC_SHARE_WHEN_UNKNOWN
    window = 0
    for status, a, b in _merged(_segments(seed, cpo_id, evse_uid, start, end, dc), end):
        t = a
        while t < b:
            while window < len(dropouts) and dropouts[window][1] <= t:
                window += 1
            if window < len(dropouts) and dropouts[window][0] <= t:
                t = dropouts[window][1]  # silent until the feed is back
                continue
            yield int(t), status
            t += confirm


def generate_history(
    evses: Iterable[tuple[str, str]],
    start: datetime,
    end: datetime,
    *,
    seed: int,
    confirm_every: timedelta = timedelta(minutes=5),
    dc_evses: Collection[tuple[str, str]] | None = None,
    order: str = "time",
) -> Iterator[dict[str, str]]:
    """Observation rows ``{cpo_id, evse_uid, status, observed_at}`` in ``[start, end)``.

    ``observed_at`` is ISO 8601 in UTC with offset, at whole seconds (the first at ``start``
    rounded up to a whole second). ``order="time"`` yields
    all EVSEs merged in ``observed_at`` order (ties in the order ``evses`` lists them);
    ``order="evse"`` yields each EVSE's rows, in time order, one EVSE after another.
    ``dc_evses`` says which EVSEs are DC (busier, shorter sessions); when ``None`` each EVSE is
    DC or AC at random (seeded). Each EVSE's history depends only on the seed, its keys, the
    period and ``confirm_every``, not on the other EVSEs listed.
    """
    start_s, end_s = float(math.ceil(_epoch(start, "start"))), _epoch(end, "end")
    if end_s < _epoch(start, "start"):
        raise ValueError(f"end: {end.isoformat()} is before start {start.isoformat()}")
    confirm = confirm_every.total_seconds()
    if confirm <= 0:
        raise ValueError(f"confirm_every: must be positive, got {confirm_every}")
    if order not in ("time", "evse"):
        raise ValueError(f"order: {order!r} is neither 'time' nor 'evse'")
    keys = list(dict.fromkeys((str(cpo), str(uid)) for cpo, uid in evses))
    dropouts = {cpo: feed_dropouts(cpo, start_s, end_s, seed) for cpo in {c for c, _ in keys}}

    def stream(index: int) -> Iterator[tuple[int, int, str]]:
        cpo_id, evse_uid = keys[index]
        dc = None if dc_evses is None else (cpo_id, evse_uid) in dc_evses
        for second, status in _evse_observations(
            cpo_id, evse_uid, start_s, end_s, seed, confirm, dc, dropouts[cpo_id]
        ):
            yield second, index, status

    streams = (stream(index) for index in range(len(keys)))
    merged = heapq.merge(*streams) if order == "time" else (row for s in streams for row in s)
    for second, index, status in merged:
        cpo_id, evse_uid = keys[index]
        yield {
            "cpo_id": cpo_id,
            "evse_uid": evse_uid,
            "status": status,
            "observed_at": _iso(second),
        }


OBSERVATION_COLUMNS = ("cpo_id", "evse_uid", "status", "observed_at")


def write_observations_csv(rows: Iterable[dict[str, str]], path: Path) -> int:
    """Write rows in the import CSV format (``cpo_id, evse_uid, status, observed_at``); count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(OBSERVATION_COLUMNS)
        for row in rows:
            writer.writerow([row[column] for column in OBSERVATION_COLUMNS])
            count += 1
    return count


def dc_evses_of(rows: Iterable[dict[str, object]]) -> set[tuple[str, str]]:
    """The (cpo_id, evse_uid) of every EVSE with a DC connector, for ``generate_history``."""
    return {(str(row["cpo_id"]), str(row["evse_uid"])) for row in rows if row["power_type"] == "DC"}
