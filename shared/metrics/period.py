"""The report month in the report time zone (spec section 4): its UTC bounds, local days and
hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTH_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits: \d matches any script's
FIRST_YEAR, LAST_YEAR = 2000, 2999
STEP = timedelta(minutes=15)  # every time zone offset in use is a multiple of 15 minutes


class InvalidMonth(ValueError):
    """A month that is not YYYY-MM."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """A local calendar day or local clock hour, as a UTC interval."""

    start: datetime
    end: datetime
    day: date
    hour: int  # local hour of the day
    weekday: int  # 0 = Monday


@dataclass(frozen=True, slots=True)
class Period:
    month: str
    tz: str
    start: datetime  # UTC, local midnight on the 1st
    end: datetime  # UTC, local midnight on the 1st of the next month

    @classmethod
    def for_month(cls, month: str, tz: str) -> Period:
        match = MONTH_PATTERN.fullmatch(month)
        if not match:
            raise InvalidMonth(f"month {month[:20]!r}: expected YYYY-MM, e.g. 2026-10")
        year, number = int(match.group(1)), int(match.group(2))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidMonth(
                f"month {month!r}: expected YYYY-MM with a year from {FIRST_YEAR} to {LAST_YEAR}"
            )
        zone = ZoneInfo(tz)
        start = datetime(year, number, 1, tzinfo=zone)
        following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
        return cls(month, tz, start.astimezone(UTC), following.astimezone(UTC))

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / timedelta(minutes=1)

    def hours(self) -> list[Bucket]:
        """Every local clock hour of the month (a repeated hour at DST end appears twice)."""
        zone = ZoneInfo(self.tz)
        buckets: list[Bucket] = []
        cursor = self.start
        while cursor < self.end:
            local = cursor.astimezone(zone)
            key = (local.date(), local.hour, local.utcoffset())
            if buckets and (buckets[-1].day, buckets[-1].hour, _offset(buckets[-1], zone)) == key:
                last = buckets[-1]
                buckets[-1] = Bucket(last.start, cursor + STEP, last.day, last.hour, last.weekday)
            else:
                buckets.append(
                    Bucket(cursor, cursor + STEP, local.date(), local.hour, local.weekday())
                )
            cursor += STEP
        return buckets

    def days(self) -> list[Bucket]:
        """Every local calendar day of the month (23, 24 or 25 hours long)."""
        days: list[Bucket] = []
        for hour in self.hours():
            if days and days[-1].day == hour.day:
                last = days[-1]
                days[-1] = Bucket(last.start, hour.end, last.day, 0, last.weekday)
            else:
                days.append(Bucket(hour.start, hour.end, hour.day, 0, hour.weekday))
        return days


def _offset(bucket: Bucket, zone: ZoneInfo) -> timedelta | None:
    return bucket.start.astimezone(zone).utcoffset()


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The UTC instant of local midnight starting ``day`` in ``tz``."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def previous_month(now: datetime, tz: str) -> str:
    """The calendar month before the one ``now`` falls in, in ``tz``."""
    local = now.astimezone(ZoneInfo(tz))
    first = local.date().replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"
