"""What every session shares: settings, the blob store, the caches over it and the live poll.

(Not named ``shared.py``: ``shiny run report_app/app.py`` puts this folder first on the import
path, where that name would shadow the top-level ``shared`` package.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd
from shiny import reactive

from report_app.caches import LiveCache, MonthlyTables, Prefetcher
from report_app.data import Filters, in_scope
from report_app.live_data import LiveView, live_evses, live_view
from report_app.sources import LiveData, live_signature
from shared.blobstore import open_blobstore
from shared.settings import get_settings
from shared.sites import empty_connectors

LIVE_POLL_SECONDS = 5
VIEWS_KEPT = 16  # filter combinations of the current snapshot kept ready for the map

settings = get_settings()
store = open_blobstore(settings)
monthly = MonthlyTables(store)
live_cache = LiveCache(store)
prefetcher = Prefetcher()


def read_live() -> LiveData:
    """The joined live data, or an empty one whose problem says why it cannot be read."""
    try:
        return live_cache.get()
    except Exception as exc:  # noqa: BLE001 - shown as the page's empty state
        data = live_evses(None, empty_connectors())
        data.problems = [f"The live data cannot be read ({type(exc).__name__}: {exc})."]
        return data


def _live_check() -> object:
    try:
        return live_signature(store)
    except Exception as exc:  # noqa: BLE001 - a storage outage must not stop the poll
        return f"unreachable: {type(exc).__name__}"


@reactive.poll(_live_check, interval_secs=LIVE_POLL_SECONDS)
def live_data() -> LiveData:
    """The live snapshot joined to static sites; re-read only when a blob changed."""
    return read_live()


_views: OrderedDict[tuple[int, Filters], tuple[LiveData, LiveView]] = OrderedDict()
_views_lock = threading.Lock()


_building_views: dict[tuple[int, Filters], threading.Lock] = {}


def shared_live_view(data: LiveData, filters: Filters) -> LiveView:
    """``live_view(data, filters)``, built once per snapshot and filters for every session.

    A session asking while another thread (the warm-up) builds the same view waits for it
    rather than building it a second time.
    """
    key = (id(data), filters)

    def held() -> LiveView | None:
        hit = _views.get(key)
        if hit is not None and hit[0] is data:
            _views.move_to_end(key)
            return hit[1]
        return None

    with _views_lock:
        view = held()
        if view is not None:
            return view
        building = _building_views.setdefault(key, threading.Lock())
    with building:
        with _views_lock:
            view = held()
            if view is not None:
                return view
        view = live_view(data, filters)
        with _views_lock:
            for old in [k for k, (kept, _) in _views.items() if kept is not data]:
                del _views[old]  # views of an older snapshot are never asked for again
            _views[key] = (data, view)
            _building_views.pop(key, None)
            while len(_views) > VIEWS_KEPT:
                _views.popitem(last=False)
    return view


_scoped: dict[tuple[str, ...] | None, tuple[LiveData, pd.DataFrame, tuple[list[str], list[str]]]]
_scoped = {}


def _scoped_entry(
    data: LiveData, scope: tuple[str, ...] | None
) -> tuple[pd.DataFrame, tuple[list[str], list[str]]]:
    with _views_lock:
        hit = _scoped.get(scope)
        if hit is not None and hit[0] is data:
            return hit[1], hit[2]
    connectors = in_scope(data.connectors, scope)
    choices = (distinct(connectors, "cpo_id"), distinct(connectors, "program"))
    with _views_lock:
        _scoped[scope] = (data, connectors, choices)
    return connectors, choices


def scoped_connectors(data: LiveData, scope: tuple[str, ...] | None) -> pd.DataFrame:
    """The snapshot's static connectors in the viewer's states, one frame for every session of
    those states (not a copy of 20,000 rows per session)."""
    return _scoped_entry(data, scope)[0]


def live_choices(data: LiveData, scope: tuple[str, ...] | None) -> tuple[list[str], list[str]]:
    """The networks and grant programs of the snapshot's connectors in the viewer's states."""
    return _scoped_entry(data, scope)[1]


def distinct(frame: pd.DataFrame, column: str) -> list[str]:
    """The column's distinct values, sorted, as plain strings (vectorised: iterating an Arrow
    string column value by value costs milliseconds per thousand rows)."""
    if frame.empty or column not in frame:
        return []
    return sorted(str(v) for v in pd.unique(frame[column].dropna()))
