"""What every session shares: settings, the blob store, cached monthly tables and the live poll.

(Not named ``shared.py``: ``shiny run report_app/app.py`` puts this folder first on the import
path, where that name would shadow the top-level ``shared`` package.)
"""

from __future__ import annotations

from shiny import reactive

from report_app.sources import (
    LiveData,
    MonthlyTables,
    StaticSitesCache,
    live_signature,
    load_live,
)
from shared.blobstore import open_blobstore
from shared.settings import get_settings

LIVE_POLL_SECONDS = 5

settings = get_settings()
store = open_blobstore(settings)
monthly = MonthlyTables(store)
static_sites = StaticSitesCache()


def _live_check() -> object:
    try:
        return live_signature(store)
    except Exception as exc:  # noqa: BLE001 - a storage outage must not stop the poll
        return f"unreachable: {type(exc).__name__}"


@reactive.poll(_live_check, interval_secs=LIVE_POLL_SECONDS)
def live_data() -> LiveData:
    """The live snapshot joined to static sites; re-read only when a blob changed."""
    try:
        return load_live(store, static_sites)
    except Exception as exc:  # noqa: BLE001 - shown as the page's empty state
        from report_app.data import live_evses
        from shared.sites import empty_connectors

        data = live_evses(None, empty_connectors())
        data.problems = [f"The live data cannot be read ({type(exc).__name__}: {exc})."]
        return data
