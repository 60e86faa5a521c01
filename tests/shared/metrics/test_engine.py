"""Spec section 4, table-driven: every figure and edge, with expectations worked out by hand.

Unless a case says otherwise: report zone Australia/Sydney, max_gap 15 minutes, month 2026-11
(30 days, no daylight-saving change: 43,200 minutes; local midnight 1 Nov = 31 Oct 13:00 UTC).
"""

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from tests.shared.metrics.helpers import compute, connector, local, row

NOV = 43_200.0


def every(
    start: str, minutes: int, count: int, status: str, evse: str = "E1", cpo: str = "A"
) -> list:
    """``count`` observations of ``status`` every ``minutes`` from local time ``start``."""
    first = local(start)
    return [(cpo, evse, first + timedelta(minutes=minutes * i), status) for i in range(count)]


def one(start: str, status: str, evse: str = "E1", cpo: str = "A") -> list:
    return [(cpo, evse, local(start), status)]


E1 = [connector("A", "S1", "C1", "E1")]

# name, observations, expected figures of EVSE E1 (minutes / percent / counts)
EVSE_CASES = [
    (
        "re-confirmed, then a session after a gap",
        every("2026-11-01 00:00", 10, 7, "AVAILABLE") + one("2026-11-01 01:30", "CHARGING"),
        # AVAILABLE 00:00–01:15 (last at 01:00 + 15), UNKNOWN 01:15–01:30, CHARGING 01:30–01:45
        dict(
            available_minutes=75,
            in_use_minutes=15,
            unknown_minutes=NOV - 90,
            known_minutes=90,
            in_service_minutes=NOV,
            coverage_pct=100 * 90 / NOV,
            uptime_pct=100.0,
            uptime_strict_pct=100 * 90 / NOV,
            utilisation_pct=100 * 15 / 90,
            in_use_sessions=1,
            outage_count=0,
            longest_outage_minutes=0,
        ),
    ),
    (
        "a gap longer than max_gap is unknown",
        one("2026-11-02 10:00", "AVAILABLE") + one("2026-11-02 10:40", "AVAILABLE"),
        dict(available_minutes=30, unknown_minutes=NOV - 30, known_minutes=30),
    ),
    (
        "carry-in from the previous month",
        one("2026-10-31 23:55", "FAULTED"),
        # FAULTED holds until 00:10 on 1 Nov: 10 minutes inside; the outage began before.
        dict(
            out_of_order_minutes=10,
            unknown_minutes=NOV - 10,
            outage_count=0,
            longest_outage_minutes=10,
            uptime_pct=0.0,
        ),
    ),
    (
        "carry-in that ends before the month adds nothing",
        one("2026-10-31 23:40", "FAULTED"),
        dict(
            out_of_order_minutes=0,
            unknown_minutes=NOV,
            known_minutes=0,
            uptime_pct=None,
            utilisation_pct=None,
            coverage_pct=0.0,
            uptime_strict_pct=0.0,
        ),
    ),
    (
        "charging then suspended is one session; unknown between two charges makes two",
        every("2026-11-03 08:00", 5, 3, "CHARGING")
        + one("2026-11-03 08:15", "SUSPENDEDEV")
        + one("2026-11-03 09:00", "CHARGING"),
        # 08:00–08:15 CHARGING, 08:15–08:30 SUSPENDEDEV (IN_USE), UNKNOWN 08:30–09:00, 09:00–09:15
        dict(in_use_minutes=45, in_use_sessions=2, unknown_minutes=NOV - 45),
    ),
    (
        "session in progress at the start of the month is not counted",
        one("2026-10-31 23:58", "CHARGING")
        + every("2026-11-01 00:05", 5, 2, "CHARGING")
        + one("2026-11-01 00:15", "AVAILABLE"),
        dict(in_use_minutes=15, available_minutes=15, in_use_sessions=0),
    ),
    (
        "outages: count, longest, unavailable is down but not an outage count",
        every("2026-11-05 00:00", 10, 4, "FAULTED")
        + one("2026-11-05 00:40", "AVAILABLE")
        + every("2026-11-06 00:00", 10, 7, "OUTOFORDER")
        + one("2026-11-06 01:10", "INOPERATIVE")
        + one("2026-11-06 01:20", "AVAILABLE"),
        # FAULTED 00:00–00:40 (40), OUTOFORDER 00:00–01:10 (70), INOPERATIVE 01:10–01:20 (10)
        dict(
            out_of_order_minutes=110,
            unavailable_minutes=10,
            available_minutes=30,
            outage_count=2,
            longest_outage_minutes=70,
            uptime_pct=100 * 30 / 150,
        ),
    ),
    (
        "faulted then outoforder without a gap is one outage",
        every("2026-11-07 00:00", 10, 2, "FAULTED")
        + every("2026-11-07 00:20", 10, 2, "OUTOFORDER"),
        # 00:00–00:20 FAULTED, 00:20–00:45 OUTOFORDER: one OUT_OF_ORDER run of 45 minutes
        dict(out_of_order_minutes=45, outage_count=1, longest_outage_minutes=45),
    ),
    (
        "outage running past the end of the month",
        one("2026-11-30 23:50", "FAULTED") + one("2026-12-01 00:00", "FAULTED"),
        dict(out_of_order_minutes=10, outage_count=1, longest_outage_minutes=10),
    ),
    (
        "same instant: the observation received last wins",
        one("2026-11-08 12:00", "AVAILABLE") + one("2026-11-08 12:00", "RESERVED"),
        dict(available_minutes=0, reserved_minutes=15, uptime_pct=100.0, known_minutes=15),
    ),
    (
        "unsorted input gives the ordered timeline",
        list(
            reversed(
                every("2026-11-09 00:00", 5, 4, "AVAILABLE") + one("2026-11-09 00:20", "CHARGING")
            )
        ),
        # sorted: AVAILABLE 00:00,05,10,15 then CHARGING 00:20 → AVAILABLE 20, CHARGING 15
        dict(available_minutes=20, in_use_minutes=15, in_use_sessions=1),
    ),
    (
        "planned and removed are not in service; unknown is not",
        every("2026-11-10 00:00", 10, 6, "PLANNED") + one("2026-11-10 01:00", "UNKNOWN"),
        # PLANNED 00:00–01:00 (60), raw UNKNOWN 01:00–01:15 counts as unknown time
        dict(
            not_in_service_minutes=60,
            in_service_minutes=NOV - 60,
            unknown_minutes=NOV - 60,
            known_minutes=0,
            coverage_pct=0.0,
            uptime_pct=None,
        ),
    ),
    (
        "never observed: all unknown",
        [],
        dict(
            unknown_minutes=NOV,
            known_minutes=0,
            coverage_pct=0.0,
            uptime_pct=None,
            uptime_strict_pct=0.0,
            utilisation_pct=None,
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "observations", "expected"), EVSE_CASES, ids=[c[0] for c in EVSE_CASES]
)
def test_evse_figures(name: str, observations: list, expected: dict) -> None:
    evse = row(compute("2026-11", observations, E1)["evse"], evse_uid="E1")
    assert evse["period_minutes"] == NOV
    six = (
        "available_minutes",
        "in_use_minutes",
        "reserved_minutes",
        "out_of_order_minutes",
        "unavailable_minutes",
        "unknown_minutes",
    )
    assert sum(evse[c] for c in six) == pytest.approx(evse["in_service_minutes"])
    for figure, value in expected.items():
        if value is None:
            assert evse[figure] is None, figure
        else:
            assert evse[figure] == pytest.approx(value), figure


def test_outage_rows() -> None:
    observations = (
        one("2026-10-31 23:55", "FAULTED")  # carried in
        + every("2026-11-06 00:00", 10, 7, "OUTOFORDER")
        + one("2026-11-06 01:10", "INOPERATIVE")
        + one("2026-11-06 01:20", "AVAILABLE")
        + one("2026-11-30 23:50", "FAULTED")
        + one("2026-12-01 00:00", "FAULTED")  # runs on
    )
    outages = compute("2026-11", observations, E1)["outages"].to_pylist()
    utc = lambda text: local(text).replace(tzinfo=UTC)  # noqa: E731
    assert [
        (o["category"], o["started_at"], o["ended_at"], o["minutes_in_period"]) for o in outages
    ] == [
        ("OUT_OF_ORDER", utc("2026-10-31 23:55"), utc("2026-11-01 00:10"), 10.0),
        ("OUT_OF_ORDER", utc("2026-11-06 00:00"), utc("2026-11-06 01:10"), 70.0),
        ("UNAVAILABLE", utc("2026-11-06 01:10"), utc("2026-11-06 01:20"), 10.0),
        ("OUT_OF_ORDER", utc("2026-11-30 23:50"), None, 10.0),
    ]
    assert {(o["site_id"], o["charger_id"], o["state"]) for o in outages} == {("S1", "C1", "NSW")}


def test_a_run_carried_on_through_several_status_words_is_one_run() -> None:
    # Each status word is a run of its own as stored; one category without a gap is one run.
    observations = (
        one("2026-11-06 10:00", "FAULTED")
        + one("2026-11-06 10:10", "OUTOFORDER")
        + one("2026-11-06 10:20", "FAULTED")
        + one("2026-11-06 10:30", "AVAILABLE")
        + one("2026-11-06 11:00", "CHARGING")
        + one("2026-11-06 11:10", "SUSPENDEDEV")
        + one("2026-11-06 11:20", "CHARGING")
        + one("2026-11-06 11:30", "AVAILABLE")
        # a silence longer than max_gap ends the run, though the category is the same
        + one("2026-11-06 12:00", "FAULTED")
        + one("2026-11-06 12:30", "OUTOFORDER")
        + one("2026-11-06 12:40", "AVAILABLE")
    )
    tables = compute("2026-11", observations, E1)
    utc = lambda text: local(text).replace(tzinfo=UTC)  # noqa: E731
    assert [
        (o["started_at"], o["ended_at"], o["minutes_in_period"])
        for o in tables["outages"].to_pylist()
    ] == [
        (utc("2026-11-06 10:00"), utc("2026-11-06 10:30"), 30.0),
        (utc("2026-11-06 12:00"), utc("2026-11-06 12:15"), 15.0),
        (utc("2026-11-06 12:30"), utc("2026-11-06 12:40"), 10.0),
    ]
    (evse,) = tables["evse"].to_pylist()
    assert (evse["in_use_sessions"], evse["outage_count"]) == (1, 3)
    assert evse["longest_outage_minutes"] == pytest.approx(30.0)


def test_cpo_max_gap() -> None:
    observations = one("2026-11-02 10:00", "AVAILABLE", cpo="SLOW") + one(
        "2026-11-02 10:50", "AVAILABLE", cpo="SLOW"
    )
    tables = compute(
        "2026-11", observations, [connector("SLOW", "S1", "C1", "E1")], max_gap={"SLOW": 60}
    )
    evse = row(tables["evse"], evse_uid="E1")
    # With 60 minutes the two observations join: 10:00–11:50 is known.
    assert (evse["available_minutes"], evse["max_gap_minutes"]) == (110.0, 60.0)


def test_max_gap_column_of_a_cpo_without_runs() -> None:
    """CPO B is configured with max_gap 30 but sent nothing this month: its EVSE row still says
    30 (evse.max_gap_minutes), not the default 15."""
    static = [connector("B", "S9", "C9", "E9")]
    evse = row(compute("2026-11", [], static, max_gap={"B": 30})["evse"], evse_uid="E9")
    assert evse["unknown_minutes"] == 30 * 1440
    assert evse["max_gap_minutes"] == 30


@pytest.mark.parametrize(
    ("month", "period_minutes", "short_or_long_day", "day_minutes"),
    [
        ("2026-10", 743 * 60, date(2026, 10, 4), 23 * 60),
        ("2026-04", 721 * 60, date(2026, 4, 5), 25 * 60),
    ],
)
def test_daylight_saving_months(
    month: str, period_minutes: float, short_or_long_day: date, day_minutes: float
) -> None:
    # Charging across the missing (October) or repeated (April) local hour: 01:00–04:00 local.
    day = short_or_long_day.isoformat()
    observations = every(f"{day} 01:00", 10, 18, "CHARGING")
    tables = compute(month, observations, E1)
    evse = row(tables["evse"], evse_uid="E1")
    # 18 observations 10 minutes apart span 170 minutes of UTC time, plus 15 of carry.
    assert evse["period_minutes"] == period_minutes
    assert evse["in_use_minutes"] == 185.0
    daily = row(tables["daily"], evse_uid="E1", date=short_or_long_day)
    assert (daily["period_minutes"], daily["in_use_minutes"]) == (day_minutes, 185.0)
    assert len(tables["daily"]) == (31 if month == "2026-10" else 30)
    assert sum(r["period_minutes"] for r in tables["daily"].to_pylist()) == period_minutes


def test_commissioned_and_decommissioned() -> None:
    static = [
        connector("A", "S1", "C1", "E1", commissioned_on=date(2026, 11, 11)),
        connector("A", "S1", "C1", "E2", decommissioned_on=date(2026, 11, 21)),
        connector("A", "S1", "C1", "E3", decommissioned_on=date(2026, 10, 1)),
    ]
    observations = (
        every(
            "2026-11-10 23:50", 10, 3, "AVAILABLE"
        )  # 23:50 before commissioning; 00:00, 00:10 after
        + one(
            "2026-11-10 23:58", "CHARGING", evse="E1"
        )  # session under way when it is commissioned
        + every("2026-11-20 23:40", 10, 3, "AVAILABLE", evse="E2")
        + one("2026-11-15 12:00", "AVAILABLE", evse="E3")
    )
    tables = compute("2026-11", observations, static)
    e1, e2, e3 = (row(tables["evse"], evse_uid=e) for e in ("E1", "E2", "E3"))
    # E1: not in service for 10 days; CHARGING 23:58–00:00 is outside, then AVAILABLE 00:00–00:25.
    assert e1["not_in_service_minutes"] == 10 * 1440
    assert (e1["in_use_minutes"], e1["available_minutes"], e1["in_use_sessions"]) == (0.0, 25.0, 0)
    # E2: in service for 20 days; AVAILABLE 23:40–00:00 counts, after midnight it is not in service.
    assert e2["not_in_service_minutes"] == 10 * 1440 and e2["available_minutes"] == 20.0
    # E3: decommissioned before the month: every percentage has a zero denominator.
    assert e3["in_service_minutes"] == 0.0
    assert [
        e3[f] for f in ("coverage_pct", "uptime_pct", "uptime_strict_pct", "utilisation_pct")
    ] == [None] * 4


def test_commissioning_mid_session_starts_a_session() -> None:
    static = [connector("A", "S1", "C1", "E1", commissioned_on=date(2026, 11, 11))]
    observations = every("2026-11-10 23:50", 5, 4, "CHARGING")  # 23:50 … 00:05, carried to 00:20
    evse = row(compute("2026-11", observations, static)["evse"], evse_uid="E1")
    assert (evse["in_use_minutes"], evse["in_use_sessions"]) == (20.0, 1)


@pytest.mark.parametrize(
    "observations",
    [
        # 23:40, 23:45, 23:50 CHARGING; 23:55, 00:00, 00:05 SUSPENDEDEV, carried to 00:20.
        pytest.param(every("2026-11-10 23:40", 5, 6, "CHARGING"), id="one raw status"),
        pytest.param(
            every("2026-11-10 23:40", 5, 3, "CHARGING")
            + every("2026-11-10 23:55", 5, 3, "SUSPENDEDEV"),
            id="two raw statuses, one IN_USE run",
        ),
    ],
)
def test_commissioning_mid_session_counts_the_category_run(observations: list) -> None:
    """A session under way at commissioning counts when its category run (not only the first
    raw status's segment) spans commissioning: one IN_USE run here either way."""
    static = [connector("A", "S1", "C1", "E1", commissioned_on=date(2026, 11, 11))]
    evse = row(compute("2026-11", observations, static)["evse"], evse_uid="E1")
    # In service from 11 Nov 00:00; IN_USE until 00:20 → 20 minutes, one session either way.
    assert evse["in_use_minutes"] == 20.0
    assert evse["in_use_sessions"] == 1


def test_unmatched_and_never_observed() -> None:
    static = [connector("A", "S1", "C1", "E1"), connector("A", "S1", "C1", "NEVER")]
    observations = every("2026-11-01 00:00", 10, 3, "AVAILABLE") + every(
        "2026-11-01 00:00", 10, 3, "FAULTED", evse="GHOST"
    )
    tables = compute("2026-11", observations, static)
    ghost = row(tables["evse"], evse_uid="GHOST")
    assert (
        ghost["matched"],
        ghost["site_id"],
        ghost["charger_id"],
        ghost["out_of_order_minutes"],
    ) == (False, None, None, 35.0)
    unmatched = row(tables["unmatched"], evse_uid="GHOST")
    assert unmatched["known_minutes"] == 35.0 and unmatched["cpo_id"] == "A"
    never = row(tables["evse"], evse_uid="NEVER")
    assert (never["matched"], never["unknown_minutes"]) == (True, NOV)
    network = row(tables["network"], cpo_id="A")
    # The ghost stays out of the aggregates until the CPO lists it.
    assert (
        network["evse_count"],
        network["out_of_order_minutes"],
        network["available_minutes"],
    ) == (2, 0.0, 35.0)
    assert network["period_minutes"] == 2 * NOV
    assert len(tables["outages"]) == 1 and tables["outages"].column("site_id").to_pylist() == [None]


def test_group_levels_are_port_weighted() -> None:
    static = [
        connector("A", "S1", "C1", "E1"),
        connector(
            "A", "S1", "C1", "E1", connector_id="2", connector_standard="CHADEMO", max_power_kw=50.0
        ),
        connector("A", "S1", "C2", "E2", program="NSW-FCG-R1"),
        connector("A", "S2", "C3", "E3", state="VIC", postcode="3000", program="VIC-ZEV"),
        connector("B", "S9", "C9", "E9", state="VIC", postcode="3000"),
    ]
    observations = (
        every("2026-11-01 00:00", 10, 6, "AVAILABLE")  # E1: AVAILABLE 00:00–01:05 (65)
        + every("2026-11-01 00:30", 10, 6, "FAULTED", evse="E2")  # E2: FAULTED 00:30–01:35 (65)
        + every("2026-11-01 00:00", 10, 3, "CHARGING", evse="E3")  # E3: CHARGING 00:00–00:35 (35)
        + every("2026-11-01 00:00", 10, 3, "AVAILABLE", evse="E9", cpo="B")  # E9: 35
    )
    tables = compute("2026-11", observations, static)
    assert len(tables["connector"]) == 5
    chademo = row(tables["connector"], evse_uid="E1", connector_id="2")
    assert (
        chademo["connector_standard"],
        chademo["max_power_kw"],
        chademo["available_minutes"],
    ) == ("CHADEMO", 50.0, 65.0)
    c1 = row(tables["charger"], charger_id="C1")
    assert (c1["evse_count"], c1["max_power_kw"], c1["period_minutes"]) == (1, 150.0, NOV)
    s1 = row(tables["site"], site_id="S1")
    assert (s1["evse_count"], s1["period_minutes"], s1["known_minutes"]) == (2, 2 * NOV, 130.0)
    assert s1["uptime_pct"] == pytest.approx(100 * 65 / 130)
    assert s1["program"] == "NSW-FCG-R1" and s1["longest_outage_minutes"] == 65.0
    # any_up: known at some EVSE 00:00–01:35 (95 minutes), some EVSE up 00:00–01:05 (65).
    assert s1["any_up_pct"] == pytest.approx(100 * 65 / 95)
    a = row(tables["network"], cpo_id="A")
    assert (a["site_count"], a["evse_count"], a["known_minutes"]) == (2, 3, 165.0)
    assert a["utilisation_pct"] == pytest.approx(100 * 35 / 165)
    vic = row(tables["state"], state="VIC")
    assert (
        vic["site_count"],
        vic["evse_count"],
        vic["in_use_minutes"],
        vic["available_minutes"],
    ) == (2, 2, 35.0, 35.0)
    nsw = row(tables["state"], state="NSW")
    assert (nsw["evse_count"], nsw["outage_count"]) == (2, 1)


def test_hour_of_week_profile() -> None:
    # Monday 2 Nov 2026, 08:00–09:05 local charging; Tuesday 3 Nov 08:00–08:15 available.
    observations = every("2026-11-02 08:00", 10, 6, "CHARGING") + one(
        "2026-11-03 08:00", "AVAILABLE"
    )
    profile = compute("2026-11", observations, E1)["hour_of_week"]
    assert len(profile) == 168
    monday_8 = row(profile, hour_of_week=8)
    assert (
        monday_8["day_of_week"],
        monday_8["hour"],
        monday_8["in_use_minutes"],
        monday_8["utilisation_pct"],
    ) == (0, 8, 60.0, 100.0)
    monday_9 = row(profile, hour_of_week=9)
    assert (monday_9["in_use_minutes"], monday_9["known_minutes"]) == (5.0, 5.0)
    tuesday_8 = row(profile, hour_of_week=32)
    assert (
        tuesday_8["in_use_minutes"],
        tuesday_8["known_minutes"],
        tuesday_8["utilisation_pct"],
    ) == (0.0, 15.0, 0.0)
    assert row(profile, hour_of_week=100)["utilisation_pct"] is None


def test_any_up_over_gaps_outages_commissioning_and_carry_in() -> None:
    static = [
        connector("A", "S1", "C1", "E1"),
        connector("A", "S1", "C2", "E2"),
        connector("A", "S1", "C3", "E3", commissioned_on=date(2026, 11, 2)),  # never observed
        connector("A", "S2", "C4", "E4"),  # never observed: nothing known
        connector("B", "S3", "C5", "E5"),  # one report before the month, carried all month
    ]
    observations = (
        every("2026-11-01 00:00", 10, 6, "AVAILABLE")  # E1 up 00:00–01:05
        + every("2026-11-01 02:00", 10, 3, "FAULTED")  # E1 down 02:00–02:35
        + every("2026-11-01 00:30", 10, 6, "CHARGING", evse="E2")  # E2 up 00:30–01:35
        + one("2026-10-31 23:00", "AVAILABLE", evse="E5", cpo="B")
    )
    tables = compute("2026-11", observations, static, max_gap={"B": 60_000})
    s1 = row(tables["site"], site_id="S1")
    # Known at some EVSE 00:00–01:35 and 02:00–02:35 (130 minutes); up at some 00:00–01:35.
    assert s1["any_up_pct"] == pytest.approx(100 * 95 / 130)
    assert row(tables["site"], site_id="S2")["any_up_pct"] is None
    s3 = row(tables["site"], site_id="S3")
    assert (s3["any_up_pct"], s3["known_minutes"]) == (100.0, NOV)


def test_hour_of_week_counts_the_repeated_hour_and_leaves_out_time_not_in_service() -> None:
    """Sydney, April 2026: on Sunday 5 April the clock goes back at 03:00 AEDT, so the local
    hour 02:00–03:00 happens twice (15:00–17:00 UTC on the 4th). E2 enters service on the 6th."""
    static = E1 + [connector("A", "S1", "C2", "E2", commissioned_on=date(2026, 4, 6))]
    repeated = datetime(2026, 4, 4, 15, tzinfo=UTC)
    observations = [
        ("A", "E1", repeated + timedelta(minutes=10 * i), "CHARGING") for i in range(12)
    ]
    observations += every("2026-04-05 10:00", 10, 3, "AVAILABLE", evse="E2")  # not in service yet
    observations += every("2026-04-06 10:00", 10, 3, "AVAILABLE", evse="E2")  # Monday 10:00–10:35
    profile = compute("2026-04", observations, static)["hour_of_week"]
    sunday_2 = row(profile, hour_of_week=6 * 24 + 2)
    # Charging through both occurrences of 02:00–03:00 (15:00–16:50 UTC, held to 17:05).
    assert (sunday_2["in_use_minutes"], sunday_2["known_minutes"]) == (120.0, 120.0)
    sunday_3 = row(profile, hour_of_week=6 * 24 + 3)
    assert (sunday_3["in_use_minutes"], sunday_3["known_minutes"]) == (5.0, 5.0)
    sunday_10 = row(profile, hour_of_week=6 * 24 + 10)
    assert (sunday_10["known_minutes"], sunday_10["utilisation_pct"]) == (0.0, None)
    monday_10 = row(profile, hour_of_week=10)
    assert (monday_10["in_use_minutes"], monday_10["known_minutes"]) == (0.0, 35.0)


def test_daily_rows_split_at_local_midnight() -> None:
    observations = every("2026-11-04 23:50", 5, 4, "CHARGING")  # 23:50 … 00:05, carried to 00:20
    daily = compute("2026-11", observations, E1)["daily"]
    assert row(daily, date=date(2026, 11, 4))["in_use_minutes"] == 10.0
    assert row(daily, date=date(2026, 11, 5))["in_use_minutes"] == 20.0
    assert row(daily, date=date(2026, 11, 5))["period_minutes"] == 1440.0


def test_empty_month_and_empty_sites() -> None:
    tables = compute("2026-11", [], [])
    assert all(table.num_rows == 0 for table in tables.values())


def test_results_are_identical_run_to_run() -> None:
    observations = every("2026-11-01 00:00", 7, 500, "AVAILABLE") + every(
        "2026-11-02 00:00", 3, 400, "CHARGING", evse="E2"
    )
    static = [connector("A", "S1", "C1", "E1"), connector("A", "S1", "C1", "E2")]
    first = compute("2026-11", observations, static)
    second = compute("2026-11", list(reversed(observations)), static)
    for name in first:
        assert first[name].equals(second[name]), name


def test_tables_stream_from_other_threads_as_from_the_engines_own() -> None:
    """The job streams the big tables in threads of their own (``MonthTables.concurrent``):
    every table, inputs-reading ones included, is the same there."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.metrics import schema
    from shared.metrics.engine import month_tables
    from tests.shared.metrics.helpers import month_inputs

    inputs = month_inputs(
        "2026-11",
        every("2026-11-01 00:00", 7, 500, "AVAILABLE") + one("2026-11-06 10:00", "FAULTED"),
        [connector("A", "S1", "C1", "E1")],
        exclusions=[
            ("X1", "A", "evse", "E1", local("2026-11-06 10:00"), local("2026-11-06 12:00"), "power")
        ],
    )
    with month_tables(inputs) as tables, ThreadPoolExecutor(len(schema.TABLES)) as pool:
        elsewhere = {name: pool.submit(tables.concurrent().table, name) for name in schema.TABLES}
        here = {name: tables.table(name) for name in schema.TABLES}
        for name in schema.TABLES:
            assert elsewhere[name].result().equals(here[name]), name
    assert here["exclusions"].num_rows == 1 and here["daily"].num_rows == 30


def test_timestamps_are_utc() -> None:
    tables = compute("2026-11", one("2026-11-06 10:00", "FAULTED"), E1)
    assert str(tables["outages"].schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    started = tables["outages"].column("started_at").to_pylist()[0]
    assert started == datetime(2026, 11, 5, 23, 0, tzinfo=UTC)


def test_a_run_of_an_unknown_category_is_refused_with_a_clear_error() -> None:
    from shared.metrics.engine import MonthInputs, compute_month
    from shared.metrics.period import Period
    from tests.shared.metrics.helpers import runs_table

    runs = runs_table(one("2026-11-01 00:00", "AVAILABLE"))
    runs = runs.set_column(3, "category", pa.array(["BROKEN"], pa.string()))
    inputs = MonthInputs(Period.for_month("2026-11", "Australia/Sydney"), runs,
                         pd.DataFrame([E1[0]]), 15, {})  # fmt: skip
    with pytest.raises(ValueError, match="category that is not one of .*BROKEN"):
        compute_month(inputs)


@pytest.mark.parametrize(
    ("month", "tz"),
    [("2026-04", "Australia/Sydney"), ("2026-10", "Australia/Sydney"),
     ("2026-02", "Australia/Adelaide"), ("2026-07", "Australia/Perth")],
)  # fmt: skip
def test_days_and_hours_of_the_week_add_up_to_the_month(month: str, tz: str) -> None:
    """On random histories (gaps, faults, commissioning, decommissioning, carry-in, DST months,
    a half-hour zone), the daily rows sum to each EVSE's figures and the hour-of-week rows to
    each site's: the buckets neither lose nor count twice a microsecond."""
    import random

    from tests.shared.metrics.helpers import SYDNEY

    rng = random.Random(f"{month}{tz}")
    first = datetime.fromisoformat(f"{month}-01").replace(tzinfo=SYDNEY).astimezone(UTC)
    static, observations = [], []
    for n in range(24):
        extra = {}
        if n % 5 == 1:
            extra["commissioned_on"] = date(int(month[:4]), int(month[5:]), rng.randint(2, 27))
        if n % 7 == 2:
            extra["decommissioned_on"] = date(int(month[:4]), int(month[5:]), rng.randint(2, 27))
        static.append(connector("A", f"S{n % 5}", f"C{n}", f"E{n}", **extra))
        at = first - timedelta(minutes=rng.randint(0, 90))
        while at < first + timedelta(days=31):
            status = rng.choice(["AVAILABLE", "CHARGING", "CHARGING", "FAULTED", "UNKNOWN_GAP"])
            for _ in range(rng.randint(1, 40)):
                if status != "UNKNOWN_GAP":
                    observations.append(("A", f"E{n}", at, status))
                at += timedelta(minutes=rng.choice([1, 5, 7, 10, 14]))
    tables = compute(month, observations, static, tz=tz)
    evse = {r["evse_uid"]: r for r in tables["evse"].to_pylist()}
    daily = pd.DataFrame(tables["daily"].to_pylist()).groupby("evse_uid").sum(numeric_only=True)
    for uid, figures in evse.items():
        for column in ("period_minutes", "in_service_minutes", "known_minutes", "in_use_minutes",
                       "out_of_order_minutes", "unknown_minutes", "not_in_service_minutes"):  # fmt: skip
            assert daily.loc[uid, column] == pytest.approx(figures[column], abs=1e-6), (uid, column)
    hours = (
        pd.DataFrame(tables["hour_of_week"].to_pylist()).groupby("site_id").sum(numeric_only=True)
    )
    for site in tables["site"].to_pylist():
        for column in ("known_minutes", "in_use_minutes"):
            assert hours.loc[site["site_id"], column] == pytest.approx(site[column], abs=1e-6)
    assert len(tables["hour_of_week"]) == 5 * 168
