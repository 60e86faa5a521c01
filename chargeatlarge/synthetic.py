"""Seeded synthetic data: status histories of EVSEs and large national site sets.

Pure and deterministic: the same arguments and seed give the same rows, on any machine. Used by
the demo backfill, tests and benchmarks.

``generate_history`` streams observation rows (spec section 3) for a set of EVSEs:

- charging sessions arrive with a daily profile in Sydney local time (busy 7–9 am and 4–7 pm,
  quiet at night); DC EVSEs see several short sessions a day, AC EVSEs fewer, longer ones.
  A session is PREPARING → CHARGING → (SUSPENDEDEV) → FINISHING, now and then preceded by
  RESERVED; AVAILABLE otherwise;
- faults (FAULTED or OUTOFORDER) lasting 30 minutes to 2 days, and UNAVAILABLE maintenance
  of 1–8 hours;
- feed drop-outs per CPO (every EVSE of the CPO silent for 20 minutes to 6 hours); when the
  feed comes back it reports every EVSE's current status;
- otherwise the unchanged status is re-confirmed every ``confirm_every``.

Memory stays flat in the number of rows: one small generator per EVSE.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import random
import time
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from chargeatlarge.sample_data.build_sites import Numbering, pick_operator, site_rows
from chargeatlarge.sample_data.localities import LOCALITIES

PROFILE_TZ = ZoneInfo("Australia/Sydney")
# Relative arrival rate of charging sessions for each local hour of the day.
HOURLY_PROFILE = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.3, 0.8, 1.6, 1.8, 1.2, 1.0, 1.0,
    1.1, 1.0, 1.0, 1.1, 1.6, 1.9, 1.8, 1.3, 0.9, 0.6, 0.4, 0.25,
)  # fmt: skip
PEAK_WEIGHT = max(HOURLY_PROFILE)
MEAN_WEIGHT = sum(HOURLY_PROFILE) / 24
DAY = 86_400.0
# Mean sessions per EVSE per day before the EVSE's own popularity factor.
SESSIONS_PER_DAY = {"DC": 6.0, "AC": 2.0}
# Mean days between faults and between maintenance windows.
DAYS_BETWEEN_FAULTS = {"DC": 12.0, "AC": 25.0}
DAYS_BETWEEN_MAINTENANCE = 45.0
DAYS_BETWEEN_DROPOUTS = 4.0
FAULT_SECONDS = (30 * 60.0, 2 * DAY)
MAINTENANCE_SECONDS = (3600.0, 8 * 3600.0)
DROPOUT_SECONDS = (20 * 60.0, 6 * 3600.0)
DC_SHARE_WHEN_UNKNOWN = 0.4

Segment = tuple[str, float, float]  # status, start, end (epoch seconds)


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _epoch(value: datetime, name: str) -> float:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware, got naive {value.isoformat()}")
    return value.timestamp()


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def feed_dropouts(cpo_id: str, start: float, end: float, seed: int) -> list[tuple[float, float]]:
    """The CPO feed's silent windows ``[from, to)`` in whole epoch seconds, sorted, apart."""
    rng = random.Random(f"{seed}|feed|{cpo_id}")
    windows: list[tuple[float, float]] = []
    t = start
    while True:
        t += rng.expovariate(1.0 / (DAYS_BETWEEN_DROPOUTS * DAY))
        if t >= end:
            return windows
        begin = float(math.ceil(t))
        t = begin + round(_log_uniform(rng, *DROPOUT_SECONDS))
        windows.append((begin, t))


def _local_weight(seconds: float) -> float:
    return HOURLY_PROFILE[datetime.fromtimestamp(seconds, PROFILE_TZ).hour]


def _segments(rng: random.Random, start: float, end: float, dc: bool) -> Iterator[Segment]:
    """Status segments of one EVSE from ``start`` to ``end``, consecutive, of changing status."""
    kind = "DC" if dc else "AC"
    popularity = rng.lognormvariate(0.0, 0.5)
    peak_rate = SESSIONS_PER_DAY[kind] * popularity * PEAK_WEIGHT / MEAN_WEIGHT / DAY
    fault_rate = rng.lognormvariate(0.0, 0.7) / (DAYS_BETWEEN_FAULTS[kind] * DAY)
    maintenance_rate = 1.0 / (DAYS_BETWEEN_MAINTENANCE * DAY)
    t = start
    next_fault = t + rng.expovariate(fault_rate)
    next_maintenance = t + rng.expovariate(maintenance_rate)

    def next_arrival(after: float) -> float:
        # Non-homogeneous Poisson arrivals by thinning against the peak rate.
        candidate = after
        while True:
            candidate += rng.expovariate(peak_rate)
            if candidate >= end or rng.random() * PEAK_WEIGHT < _local_weight(candidate):
                return candidate

    while t < end:
        # A fault or maintenance due during a session happens when the session ends.
        next_fault, next_maintenance = max(next_fault, t), max(next_maintenance, t)
        arrival = next_arrival(t)
        if min(next_fault, next_maintenance) < arrival:
            if next_fault <= next_maintenance:
                yield ("AVAILABLE", t, next_fault)
                status = rng.choice(("FAULTED", "OUTOFORDER"))
                length = _log_uniform(rng, *FAULT_SECONDS)
                yield (status, next_fault, next_fault + length)
                t = next_fault + length
                next_fault = t + rng.expovariate(fault_rate)
            else:
                yield ("AVAILABLE", t, next_maintenance)
                length = rng.uniform(*MAINTENANCE_SECONDS)
                yield ("UNAVAILABLE", next_maintenance, next_maintenance + length)
                t = next_maintenance + length
                next_maintenance = t + rng.expovariate(maintenance_rate)
            continue
        yield ("AVAILABLE", t, arrival)
        t = arrival
        if rng.random() < 0.02:
            length = rng.uniform(300, 900)
            yield ("RESERVED", t, t + length)
            t += length
        for status, length in _session(rng, dc):
            yield (status, t, t + length)
            t += length


def _session(rng: random.Random, dc: bool) -> list[tuple[str, float]]:
    steps = [("PREPARING", rng.uniform(30, 180))]
    if dc:
        steps.append(("CHARGING", rng.uniform(12, 55) * 60))
        if rng.random() < 0.15:
            steps.append(("SUSPENDEDEV", rng.uniform(2, 10) * 60))
    else:
        steps.append(("CHARGING", rng.uniform(45, 240) * 60))
        if rng.random() < 0.5:
            steps.append(("SUSPENDEDEV", rng.uniform(10, 180) * 60))
    steps.append(("FINISHING", rng.uniform(30, 300)))
    return steps


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
    rng = random.Random(f"{seed}|evse|{cpo_id}|{evse_uid}")
    if dc is None:
        dc = rng.random() < DC_SHARE_WHEN_UNKNOWN
    window = 0
    for status, a, b in _merged(_segments(rng, start, end, dc), end):
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


def write_observations_jsonl(rows: Iterable[dict[str, str]], path: Path) -> int:
    """Write rows in the import JSON Lines format, one object per line; count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            record = {column: row[column] for column in OBSERVATION_COLUMNS}
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
    return count


# Jitter (degrees) of synthetic sites around their locality's centre, by locality kind.
JITTER = {"city": 0.06, "regional": 0.03, "highway": 0.02}
KIND_WEIGHT = {"city": 6.0, "regional": 3.0, "highway": 2.0}
LATITUDE_BOUNDS = (-43.6, -10.7)
LONGITUDE_BOUNDS = (113.2, 153.6)


def generate_sites(n_sites: int, *, seed: int) -> list[dict[str, object]]:
    """``n_sites`` synthetic sites placed around the real localities (jittered), as static CSV
    connector rows (spec section 5); about 3.5 EVSEs per site on average.
    """
    if n_sites < 0:
        raise ValueError(f"n_sites: must not be negative, got {n_sites}")
    rng = random.Random(f"{seed}|sites")
    numbering = Numbering()
    weights = [KIND_WEIGHT[locality.kind] for locality in LOCALITIES]
    rows: list[dict[str, object]] = []
    for locality in rng.choices(LOCALITIES, weights=weights, k=n_sites):
        jitter = JITTER[locality.kind]
        latitude = min(
            max(locality.latitude + rng.uniform(-jitter, jitter), LATITUDE_BOUNDS[0]),
            LATITUDE_BOUNDS[1],
        )
        longitude = min(
            max(locality.longitude + rng.uniform(-jitter, jitter), LONGITUDE_BOUNDS[0]),
            LONGITUDE_BOUNDS[1],
        )
        operator = pick_operator(rng, locality)
        rows.extend(site_rows(rng, operator, locality, numbering, latitude, longitude))
    return rows


def dc_evses_of(rows: Iterable[dict[str, object]]) -> set[tuple[str, str]]:
    """The (cpo_id, evse_uid) of every EVSE with a DC connector, for ``generate_history``."""
    return {(str(row["cpo_id"]), str(row["evse_uid"])) for row in rows if row["power_type"] == "DC"}
