"""Liveness for an ``ocpi_push`` CPO: poll its Locations Sender with the token B it registered.

A CPO that pushes only changes sends nothing while nothing changes, and its EVSEs would go UNKNOWN
``max_gap`` after their last PUT/PATCH. So, once registered, the worker GETs the CPO's Locations
with ``date_from`` (only changes come back) every ``poll_seconds`` — by default two thirds of the
feed's ``max_gap``, 10 minutes for 15 — and every complete poll is a liveness signal for all of the
CPO's EVSEs (spec section 3), as for ``ocpi_pull``; what it returns is reconciled like a push.
A CPO without a Locations Sender gets liveness from its pushes only; feed health says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from ingest_worker.feeds.config import FeedConfig, OcpiPushFeed
from ingest_worker.feeds.ocpi_common import CanonicalEvses
from ingest_worker.feeds.ocpi_parties import Parties, Registration
from ingest_worker.feeds.ocpi_pull import OcpiPuller
from ingest_worker.pipeline import Ingest
from ingest_worker.stopping import sleep_unless_stopped

log = logging.getLogger("chargeatlarge.worker.ocpi_push_poll")


def poll_interval(feed: FeedConfig, default_max_gap_minutes: float) -> float:
    """Seconds between polls: the feed's ``poll_seconds`` if set, else 2/3 of its max_gap."""
    if isinstance(feed, OcpiPushFeed) and feed.poll_seconds is not None:
        return feed.poll_seconds
    return (feed.max_gap_minutes or default_max_gap_minutes) * 60 * 2 / 3


class PushPoller:
    def __init__(
        self,
        feed: FeedConfig,
        ingest: Ingest,
        client: httpx.AsyncClient,
        parties: Parties,
        canonical: CanonicalEvses,
        default_max_gap_minutes: float,
    ) -> None:
        self.feed = feed
        self.ingest = ingest
        self.client = client
        self.parties = parties
        self.canonical = canonical
        self.interval = poll_interval(feed, default_max_gap_minutes)
        self.registration: Registration | None = None
        self.puller: OcpiPuller | None = None

    def _current(self) -> Registration | None:
        registration = self.parties.by_cpo.get(self.feed.cpo_id)
        if registration != self.registration:
            # A new registration (or token B / URL from a credentials PUT): start afresh.
            self.registration = registration
            self.puller = None
            if registration is not None and registration.token_b and registration.versions_url:
                self.puller = OcpiPuller(
                    self.feed,
                    self.ingest,
                    self.client,
                    token=lambda: registration.token_b,
                    versions_url=lambda: registration.versions_url,
                    canonical=self.canonical,
                    source="ocpi_push_poll",
                )
        return registration

    async def poll_once(self) -> bool:
        """One poll when registered; True when it completed (a liveness signal was recorded)."""
        if self._current() is None or self.puller is None:
            return False
        try:
            result = await self.puller.poll()
        except Exception as exc:  # noqa: BLE001 - no answer of a CPO may end the poller
            self.puller.locations_url = None  # rediscover next time
            message = str(exc)
            if "no locations SENDER endpoint" in message:
                message = (
                    "the CPO has no Locations Sender: its EVSEs are confirmed only by its"
                    " pushes and go UNKNOWN max_gap after the last one"
                )
            self.ingest.mark_error(self.feed, f"Locations poll (liveness): {message}")
            log.warning("%s: Locations poll failed: %s", self.feed.name, message)
            return False
        log.info(
            "%s: Locations poll, %d changed locations, %d statuses",
            self.feed.name,
            result.locations,
            result.observations,
        )
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.parties.changed.clear()
            # A poll may be retrying a slow CPO: stopping the worker does not wait for it.
            poll = asyncio.ensure_future(self.poll_once())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([poll, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
                return
            # Wait the interval, or less when a registration changes (poll the new one soon).
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.parties.changed.wait()),
            ]
            try:
                await asyncio.wait(
                    waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if self.parties.changed.is_set() and not stop.is_set():
                await sleep_unless_stopped(stop, 0.2)
