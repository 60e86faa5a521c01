"""An independent check of the engine: a plain minute-by-minute reading of the spec (sections
3, 4, 4.1-4.3) in numpy, over random whole-minute histories, compared with the engine's EVSE
figures and outage list.

The reference shares nothing with the engine but the status mapping: it decides each UTC
minute on its own (last observation within max_gap, commissioning dates, the site's wall clock
against its opening hours, the exclusions), then reads runs off the minute labels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from shared.status import STATUS_CATEGORY
from tests.shared.metrics.helpers import compute, connector

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
LABELS = ("NOT_IN_SERVICE", "CLOSED", "AVAILABLE", "IN_USE", "RESERVED", "OUT_OF_ORDER",
          "UNAVAILABLE", "UNKNOWN", "NO_DATA")  # fmt: skip
CODE = {name: n for n, name in enumerate(LABELS)}
FIGURE = {"NOT_IN_SERVICE": "not_in_service_minutes", "CLOSED": "closed_minutes",
          "AVAILABLE": "available_minutes", "IN_USE": "in_use_minutes",
          "RESERVED": "reserved_minutes", "OUT_OF_ORDER": "out_of_order_minutes",
          "UNAVAILABLE": "unavailable_minutes", "UNKNOWN": "unknown_reported_minutes",
          "NO_DATA": "no_data_minutes"}  # fmt: skip
RAW = ("AVAILABLE", "CHARGING", "SUSPENDEDEV", "RESERVED", "FAULTED", "OUTOFORDER",
       "INOPERATIVE", "UNAVAILABLE", "PLANNED", "REMOVED", "UNKNOWN")  # fmt: skip
CAUSES = ("UTILITY_INTERRUPTION", "VEHICLE_FAULT", "SCHEDULED_MAINTENANCE", "VANDALISM",
          "NATURAL_DISASTER")  # fmt: skip
# Opening-hours edges kept clear of 02:00-03:00, the wall-clock hour a DST change skips or repeats.
STARTS = ("00:00", "06:30", "08:00", "12:15", "17:00", "22:00")
ENDS = ("24:00", "01:00", "03:00", "09:30", "18:00", "23:45")


def minute(at: datetime) -> int:
    return int((at - EPOCH) / timedelta(minutes=1))


def instant(m: int) -> datetime:
    return EPOCH + timedelta(minutes=int(m))


@dataclass
class Site:
    cpo: str
    site_id: str
    state: str
    zone: str
    hours: dict[int, list[tuple[int, int]]] | None  # weekday → (start, end) minutes; None: 24/7
    evses: list[tuple[str, str]] = field(default_factory=list)  # (evse_uid, charger_id)

    def text(self) -> str | None:
        if self.hours is None:
            return None

        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        return "; ".join(
            f"{DAY_NAMES[d]} " + ",".join(f"{hhmm(s)}-{hhmm(e)}" for s, e in periods)
            for d, periods in sorted(self.hours.items())
        )

    def open_at(self, minutes: np.ndarray) -> np.ndarray:
        """Whether the site's wall clock at each UTC minute lies inside an opening period."""
        if self.hours is None:
            return np.ones(len(minutes), bool)
        zone = ZoneInfo(self.zone)
        out = np.zeros(len(minutes), bool)
        for i, m in enumerate(minutes):
            wall = instant(m).astimezone(zone)
            of_day = wall.hour * 60 + wall.minute
            today, yesterday = wall.weekday(), (wall.weekday() - 1) % 7
            # a period whose end is not after its start runs into the next day
            out[i] = any(
                s <= of_day < (e if e > s else 1440) for s, e in self.hours.get(today, [])
            ) or any(e <= s and of_day < e for s, e in self.hours.get(yesterday, []))
        return out


def random_hours(rng: random.Random) -> dict[int, list[tuple[int, int]]]:
    def minutes_of(text: str) -> int:
        return int(text[:2]) * 60 + int(text[3:])

    hours: dict[int, list[tuple[int, int]]] = {}
    for day in rng.sample(range(7), rng.randint(2, 6)):
        start, end = minutes_of(rng.choice(STARTS)), minutes_of(rng.choice(ENDS))
        if end == start:
            end = (end + 60) % 1440 or 1440
        hours[day] = [(start, end)]
    return hours


def reference(
    site: Site,
    evse: str,
    charger: str,
    observations: list[tuple[int, str]],
    gap: int,
    service: tuple[int | None, int | None],
    exclusions: list[tuple[str, str, str, int, int, str]],
    ps: int,
    pe: int,
):
    """The EVSE's figures and outage rows, minute by minute."""
    latest: dict[int, str] = {}
    for at, status in observations:
        latest[at] = status
    times = np.array(sorted(latest), dtype=np.int64)
    codes = np.array([CODE[STATUS_CATEGORY[latest[t]].value] for t in times.tolist()], np.int64)
    first = min([ps, *times.tolist()]) - 1
    last = max([pe, *(times + gap).tolist()]) + 1
    grid = np.arange(first, last, dtype=np.int64)
    i = np.searchsorted(times, grid, side="right") - 1
    held = (i >= 0) & (grid < times[np.maximum(i, 0)] + gap) if len(times) else grid < first
    status = np.where(held, codes[np.maximum(i, 0)] if len(times) else 0, CODE["NO_DATA"])
    service_from, service_until = service
    in_window = np.ones(len(grid), bool)
    if service_from is not None:
        in_window &= grid >= service_from
    if service_until is not None:
        in_window &= grid < service_until
    is_open = site.open_at(grid)
    label = np.where(
        ~in_window | (status == CODE["NOT_IN_SERVICE"]),
        CODE["NOT_IN_SERVICE"],
        np.where(is_open, status, CODE["CLOSED"]),
    )
    mine = [
        x
        for x in exclusions
        if x[0] == site.cpo
        and (
            (x[1] == "evse" and x[2] == evse)
            or (x[1] == "charger" and x[2] == charger)
            or (x[1] == "site" and x[2] == site.site_id)
        )
    ]
    down = np.isin(label, [CODE["OUT_OF_ORDER"], CODE["UNAVAILABLE"]])
    covered = np.zeros(len(grid), bool)
    for x in mine:
        covered |= (grid >= x[3]) & (grid < x[4])
    excluded = down & covered
    inside = (grid >= ps) & (grid < pe)
    figures = {name: float(np.sum(inside & (label == CODE[c]))) for c, name in FIGURE.items()}
    figures["excluded_minutes"] = float(np.sum(inside & excluded))
    # Category runs of the timeline (not of the labels): a run crosses closed time unbroken.
    change = np.flatnonzero(np.diff(status)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(grid)]])
    sessions = outages = 0
    longest = 0.0
    rows = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        category = LABELS[status[s]]
        if category not in ("IN_USE", "OUT_OF_ORDER", "UNAVAILABLE"):
            continue
        in_service = np.flatnonzero(label[s:e] == status[s]) + s
        if len(in_service) == 0:
            continue
        first_in_service = grid[in_service[0]]
        if ps <= first_in_service < pe:
            sessions += category == "IN_USE"
            outages += category == "OUT_OF_ORDER"
        used = in_service[inside[in_service]]
        if category != "IN_USE" and len(used):
            excluded_here = used[excluded[used]]
            causes = sorted(
                {x[5] for x in mine for m in grid[excluded_here].tolist() if x[3] <= m < x[4]}
            )
            rows.append(
                (evse, category, instant(grid[s]),
                 instant(grid[e]) if e < len(grid) and grid[e] <= pe else None,
                 float(len(used)), float(len(excluded_here)), ",".join(causes))
            )  # fmt: skip
            if category == "OUT_OF_ORDER":
                longest = max(longest, float(len(used)))
    figures.update(in_use_sessions=sessions, outage_count=outages, longest_outage_minutes=longest)
    return figures, rows


def scenario(seed: int, month: str):
    rng = random.Random(seed)
    tz = "Australia/Sydney"
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    ps, pe = minute(start), minute(end)
    sites = [
        Site("A", "S1", "NSW", "Australia/Sydney", None),
        Site("A", "S2", "NSW", "Australia/Sydney", random_hours(rng)),
        Site("A", "S3", "WA", "Australia/Perth", random_hours(rng)),
        Site("B", "S1", "SA", "Australia/Adelaide", random_hours(rng)),
    ]
    gaps = {"A": rng.choice([10, 15, 30]), "B": rng.choice([15, 20])}
    connectors, observations, plan = [], [], []
    for site in sites:
        for n in range(rng.randint(1, 3)):
            evse, charger = f"{site.site_id}-E{n}", f"{site.site_id}-C{n % 2}"
            site.evses.append((evse, charger))
            commissioned = decommissioned = None
            if rng.random() < 0.25:
                commissioned = date(year, number, rng.randint(1, 20))
            if rng.random() < 0.15:
                decommissioned = date(year, number, rng.randint(21, 28))
            connectors.append(
                connector(site.cpo, site.site_id, charger, evse, state=site.state,
                          opening_hours=site.text(), commissioned_on=commissioned,
                          decommissioned_on=decommissioned)
            )  # fmt: skip
            points: list[tuple[int, str]] = []
            # Stretches anywhere, and ones under way at the period's start and end.
            for n in range(rng.randint(0, 25)):
                at = rng.choice(
                    [
                        rng.randint(ps - 3 * 1440, pe + 1440),
                        ps - rng.randint(1, 900),
                        pe - rng.randint(1, 300),
                    ]
                    if n < 3
                    else [rng.randint(ps - 3 * 1440, pe + 1440)]
                )
                status = rng.choice(RAW)
                # The first: one status held unbroken across the period's start.
                steady = n == 0
                if steady:
                    at, status = ps - rng.randint(30, 600), rng.choice(["CHARGING", "FAULTED"])
                for _ in range(rng.randint(40, 150) if steady else rng.randint(1, 60)):
                    points.append((at, status))
                    at += rng.randint(1, gaps[site.cpo] + (0 if steady else 5))
                    if rng.random() < 0.1 and not steady:
                        status = rng.choice(RAW)
            if points and rng.random() < 0.5:  # same-instant ties: the later arrival wins
                at, _ = rng.choice(points)
                points.append((at, rng.choice(RAW)))
            rng.shuffle(points)
            observations += [(site.cpo, evse, instant(m), s) for m, s in points]

            def midnight(day: date | None) -> int | None:
                if day is None:
                    return None
                return minute(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)))

            plan.append((site, evse, charger, points, gaps[site.cpo],
                         (midnight(commissioned), midnight(decommissioned))))  # fmt: skip
    exclusions = []
    for n in range(rng.randint(3, 10)):
        site = rng.choice(sites)
        evse, charger = rng.choice(site.evses)
        scope, scope_id = rng.choice([("evse", evse), ("charger", charger), ("site", site.site_id)])
        f = rng.randint(ps - 1440, pe + 600)
        exclusions.append(
            (
                f"X{n}",
                site.cpo,
                scope,
                scope_id,
                f,
                f + rng.randint(30, 3 * 1440),
                rng.choice(CAUSES),
            )
        )
    return ps, pe, connectors, observations, gaps, plan, exclusions


@pytest.mark.parametrize(
    ("seed", "month"),
    [(seed, ("2026-11", "2026-10", "2026-04")[seed % 3]) for seed in range(1, 10)],
)
def test_engine_equals_the_minute_reference(seed: int, month: str) -> None:
    ps, pe, connectors, observations, gaps, plan, exclusions = scenario(seed, month)
    tables = compute(
        month,
        observations,
        connectors,
        max_gap={k: float(v) for k, v in gaps.items()},
        exclusions=[
            (x, cpo, scope, sid, instant(f), instant(t), cause)
            for x, cpo, scope, sid, f, t, cause in exclusions
        ],
    )
    engine = {(r["cpo_id"], r["evse_uid"]): r for r in tables["evse"].to_pylist()}
    engine_outages = sorted(
        (r["cpo_id"], r["evse_uid"], r["category"], r["started_at"], r["ended_at"],
         r["minutes_in_period"], r["excluded_minutes_in_period"], r["causes"])
        for r in tables["outages"].to_pylist()
    )  # fmt: skip
    expected_outages = []
    checked = 0
    for site, evse, charger, points, gap, service in plan:
        flat = [(x[1], x[2], x[3], x[4], x[5], x[6]) for x in exclusions]
        figures, rows = reference(site, evse, charger, points, gap, service, flat, ps, pe)
        got = engine[(site.cpo, evse)]
        for name, value in figures.items():
            assert got[name] == pytest.approx(value, abs=0.01), (evse, name)
        assert got["period_minutes"] == pytest.approx(pe - ps)
        expected_outages += [(site.cpo, *r) for r in rows]
        checked += 1
    assert checked == len(engine)
    assert len(engine_outages) == len(expected_outages)
    for got_row, want in zip(engine_outages, sorted(expected_outages), strict=True):
        assert got_row[:5] == want[:5]
        assert got_row[5:7] == pytest.approx(want[5:7], abs=0.01)
        assert got_row[7] == want[7]
