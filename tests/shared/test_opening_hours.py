"""Opening hours (spec section 5): parsing, and expansion into UTC intervals, DST-exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.opening_hours import open_intervals, parse_opening_hours, site_time_zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hours_of(intervals: list[tuple[datetime, datetime]]) -> float:
    return sum((hi - lo for lo, hi in intervals), timedelta()) / timedelta(hours=1)


@pytest.mark.parametrize("text", ["", "   ", "24/7", " 24/7 "])
def test_empty_and_24_7_are_always_open(text: str) -> None:
    assert parse_opening_hours(text).always_open


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # weekday → periods in minutes after that day's local midnight
        (
            "Mo-Fr 08:00-18:00",
            {
                0: [(480, 1080)],
                1: [(480, 1080)],
                2: [(480, 1080)],
                3: [(480, 1080)],
                4: [(480, 1080)],
            },
        ),
        ("Sa 09:00-12:00,13:00-17:30", {5: [(540, 720), (780, 1050)]}),
        ("Fr-Mo 10:00-12:00", {4: [(600, 720)], 5: [(600, 720)], 6: [(600, 720)], 0: [(600, 720)]}),
        ("Su-Su 10:00-11:00", {6: [(600, 660)]}),
        ("Fr 22:00-02:00", {4: [(1320, 1560)]}),
        ("Mo 00:00-24:00", {0: [(0, 1440)]}),
        ("Tu 00:00-00:00", {1: [(0, 1440)]}),
        ("Mo 06:00-06:00", {0: [(360, 1800)]}),
        ("Mo-Tu 08:00-12:00; Tu 14:00-16:00;", {0: [(480, 720)], 1: [(480, 720), (840, 960)]}),
        ("We 7:30-9:00 , 10:00 - 11:00", {2: [(450, 540), (600, 660)]}),
    ],
)
def test_parse(text: str, expected: dict[int, list[tuple[int, int]]]) -> None:
    parsed = parse_opening_hours(text)
    assert not parsed.always_open
    assert {day: list(p) for day, p in enumerate(parsed.periods) if p} == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Mo", "expected 'DAYS HH:MM-HH:MM'"),
        ("Xx 08:00-10:00", "unknown day 'Xx'"),
        ("Mo-Fx 08:00-10:00", "unknown day 'Fx'"),
        ("mo 08:00-10:00", "unknown day 'mo'"),
        ("Mo-We-Fr 08:00-10:00", "expected one day or a range"),
        ("Mo,We 08:00-10:00", "give one day or one range"),
        ("Mo 08:00", "expected HH:MM-HH:MM"),
        ("Mo 08:00-", "expected HH:MM-HH:MM"),
        ("Mo 8-10", "expected HH:MM"),
        ("Mo 25:00-26:00", "is not a time of day"),
        ("Mo 10:60-11:00", "is not a time of day"),
        ("Mo 24:00-02:00", "is not a time of day (00:00 to 23:59)"),
        ("Mo 10:00-24:30", "is not a time of day (00:00 to 24:00)"),
        ("Mo 08:00-10:00;;Tu 08:00-10:00", "empty rule"),
        (";", "no rules"),
        ("Mo 08:00-10:00; 24/7", "'24/7' must be the whole value"),
    ],
)
def test_parse_errors_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="opening_hours") as caught:
        parse_opening_hours(text)
    assert reason in str(caught.value)


def test_always_open_is_the_whole_period() -> None:
    start, end = utc("2026-10-31T13:00"), utc("2026-11-30T13:00")
    assert open_intervals(parse_opening_hours(""), start, end, "Australia/Sydney") == [(start, end)]


def test_weekday_hours_in_sydney_summer_time() -> None:
    # Mon 2 Nov 2026, Sydney is UTC+11: 08:00-18:00 local is 21:00 (Sunday) to 07:00 UTC.
    hours = parse_opening_hours("Mo 08:00-18:00")
    got = open_intervals(
        hours, utc("2026-11-01T00:00"), utc("2026-11-03T00:00"), "Australia/Sydney"
    )
    assert got == [(utc("2026-11-01T21:00"), utc("2026-11-02T07:00"))]


def test_perth_hours_have_no_daylight_saving() -> None:
    # A WA site in a Sydney-zone report: Perth is UTC+8 all year, 09:00-17:00 is 01:00-09:00 UTC.
    zone = site_time_zone("WA", "")
    hours = parse_opening_hours("Mo-Fr 09:00-17:00")
    got = open_intervals(hours, utc("2026-10-04T00:00"), utc("2026-10-06T00:00"), zone)
    assert zone == "Australia/Perth"
    assert got == [(utc("2026-10-05T01:00"), utc("2026-10-05T09:00"))]


def test_period_across_midnight_runs_into_next_day() -> None:
    # Fri 6 Nov 2026 22:00 to Sat 02:00 Sydney (UTC+11) = 11:00 to 15:00 UTC on the 6th.
    hours = parse_opening_hours("Fr 22:00-02:00")
    got = open_intervals(
        hours, utc("2026-11-05T00:00"), utc("2026-11-08T00:00"), "Australia/Sydney"
    )
    assert got == [(utc("2026-11-06T11:00"), utc("2026-11-06T15:00"))]


def test_previous_days_period_reaching_into_the_period_is_kept_and_clipped() -> None:
    # Sun 1 Nov 2026 22:00 - Mon 02:00 Sydney; the window starts Sun 23:00 local (12:00 UTC).
    hours = parse_opening_hours("Su 22:00-02:00")
    got = open_intervals(
        hours, utc("2026-11-01T12:00"), utc("2026-11-02T12:00"), "Australia/Sydney"
    )
    assert got == [(utc("2026-11-01T12:00"), utc("2026-11-01T15:00"))]


def test_whole_day_at_dst_start_is_23_hours() -> None:
    # Sydney DST starts Sun 4 Oct 2026 at 02:00 (clocks to 03:00): that local day is 23 hours.
    hours = parse_opening_hours("Su 00:00-24:00")
    got = open_intervals(
        hours, utc("2026-09-30T00:00"), utc("2026-10-08T00:00"), "Australia/Sydney"
    )
    # 00:00 AEST (UTC+10) = 3 Oct 14:00 UTC; 24:00 = 5 Oct 00:00 AEDT (UTC+11) = 4 Oct 13:00 UTC
    assert got == [(utc("2026-10-03T14:00"), utc("2026-10-04T13:00"))]
    assert hours_of(got) == 23


def test_whole_day_at_dst_end_is_25_hours() -> None:
    # Sydney DST ends Sun 5 Apr 2026 at 03:00 (clocks back to 02:00): that local day is 25 hours.
    hours = parse_opening_hours("Su 00:00-00:00")
    got = open_intervals(
        hours, utc("2026-04-01T00:00"), utc("2026-04-08T00:00"), "Australia/Sydney"
    )
    assert got == [(utc("2026-04-04T13:00"), utc("2026-04-05T14:00"))]
    assert hours_of(got) == 25


def test_night_period_across_dst_start_loses_an_hour() -> None:
    # Sat 3 Oct 2026 22:00 AEST (12:00 UTC) to Sun 04:00 AEDT (3 Oct 17:00 UTC): 5 h, not 6.
    hours = parse_opening_hours("Sa 22:00-04:00")
    got = open_intervals(
        hours, utc("2026-10-01T00:00"), utc("2026-10-06T00:00"), "Australia/Sydney"
    )
    assert got == [(utc("2026-10-03T12:00"), utc("2026-10-03T17:00"))]


def test_fr_mo_wrap_over_a_week() -> None:
    # Fr Sa Su Mo 10:00-12:00 Brisbane (UTC+10, no DST) in the week Mon 2 - Sun 8 Nov 2026.
    hours = parse_opening_hours("Fr-Mo 10:00-12:00")
    got = open_intervals(
        hours, utc("2026-11-01T14:00"), utc("2026-11-08T14:00"), "Australia/Brisbane"
    )
    assert got == [
        (utc("2026-11-02T00:00"), utc("2026-11-02T02:00")),  # Mon 2nd
        (utc("2026-11-06T00:00"), utc("2026-11-06T02:00")),  # Fri 6th
        (utc("2026-11-07T00:00"), utc("2026-11-07T02:00")),  # Sat 7th
        (utc("2026-11-08T00:00"), utc("2026-11-08T02:00")),  # Sun 8th
    ]


def test_overlapping_and_adjacent_periods_merge() -> None:
    # Mo 08-12 and 11-14, Tu 00-06 meets Mo 20:00-24:00: Darwin UTC+9:30.
    hours = parse_opening_hours("Mo 08:00-12:00,11:00-14:00,20:00-24:00; Tu 00:00-06:00")
    got = open_intervals(
        hours, utc("2026-11-01T00:00"), utc("2026-11-04T00:00"), "Australia/Darwin"
    )
    assert got == [
        (utc("2026-11-01T22:30"), utc("2026-11-02T04:30")),
        (utc("2026-11-02T10:30"), utc("2026-11-02T20:30")),
    ]


@pytest.mark.parametrize(
    ("state", "time_zone", "expected"),
    [
        ("NSW", "", "Australia/Sydney"),
        ("ACT", None, "Australia/Sydney"),
        ("VIC", " ", "Australia/Sydney"),
        ("TAS", "", "Australia/Sydney"),
        ("QLD", "", "Australia/Brisbane"),
        ("SA", "", "Australia/Adelaide"),
        ("NT", "", "Australia/Darwin"),
        ("WA", "", "Australia/Perth"),
        ("NSW", "Australia/Broken_Hill", "Australia/Broken_Hill"),
    ],
)
def test_site_time_zone(state: str, time_zone: str | None, expected: str) -> None:
    assert site_time_zone(state, time_zone) == expected


def test_site_time_zone_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="'Australia/Gotham' is not an IANA time zone"):
        site_time_zone("NSW", "Australia/Gotham")
    with pytest.raises(ValueError, match="state 'XX' has no time zone"):
        site_time_zone("XX", "")
