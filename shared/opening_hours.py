"""A site's opening hours (spec section 5): parsing, and the UTC intervals they open over a period.

The times are wall-clock times in the site's own zone, so a DST change shortens or lengthens a
local day exactly as the clock does; ``open_intervals`` turns wall times into UTC instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MINUTES_PER_DAY = 1440
ALWAYS_OPEN_TEXT = "24/7"
STATE_TIME_ZONES: dict[str, str] = {
    "ACT": "Australia/Sydney",
    "NSW": "Australia/Sydney",
    "VIC": "Australia/Sydney",
    "TAS": "Australia/Sydney",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "NT": "Australia/Darwin",
    "WA": "Australia/Perth",
}

_TIME = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Open periods per weekday (0 = Monday) as (start, end) local minutes after that day's midnight.

    ``end`` is after ``start`` and may pass 1440: such a period runs into the next day.
    ``always_open`` is the empty / ``24/7`` case, where ``periods`` is unused.
    """

    always_open: bool
    periods: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7

    def open_intervals(
        self, start: datetime, end: datetime, tz: str
    ) -> list[tuple[datetime, datetime]]:
        """The UTC intervals inside ``[start, end)`` when the site is open, sorted and disjoint."""
        return open_intervals(self, start, end, tz)


def parse_opening_hours(text: str) -> OpeningHours:
    """Parse spec section 5's ``opening_hours``; raises ValueError saying what is wrong and where."""
    stripped = (text or "").strip()
    if not stripped or stripped == ALWAYS_OPEN_TEXT:
        return OpeningHours(always_open=True)
    days: list[list[tuple[int, int]]] = [[] for _ in DAY_NAMES]
    rules = [rule.strip() for rule in stripped.split(";")]
    if rules and not rules[-1]:
        rules.pop()  # a trailing ';' ends the list, it is not an empty rule
    if not any(rules):
        raise ValueError(f"opening_hours {text!r}: no rules (expected e.g. 'Mo-Fr 08:00-18:00')")
    for number, rule in enumerate(rules, start=1):
        where = f"opening_hours rule {number} {rule!r}"
        if not rule:
            raise ValueError(f"{where}: empty rule (two ';' in a row)")
        if rule == ALWAYS_OPEN_TEXT:
            raise ValueError(f"{where}: '24/7' must be the whole value, not one rule of several")
        parts = rule.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{where}: expected 'DAYS HH:MM-HH:MM', e.g. 'Mo-Fr 08:00-18:00'")
        day_text, times_text = parts[0], parts[1].strip()
        weekdays = _days(day_text, where)
        periods = [_period(piece.strip(), where) for piece in times_text.split(",")]
        for weekday in weekdays:
            days[weekday].extend(periods)
    return OpeningHours(always_open=False, periods=tuple(tuple(sorted(set(day))) for day in days))


def _day(name: str, where: str) -> int:
    if name not in DAY_NAMES:
        raise ValueError(f"{where}: unknown day {name!r} (days are {' '.join(DAY_NAMES)})")
    return DAY_NAMES.index(name)


def _days(text: str, where: str) -> list[int]:
    if "," in text:
        raise ValueError(
            f"{where}: days {text!r}: give one day or one range (e.g. 'Mo-Fr'), then times"
        )
    names = text.split("-")
    if len(names) == 1:
        return [_day(names[0], where)]
    if len(names) != 2:
        raise ValueError(f"{where}: days {text!r}: expected one day or a range like 'Mo-Fr'")
    first, last = _day(names[0], where), _day(names[1], where)
    # A range runs forward through the week and wraps past Sunday ('Fr-Mo' is Fr Sa Su Mo).
    return [(first + step) % 7 for step in range((last - first) % 7 + 1)]


def _minutes(text: str, where: str, *, end: bool) -> int:
    match = _TIME.fullmatch(text)
    if not match:
        raise ValueError(f"{where}: time {text!r}: expected HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and (minute != 0 or not end)):
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ValueError(f"{where}: time {text!r} is not a time of day ({allowed})")
    return hour * 60 + minute


def _period(text: str, where: str) -> tuple[int, int]:
    bounds = [part.strip() for part in text.split("-")]
    if len(bounds) != 2 or not all(bounds):
        raise ValueError(f"{where}: period {text!r}: expected HH:MM-HH:MM, e.g. 08:00-18:00")
    start = _minutes(bounds[0], where, end=False)
    finish = _minutes(bounds[1], where, end=True)
    if finish <= start:
        finish += MINUTES_PER_DAY  # runs into the next day ('22:00-02:00'; '00:00-00:00' is 24 h)
    return start, finish


def site_time_zone(state: str, time_zone: str | None) -> str:
    """The zone a site's opening hours are in: its own ``time_zone`` if given, else its state's."""
    name = (time_zone or "").strip()
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time_zone {name!r} is not an IANA time zone name (e.g. Australia/Perth)"
            ) from None
        return name
    try:
        return STATE_TIME_ZONES[state]
    except KeyError:
        raise ValueError(
            f"state {state!r} has no time zone (states are {', '.join(STATE_TIME_ZONES)})"
        ) from None


def open_intervals(
    hours: OpeningHours, start: datetime, end: datetime, tz: str
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals inside ``[start, end)`` (aware instants) when ``hours`` are open in ``tz``.

    Wall times that a DST change skips or repeats resolve as ``zoneinfo`` does with ``fold=0``.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    if hours.always_open:
        return [(start, end)]
    zone = ZoneInfo(tz)
    # A period may run into the next day, so begin a day before the first local day.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    raw: list[tuple[datetime, datetime]] = []
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for begin, finish in hours.periods[day.weekday()]:
            # Adding a timedelta to an aware datetime is wall-clock arithmetic, as wanted.
            lo = (midnight + timedelta(minutes=begin)).astimezone(UTC)
            hi = (midnight + timedelta(minutes=finish)).astimezone(UTC)
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                raw.append((lo, hi))
        day += timedelta(days=1)
    raw.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in raw:
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged
