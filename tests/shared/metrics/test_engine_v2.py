"""Contract version 2, table-driven with hand-worked expectations: opening hours (4.1), the
unknown split (4.2), excluded downtime (4.3), program and LGA levels (4.4), twelve-month
figures (4.5).

Unless a case says otherwise: report zone Australia/Sydney (UTC+11 all November), max_gap 15
minutes, month 2026-11 (30 days, 43,200 minutes; 1 Nov is a Sunday; weekdays: 21).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from tests.shared.metrics.helpers import compute, connector, local, row

NOV = 43_200.0


def every(start: str, minutes: int, count: int, status: str, evse: str = "E1", cpo: str = "A"):
    first = local(start)
    return [(cpo, evse, first + timedelta(minutes=minutes * i), status) for i in range(count)]


def one(start: str, status: str, evse: str = "E1", cpo: str = "A"):
    return [(cpo, evse, local(start), status)]


def site(hours: str | None, evse: str = "E1", site_id: str = "S1", **extra) -> dict:
    return connector("A", site_id, f"C-{evse}", evse, opening_hours=hours, **extra)


def evse_row(tables, evse: str = "E1") -> dict:
    return row(tables["evse"], cpo_id="A", evse_uid=evse)


# --- 4.1 opening hours: closed time ----------------------------------------------------------

CLOSED_CASES = [
    # name, opening_hours, state / time_zone, month, period minutes, open minutes
    ("weekdays 08-18: 21 weekdays × 600", "Mo-Fr 08:00-18:00", {}, "2026-11", NOV, 21 * 600),
    ("24/7 is open", "24/7", {}, "2026-11", NOV, NOV),
    ("empty is open", "", {}, "2026-11", NOV, NOV),
    # Fr 6,13,20,27 + Sa 7,14,21,28 + Su 1,8,15,22,29 + Mo 2,9,16,23,30 = 18 days × 120
    ("Fr-Mo wraps over the weekend", "Fr-Mo 10:00-12:00", {}, "2026-11", NOV, 18 * 120),
    # Sa 31 Oct 22:00 → 1 Nov 02:00 brings 120 in; Sa 7, 14, 21, 28 give 240 each
    ("across midnight, carried in from October", "Sa 22:00-02:00", {}, "2026-11", NOV, 1080),
    # Mo 30 Nov 22:00 → 1 Dec 02:00: only 120 inside; Mo 2, 9, 16, 23 give 240 each
    ("across midnight, cut at the month's end", "Mo 22:00-02:00", {}, "2026-11", NOV, 1080),
    # Oct 2026 in Sydney: 31 days less the DST hour (4 Oct). Sundays 4 (23 h), 11, 18, 25.
    ("whole Sundays across DST start", "Su 00:00-24:00", {}, "2026-10", 44_580, 1380 + 3 * 1440),
    # Apr 2026: 30 days plus the repeated hour (5 Apr). Sundays 5 (25 h), 12, 19, 26.
    ("whole Sundays across DST end", "Su 00:00-00:00", {}, "2026-04", 43_260, 1500 + 3 * 1440),
    # A WA site in a Sydney-zone report: Perth has no DST; 21 weekdays × 8 h.
    ("WA site: its own zone", "Mo-Fr 09:00-17:00", {"state": "WA"}, "2026-11", NOV, 21 * 480),
    # Perth weekdays in October: 22 (1, 2, 5-9, 12-16, 19-23, 26-30), DST in Sydney irrelevant
    ("WA site across Sydney's DST start", "Mo-Fr 09:00-17:00", {"state": "WA"}, "2026-10", 44_580, 22 * 480),
    # time_zone overrides the state: a NSW site on Perth time behaves the same
    ("time_zone given", "Mo-Fr 09:00-17:00", {"time_zone": "Australia/Perth"}, "2026-11", NOV, 21 * 480),
]  # fmt: skip


@pytest.mark.parametrize(
    ("hours", "extra", "month", "period", "open_minutes"),
    [case[1:] for case in CLOSED_CASES],
    ids=[case[0] for case in CLOSED_CASES],
)
def test_closed_minutes(hours, extra, month, period, open_minutes) -> None:
    tables = compute(month, [], [site(hours, **extra)])
    e = evse_row(tables)
    assert e["period_minutes"] == pytest.approx(period)
    assert e["closed_minutes"] == pytest.approx(period - open_minutes)
    assert e["in_service_minutes"] == pytest.approx(open_minutes)
    assert e["no_data_minutes"] == pytest.approx(open_minutes)
    assert e["unknown_minutes"] == pytest.approx(open_minutes)
    assert e["not_in_service_minutes"] == 0
    days = tables["daily"].to_pylist()
    assert sum(d["closed_minutes"] for d in days) == pytest.approx(period - open_minutes)
    assert row(tables["site"], site_id="S1")["closed_minutes"] == pytest.approx(
        period - open_minutes
    )


def test_daily_closed_time_follows_the_local_day_at_dst_start() -> None:
    tables = compute("2026-10", [], [site("Su 00:00-24:00")])
    daily = {d["date"]: d for d in tables["daily"].to_pylist()}
    assert daily[date(2026, 10, 4)]["period_minutes"] == 1380
    assert daily[date(2026, 10, 4)]["closed_minutes"] == 0
    assert daily[date(2026, 10, 5)]["closed_minutes"] == 1440


def test_wa_site_opening_hours_in_sydney_days() -> None:
    # Perth 09:00-17:00 = Sydney 12:00-20:00 in November. AVAILABLE 11:00-13:15 Sydney on Mon 2.
    obs = every("2026-11-02 11:00", 10, 13, "AVAILABLE")
    tables = compute("2026-11", obs, [site("Mo-Fr 09:00-17:00", state="WA")])
    e = evse_row(tables)
    assert e["available_minutes"] == 75  # 12:00-13:15 only: before noon the site is closed
    assert e["closed_minutes"] == NOV - 21 * 480
    day = row(tables["daily"], date=date(2026, 11, 2))
    assert (day["closed_minutes"], day["available_minutes"]) == (960, 75)
    site_row = row(tables["site"], site_id="S1")
    assert (site_row["time_zone"], site_row["opening_hours"]) == (
        "Australia/Perth",
        "Mo-Fr 09:00-17:00",
    )


DAILY_8_18 = "Mo-Su 08:00-18:00"  # open 600 minutes a day: 18,000 in November


def test_run_crossing_a_closed_stretch_is_one_outage() -> None:
    # FAULTED Mon 2 Nov 17:00 → re-confirmed every 10 min to Tue 09:00 (held to 09:15), then
    # AVAILABLE 09:15-09:30. In service: 17:00-18:00 and 08:00-09:15 = 135 minutes, one run.
    obs = every("2026-11-02 17:00", 10, 97, "FAULTED") + one("2026-11-03 09:15", "AVAILABLE")
    tables = compute("2026-11", obs, [site(DAILY_8_18)])
    e = evse_row(tables)
    assert e["out_of_order_minutes"] == 135
    assert e["outage_count"] == 1
    assert e["longest_outage_minutes"] == 135
    assert e["available_minutes"] == 15
    assert e["closed_minutes"] == NOV - 18_000
    assert e["no_data_minutes"] == 18_000 - 150
    outages = tables["outages"].to_pylist()
    assert len(outages) == 1
    assert outages[0]["started_at"] == local("2026-11-02 17:00")
    assert outages[0]["ended_at"] == local("2026-11-03 09:15")
    assert outages[0]["minutes_in_period"] == 135


def test_runs_count_at_their_first_in_service_instant() -> None:
    # E1: FAULTED from 31 Oct 23:00 (closed) to 1 Nov 08:35: its first in-service instant is
    # 1 Nov 08:00, so it counts in November. E2 (no opening hours): the same run began in
    # October while in service, so it does not. E3 (open all day through the hours path): not
    # either. Sessions: CHARGING wholly in closed time (E1, 3 Nov 20:00-20:45) counts nowhere;
    # one begun in closed time (E1, 4 Nov 07:50-08:20) counts.
    fault = every("2026-10-31 23:00", 10, 57, "FAULTED")  # last at 08:20, held to 08:35
    obs = [o for evse in ("E1", "E2", "E3") for o in [(a, evse, t, s) for a, _, t, s in fault]]
    obs += every("2026-11-03 20:00", 5, 7, "CHARGING") + every("2026-11-04 07:50", 5, 4, "CHARGING")
    tables = compute(
        "2026-11",
        obs,
        [site(DAILY_8_18), site(None, "E2", "S2"), site("Mo-Su 00:00-24:00", "E3", "S3")],
    )
    e1, e2, e3 = (evse_row(tables, e) for e in ("E1", "E2", "E3"))
    assert (e1["out_of_order_minutes"], e1["outage_count"], e1["longest_outage_minutes"]) == (
        35,
        1,
        35,
    )
    assert (e2["out_of_order_minutes"], e2["outage_count"]) == (515, 0)
    assert (e3["out_of_order_minutes"], e3["outage_count"]) == (515, 0)
    # E1 in use: 08:00-08:20 on the 4th (last CHARGING at 08:05, held to 08:20)
    assert (e1["in_use_minutes"], e1["in_use_sessions"]) == (20, 1)


def test_closed_time_is_not_known_for_hour_of_week_and_any_up() -> None:
    obs = every("2026-11-02 17:00", 5, 13, "CHARGING")  # 17:00-18:15 → 17:00-18:00 in service
    tables = compute("2026-11", obs, [site(DAILY_8_18)])
    # Monday 17:00 hour: 60 known (other Mondays: no data), 60 in use. Monday 18:00: the
    # CHARGING 18:00-18:15 is closed time, neither known nor in use.
    monday_17 = row(tables["hour_of_week"], hour_of_week=17)
    assert (monday_17["known_minutes"], monday_17["in_use_minutes"]) == (60, 60)
    monday_18 = row(tables["hour_of_week"], hour_of_week=18)
    assert (monday_18["known_minutes"], monday_18["in_use_minutes"]) == (0, 0)
    assert monday_18["utilisation_pct"] is None
    assert evse_row(tables)["in_use_minutes"] == 60
    assert row(tables["site"], site_id="S1")["any_up_pct"] == 100.0


def test_commissioning_and_closed_time_do_not_double_count() -> None:
    # Commissioned 16 Nov: 15 days not in service (whatever the hours), then 15 days × 600 open.
    tables = compute("2026-11", [], [site(DAILY_8_18, commissioned_on=date(2026, 11, 16))])
    e = evse_row(tables)
    assert e["not_in_service_minutes"] == 15 * 1440
    assert e["closed_minutes"] == 15 * 840
    assert e["in_service_minutes"] == 15 * 600


def test_not_in_service_status_wins_over_closed() -> None:
    # REMOVED reported 2 Nov 17:00 every 10 min to 19:00 (held to 19:15): all of it NOT_IN_SERVICE.
    obs = every("2026-11-02 17:00", 10, 13, "REMOVED")
    e = evse_row(compute("2026-11", obs, [site(DAILY_8_18)]))
    assert e["not_in_service_minutes"] == 135
    assert e["closed_minutes"] == NOV - 18_000 - 75


# --- 4.2 unknown split -----------------------------------------------------------------------


def test_unknown_reported_and_no_data() -> None:
    obs = every("2026-11-02 10:00", 10, 3, "UNKNOWN") + one("2026-11-02 11:00", "AVAILABLE")
    e = evse_row(compute("2026-11", obs, [site(None)]))
    assert e["unknown_reported_minutes"] == 35  # 10:00-10:35
    assert e["no_data_minutes"] == NOV - 35 - 15
    assert e["unknown_minutes"] == NOV - 15
    assert e["known_minutes"] == 15


# --- 4.3 excluded downtime -------------------------------------------------------------------

EXCLUSION_CONNECTORS = [
    connector("A", "S1", "C1", "E1", program="P1", lga_code="10050", lga_name="Albury"),
    connector("A", "S1", "C1", "E2", lga_code="10050", lga_name="Albury"),
    connector("A", "S1", "C2", "E3", program="P1", lga_code="10050", lga_name="Albury"),
    connector("A", "S2", "C3", "E4", state="VIC"),
    connector("A", "S3", "C4", "E5", state="VIC"),
]


def exclusion_month() -> dict[str, pa.Table]:
    # E1-E4: FAULTED 5 Nov 10:00-12:15 (135 min), then AVAILABLE 12:15-12:30.
    obs = []
    for evse in ("E1", "E2", "E3", "E4"):
        obs += every("2026-11-05 10:00", 10, 13, "FAULTED", evse) + one(
            "2026-11-05 12:15", "AVAILABLE", evse
        )
    # E5: FAULTED carried in (31 Oct 23:55 → 1 Nov 00:10), and from 30 Nov 23:50 on.
    obs += one("2026-10-31 23:55", "FAULTED", "E5") + every(
        "2026-11-30 23:50", 5, 9, "FAULTED", "E5"
    )
    exclusions = [
        ("X1", "A", "evse", "E1", local("2026-11-05 10:30"), local("2026-11-05 11:00"), "UTILITY_INTERRUPTION"),
        ("X2", "A", "charger", "C1", local("2026-11-05 10:45"), local("2026-11-05 11:30"), "VANDALISM"),
        ("X3", "A", "site", "S1", local("2026-11-05 12:00"), local("2026-11-05 13:00"), "SCHEDULED_MAINTENANCE"),
        ("X4", "B", "site", "S2", local("2026-11-05 00:00"), local("2026-11-06 00:00"), "VANDALISM"),
        ("X5", "A", "evse", "E5", local("2026-10-31 20:00"), local("2026-11-01 00:05"), "NATURAL_DISASTER"),
        ("X6", "A", "evse", "E5", local("2026-11-30 23:55"), local("2026-12-01 06:00"), "UTILITY_INTERRUPTION"),
        ("X7", "A", "site", "S1", local("2026-12-02 00:00"), local("2026-12-03 00:00"), "VANDALISM"),
    ]  # fmt: skip
    programs = pa.table({"cpo_id": ["A"], "site_id": ["S1"], "program": ["P2"]})
    return compute("2026-11", obs, EXCLUSION_CONNECTORS, exclusions=exclusions, programs=programs)


def test_excluded_minutes_at_evse_charger_and_site_scope() -> None:
    tables = exclusion_month()
    evse = {r["evse_uid"]: r for r in tables["evse"].to_pylist()}
    # E1: X1 ∪ X2 = 10:30-11:30 (60) + X3 over its down time 12:00-12:15 (15)
    # E2: X2 10:45-11:30 (45) + X3 (15); E3: X3 only (15); E4: X4 is another CPO's site
    assert {e: evse[e]["excluded_minutes"] for e in evse} == {
        "E1": 75,
        "E2": 60,
        "E3": 15,
        "E4": 0,
        "E5": 10,
    }
    assert evse["E1"]["out_of_order_minutes"] == 135  # excluded time is still out of order
    assert evse["E1"]["uptime_pct"] == pytest.approx(100 * 15 / 150)
    assert evse["E1"]["uptime_excl_pct"] == pytest.approx(100 * (15 + 75) / 150)
    assert evse["E5"]["uptime_excl_pct"] == pytest.approx(100 * 10 / 20)
    site = row(tables["site"], site_id="S1")
    assert site["excluded_minutes"] == 150
    assert site["uptime_excl_pct"] == pytest.approx(100 * (45 + 150) / 450)
    assert row(tables["network"], cpo_id="A")["excluded_minutes"] == 160
    assert row(tables["state"], state="NSW")["excluded_minutes"] == 150
    assert row(tables["charger"], charger_id="C1")["excluded_minutes"] == 135
    day = row(tables["daily"], evse_uid="E1", date=date(2026, 11, 5))
    assert day["excluded_minutes"] == 75


def test_outage_rows_carry_excluded_minutes_and_causes() -> None:
    outages = {
        (r["evse_uid"], r["started_at"]): r for r in exclusion_month()["outages"].to_pylist()
    }
    start = local("2026-11-05 10:00")
    assert (
        outages[("E1", start)]["excluded_minutes_in_period"],
        outages[("E1", start)]["causes"],
    ) == (
        75,
        "SCHEDULED_MAINTENANCE,UTILITY_INTERRUPTION,VANDALISM",
    )
    assert outages[("E2", start)]["causes"] == "SCHEDULED_MAINTENANCE,VANDALISM"
    assert outages[("E3", start)]["causes"] == "SCHEDULED_MAINTENANCE"
    assert (
        outages[("E4", start)]["excluded_minutes_in_period"],
        outages[("E4", start)]["causes"],
    ) == (0, "")
    carried = outages[("E5", local("2026-10-31 23:55"))]
    assert (carried["minutes_in_period"], carried["excluded_minutes_in_period"]) == (10, 5)
    assert carried["ended_at"] == local("2026-11-01 00:10")
    last = outages[("E5", local("2026-11-30 23:50"))]
    assert (last["minutes_in_period"], last["excluded_minutes_in_period"], last["ended_at"]) == (
        10,
        5,
        None,
    )
    assert last["causes"] == "UTILITY_INTERRUPTION"


def test_exclusions_table_lists_those_overlapping_the_period() -> None:
    rows = {r["exclusion_id"]: r for r in exclusion_month()["exclusions"].to_pylist()}
    assert sorted(rows) == ["X1", "X2", "X3", "X4", "X5", "X6"]  # X7 is in December
    assert {x: rows[x]["evse_count"] for x in rows} == {
        "X1": 1, "X2": 2, "X3": 3, "X4": 0, "X5": 1, "X6": 1,
    }  # fmt: skip
    assert rows["X2"]["from_at"] == local("2026-11-05 10:45")


def test_only_the_exclusions_given_count() -> None:
    obs = every("2026-11-05 10:00", 10, 13, "FAULTED")
    given = [
        ("X1", "A", "evse", "E1", local("2026-11-05 10:30"), local("2026-11-05 11:00"), "VANDALISM")
    ]
    assert (
        evse_row(compute("2026-11", obs, [site(None)], exclusions=given))["excluded_minutes"] == 30
    )
    assert evse_row(compute("2026-11", obs, [site(None)], exclusions=[]))["excluded_minutes"] == 0


def test_exclusion_over_closed_time_excludes_only_in_service_time() -> None:
    # FAULTED 2 Nov 17:00 → 3 Nov 09:15 at a site open 08-18; exclusion 2 Nov 17:30 → 3 Nov 08:30.
    obs = every("2026-11-02 17:00", 10, 97, "FAULTED")
    given = [
        ("X", "A", "site", "S1", local("2026-11-02 17:30"), local("2026-11-03 08:30"), "VANDALISM")
    ]
    tables = compute("2026-11", obs, [site(DAILY_8_18)], exclusions=given)
    assert evse_row(tables)["excluded_minutes"] == 60  # 17:30-18:00 and 08:00-08:30
    assert tables["outages"].to_pylist()[0]["excluded_minutes_in_period"] == 60


def test_edges_at_one_instant_open_window_piece_and_exclusion() -> None:
    # Two windows touching at 12:00, an outage starting where an exclusion starts (11:00) and
    # crossing 12:00, where the other exclusion starts; it ends at 13:00. Site closes at 18:00,
    # as the second exclusion ends.
    obs = every("2026-11-02 11:00", 10, 12, "FAULTED") + one("2026-11-02 13:00", "AVAILABLE")
    given = [
        ("X1", "A", "evse", "E1", local("2026-11-02 11:00"), local("2026-11-02 11:30"), "GRID"),
        ("X2", "A", "site", "S1", local("2026-11-02 12:00"), local("2026-11-02 18:00"), "GRID"),
    ]
    tables = compute("2026-11", obs, [site("Mo-Su 08:00-12:00,12:00-18:00")], exclusions=given)
    e = evse_row(tables)
    assert e["closed_minutes"] == 30 * 14 * 60
    assert e["out_of_order_minutes"] == 120
    assert e["excluded_minutes"] == 90  # 11:00-11:30 and 12:00-13:00
    assert e["outage_count"] == 1
    (outage,) = tables["outages"].to_pylist()
    assert (outage["minutes_in_period"], outage["excluded_minutes_in_period"]) == (120, 90)
    # AVAILABLE from 13:00 until max_gap after it (13:15), inside the open hours
    assert e["available_minutes"] == 15


def test_bad_exclusions_are_refused() -> None:
    bad = [
        ("X", "A", "evse", "E1", local("2026-11-05 11:00"), local("2026-11-05 10:00"), "VANDALISM")
    ]
    with pytest.raises(ValueError, match="exclusion 'X': to_at must be after from_at"):
        compute("2026-11", [], [site(None)], exclusions=bad)
    scope = [
        ("X", "A", "cpo", "A", local("2026-11-05 10:00"), local("2026-11-05 11:00"), "VANDALISM")
    ]
    with pytest.raises(ValueError, match="scope 'cpo' is not one of evse, charger, site"):
        compute("2026-11", [], [site(None)], exclusions=scope)


# --- 4.4 program and LGA ---------------------------------------------------------------------


def test_program_and_lga_levels() -> None:
    tables = exclusion_month()
    programs = {r["program"]: r for r in tables["program"].to_pylist()}
    # P1: E1 and E3 from the CSV; P2: E2 by the site's assignment (E1, E3 keep their CSV's).
    assert {p: programs[p]["evse_count"] for p in programs} == {"P1": 2, "P2": 1}
    assert programs["P1"]["excluded_minutes"] == 90
    assert programs["P1"]["out_of_order_minutes"] == 270
    assert row(tables["evse"], evse_uid="E2")["program"] == "P2"
    lga = tables["lga"].to_pylist()
    assert [
        (r["state"], r["lga_code"], r["lga_name"], r["evse_count"], r["site_count"]) for r in lga
    ] == [("NSW", "10050", "Albury", 3, 1)]
    assert lga[0]["excluded_minutes"] == 150
    assert row(tables["evse"], evse_uid="E1")["lga_name"] == "Albury"


# --- 4.5 twelve-month figures ----------------------------------------------------------------


def history(rows: list[dict], keys: tuple[str, ...]) -> pa.Table:
    names = (*keys, "month", "available_minutes", "in_use_minutes", "reserved_minutes",
             "excluded_minutes", "known_minutes")  # fmt: skip
    return pa.table({n: [r.get(n) for r in rows] for n in names})


def test_twelve_month_sums_with_missing_months() -> None:
    # This month E1: see below. History: two earlier months for E1 (one without the excluded
    # figure, as written before it existed), none for E2; one for site S1.
    obs = every("2026-11-02 10:00", 10, 2, "AVAILABLE") + every(
        "2026-11-02 10:25", 10, 2, "FAULTED"
    )  # AVAILABLE 10:00-10:25 (25), FAULTED 10:25-10:50 (25)
    given = [
        ("X", "A", "evse", "E1", local("2026-11-02 10:25"), local("2026-11-02 10:35"), "VANDALISM")
    ]
    evse_history = history(
        [
            dict(cpo_id="A", evse_uid="E1", month="2026-10", available_minutes=80.0,
                 in_use_minutes=10.0, reserved_minutes=0.0, excluded_minutes=5.0, known_minutes=100.0),
            dict(cpo_id="A", evse_uid="E1", month="2026-06", available_minutes=40.0,
                 in_use_minutes=0.0, reserved_minutes=10.0, excluded_minutes=None, known_minutes=100.0),
        ],
        ("cpo_id", "evse_uid"),
    )  # fmt: skip
    site_history = history(
        [dict(cpo_id="A", site_id="S1", month="2026-10", available_minutes=50.0,
              in_use_minutes=0.0, reserved_minutes=0.0, excluded_minutes=0.0, known_minutes=50.0)],
        ("cpo_id", "site_id"),
    )  # fmt: skip
    tables = compute(
        "2026-11",
        obs,
        [site(None), site(None, "E2")],
        exclusions=given,
        history={"evse": evse_history, "site": site_history},
    )
    e1, e2 = evse_row(tables, "E1"), evse_row(tables, "E2")
    # up: 25 + 90 + 50 = 165; excluded 10 + 5 + 0 = 15; known 50 + 100 + 100 = 250
    assert e1["uptime_12m_pct"] == pytest.approx(100 * 165 / 250)
    assert e1["uptime_excl_12m_pct"] == pytest.approx(100 * 180 / 250)
    assert e1["months_in_12m"] == 3
    assert (e2["months_in_12m"], e2["uptime_12m_pct"]) == (1, None)  # no known time at all
    s1 = row(tables["site"], site_id="S1")
    assert s1["uptime_12m_pct"] == pytest.approx(100 * (25 + 50) / (50 + 50))
    assert s1["months_in_12m"] == 2
    network = row(tables["network"], cpo_id="A")
    assert (network["months_in_12m"], network["uptime_12m_pct"]) == (1, network["uptime_pct"])


def test_every_table_has_its_schema_columns() -> None:
    from shared.metrics.schema import TABLES

    tables = exclusion_month()
    for name, table in tables.items():
        assert table.schema.equals(TABLES[name]), name
    assert set(tables) == set(TABLES)


def test_month_dates_and_instants_are_utc() -> None:
    assert local("2026-11-01 00:00") == datetime(2026, 10, 31, 13, tzinfo=UTC)
