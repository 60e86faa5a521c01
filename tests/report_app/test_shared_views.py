"""What the dashboard builds once for every session: the read-ahead by viewer, the filter
choices of a viewer's states, the scoped connectors and the shared live view (no timings: only
what is built, how often, and for whom)."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from bench import dashboard_data as generate
from report_app import caches, context, live_data
from report_app.data import Filters
from report_app.uptime_views import month_choices, read_month

MONTHS = ("2026-09", "2026-10")


@pytest.fixture
def months(blobstore):
    network = generate.make_network(40)
    for index, month in enumerate(MONTHS):
        generate.write_month(blobstore, month, generate.month_tables(network, month, seed=index))
    return blobstore


def held(cache: caches.MonthlyTables, month: str, name: str) -> bool:
    """Whether ``remember(month, name)`` is already built (a build would be called if not)."""
    built: list[bool] = []
    cache.remember(month, name, lambda: built.append(True))
    return not built


def test_read_ahead_for_a_government_viewer_builds_no_national_view(months) -> None:
    national, scoped, without_views = (caches.MonthlyTables(months) for _ in range(3))
    read_month(national, "2026-10")
    read_month(scoped, "2026-10", scope=("NSW",))
    read_month(without_views, "2026-10", views=False)
    assert held(national, "2026-10", "rows:site") and held(national, "2026-10", "map:None")
    assert not held(scoped, "2026-10", "rows:site")
    assert not held(scoped, "2026-10", "map:None")
    assert held(scoped, "2026-10", "choices:('NSW',)")
    assert held(without_views, "2026-10", "rows:site")
    assert not held(without_views, "2026-10", "map:None")


def test_filter_choices_hold_only_the_viewers_states(months) -> None:
    cache = caches.MonthlyTables(months)
    evse = cache.get("2026-10", "evse")
    assert {"NSW", "WA"} <= set(evse["state"])  # the generated month has other states too
    cpo_ids, programs, lgas = month_choices(cache, "2026-10", ("NSW",))
    nsw = evse[evse["state"] == "NSW"]
    assert set(lgas) == {str(c) for c in nsw["lga_code"].dropna()}
    assert lgas and all(label.endswith(" (NSW)") for label in lgas.values())
    assert set(cpo_ids) == set(nsw["cpo_id"].dropna().astype(str))
    assert set(programs) == set(nsw["program"].dropna().astype(str))
    others = evse[evse["state"] != "NSW"]
    assert not set(lgas) & {str(c) for c in others["lga_code"].dropna()}
    assert month_choices(cache, "2026-10", ("NSW",)) is month_choices(cache, "2026-10", ("NSW",))
    everything = month_choices(cache, "2026-10", None)[2]
    assert set(lgas) < set(everything)


def test_scoped_connectors_are_shared_and_hold_only_the_viewers_states(blobstore) -> None:
    network = generate.make_network(40)
    generate.write_static_sites(blobstore, network)
    generate.write_live(
        blobstore, generate.live_status(network, datetime(2026, 11, 20, tzinfo=UTC))
    )
    data = caches.LiveCache(blobstore).get()
    connectors = context.scoped_connectors(data, ("WA", "SA"))
    assert not connectors.empty and set(connectors["state"]) <= {"WA", "SA"}
    assert context.scoped_connectors(data, ("WA", "SA")) is connectors  # one for every session
    cpo_ids, programs = context.live_choices(data, ("WA", "SA"))
    assert cpo_ids == sorted(set(connectors["cpo_id"].astype(str)))
    assert programs == sorted(set(connectors["program"].dropna().astype(str)))
    assert len(context.scoped_connectors(data, None)) == len(data.connectors)


def test_a_live_view_asked_for_at_once_is_built_once(blobstore, monkeypatch) -> None:
    network = generate.make_network(40)
    generate.write_static_sites(blobstore, network)
    generate.write_live(
        blobstore, generate.live_status(network, datetime(2026, 11, 20, tzinfo=UTC))
    )
    data = caches.LiveCache(blobstore).get()
    builds: list[Filters] = []
    started, release = threading.Event(), threading.Event()

    def counted(data: live_data.LiveData, filters: Filters) -> live_data.LiveView:
        builds.append(filters)
        started.set()
        release.wait(timeout=60)  # hold the first build until the second asker is waiting
        return live_data.live_view(data, filters)

    monkeypatch.setattr(context, "live_view", counted)
    filters = Filters(states=("NSW",))
    views: list[live_data.LiveView] = []
    askers = [threading.Thread(target=lambda: views.append(context.shared_live_view(data, filters)))
              for _ in range(2)]  # fmt: skip
    askers[0].start()
    assert started.wait(timeout=60)
    askers[1].start()
    # Release the first build once the second asker waits inside shared_live_view (or, were it
    # to build a second time, has started that build).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(builds) < 2:
        frame = sys._current_frames().get(askers[1].ident or -1)
        if frame is not None and frame.f_code.co_name == "shared_live_view":
            break
        time.sleep(0.01)
    release.set()
    for asker in askers:
        asker.join(timeout=60)
    assert len(views) == 2 and views[0] is views[1]
    assert builds == [filters]
    assert set(views[0].sites["state"]) == {"NSW"}


def test_start_up_waits_for_the_warm_up_jobs() -> None:
    prefetcher = caches.Prefetcher()
    assert prefetcher.wait_idle(timeout=60)  # nothing pending
    go, done = threading.Event(), []
    prefetcher.submit("month", lambda: (go.wait(timeout=60), done.append("month")))
    assert not prefetcher.wait_idle(timeout=0.05)  # the job holds until told to go
    go.set()
    assert prefetcher.wait_idle(timeout=60)
    assert done == ["month"]
