"""What every session shares: settings, the blob store, the caches over it and the live poll.

(Not named ``shared.py``: ``shiny run report_app/app.py`` puts this folder first on the import
path, where that name would shadow the top-level ``shared`` package.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from shiny import reactive

from report_app.caches import LiveCache, MonthlyTables, Prefetcher
from report_app.data import Filters
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


def shared_live_view(data: LiveData, filters: Filters) -> LiveView:
    """``live_view(data, filters)``, built once per snapshot and filters for every session."""
    key = (id(data), filters)
    with _views_lock:
        hit = _views.get(key)
        if hit is not None and hit[0] is data:
            _views.move_to_end(key)
            return hit[1]
    view = live_view(data, filters)
    with _views_lock:
        for old in [k for k, (held, _) in _views.items() if held is not data]:
            del _views[old]  # views of an older snapshot are never asked for again
        _views[key] = (data, view)
        while len(_views) > VIEWS_KEPT:
            _views.popitem(last=False)
    return view
