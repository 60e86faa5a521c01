"""The pure part of the OCPP feed: which EVSE a charge point's connector or EVSE id names, what
a connector-0 status means for the others, what a transaction says about its EVSE, and what to
do with a charge point's clock.

Clock policy (also in ``ingest_worker.feeds.ocpp``'s docstring and the README):
- a StatusNotification without a timestamp (allowed in 1.6) is observed at receipt time;
- a timestamp without a UTC offset is read as UTC (OCPP-J times are UTC; a charge point sending
  local time then lands ahead of receipt and is caught by the next rule);
- a timestamp more than ``future_minutes`` (default 5) after receipt is a wrong clock: the
  observation is kept at *receipt time* (the status is fresh, only the clock is off);
- a timestamp before 2000, or more than ``past_hours`` (default 24) before receipt, is not
  trusted (a reset clock sends 1970, and a day-old status would rewrite history): the message is
  refused with a CallError the charge point sees and quarantined, never acknowledged and dropped;
- anything in between is kept as sent (late and out-of-order observations are normal, spec s.3).

Connector 0 (OCPP 1.6 section 4.9: the charge point's main controller; 2.0.1 evseId 0 likewise):
- Unavailable or Faulted covers the whole charge point: every connector we know of (reported, or
  listed in the static CSVs) is stored with that status, and later reports of single connectors
  stay covered until connector 0 is up again;
- Available at connector 0 says nothing about the connectors: it ends a whole-charge-point outage
  (each covered connector gets the status it reported since, else UNKNOWN until it reports) and
  otherwise changes nothing. It never makes an unreported connector available.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from shared.status import EARLIEST_INSTANT, STATUS_CATEGORY, Category, Observation

# A connector-0 (1.6) or evseId-0 (2.0.1) status in this set covers every connector.
WHOLE_DOWN = frozenset({"FAULTED", "UNAVAILABLE"})
# OCPP 1.6 section 4.9: the only statuses connector 0 can have.
WHOLE_STATUSES = frozenset({"AVAILABLE", "UNAVAILABLE", "FAULTED"})

# 2.0.1 reports each connector of an EVSE; the EVSE (one vehicle at a time) is in use when any
# connector is, usable when any connector is, and down only when every connector is.
CONNECTOR_PRECEDENCE = ("OCCUPIED", "RESERVED", "AVAILABLE", "UNAVAILABLE", "FAULTED")

# What a transaction start says when no StatusNotification already says the EVSE is in use.
IN_USE_BY_TRANSACTION = "OCCUPIED"

# Connector and EVSE numbers are small: a charge point has a handful. The bound keeps
# ``{charge_point_id}/{n}`` a storable EVSE uid (48 + 1 + 4 characters).
MAX_NUMBER = 9999

EARLIEST = EARLIEST_INSTANT


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    future_minutes: float = 5.0
    past_hours: float = 24.0


class Untrusted(ValueError):
    """A timestamp the clock policy refuses (too far in the past, or not a timestamp)."""


def parse_timestamp(value: object, field_name: str = "timestamp") -> datetime:
    """An OCPP dateTime as an aware UTC instant; no offset is read as UTC."""
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise Untrusted(f"{field_name}: not an ISO 8601 timestamp: {str(value)[:40]!r}")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Untrusted(f"{field_name}: not an ISO 8601 timestamp: {value!r}") from None


def observed_at(sent: datetime | None, received: datetime, policy: ClockPolicy) -> datetime:
    """The instant an OCPP status is stored at, under the clock policy (see module docstring)."""
    if sent is None:
        return received
    if sent < EARLIEST:
        raise Untrusted(
            f"timestamp {sent.isoformat()} is before {EARLIEST.date().isoformat()};"
            " the charge point's clock is wrong"
        )
    if sent - received > timedelta(minutes=policy.future_minutes):
        return received
    if received - sent > timedelta(hours=policy.past_hours):
        raise Untrusted(
            f"timestamp {sent.isoformat()} is more than {policy.past_hours:g} h before receipt"
            f" ({received.isoformat()}); the charge point's clock is probably wrong"
        )
    return sent


def check_number(value: object, field_name: str, *, zero: bool = True) -> int:
    """A connector or EVSE number in ``0..MAX_NUMBER`` (``1..`` when ``zero`` is False)."""
    lowest = 0 if zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= MAX_NUMBER:
        shown = str(value)
        shown = shown if len(shown) <= 20 else shown[:20] + "…"
        raise ValueError(f"{field_name} {shown} is not a number from {lowest} to {MAX_NUMBER}")
    return value


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
    """Statuses of one charge point's connectors (1.6) or EVSEs (2.0.1), including number 0.

    Every method returns ``(number, status)`` for each number whose stored status it sets.
    """

    whole: str | None = None
    own: dict[int, str] = field(default_factory=dict)
    connectors: dict[int, dict[int, str]] = field(default_factory=dict)
    stored: set[int] = field(default_factory=set)

    def effective(self, number: int) -> str | None:
        if self.whole in WHOLE_DOWN:
            return self.whole
        return self.own.get(number)

    def report(self, number: int, status: str, known: Iterable[int] = ()) -> list[tuple[int, str]]:
        """Record a status of one number (0: the whole charge point, see the module docstring).

        ``known`` are numbers listed elsewhere (static CSVs) that a number-0 outage also covers.
        """
        status = status.upper()
        if number != 0:
            self.own[number] = status
            return self._store([number])
        was_down = self.whole in WHOLE_DOWN
        self.whole = status
        if status in WHOLE_DOWN:
            covered = sorted(set(self.own) | set(known) | self.stored)
            # what the connectors said before the outage no longer holds after it
            self.own.clear()
            self.connectors.clear()
            return self._store(covered)
        if was_down:
            return self._store(sorted(self.stored), "UNKNOWN")
        return []

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

    def start_transaction(
        self, number: int, connector_id: int | None = None
    ) -> list[tuple[int, str]]:
        """A transaction began on ``number``: in use, unless a reported status already says so."""
        current = self.own.get(number)
        if current is not None and STATUS_CATEGORY.get(current) is Category.IN_USE:
            return []
        if connector_id is not None:
            return self.report_connector(number, connector_id, IN_USE_BY_TRANSACTION)
        return self.report(number, IN_USE_BY_TRANSACTION)

    def numbers(self, known: Iterable[int] = ()) -> list[int]:
        return sorted((set(self.own) | set(known) | self.stored) - {0})

    def _store(self, numbers: Iterable[int], fallback: str | None = None) -> list[tuple[int, str]]:
        changes = []
        for number in numbers:
            status = self.effective(number) or fallback
            if status is not None:
                changes.append((number, status))
                self.stored.add(number)
        return changes


def _precedence(status: str) -> int:
    try:
        return CONNECTOR_PRECEDENCE.index(status)
    except ValueError:
        return len(CONNECTOR_PRECEDENCE)


# What each kept message means, as plain functions over one charge point's state: the feed's
# routes call them, and so do the tests, without a connection.


@dataclass(frozen=True, slots=True)
class Reporter:
    """One charge point of one CPO: the static mapping of its EVSEs and the feed's clock policy."""

    cpo_id: str
    charge_point_id: str
    evse_map: EvseMap = field(default_factory=EvseMap)
    policy: ClockPolicy = ClockPolicy()

    def known(self) -> set[int]:
        """The connector/EVSE numbers the static CSVs list for this charge point."""
        return self.evse_map.numbers(self.cpo_id, self.charge_point_id)

    def instant(self, sent: object, received: datetime) -> datetime:
        """When a status sent at ``sent`` (None: not sent) is stored; raises Untrusted."""
        return observed_at(None if sent is None else parse_timestamp(sent), received, self.policy)

    def observations(
        self, changes: list[tuple[int, str]], instant: datetime, connector_id: int | None = None
    ) -> list[Observation]:
        """The EVSE statuses a message changed, all at ``instant``."""
        return [
            Observation.parse(
                cpo_id=self.cpo_id,
                evse_uid=self.evse_map.evse_uid(self.cpo_id, self.charge_point_id, number),
                status=status,
                observed_at=instant,
                connector_id=connector_id if number and connector_id else None,
            )
            for number, status in changes
        ]


def _whole_status(number: int, status: str, name: str) -> None:
    if number == 0 and status.upper() not in WHOLE_STATUSES:
        raise ValueError(f"{name} 0 can only be Available, Unavailable or Faulted, not {status}")


def observations_from_status_notification(
    reporter: Reporter,
    statuses: ChargePointStatuses,
    *,
    connector_id: int,
    status: str,
    timestamp: object,
    received: datetime,
) -> list[Observation]:
    """OCPP 1.6 StatusNotification (``timestamp`` optional): the observations it makes;
    raises ValueError (Untrusted for the clock) for what the charge point must be told."""
    _whole_status(connector_id, status, "connector")
    instant = reporter.instant(timestamp, received)
    return reporter.observations(statuses.report(connector_id, status, reporter.known()), instant)


def observations_from_status_notification_201(
    reporter: Reporter,
    statuses: ChargePointStatuses,
    *,
    evse_id: int,
    connector_id: int,
    connector_status: str,
    timestamp: object,
    received: datetime,
) -> list[Observation]:
    """OCPP 2.0.1 StatusNotification: one connector's status; its EVSE's combines them."""
    _whole_status(evse_id, connector_status, "evseId")
    instant = reporter.instant(timestamp, received)
    changes = statuses.report_connector(evse_id, connector_id, connector_status, reporter.known())
    return reporter.observations(changes, instant, connector_id if evse_id else None)


def observations_from_transaction_start(
    reporter: Reporter,
    statuses: ChargePointStatuses,
    *,
    number: int,
    connector_id: int | None,
    timestamp: object,
    received: datetime,
) -> list[Observation]:
    """1.6 StartTransaction (``number`` = connectorId) or 2.0.1 TransactionEvent ``Started``
    (``number`` = evse.id): IN_USE unless a status already says so. Raises Untrusted for a
    timestamp the clock policy refuses, before the state changes."""
    instant = reporter.instant(timestamp, received)
    return reporter.observations(
        statuses.start_transaction(number, connector_id), instant, connector_id
    )


def evses_of(reporter: Reporter, statuses: ChargePointStatuses) -> list[str]:
    """The EVSE uids a heartbeat of this charge point confirms: every one reported or listed."""
    numbers = statuses.numbers(reporter.known())
    return sorted(
        {reporter.evse_map.evse_uid(reporter.cpo_id, reporter.charge_point_id, n) for n in numbers}
    )
