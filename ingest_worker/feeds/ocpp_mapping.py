"""The pure part of the OCPP feed: which EVSE a charge point's connector or EVSE id names, what
a connector-0 status means for the others, and what to do with a charge point's clock.

Clock policy (also in ``ingest_worker.feeds.ocpp``'s docstring and the README):
- a StatusNotification without a timestamp (allowed in 1.6) is observed at receipt time;
- a timestamp more than ``future_minutes`` (default 5) after receipt is a wrong clock: the
  observation is kept at *receipt time* (the status is fresh, only the clock is off);
- a timestamp more than ``past_hours`` (default 24) before receipt is too old to trust (a reset
  clock sends 1970, and a day-old status would rewrite history): the message is acknowledged
  (it is valid OCPP) and quarantined with its reason, not written;
- anything in between is kept as sent (late and out-of-order observations are normal, spec s.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

# A connector-0 (1.6) or evseId-0 (2.0.1) status in this set takes every connector with it;
# any other whole-charge-point status ("Available") hands each connector back its own status.
WHOLE_DOWN = frozenset({"FAULTED", "UNAVAILABLE"})

# 2.0.1 reports each connector of an EVSE; the EVSE (one vehicle at a time) is in use when any
# connector is, usable when any connector is, and down only when every connector is.
CONNECTOR_PRECEDENCE = ("OCCUPIED", "RESERVED", "AVAILABLE", "UNAVAILABLE", "FAULTED")


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    future_minutes: float = 5.0
    past_hours: float = 24.0


class TooOld(ValueError):
    """A timestamp further in the past than the clock policy trusts."""


def observed_at(sent: datetime | None, received: datetime, policy: ClockPolicy) -> datetime:
    """The instant an OCPP status is stored at, under the clock policy (see module docstring)."""
    if sent is None:
        return received
    if sent - received > timedelta(minutes=policy.future_minutes):
        return received
    if received - sent > timedelta(hours=policy.past_hours):
        raise TooOld(
            f"timestamp {sent.isoformat()} is more than {policy.past_hours:g} h before receipt"
            f" ({received.isoformat()}); the charge point's clock is probably wrong"
        )
    return sent


def ocpp_number(value: object) -> int | None:
    """A CSV's ``ocpp_evse_id`` (text, or a number once pandas had it) as an int, else None."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def unmapped_evse_uid(charge_point_id: str, number: int) -> str:
    """The EVSE uid of a charge point connector/EVSE that no static site CSV maps."""
    return f"{charge_point_id}/{number}"


@dataclass
class EvseMap:
    """Static-site mapping of ``(cpo_id, ocpp_charge_point_id, ocpp_evse_id)`` to ``evse_uid``."""

    evse_uids: dict[tuple[str, str, int], str] = field(default_factory=dict)
    owners: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_connectors(cls, connectors: pd.DataFrame) -> EvseMap:
        """From ``StaticSites.connectors``; rows without both OCPP columns are not OCPP-mapped."""
        mapping = cls()
        if connectors.empty or "ocpp_charge_point_id" not in connectors:
            return mapping
        rows = connectors[["cpo_id", "evse_uid", "ocpp_charge_point_id", "ocpp_evse_id"]]
        for cpo_id, evse_uid, charge_point_id, ocpp_evse_id in rows.itertuples(index=False):
            if not isinstance(charge_point_id, str) or not charge_point_id:
                continue
            mapping.owners.setdefault(charge_point_id, set()).add(cpo_id)
            number = ocpp_number(ocpp_evse_id)
            if number is None:
                continue
            mapping.evse_uids[(cpo_id, charge_point_id, number)] = evse_uid
        return mapping

    def evse_uid(self, cpo_id: str, charge_point_id: str, number: int) -> str:
        return self.evse_uids.get((cpo_id, charge_point_id, number)) or unmapped_evse_uid(
            charge_point_id, number
        )

    def numbers(self, cpo_id: str, charge_point_id: str) -> set[int]:
        """The OCPP connector/EVSE numbers the static CSVs list for one charge point."""
        return {n for c, cp, n in self.evse_uids if c == cpo_id and cp == charge_point_id}


@dataclass
class ChargePointStatuses:
    """Statuses of one charge point's connectors (1.6) or EVSEs (2.0.1), including number 0."""

    whole: str | None = None
    own: dict[int, str] = field(default_factory=dict)
    connectors: dict[int, dict[int, str]] = field(default_factory=dict)

    def effective(self, number: int) -> str | None:
        if self.whole in WHOLE_DOWN:
            return self.whole
        return self.own.get(number, self.whole)

    def report(self, number: int, status: str, known: Iterable[int] = ()) -> list[tuple[int, str]]:
        """Record a status; returns ``(number, effective status)`` of every number it changes.

        ``known`` are numbers listed elsewhere (static CSVs) that a number-0 status also covers.
        """
        status = status.upper()
        if number != 0:
            self.own[number] = status
            return [(number, self.effective(number) or status)]
        self.whole = status
        targets = sorted(set(self.own) | set(known))
        return [(n, self.effective(n) or status) for n in targets]

    def report_connector(
        self, evse_id: int, connector_id: int, status: str, known: Iterable[int] = ()
    ) -> list[tuple[int, str]]:
        """2.0.1: one connector's status; the EVSE's status combines its connectors'."""
        if evse_id == 0:
            return self.report(0, status, known)
        statuses = self.connectors.setdefault(evse_id, {})
        statuses[connector_id] = status.upper()
        combined = min(statuses.values(), key=_precedence)
        return self.report(evse_id, combined, known)

    def numbers(self, known: Iterable[int] = ()) -> list[int]:
        return sorted((set(self.own) | set(known)) - {0})


def _precedence(status: str) -> int:
    try:
        return CONNECTOR_PRECEDENCE.index(status)
    except ValueError:
        return len(CONNECTOR_PRECEDENCE)
