"""The caches every session shares: monthly tables and what is built from them, the joined
live data, and the background thread that fills them ahead of the pages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import pandas as pd

from report_app.data import DataProblem
from report_app.live_data import LiveData
from report_app.sources import (
    StaticSitesCache,
    check_month,
    live_signature,
    load_live,
    read_month_arrow,
    read_month_table,
)
from shared import layout
from shared.blobstore import BlobStore

T = TypeVar("T")
KEY_COLUMNS = ("cpo_id", "evse_uid", "charger_id", "site_id", "state")


class MonthlyTables:
    """Monthly tables, and compact structures built from them, kept for every session.

    Entries are per (month, manifest version): a re-run month is read afresh. Only the
    ``months`` most recently used months are kept, so memory stays bounded however many months
    exist; the tiny network and state tables of every month are kept apart from that bound, so
    the chart over all months does not push the big tables out.
    Each entry is built once even when a session and the prefetch thread ask at the same time.
    Reads ``ahead()`` (warm-up, read-ahead) are guesses: they do not make a held month more
    recent, and a month they bring in is the first to go, so a guess never pushes out a month a
    visitor looked at.
    """

    SMALL = ("network", "state")

    def __init__(self, store: BlobStore, months: int = 4) -> None:
        self.store = store
        self.months = months
        self._entries: OrderedDict[tuple[str, object], dict[str, object]] = OrderedDict()
        self._small: dict[tuple[str, object], dict[str, object]] = {}
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self._guessing = threading.local()

    @contextmanager
    def ahead(self) -> Iterator[None]:
        """Reads in this thread, inside, are guesses (see the class docstring)."""
        before = getattr(self._guessing, "on", False)
        self._guessing.on = True
        try:
            yield
        finally:
            self._guessing.on = before

    def _version(self, month: str) -> tuple[str, object]:
        check_month(month)
        info = self.store.info(layout.monthly_manifest_blob(month))
        if info is None:
            raise DataProblem(f"Month {month} has not been processed (no manifest.json).")
        return month, info.last_modified

    def _held(self, version: tuple[str, object], name: str, touch: bool) -> dict[str, object]:
        """The dict an entry lives in (made if need be); called with the lock held."""
        if name in self.SMALL or name.startswith("small:"):
            return self._small.setdefault(version, {})
        guess = getattr(self._guessing, "on", False)
        if version not in self._entries:
            self._entries[version] = {}
            if guess:  # least recently used: the first to go
                self._entries.move_to_end(version, last=False)
        elif touch and not guess:
            self._entries.move_to_end(version)
        return self._entries[version]

    def _cached(self, month: str, name: str, build: Callable[[], object]) -> object:
        version = self._version(month)
        with self._lock:
            held = self._held(version, name, touch=True)
            if name in held:
                return held[name]
            building = self._building.setdefault((version, name), threading.Lock())
        with building:
            with self._lock:
                held = self._held(version, name, touch=False)
                if name in held:
                    return held[name]
            value = build()
            with self._lock:
                self._held(version, name, touch=False)[name] = value
                self._building.pop((version, name), None)
                for holder in (self._entries, self._small):
                    for old in [v for v in holder if v[0] == month and v != version]:
                        del holder[old]  # an earlier run of a re-run month
                while len(self._entries) > self.months:
                    self._entries.popitem(last=False)
            return value

    def versions(self, months: Sequence[str]) -> tuple[tuple[str, object], ...]:
        """Each month with the version of its manifest (a key for views over several months)."""
        return tuple(self._version(month) for month in months)

    def get(self, month: str, table: str) -> pd.DataFrame:
        """The whole table."""
        return self._cached(month, table, lambda: read_month_table(self.store, month, table))

    def derived(
        self,
        month: str,
        table: str,
        build: Callable[[Any], object],
        columns: Sequence[str] | None = None,
        arrow: bool = False,
    ) -> Any:  # noqa: ANN401 - whatever ``build`` returns
        """``build(table)``, from only ``columns`` of the table (a DataFrame, or with ``arrow``
        a ``pyarrow.Table``); the table itself is not kept."""

        def read_and_build() -> object:
            # Keys as categoricals (dictionaries): building on their codes is much cheaper than
            # on strings. The decoded table's buffers are freed but kept by the server for the
            # next read (``report_app.memory``): handed back, that read faulted them in again.
            read = read_month_arrow if arrow else read_month_table
            return build(read(self.store, month, table, columns, KEY_COLUMNS))

        return self._cached(month, f"{table}:{build.__name__}", read_and_build)

    def remember(self, month: str, name: str, build: Callable[[], T]) -> T:
        """``build()``, a view computed from the month's tables, kept and dropped with them."""
        return cast(T, self._cached(month, f"view:{name}", build))

    def remember_small(self, month: str, name: str, build: Callable[[], T]) -> T:
        """``build()``, kept for every month (not bounded by ``months``): for small views that
        charts over many months need, such as a viewer's network figures of each month."""
        return cast(T, self._cached(month, f"small:{name}", build))

    def cached_months(self) -> list[str]:
        """Months whose big tables are held now, least recently used first."""
        with self._lock:
            return [month for month, _ in self._entries]


class Prefetcher:
    """Runs warm-up jobs one at a time in a background thread, each key at most once at a time.

    A job that fails only loses its head start: the page reads the same data itself and shows
    the problem then.
    """

    def __init__(self, quiet_seconds: float = 0.75) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._pending: set[object] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.quiet_seconds = quiet_seconds
        self._busy_at = float("-inf")

    def busy(self) -> None:
        """A session is answering a visitor now: speculative jobs hold off a while."""
        self._busy_at = time.monotonic()

    def pause(self) -> None:
        """Wait (in a job, between its steps) until no session has been busy for
        ``quiet_seconds``: a read-ahead holds the GIL for most of a second, and running it
        while a session answers, or while its visitor's browser draws what it sent, made a
        month switch wait on it."""
        while (wait := self._busy_at + self.quiet_seconds - time.monotonic()) > 0:
            time.sleep(wait)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is pending (at most ``timeout`` seconds); whether none is."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout=timeout)

    def submit(self, key: object, job: Callable[[], object]) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)

        def run() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001 - see the class docstring
                pass
            finally:
                with self._idle:
                    self._pending.discard(key)
                    self._idle.notify_all()

        self._pool.submit(run)


class LiveCache:
    """The joined live data, rebuilt only when a live or static blob changed.

    One copy for every session; the warm-up at server start fills it before the first visitor.
    """

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._static = StaticSitesCache()
        self._lock = threading.Lock()
        self._signature: object = None
        self._data: LiveData | None = None

    def get(self) -> LiveData:
        with self._lock:
            signature = live_signature(self.store)
            if self._data is None or signature != self._signature:
                self._data = load_live(self.store, self._static)
                self._signature = signature
            return self._data
