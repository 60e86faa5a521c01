"""What every simulated feed shares: accelerated time, the EVSEs' merged event schedule, the
feed's drop-outs, and a record of what was sent (the tests compare it with the database)."""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest_worker.simulator.model import ModelParams, StatusEvent, dropouts, status_events
from ingest_worker.simulator.plan import SimEvse


class SimClock:
    """Simulated time runs ``speed`` times faster than the wall clock, from ``start``."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds_until(self, at: datetime) -> float:
        return max(0.0, (at - self.now()).total_seconds() / self.speed)


@dataclass(frozen=True, slots=True)
class SimSettings:
    seed: int = 1
    speed: float = 60.0
    params: ModelParams = ModelParams()
    tz: ZoneInfo = ZoneInfo("Australia/Sydney")
    tick_seconds: float = 0.2  # real seconds between sends of the batching feeds
    heartbeat_seconds: float | None = None  # None: the interval the worker gives at boot


class Schedule:
    """The status events of some EVSEs, merged in time order, handed out as they fall due."""

    def __init__(self, evses: list[SimEvse], settings: SimSettings, clock: SimClock) -> None:
        self.clock = clock
        self._streams: list[Iterator[StatusEvent]] = [
            status_events(
                settings.seed, e.evse_uid, clock.start, settings.params, settings.tz, e.dc
            )
            for e in evses
        ]
        self._heap: list[tuple[datetime, int, StatusEvent]] = []
        for index, stream in enumerate(self._streams):
            self._push(index, stream)

    def _push(self, index: int, stream: Iterator[StatusEvent]) -> None:
        event = next(stream, None)
        if event is not None:
            heapq.heappush(self._heap, (event.at, index, event))

    def due(self) -> list[StatusEvent]:
        now = self.clock.now()
        events = []
        while self._heap and self._heap[0][0] <= now:
            _, index, event = heapq.heappop(self._heap)
            events.append(event)
            self._push(index, self._streams[index])
        return events

    def seconds_to_next(self) -> float:
        return self.clock.real_seconds_until(self._heap[0][0]) if self._heap else 3600.0


class Dropouts:
    """Whether a feed is silent now (its seeded drop-out spells, in simulated time)."""

    def __init__(self, feed_name: str, settings: SimSettings, clock: SimClock) -> None:
        self.clock = clock
        self._spells = dropouts(settings.seed, feed_name, clock.start, settings.params)
        self._current = next(self._spells, None)

    def silent(self) -> bool:
        now = self.clock.now()
        while self._current is not None and self._current[1] <= now:
            self._current = next(self._spells, None)
        return self._current is not None and self._current[0] <= now


@dataclass
class FeedRecord:
    """What one simulated feed sent; ``last``: the stored form (upper case) per stored evse_uid."""

    cpo_id: str
    kind: str
    sent: Counter[str] = field(default_factory=Counter)
    last: dict[str, str] = field(default_factory=dict)
    dropouts: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self, stored_uid: str, spelled_status: str) -> None:
        self.sent[spelled_status] += 1
        self.last[stored_uid] = spelled_status.upper()

    def error(self, message: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(message[:300])


def now_text() -> str:
    """The real instant, as OCPP/OCPI/push timestamps carry it (simulated time paces events)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
