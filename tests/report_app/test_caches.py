"""The dashboard's shared caches: bounded months, re-run months, column projection, the
background prefetch and the live snapshot (no timings: only what is read, kept and reused)."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime

import pandas as pd
import pytest

from bench import dashboard_data as generate
from report_app import caches, data, month_data, sources
from report_app.data import DataProblem, Filters
from report_app.pages import uptime
from report_app.uptime_views import (
    DETAIL_COLUMNS,
    display_rows,
    figures_grid,
    neighbours,
    read_ahead_months,
    read_month,
    unfiltered_grid,
    unfiltered_rows,
)
from shared import layout
from shared.monthly.labels import for_display, label

MONTHS = ("2026-08", "2026-09", "2026-10")


@pytest.fixture
def months(blobstore):
    network = generate.make_network(4)
    for index, month in enumerate(MONTHS):
        generate.write_month(blobstore, month, generate.month_tables(network, month, seed=index))
    return blobstore


def test_month_cache_keeps_the_most_recently_used_months(months) -> None:
    cache = caches.MonthlyTables(months, months=2)
    networks = {month: cache.get(month, "network") for month in MONTHS}
    evse = {month: cache.get(month, "evse") for month in MONTHS}
    assert cache.cached_months() == ["2026-09", "2026-10"]
    assert cache.get("2026-10", "evse") is evse["2026-10"]
    assert cache.get("2026-08", "evse") is not evse["2026-08"]  # read again after eviction
    assert cache.cached_months() == ["2026-10", "2026-08"]
    # the tiny network tables of every month stay, whatever the big tables do
    assert all(cache.get(month, "network") is networks[month] for month in MONTHS)


def test_a_guess_never_pushes_out_a_month_a_visitor_looked_at(months) -> None:
    cache = caches.MonthlyTables(months, months=2)
    cache.get("2026-10", "site")  # visitors look at 10, then 09
    cache.get("2026-09", "site")
    with cache.ahead():
        cache.get("2026-10", "evse")  # a read-ahead of a held month leaves it where it was
    assert cache.cached_months() == ["2026-10", "2026-09"]
    cache.get("2026-08", "site")  # a visitor's jump pushes out the least recently looked at
    assert cache.cached_months() == ["2026-09", "2026-08"]
    with cache.ahead():
        cache.get("2026-10", "site")  # a guessed month goes first, not a looked-at one
    assert cache.cached_months() == ["2026-09", "2026-08"]
    read_month(cache, "2026-10")  # the warm-up and read-aheads read ahead
    assert cache.cached_months() == ["2026-09", "2026-08"]
    cache.get("2026-10", "site")  # until a visitor looks at it
    assert cache.cached_months() == ["2026-08", "2026-10"]


def test_a_rerun_month_is_read_afresh(months) -> None:
    cache = caches.MonthlyTables(months)
    site = cache.get("2026-10", "site")
    profiles = cache.derived("2026-10", "hour_of_week", month_data.site_profiles)
    manifest = months.root / layout.monthly_manifest_blob("2026-10")
    later = manifest.stat().st_mtime + 60
    os.utime(manifest, (later, later))
    assert cache.get("2026-10", "site") is not site
    assert cache.derived("2026-10", "hour_of_week", month_data.site_profiles) is not profiles
    assert cache.cached_months() == ["2026-10"]  # the earlier run's entries are gone


def test_read_month_table_decodes_only_the_named_columns(months) -> None:
    daily = sources.read_month_table(months, "2026-10", "daily", month_data.DAILY_COLUMNS)
    assert list(daily.columns) == month_data.DAILY_COLUMNS
    assert str(daily["date"].dtype).startswith("datetime64")
    with pytest.raises(DataProblem, match="has no columns nonsense"):
        sources.read_month_table(months, "2026-10", "daily", ["cpo_id", "nonsense"])


def test_read_month_fills_the_cache_for_the_page(months) -> None:
    cache = caches.MonthlyTables(months)
    read_month(cache, "2026-09")
    assert cache.cached_months() == ["2026-09"]
    before = cache.derived("2026-09", "daily", month_data.daily_figures, month_data.DAILY_COLUMNS)
    read_month(cache, "2026-09")
    assert (
        cache.derived("2026-09", "daily", month_data.daily_figures, month_data.DAILY_COLUMNS)
        is before
    )


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("2026-10", ["2026-09"]),
        ("2026-09", ["2026-08", "2026-10"]),
        ("2026-08", ["2026-09"]),
        ("2026-01", []),
    ],
)
def test_neighbours_of_a_month(month: str, expected: list[str]) -> None:
    assert neighbours(("2026-10", "2026-09", "2026-08"), month) == expected


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (["2026-09"], ["2026-08", "2026-10"]),  # room for both
        (["2026-09", "2026-06", "2026-05"], ["2026-08"]),  # room for one: the nearer, older
        (["2026-09", "2026-10", "2026-06", "2026-05"], ["2026-10"]),  # full: held ones only
        (["2026-06", "2026-09", "2026-05", "2026-04"], []),
    ],
)
def test_a_read_ahead_never_pushes_a_month_out(held: list[str], expected: list[str]) -> None:
    months = ("2026-10", "2026-09", "2026-08")
    assert read_ahead_months(months, "2026-09", held, capacity=4) == expected


def test_prefetcher_runs_a_key_once_at_a_time_and_survives_errors() -> None:
    prefetcher = caches.Prefetcher()
    release, started, done = threading.Event(), threading.Event(), threading.Event()
    runs: list[str] = []

    def slow() -> None:
        runs.append("slow")
        started.set()
        release.wait(10)

    def failing() -> None:
        raise DataProblem("missing")

    prefetcher.submit("a", slow)
    assert started.wait(10)
    prefetcher.submit("a", slow)  # still running: not queued again
    prefetcher.submit("b", failing)
    prefetcher.submit("c", done.set)
    release.set()
    assert done.wait(10)  # the failure of "b" did not stop the worker
    assert runs == ["slow"]
    started.clear()
    prefetcher.submit("a", slow)  # finished, so it may run again
    assert started.wait(10)
    assert runs == ["slow", "slow"]


def test_live_cache_rebuilds_only_when_a_blob_changed(blobstore) -> None:
    network = generate.make_network(3)
    generate.write_static_sites(blobstore, network)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    generate.write_live(blobstore, generate.live_status(network, now))
    cache = caches.LiveCache(blobstore)
    first = cache.get()
    assert cache.get() is first
    status = blobstore.root / layout.LIVE_STATUS
    later = status.stat().st_mtime + 60
    os.utime(status, (later, later))
    second = cache.get()
    assert second is not first
    assert len(second.evses) == len(network.evses)


def test_unfiltered_views_are_shared_and_match_the_per_session_path(months) -> None:
    cache = caches.MonthlyTables(months)
    read_month(cache, "2026-10")
    rows = uptime.unfiltered_rows(cache, "2026-10", "site")
    assert uptime.unfiltered_rows(cache, "2026-10", "site") is rows
    tables = {"evse": cache.get("2026-10", "evse"), "site": cache.get("2026-10", "site")}
    per_session = data.rounded(
        month_data.level_rows("site", tables, pd.DataFrame(), Filters()).frame
    )
    pd.testing.assert_frame_equal(rows, per_session)
    spec = json.loads(uptime.unfiltered_distribution(cache, "2026-10", "site"))
    assert "Uptime distribution, site level, 2026-10" in spec["layout"]["title"]["text"]
    trend = json.loads(uptime.unfiltered_trend(cache, "2026-10"))
    assert len(trend["data"]) == 3  # uptime, coverage, utilisation
    choices = uptime.unfiltered_site_choices(cache, "2026-10")
    assert list(choices)[:2] == ["CPA/S00000", "CPB/S00001"]
    assert choices["CPA/S00000"] == "Site 0 (CPA/S00000)"


def test_site_choices_of_matched_evses() -> None:
    evse = pd.DataFrame({"cpo_id": ["X", "X", "Y"], "site_id": ["S1", "S1", "S2"],
                         "site_name": ["One", "One", None], "matched": [True, True, False]})  # fmt: skip
    assert uptime.site_choices_of(evse) == {"X/S1": "One (X/S1)", "Y/S2": " (Y/S2)"}
    assert uptime.site_choices_of(uptime.matched(evse)) == {"X/S1": "One (X/S1)"}


def test_figure_script_cannot_be_closed_by_a_site_name() -> None:
    spec = json.dumps({"data": [], "layout": {"title": {"text": "</script><!--<script>x"}}})
    html = str(uptime.figure_html(spec, "uptime-heatmap_plot"))
    body = html[html.index("<script>") + len("<script>") : html.rindex("</script>")]
    assert "<" not in body
    assert json.loads(body[body.index("var f=") + 6 : body.index(";Plotly")]) == json.loads(spec)


def test_a_read_ahead_gives_way_while_a_session_is_busy() -> None:
    prefetcher = caches.Prefetcher(quiet_seconds=0.3)
    steps: list[float] = []

    def job() -> None:
        for _ in range(2):
            prefetcher.pause()
            steps.append(time.monotonic())

    marked = time.monotonic()
    prefetcher.busy()
    prefetcher.submit("month", job)
    assert prefetcher.wait_idle(timeout=60)
    assert len(steps) == 2
    assert steps[0] >= marked + 0.3  # not before the sessions have been quiet that long
    # no session busy since: a pause returns at once (warm-up jobs never wait either)
    started = time.monotonic()
    prefetcher.pause()
    assert time.monotonic() - started < prefetcher.quiet_seconds


def test_read_month_pauses_before_each_step(months) -> None:
    cache = caches.MonthlyTables(months)
    cached_at_pause: list[int] = []
    read_month(cache, "2026-10", pause=lambda: cached_at_pause.append(len(cache.cached_months())))
    assert len(cached_at_pause) >= 5
    assert cached_at_pause[0] == 0  # the first pause comes before anything is read
    assert cached_at_pause[-1] == 1  # and later ones between the steps that read it
    assert cache.cached_months() == ["2026-10"]


def test_the_figures_grid_shows_key_columns_and_keeps_its_payload(months) -> None:
    cache = caches.MonthlyTables(months)
    rows = unfiltered_rows(cache, "2026-10", "site")
    key = display_rows(rows)
    every = display_rows(rows, "all")
    assert list(every.columns) == [label(c) for c in rows.columns]
    assert "Uptime (%)" in key.columns and "12-month uptime (%)" in key.columns
    assert "Site name" in key.columns and "Outages" in key.columns
    for detail in ("Known (port-hours)", "No data (port-hours)", "Strict uptime (%)"):
        assert detail in every.columns and detail not in key.columns, detail
    assert key.index.equals(rows.index)  # a download follows the table's sorted view
    grid = unfiltered_grid(cache, "2026-10", "site")
    payload = grid.to_payload()
    assert unfiltered_grid(cache, "2026-10", "site").to_payload() is payload  # built once
    assert payload == figures_grid(key).to_payload()
    # the strings as Python objects change nothing the browser gets
    as_read = for_display(rows[[c for c in rows.columns if c not in DETAIL_COLUMNS]], "UTC")
    assert figures_grid(as_read).to_payload() == payload
    assert payload["columns"] == list(key.columns) and len(payload["data"]) == len(rows)
    assert unfiltered_grid(cache, "2026-10", "site", "all").to_payload()["columns"] == list(
        every.columns
    )


def test_warm_up_reads_the_newest_months_the_cache_holds(months, monkeypatch) -> None:
    from report_app import app, context

    monkeypatch.setattr(context, "store", months)
    monkeypatch.setattr(context, "monthly", caches.MonthlyTables(months, months=2))
    monkeypatch.setattr(app, "database", lambda: None)
    app.warm_up()
    assert context.prefetcher.wait_idle(timeout=120)
    assert sorted(context.monthly.cached_months()) == sorted(MONTHS)[-2:]
