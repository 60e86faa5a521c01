"""Data preparation of the dashboard, with hand-computed expectations."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import dashboard_data as generate
from report_app import caches, live_data, month_data, sources, uptime_views
from report_app.data import DataProblem, Filters
from shared import layout
from shared.jurisdictions import parse_role
from shared.metrics import schema

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def connector(cpo: str, site: str, evse: str, cid: str, power: str, kw: float, std: str,
              program: str | None = None) -> dict:  # fmt: skip
    return {"cpo_id": cpo, "site_id": site, "site_name": f"Site {site}", "address": "1 A St",
            "suburb": "X", "state": "NSW", "postcode": "2000", "latitude": -33.9,
            "longitude": 151.2, "charger_id": f"{site}-C", "evse_uid": evse, "connector_id": cid,
            "connector_standard": std, "power_type": power, "max_power_kw": kw,
            "program": program}  # fmt: skip


CONNECTORS = pd.DataFrame(
    [
        connector("X", "A", "A1", "1", "AC_3_PHASE", 22, "IEC_62196_T2"),
        connector("X", "A", "A2", "1", "AC_3_PHASE", 22, "IEC_62196_T2"),
        connector("X", "A", "A3", "1", "AC_3_PHASE", 22, "IEC_62196_T2"),
        connector("X", "B", "B1", "1", "DC", 50, "IEC_62196_T2_COMBO", "BBF"),
        connector("X", "B", "B1", "2", "DC", 50, "CHADEMO", "BBF"),
        connector("Y", "C", "C1", "1", "AC_1_PHASE", 7, "IEC_62196_T2"),
    ]
)


def live_row(evse: str, category: str, stale: bool = False, cpo: str = "X") -> dict:
    at = NOW - timedelta(minutes=30 if stale else 1)
    return {"cpo_id": cpo, "evse_uid": evse, "status": category, "category": category,
            "observed_at": at, "last_confirmed_at": at, "stale": stale}  # fmt: skip


STATUS = pd.DataFrame(
    [
        live_row("A1", "AVAILABLE"),
        live_row("A2", "IN_USE"),
        live_row("A3", "AVAILABLE", stale=True),
        live_row("B1", "OUT_OF_ORDER"),
        live_row("GHOST", "AVAILABLE"),  # listed in no static CSV
    ]
)


# (category, stale) of each EVSE of one site → the map's colour class and its evse_count.
COLOUR_CASES = [
    ([("UNKNOWN", False), ("UNKNOWN", False)], ("unknown", 2)),
    ([("AVAILABLE", True), ("IN_USE", True)], ("unknown", 2)),  # stale is unknown
    ([("NOT_IN_SERVICE", False)], ("unknown", 0)),
    ([("AVAILABLE", False), ("AVAILABLE", False)], ("all_available", 2)),
    ([("AVAILABLE", False), ("UNKNOWN", False)], ("all_available", 2)),
    ([("AVAILABLE", False), ("NOT_IN_SERVICE", False)], ("all_available", 1)),
    ([("AVAILABLE", False), ("IN_USE", False)], ("some_in_use", 2)),
    ([("AVAILABLE", False), ("RESERVED", False)], ("some_in_use", 2)),
    ([("IN_USE", False), ("RESERVED", False)], ("all_in_use", 2)),
    ([("IN_USE", False), ("IN_USE", True)], ("all_in_use", 2)),
    ([("AVAILABLE", False), ("OUT_OF_ORDER", False)], ("some_down", 2)),
    ([("IN_USE", False), ("UNAVAILABLE", False), ("UNKNOWN", False)], ("some_down", 3)),
    ([("OUT_OF_ORDER", False), ("UNAVAILABLE", False)], ("all_down", 2)),
    ([("OUT_OF_ORDER", False), ("AVAILABLE", True)], ("all_down", 2)),
]


@pytest.mark.parametrize(("evses", "expected"), COLOUR_CASES)
def test_site_colour_rule(evses: list[tuple[str, bool]], expected: tuple[str, int]) -> None:
    """The map's colour class of a site, from its EVSEs' live categories (all six classes)."""
    connectors = pd.DataFrame(
        [connector("X", "S", f"E{i}", "1", "AC_3_PHASE", 22, "IEC_62196_T2")
         for i in range(len(evses))]
    )  # fmt: skip
    status = pd.DataFrame(
        [live_row(f"E{i}", category, stale) for i, (category, stale) in enumerate(evses)]
    )
    (site,) = live_data.live_sites(live_data.live_evses(status, connectors).evses).to_dict(
        "records"
    )
    assert (site["site_status"], site["evse_count"]) == expected


def test_site_colour_cases_cover_every_class() -> None:
    assert {cls for _, (cls, _) in COLOUR_CASES} == {k for k, _, _ in live_data.SITE_STATUSES}


def test_live_sites_counts_and_colours() -> None:
    live = live_data.live_evses(STATUS, CONNECTORS)
    assert live.unplaced == 1
    assert live.newest_confirmed_at == NOW - timedelta(minutes=1)
    by_evse = live.evses.set_index("evse_uid")
    assert by_evse.loc["A3", "map_category"] == "UNKNOWN"  # stale
    assert by_evse.loc["C1", "category"] == "UNKNOWN"  # no live row
    assert by_evse.loc["B1", "connector_standards"] == "CHADEMO,IEC_62196_T2_COMBO"
    sites = live_data.live_sites(live.evses).set_index("site_id")
    assert sites.loc["A", ["available", "occupied", "down", "unknown"]].tolist() == [1, 1, 0, 1]
    assert sites["site_status"].to_dict() == {"A": "some_in_use", "B": "all_down", "C": "unknown"}
    counts = live_data.status_counts(sites.reset_index()).set_index("site_status")["sites"]
    assert counts.to_dict() == {"all_available": 0, "some_in_use": 1, "all_in_use": 0,
                                "some_down": 0, "all_down": 1, "unknown": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "sites"),
    [
        (Filters(), ["A", "B", "C"]),
        (Filters(cpo_ids=("Y",)), ["C"]),
        (Filters(power_types=("DC",)), ["B"]),
        (Filters(min_kw=20), ["A", "B"]),
        (Filters(connector_standards=("CHADEMO",)), ["B"]),
        (Filters(programs=("BBF",)), ["B"]),
        (Filters(site_statuses=("unknown", "all_down")), ["B", "C"]),
        (Filters(states=("VIC",)), []),
    ],
)
def test_live_filters(filters: Filters, sites: list[str]) -> None:
    live = live_data.live_evses(STATUS, CONNECTORS)
    shown = live_data.live_sites(live_data.filter_live(live, filters), filters.site_statuses)
    assert shown["site_id"].tolist() == sites


def test_site_layers_one_per_status_lon_lat_and_key_only() -> None:
    sites = live_data.live_sites(live_data.live_evses(STATUS, CONNECTORS).evses)
    layers = live_data.site_layers(sites)
    assert list(layers) == [key for key, _, _ in live_data.SITE_STATUSES]
    (feature,) = layers["all_down"]["features"]
    assert feature["geometry"]["coordinates"] == [151.2, -33.9]
    assert feature["properties"] == {"cpo_id": "X", "site_id": "B"}
    assert layers["all_in_use"]["features"] == []
    assert sum(len(layer["features"]) for layer in layers.values()) == len(sites)
    style = live_data.layer_style("all_down")
    assert style["fillColor"] == live_data.SITE_STATUS_COLOURS["all_down"]
    assert style["className"] == "site-marker all_down"
    from report_app.pages.live import DRAW_ORDER

    assert sorted(DRAW_ORDER) == sorted(layers) and DRAW_ORDER[-1] == "all_down"


def test_site_details_lists_connectors() -> None:
    details = live_data.site_details(live_data.live_evses(STATUS, CONNECTORS), "X", "B")
    assert details["connectors"].tolist() == ["1: IEC_62196_T2_COMBO DC 50 kW; 2: CHADEMO DC 50 kW"]
    assert details["category"].tolist() == ["OUT_OF_ORDER"]


def test_no_static_sites_places_nothing() -> None:
    from shared.sites import empty_connectors

    live = live_data.live_evses(STATUS, empty_connectors())
    assert live.evses.empty and live.unplaced == 5
    assert live_data.live_sites(live.evses).empty


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "no status received yet"),
        (30, "30 s old"),
        (600, "10 min old"),
        (3 * 3600, "3.0 h old"),
        (5 * 86400, "5 days old"),
    ],  # fmt: skip
)
def test_data_age(seconds: float | None, text: str) -> None:
    newest = None if seconds is None else NOW - timedelta(seconds=seconds)
    assert live_data.data_age(newest, NOW) == text


def put_parquet(store, name: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    store.put(name, buffer.getvalue())


def test_live_status_round_trip_and_problems(blobstore) -> None:
    with pytest.raises(DataProblem, match="No live data yet"):
        sources.read_live_status(blobstore)
    blobstore.put(layout.LIVE_STATUS, b"PAR1 not really")
    with pytest.raises(DataProblem, match="not a readable Parquet"):
        sources.read_live_status(blobstore)
    put_parquet(blobstore, layout.LIVE_STATUS, pa.table({"cpo_id": ["X"]}))
    with pytest.raises(DataProblem, match="lacks the columns evse_uid, status"):
        sources.read_live_status(blobstore)
    bad = pa.Table.from_pandas(STATUS.assign(stale="maybe"), preserve_index=False)
    put_parquet(blobstore, layout.LIVE_STATUS, bad)
    with pytest.raises(DataProblem, match="wrong type"):
        sources.read_live_status(blobstore)
    generate.write_live(blobstore, STATUS)
    assert sources.read_live_status(blobstore)["evse_uid"].tolist() == [
        "A1",
        "A2",
        "A3",
        "B1",
        "GHOST",
    ]


def test_load_live_reports_missing_parts(blobstore) -> None:
    live = sources.load_live(blobstore)
    assert live.evses.empty
    assert live.problems[0].startswith("No live data yet")
    assert live.problems[1].startswith("No static site lists")


def evse_row(uid: str, power: str, **minutes: float) -> dict:
    row = {"cpo_id": "X", "evse_uid": uid, "charger_id": "C", "site_id": "S", "state": "NSW",
           "matched": True, "power_type": power}  # fmt: skip
    row.update({m: 0.0 for m in schema.MINUTE_FIGURES})
    row.update(minutes)
    # unknown time not split otherwise is time that no observation covered (spec 4.2)
    if "no_data_minutes" not in minutes:
        row["no_data_minutes"] = row["unknown_minutes"]
    row.update(
        in_use_sessions=1,
        outage_count=0,
        longest_outage_minutes=minutes.get("out_of_order_minutes", 0.0),
    )
    return row


# EVSE E1: period 100, available 60, in use 20, out of order 10, unknown 10 → known 90.
# EVSE E2: period 100, not in service 50, available 40, unknown 10 → in service 50, known 40.
E1 = evse_row("E1", "DC", period_minutes=100, in_service_minutes=100, available_minutes=60,
              in_use_minutes=20, out_of_order_minutes=10, unknown_minutes=10, known_minutes=90)  # fmt: skip
E2 = evse_row("E2", "AC_3_PHASE", period_minutes=100, not_in_service_minutes=50,
              in_service_minutes=50, available_minutes=40, unknown_minutes=10, known_minutes=40)  # fmt: skip


def test_aggregate_is_port_weighted() -> None:
    rolled = month_data.aggregate(pd.DataFrame([E1, E2]), ["cpo_id"]).iloc[0]
    # up 120 of known 130; known 130 of in service 150; in use 20 of known 130
    assert rolled["uptime_pct"] == pytest.approx(100 * 120 / 130)
    assert rolled["coverage_pct"] == pytest.approx(100 * 130 / 150)
    assert rolled["uptime_strict_pct"] == pytest.approx(80.0)
    assert rolled["utilisation_pct"] == pytest.approx(100 * 20 / 130)
    assert rolled["longest_outage_minutes"] == 10
    assert (rolled["evse_count"], rolled["site_count"], rolled["in_use_sessions"]) == (2, 1, 2)


def test_percentages_are_null_when_nothing_is_known() -> None:
    row = evse_row("E3", "DC", period_minutes=100, in_service_minutes=100, unknown_minutes=100)
    figures = month_data.aggregate(pd.DataFrame([row]), []).iloc[0]
    assert figures["coverage_pct"] == 0
    assert pd.isna(figures["uptime_pct"]) and pd.isna(figures["utilisation_pct"])


def test_level_rows_roll_up_again_under_a_connector_filter() -> None:
    evse = pd.DataFrame([E1, E2])
    network = month_data.aggregate(evse, ["cpo_id"])
    conns = pd.DataFrame(
        [
            connector("X", "S", "E1", "1", "DC", 50, "CHADEMO"),
            connector("X", "S", "E2", "1", "AC_3_PHASE", 22, "IEC_62196_T2"),
        ]  # fmt: skip
    )
    tables = {"evse": evse, "network": network}
    everything = month_data.level_rows("network", tables, conns, Filters()).frame
    assert everything["uptime_pct"].iloc[0] == pytest.approx(100 * 120 / 130)
    dc = month_data.level_rows("network", tables, conns, Filters(power_types=("DC",))).frame
    assert dc["uptime_pct"].iloc[0] == pytest.approx(100 * 80 / 90)  # E1 alone
    assert dc["coverage_pct"].iloc[0] == pytest.approx(90.0)
    assert list(dc.columns[:4]) == ["cpo_id", "site_count", "evse_count", "uptime_pct"]
    with pytest.raises(DataProblem, match="not a level"):
        month_data.level_rows("planet", tables, conns, Filters())


def test_a_filter_that_matches_no_evse_gives_an_empty_table() -> None:
    evse = pd.DataFrame([E1, E2])
    conns = pd.DataFrame([connector("X", "S", "E1", "1", "DC", 50, "CHADEMO")])
    tables = {"evse": evse, "network": month_data.aggregate(evse, ["cpo_id"])}
    for level in ("network", "state"):
        shown = month_data.level_rows(
            level, tables, conns, Filters(power_types=("AC_1_PHASE",))
        ).frame
        assert shown.empty and "uptime_pct" in shown.columns, level
    unmatched = evse.assign(matched=False)
    rolled = month_data.aggregate(unmatched, ["cpo_id"])
    assert rolled.empty and {"site_count", "uptime_pct", "coverage_pct"} <= set(rolled.columns)


def test_generated_month_round_trips_through_the_schemas(blobstore) -> None:
    network = generate.make_network(8)
    tables = generate.month_tables(network, "2026-10", seed=3)
    generate.write_month(blobstore, "2026-10", tables)
    for name, expected in schema.TABLES.items():
        stored = pq.read_table(
            io.BytesIO(blobstore.get(layout.monthly_table_blob("2026-10", name)))
        )
        assert stored.schema.equals(expected, check_metadata=False), name
    cache = caches.MonthlyTables(blobstore)
    site = cache.get("2026-10", "site")
    assert len(site) == 8 and cache.get("2026-10", "site") is site
    with pytest.raises(DataProblem, match="has not been processed"):
        cache.get("2026-09", "site")
    with pytest.raises(DataProblem, match="not a month"):
        cache.get("../x", "site")
    shown = month_data.level_rows("site", {"evse": tables["evse"], "site": site}, network.connectors,
                             Filters(programs=("BBF",))).frame  # fmt: skip
    assert shown["site_id"].tolist() == ["S00000", "S00004"]  # every 4th site has program BBF


def test_available_months_need_a_manifest(blobstore) -> None:
    blobstore.put(layout.monthly_manifest_blob("2026-09"), b"{}")
    blobstore.put(layout.monthly_manifest_blob("2026-10"), b"{}")
    blobstore.put(layout.monthly_table_blob("2026-11", "evse"), b"half written")
    blobstore.put("processed/monthly/notamonth/manifest.json", b"{}")
    assert sources.available_months(blobstore) == ["2026-10", "2026-09"]


def test_daily_trend_and_hour_of_week_grid() -> None:
    day = {m: 0.0 for m in schema.MINUTE_FIGURES}
    rows = [
        {"cpo_id": "X", "evse_uid": "E1", "charger_id": "C", "date": "2026-10-01", **day, "period_minutes": 1440,
         "in_service_minutes": 1440, "known_minutes": 1440, "available_minutes": 1080,
         "out_of_order_minutes": 360},
        {"cpo_id": "X", "evse_uid": "E2", "charger_id": "C", "date": "2026-10-01", **day, "period_minutes": 1440,
         "in_service_minutes": 1440, "known_minutes": 720, "unknown_minutes": 720,
         "no_data_minutes": 720, "in_use_minutes": 720},
        {"cpo_id": "Y", "evse_uid": "E9", "charger_id": "D", "date": "2026-10-01", **day, "period_minutes": 1440},
    ]  # fmt: skip
    trend = month_data.daily_trend(
        pd.DataFrame(rows), pd.DataFrame({"cpo_id": ["X", "X"], "evse_uid": ["E1", "E2"]})
    )
    # up 1800 of known 2160; known 2160 of 2880; in use 720 of 2160
    assert trend.iloc[0][
        ["uptime_pct", "coverage_pct", "utilisation_pct"]
    ].tolist() == pytest.approx([100 * 1800 / 2160, 75.0, 100 * 720 / 2160])
    profile = pd.DataFrame({"cpo_id": ["X", "X"], "site_id": ["S", "S"], "day_of_week": [0, 6],
                            "hour": [0, 23], "utilisation_pct": [12.5, 50.0]})  # fmt: skip
    grid = month_data.hour_of_week_grid(profile, "X", "S")
    assert grid.shape == (7, 24)
    assert (grid.loc[0, 0], grid.loc[6, 23]) == (12.5, 50.0)
    assert grid.isna().sum().sum() == 166


def test_feed_health_tolerates_extra_and_refuses_junk(blobstore) -> None:
    with pytest.raises(DataProblem, match="No feed health yet"):
        sources.read_feed_health(blobstore)
    feeds = {"feeds": [{"cpo_id": "X", "kind": "ocpp", "lag_seconds": "12", "extra": [1]},
                       "junk", {"cpo_id": {"nested": 1}, "last_error": "e" * 1000}]}  # fmt: skip
    blobstore.put(layout.FEED_HEALTH, json.dumps(feeds).encode())
    frame = sources.read_feed_health(blobstore)
    assert frame["cpo_id"].tolist() == ["X", "{'nested': 1}"]
    assert frame["lag_seconds"].iloc[0] == 12
    assert len(frame["last_error"].iloc[1]) == 300
    blobstore.put(layout.FEED_HEALTH, b"{not json")
    with pytest.raises(DataProblem, match="not valid JSON"):
        sources.read_feed_health(blobstore)
    blobstore.put(layout.FEED_HEALTH, b'{"feeds": 3}')
    with pytest.raises(DataProblem, match="no list of feeds"):
        sources.read_feed_health(blobstore)
    blobstore.put(layout.FEED_HEALTH, b" " * 5_000_001)
    with pytest.raises(DataProblem, match="over the 5 MB limit"):
        sources.read_feed_health(blobstore)


def test_quarantine_counts(engine, settings) -> None:
    from shared.db.tables import quarantine

    with engine.begin() as conn:
        conn.execute(
            quarantine.insert(),
            [
                {"cpo_id": "X", "source": "ocpi", "received_at": NOW, "reason": "bad status"},
                {
                    "cpo_id": "X",
                    "source": "ocpi",
                    "received_at": NOW + timedelta(hours=1),
                    "reason": "r",
                },
                {"cpo_id": None, "source": "rest", "received_at": NOW, "reason": "no cpo"},
            ],  # fmt: skip
        )
    counts = sources.quarantine_counts(settings.database_url)
    assert counts[["cpo_id", "source", "quarantined"]].values.tolist() == [
        ["(unknown)", "rest", 1], ["X", "ocpi", 2]
    ]  # fmt: skip
    with pytest.raises(DataProblem, match="No database is configured"):
        sources.quarantine_counts(None)


def test_quarantine_counts_without_the_table(tmp_path) -> None:
    with pytest.raises(DataProblem, match="cannot be read for quarantine counts"):
        sources.quarantine_counts(f"sqlite:///{tmp_path / 'empty.db'}")


def test_published_reports_and_hostile_names(blobstore) -> None:
    blobstore.put("reports/2026-10/report.html", b"<html></html>")
    blobstore.put("reports/2026-10/site.csv", b"a\n")
    for state in ("NSW", "WA", "SA"):
        blobstore.put(f"reports/2026-10/{state}/report.html", b"<html></html>")
        blobstore.put(f"reports/2026-10/{state}/site.csv", b"a\n")
    blobstore.put("reports/2026-10/XX/report.html", b"<html></html>")  # not a state
    blobstore.put("reports/2026-09/site.csv", b"a\n")  # no report.html: not published
    blobstore.put("reports/2026-09/WA/site.csv", b"a\n")
    files = ("report.html", "site.csv")
    assert sources.published_reports(blobstore, parse_role("analyst")) == [
        sources.PublishedReport("2026-10", None, files),
        sources.PublishedReport("2026-10", "NSW", files),
        sources.PublishedReport("2026-10", "SA", files),
        sources.PublishedReport("2026-10", "WA", files),
    ]
    assert sources.published_reports(blobstore, parse_role("government:NSW")) == [
        sources.PublishedReport("2026-10", "NSW", files)
    ]
    assert [
        r.jurisdiction for r in sources.published_reports(blobstore, parse_role("government:WA,SA"))
    ] == ["SA", "WA"]
    assert sources.published_reports(blobstore, parse_role("public")) == []
    assert sources.report_blob("2026-10", "site.csv") == "reports/2026-10/site.csv"
    assert sources.report_blob("2026-10", "site.csv", "WA") == "reports/2026-10/WA/site.csv"
    assert sources.report_download_name("2026-10", "site.csv", "WA") == "2026-10-WA-site.csv"
    with pytest.raises(DataProblem):
        sources.report_blob("2026-10", "site.csv", "..")
    for month, name in [("2026-10", "../x.csv"), ("2026-13", "report.html"), ("..", "report.html"),
                        ("2026-10", "report.html/.."), ("2026-10", "x.CSV"), ("2026-10", "a" * 60 + ".csv")]:  # fmt: skip
        with pytest.raises(DataProblem):
            sources.report_blob(month, name)


def test_static_sites_are_reread_only_when_a_file_changes(blobstore) -> None:
    network = generate.make_network(2)
    generate.write_static_sites(blobstore, network)
    cache = sources.StaticSitesCache()
    first = cache.get(blobstore)
    assert cache.get(blobstore) is first
    generate.write_static_sites(blobstore, generate.make_network(3), name="more.csv")
    second = cache.get(blobstore)
    assert second is not first
    assert (
        second.connectors["site_id"].nunique() == 3
    )  # S00000-S00001 twice (first file wins) + S00002


def test_fast_paths_give_the_same_figures(blobstore) -> None:
    network = generate.make_network(6)
    tables = generate.month_tables(network, "2026-10", seed=4)
    daily, evse = tables["daily"], tables["evse"]
    unmatched_day = daily.iloc[[0]].assign(evse_uid="GHOST", charger_id=None, available_minutes=1e6)
    daily = pd.concat([daily, unmatched_day], ignore_index=True)
    pd.testing.assert_frame_equal(
        month_data.daily_trend(daily, None), month_data.daily_trend(daily, evse)
    )
    generate.write_month(blobstore, "2026-10", tables)
    cache = caches.MonthlyTables(blobstore)
    profiles = cache.derived("2026-10", "hour_of_week", month_data.site_profiles)
    assert cache.derived("2026-10", "hour_of_week", month_data.site_profiles) is profiles
    profile = tables["hour_of_week"]
    for cpo_id, site_id in [("CPA", "S00003"), ("CPB", "S00001"), ("CPA", "nowhere")]:
        pd.testing.assert_frame_equal(
            month_data.hour_of_week_grid(profiles, cpo_id, site_id),
            month_data.hour_of_week_grid(profile, cpo_id, site_id),
        )
    stored = cache.derived("2026-10", "daily", month_data.daily_figures, month_data.DAILY_COLUMNS)
    in_memory = month_data.daily_trend(daily, evse)
    in_memory["date"] = pd.to_datetime(in_memory["date"]).astype("datetime64[ms]")
    pd.testing.assert_frame_equal(month_data.daily_trend(stored, evse), in_memory)


def test_daily_figures_sum_per_evse_and_day_and_keep_missing_days_out() -> None:
    day = {m: 0.0 for m in schema.MINUTE_FIGURES}
    rows = [
        {"cpo_id": "X", "evse_uid": "E1", "charger_id": "C1", "date": date(2026, 10, 1), **day,
         "period_minutes": 200.0, "no_data_minutes": 100.0, "available_minutes": 60.0,
         "out_of_order_minutes": 40.0},
        {"cpo_id": "X", "evse_uid": "E1", "charger_id": "C1", "date": date(2026, 10, 1), **day,
         "period_minutes": 20.0, "no_data_minutes": 10.0, "in_use_minutes": 10.0},
        {"cpo_id": "X", "evse_uid": "E2", "charger_id": "C1", "date": date(2026, 10, 2), **day,
         "period_minutes": 50.0, "reserved_minutes": 25.0, "out_of_order_minutes": 25.0},
        {"cpo_id": "Y", "evse_uid": "E1", "charger_id": None, "date": date(2026, 10, 3), **day,
         "period_minutes": 5.0, "unavailable_minutes": 5.0},
    ]  # fmt: skip
    figures = month_data.daily_figures(pd.DataFrame(rows))
    assert figures.minutes["period_minutes"].shape == (3, 3)  # 3 EVSEs × 3 days
    assert figures.matched.tolist() == [True, True, False]
    assert figures.minutes["period_minutes"][0].tolist() == [220.0, 0.0, 0.0]  # two rows summed
    e1 = month_data.daily_trend(figures, pd.DataFrame({"cpo_id": ["X"], "evse_uid": ["E1"]}))
    assert e1["date"].tolist() == [date(2026, 10, 1)]  # days E1 has no row are left out
    # up (60 + 10) of known 110; known 110 of in service 220; in use 10 of known 110
    assert e1.iloc[0][["uptime_pct", "coverage_pct", "utilisation_pct"]].tolist() == (
        pytest.approx([100 * 70 / 110, 50.0, 100 * 10 / 110])
    )
    everything = month_data.daily_trend(figures, None)
    assert everything["date"].tolist() == [date(2026, 10, 1), date(2026, 10, 2)]  # Y unmatched
    assert everything["uptime_pct"].tolist() == pytest.approx([100 * 70 / 110, 50.0])
    # the unfiltered trend, summed straight from the table, is the same
    unfiltered = month_data.trend_of(month_data.matched_daily_totals(pd.DataFrame(rows)))
    pd.testing.assert_frame_equal(unfiltered, everything, check_dtype=False)
    nobody = month_data.daily_trend(figures, pd.DataFrame({"cpo_id": ["Z"], "evse_uid": ["E9"]}))
    assert nobody.empty


def test_site_profiles_grid_per_site() -> None:
    profile = pd.DataFrame({"cpo_id": ["X", "X", "Y"], "site_id": ["S", "S", "S"],
                            "day_of_week": [0, 6, 2], "hour": [0, 23, 5],
                            "utilisation_pct": [12.5, None, 40.0]})  # fmt: skip
    profiles = month_data.site_profiles(profile)
    assert profiles.utilisation.shape == (2, 7, 24)
    x = month_data.hour_of_week_grid(profiles, "X", "S")
    assert x.loc[0, 0] == 12.5 and x.isna().sum().sum() == 167  # the null figure stays null
    assert month_data.hour_of_week_grid(profiles, "Y", "S").loc[2, 5] == 40.0
    assert month_data.hour_of_week_grid(profiles, "Y", "T").isna().all().all()


def test_stored_profiles_and_daily_totals_read_as_arrow_match_the_tables(blobstore) -> None:
    # what a month switch builds from Arrow, against pandas over the tables as generated
    network = generate.make_network(9)
    tables = generate.month_tables(network, "2026-10", seed=5)
    daily = tables["daily"]
    daily.loc[daily.index[:40], "charger_id"] = None  # days of EVSEs no static list names
    generate.write_month(blobstore, "2026-10", tables)
    cache = caches.MonthlyTables(blobstore)
    profiles = uptime_views.month_profiles(cache, "2026-10")
    profile = tables["hour_of_week"]
    assert len(profiles.sites) == profile.groupby(["cpo_id", "site_id"]).ngroups
    for (cpo_id, site_id), rows in profile.groupby(["cpo_id", "site_id"]):
        expected = rows.pivot(index="day_of_week", columns="hour", values="utilisation_pct")
        grid = month_data.hour_of_week_grid(profiles, cpo_id, site_id)
        np.testing.assert_array_equal(
            grid.to_numpy(), expected.reindex(index=range(7), columns=range(24)).to_numpy()
        )
    totals = cache.derived(
        "2026-10", "daily", month_data.matched_daily_totals, month_data.TOTALS_COLUMNS, arrow=True
    )
    minutes = list(month_data.TREND_MINUTES)
    expected = daily[daily["charger_id"].notna()].groupby("date", sort=True)[minutes].sum()
    assert totals["date"].dt.date.tolist() == expected.index.tolist()
    np.testing.assert_allclose(totals[minutes].to_numpy(), expected.to_numpy(), rtol=1e-12)
    # from a DataFrame the same sums, with its own date values
    in_memory = month_data.matched_daily_totals(daily)
    assert in_memory["date"].tolist() == expected.index.tolist()
    np.testing.assert_allclose(in_memory[minutes].to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_site_profiles_from_arrow_keep_null_keys_and_drop_slots_outside_the_week() -> None:
    table = pa.table({
        "cpo_id": pa.array(["X", "X", None, "X"]).dictionary_encode(),
        "site_id": pa.array(["S", "S", "S", "T"]).dictionary_encode(),
        "hour_of_week": pa.array([0, 167, 3, 168], pa.int64()),
        "utilisation_pct": pa.array([10.0, None, 30.0, 50.0]),
    })  # fmt: skip
    profiles = month_data.site_profiles(table)
    assert len(profiles.sites) == 3  # a null CPO is a key of its own, not X's
    assert profiles.sites.get_indexer([("X", "S"), ("X", "T")]).min() >= 0
    x = month_data.hour_of_week_grid(profiles, "X", "S")
    assert x.loc[0, 0] == 10.0 and x.isna().sum().sum() == 167  # Sunday 23:00 stays null
    assert month_data.hour_of_week_grid(profiles, "X", "T").isna().all().all()  # 168: no slot


def test_a_month_processed_before_contract_version_two_is_read_with_its_meaning(blobstore) -> None:
    network = generate.make_network(8)
    tables = generate.month_tables(network, "2026-08", seed=4)
    added = [c for c in sources.VERSION_ONE if c in schema.EVSE.names]
    old = tables["evse"].drop(columns=added)
    blobstore.put(layout.monthly_table_blob("2026-08", "evse"), old.to_parquet(index=False))
    evse = sources.read_month_table(blobstore, "2026-08", "evse")
    assert (evse["closed_minutes"] == 0).all() and (evse["excluded_minutes"] == 0).all()
    assert evse["no_data_minutes"].tolist() == old["unknown_minutes"].tolist()
    assert evse["uptime_excl_pct"].tolist() == old["uptime_pct"].tolist()
    assert evse["uptime_12m_pct"].isna().all() and evse["lga_code"].isna().all()
    # a subset of columns: a filled column still takes its source's values, read for it
    subset = sources.read_month_table(blobstore, "2026-08", "evse", ["evse_uid", "no_data_minutes"])
    assert subset.columns.tolist() == ["evse_uid", "no_data_minutes"]
    assert subset["no_data_minutes"].tolist() == old["unknown_minutes"].tolist()
    # the engine's formulas over the filled rows give the month's own uptime back
    rolled = month_data.aggregate(evse, ["cpo_id"])
    up = (
        old.groupby("cpo_id")[["available_minutes", "in_use_minutes", "reserved_minutes"]]
        .sum()
        .sum(axis=1)
    )
    known = old.groupby("cpo_id")["known_minutes"].sum()
    assert rolled["uptime_pct"].tolist() == pytest.approx((100 * up / known).tolist())
    old_outages = tables["outages"].drop(columns=["excluded_minutes_in_period", "causes"])
    blobstore.put(
        layout.monthly_table_blob("2026-08", "outages"), old_outages.to_parquet(index=False)
    )
    outages = sources.read_month_table(blobstore, "2026-08", "outages")
    assert outages["causes"].tolist() == ["", ""]
    missing_v1 = old.drop(columns=["known_minutes"])
    blobstore.put(layout.monthly_table_blob("2026-08", "evse"), missing_v1.to_parquet(index=False))
    with pytest.raises(DataProblem, match="lacks the columns known_minutes"):
        sources.read_month_table(blobstore, "2026-08", "evse")


def test_any_up_stays_where_the_filter_keeps_whole_sites_and_the_page_says_why_not() -> None:
    # Site S holds E1 (DC) and E2 (AC); site T holds E3 (DC) alone.
    e3 = {**E1, "evse_uid": "E3", "site_id": "T", "charger_id": "D"}
    evse = pd.DataFrame([E1, E2, e3])
    conns = pd.DataFrame([
        connector("X", "S", "E1", "1", "DC", 50, "CHADEMO"),
        connector("X", "S", "E2", "1", "AC_3_PHASE", 22, "IEC_62196_T2"),
        connector("X", "T", "E3", "1", "DC", 50, "CHADEMO"),
    ])  # fmt: skip
    site = month_data.aggregate(evse, ["cpo_id", "site_id"]).assign(
        any_up_pct=[95.0, 88.0], site_name=["Site S", "Site T"], state="NSW", program=None
    )
    tables = {"evse": evse, "site": site}
    found = month_data.level_rows("site", tables, conns, Filters(power_types=("DC",)))
    rows = found.frame.set_index("site_id")
    assert pd.isna(rows.loc["S", "any_up_pct"])  # only E1 of S passes: not computable
    assert rows.loc["T", "any_up_pct"] == 88.0  # the whole of T passes: the stored figure
    assert rows.loc["S", "uptime_pct"] == pytest.approx(100 * 80 / 90)  # E1 alone
    assert found.notes == (month_data.ANY_UP_NOTE.format(n=1),)
    everything = month_data.level_rows("site", tables, conns, Filters())
    assert everything.frame["any_up_pct"].tolist() == [95.0, 88.0] and everything.notes == ()


def test_a_viewers_network_figures_are_over_their_states_evses_only() -> None:
    e2_wa = {**E2, "state": "WA", "site_id": "W", "charger_id": "CW"}
    evse = pd.DataFrame([E1, e2_wa])
    network = month_data.aggregate(evse, ["cpo_id"])  # the national row: E1 and E2
    tables = {"evse": evse, "network": network}
    wa = month_data.level_rows("network", tables, pd.DataFrame(), Filters(scope=("WA",)),
                               history={"2026-09": evse, "2026-10": evse})  # fmt: skip
    row = wa.frame.iloc[0]
    # E2 alone: up 40 of known 40 → 100 %; known 40 of in service 50 → 80 %
    assert (row["cpo_id"], row["evse_count"], row["site_count"]) == ("X", 1, 1)
    assert row["uptime_pct"] == 100.0 and row["coverage_pct"] == 80.0
    assert (row["uptime_12m_pct"], row["months_in_12m"]) == (100.0, 2)
    assert month_data.TWELVE_MONTH_NOTE in wa.notes
    nowhere = month_data.level_rows("network", tables, pd.DataFrame(), Filters(scope=("SA",)))
    assert nowhere.frame.empty
    # the state table is filtered, never rolled up: a NSW viewer gets the NSW row alone
    state = month_data.aggregate(evse, ["state"])
    rows = month_data.level_rows("state", {"evse": evse, "state": state}, pd.DataFrame(),
                                 Filters(scope=("NSW",))).frame  # fmt: skip
    assert rows["state"].tolist() == ["NSW"]


@pytest.mark.parametrize(
    "month", ["2026-10\n", "2026-1", "2026-13", " 2026-10", "2026-10/x", "٢٠٢٦-10"]
)
def test_a_month_is_exactly_yyyy_mm(month: str) -> None:
    """The dashboard reads months with the engine's own pattern (shared.metrics.period)."""
    with pytest.raises(DataProblem, match="is not a month"):
        sources.check_month(month)
    assert sources.check_month("2026-10") == "2026-10"


def test_daily_figures_of_one_row_per_evse_and_day_equal_the_table() -> None:
    rng = np.random.default_rng(3)
    rows = [
        {"cpo_id": "X", "evse_uid": f"E{e}", "charger_id": "C1", "date": date(2026, 10, d),
         **{m: float(rng.integers(0, 1440)) for m in schema.MINUTE_FIGURES}}
        for e in range(4) for d in range(1, 6) if (e + d) % 3
    ]  # fmt: skip
    frame = pd.DataFrame(rows).sample(frac=1, random_state=1)  # any row order
    figures = month_data.daily_figures(frame)
    for column in month_data.TREND_MINUTES:
        table = frame.pivot(index="evse_uid", columns="date", values=column).fillna(0.0)
        expected = table.reindex(index=[k[1] for k in figures.keys], columns=figures.dates)
        assert figures.minutes[column].tolist() == expected.to_numpy().tolist(), column
    assert figures.present.sum() == len(rows)


@pytest.mark.parametrize("rows", [2_000, 10])  # few possible pairs per row, then sparse ones
def test_pairs_are_coded_so_that_each_row_finds_its_own(rows: int) -> None:
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame({
        "cpo_id": pd.Categorical(rng.choice([f"C{i}" for i in range(300)], rows)),
        "site_id": rng.choice([f"S{i}" for i in range(300)], rows),
    })  # fmt: skip
    codes, pairs = month_data._factorize_pairs(frame, "cpo_id", "site_id")
    assert pairs.is_unique and len(pairs) == len(frame.drop_duplicates())
    assert list(pairs[codes]) == list(zip(frame["cpo_id"], frame["site_id"], strict=True))
