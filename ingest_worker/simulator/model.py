"""The simulator's status model: a pure, seeded function of (seed, EVSE, time).

Each EVSE alternates between waiting and charging sessions whose arrivals follow a daily profile
(local time), with occasional reservations, faults with repair times, and maintenance
(unavailable) spells. A feed has its own seeded drop-outs, during which it sends nothing. The
same seed always gives the same statuses, so tests and demos are repeatable.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Relative arrival rate by local hour (0-23): quiet nights, a morning and a long evening peak.
DAILY_PROFILE: tuple[float, ...] = (
    0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.45, 0.80, 1.00, 0.95, 0.90, 0.95,
    1.05, 1.00, 0.95, 1.00, 1.20, 1.45, 1.50, 1.30, 1.00, 0.70, 0.45, 0.25,
)  # fmt: skip

# Model statuses (spec section 2 raw statuses); feed kinds translate them (see ``vocabulary``).
AVAILABLE, RESERVED, PREPARING, CHARGING = "AVAILABLE", "RESERVED", "PREPARING", "CHARGING"
SUSPENDEDEV, FINISHING, FAULTED, UNAVAILABLE = "SUSPENDEDEV", "FINISHING", "FAULTED", "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class ModelParams:
    sessions_per_day: float = 8.0  # at a DAILY_PROFILE weight of 1 all day
    dc_session_minutes: float = 35.0
    ac_session_minutes: float = 150.0
    reserve_share: float = 0.05
    faults_per_day: float = 0.05
    repair_hours: float = 6.0
    maintenance_per_day: float = 0.02
    maintenance_hours: float = 2.0
    dropouts_per_day: float = 0.5  # per feed
    dropout_minutes: float = 20.0


@dataclass(frozen=True, slots=True)
class StatusEvent:
    at: datetime
    evse_uid: str
    status: str


def hourly_rate(params: ModelParams, hour: int) -> float:
    """Session arrivals per hour at a local hour of the day."""
    return params.sessions_per_day / 24.0 * DAILY_PROFILE[hour]


def _exp(rng: random.Random, mean: float) -> float:
    return rng.expovariate(1.0 / mean) if mean > 0 else math.inf


def status_events(
    seed: int,
    evse_uid: str,
    start: datetime,
    params: ModelParams,
    tz: ZoneInfo,
    dc: bool = False,
) -> Iterator[StatusEvent]:
    """Every status change of one EVSE from ``start`` on (forever; the first one at ``start``)."""
    rng = random.Random(f"{seed}:{evse_uid}")
    peak = max(hourly_rate(params, h) for h in range(24))
    now = start
    yield StatusEvent(now, evse_uid, AVAILABLE)
    while True:
        # Competing clocks: the next arrival (thinned to the daily profile), fault, maintenance.
        arrival = now
        while True:
            arrival += timedelta(hours=_exp(rng, 1.0 / peak) if peak > 0 else 1e6)
            if peak <= 0 or rng.random() < hourly_rate(params, arrival.astimezone(tz).hour) / peak:
                break
        fault = now + timedelta(
            days=min(_exp(rng, 1.0 / params.faults_per_day) if params.faults_per_day else 1e6, 1e6)
        )
        spell = now + timedelta(
            days=min(
                _exp(rng, 1.0 / params.maintenance_per_day) if params.maintenance_per_day else 1e6,
                1e6,
            )
        )
        first = min(arrival, fault, spell)
        if first == fault:
            yield StatusEvent(fault, evse_uid, FAULTED)
            now = fault + timedelta(hours=_exp(rng, params.repair_hours))
        elif first == spell:
            yield StatusEvent(spell, evse_uid, UNAVAILABLE)
            now = spell + timedelta(hours=_exp(rng, params.maintenance_hours))
        else:
            now = arrival
            if rng.random() < params.reserve_share:
                yield StatusEvent(now, evse_uid, RESERVED)
                now += timedelta(minutes=rng.uniform(5, 15))
            yield StatusEvent(now, evse_uid, PREPARING)
            now += timedelta(minutes=rng.uniform(1, 3))
            yield StatusEvent(now, evse_uid, CHARGING)
            mean = params.dc_session_minutes if dc else params.ac_session_minutes
            now += timedelta(minutes=max(5.0, rng.gauss(mean, mean / 3)))
            if not dc and rng.random() < 0.3:  # the car is full but stays plugged in
                yield StatusEvent(now, evse_uid, SUSPENDEDEV)
                now += timedelta(minutes=rng.uniform(10, 60))
            yield StatusEvent(now, evse_uid, FINISHING)
            now += timedelta(minutes=rng.uniform(1, 5))
        yield StatusEvent(now, evse_uid, AVAILABLE)


def dropouts(
    seed: int, feed_name: str, start: datetime, params: ModelParams
) -> Iterator[tuple[datetime, datetime]]:
    """The ``[from, to)`` spells during which one feed is silent, from ``start`` on (forever)."""
    rng = random.Random(f"{seed}:dropout:{feed_name}")
    now = start
    while True:
        if params.dropouts_per_day <= 0:
            return
        begin = now + timedelta(days=_exp(rng, 1.0 / params.dropouts_per_day))
        end = begin + timedelta(minutes=max(1.0, _exp(rng, params.dropout_minutes)))
        yield begin, end
        now = end


# How each feed kind spells a model status.
VOCABULARY: dict[str, dict[str, str]] = {
    "ocpp1.6": {
        AVAILABLE: "Available",
        RESERVED: "Reserved",
        PREPARING: "Preparing",
        CHARGING: "Charging",
        SUSPENDEDEV: "SuspendedEV",
        FINISHING: "Finishing",
        FAULTED: "Faulted",
        UNAVAILABLE: "Unavailable",
    },
    "ocpp2.0.1": {
        AVAILABLE: "Available",
        RESERVED: "Reserved",
        PREPARING: "Occupied",
        CHARGING: "Occupied",
        SUSPENDEDEV: "Occupied",
        FINISHING: "Occupied",
        FAULTED: "Faulted",
        UNAVAILABLE: "Unavailable",
    },
    "ocpi": {
        AVAILABLE: "AVAILABLE",
        RESERVED: "RESERVED",
        PREPARING: "CHARGING",
        CHARGING: "CHARGING",
        SUSPENDEDEV: "CHARGING",
        FINISHING: "BLOCKED",
        FAULTED: "OUTOFORDER",
        UNAVAILABLE: "INOPERATIVE",
    },
    "push": {
        s: s
        for s in (
            AVAILABLE,
            RESERVED,
            PREPARING,
            CHARGING,
            SUSPENDEDEV,
            FINISHING,
            FAULTED,
            UNAVAILABLE,
        )
    },
}


def spelled(status: str, dialect: str) -> str:
    return VOCABULARY[dialect][status]
