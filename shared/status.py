"""Spec section 2: raw statuses, their categories, and the Observation every feed produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Category(StrEnum):
    AVAILABLE = "AVAILABLE"
    IN_USE = "IN_USE"
    RESERVED = "RESERVED"
    OUT_OF_ORDER = "OUT_OF_ORDER"
    UNAVAILABLE = "UNAVAILABLE"
    NOT_IN_SERVICE = "NOT_IN_SERVICE"
    UNKNOWN = "UNKNOWN"


STATUS_CATEGORY: dict[str, Category] = {
    "AVAILABLE": Category.AVAILABLE,
    "CHARGING": Category.IN_USE,
    "BLOCKED": Category.IN_USE,
    "OCCUPIED": Category.IN_USE,
    "PREPARING": Category.IN_USE,
    "SUSPENDEDEV": Category.IN_USE,
    "SUSPENDEDEVSE": Category.IN_USE,
    "FINISHING": Category.IN_USE,
    "RESERVED": Category.RESERVED,
    "OUTOFORDER": Category.OUT_OF_ORDER,
    "FAULTED": Category.OUT_OF_ORDER,
    "INOPERATIVE": Category.UNAVAILABLE,
    "UNAVAILABLE": Category.UNAVAILABLE,
    "PLANNED": Category.NOT_IN_SERVICE,
    "REMOVED": Category.NOT_IN_SERVICE,
    "UNKNOWN": Category.UNKNOWN,
}

UP: frozenset[Category] = frozenset({Category.AVAILABLE, Category.IN_USE, Category.RESERVED})
DOWN: frozenset[Category] = frozenset({Category.OUT_OF_ORDER, Category.UNAVAILABLE})

MAX_ID_LENGTH = 64
"""Longest cpo_id / evse_uid / connector_id accepted (OCPI's EVSE uid is CiString(36); we allow more)."""


MAX_FUTURE_SKEW = timedelta(minutes=5)
# Backfill files may be written by a clock a little ahead of ours, never by much.
MAX_IMPORT_FUTURE = timedelta(hours=24)
# No public charger reported a status before this; anything earlier is a broken clock, and
# instants near datetime.min overflow the arithmetic of every later step.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
"""How far ahead of our clock an observation may be dated (CPO clocks drift a little)."""


class InvalidObservation(ValueError):
    """An observation that cannot be accepted; the message names the field and the reason."""


def normalise_status(raw: str) -> str:
    """The raw status in the canonical form stored everywhere: upper case, no surrounding space."""
    return raw.strip().upper()


def category_of(raw: str) -> Category:
    """Map a raw status (any case) to its category, or raise naming the unknown status."""
    if not isinstance(raw, str):
        raise InvalidObservation(f"status: expected a string, got {type(raw).__name__}")
    key = normalise_status(raw)
    try:
        return STATUS_CATEGORY[key]
    except KeyError:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidObservation(
            f"status: unknown raw status {shown!r}; expected one of {', '.join(STATUS_CATEGORY)}"
        ) from None


def parse_instant(value: object, field: str = "observed_at") -> datetime:
    """An ISO 8601 instant with an offset (or a tz-aware datetime), returned in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            raise InvalidObservation(f"{field}: not an ISO 8601 timestamp: {value[:40]!r}")
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidObservation(f"{field}: not an ISO 8601 timestamp: {value!r}") from None
    else:
        raise InvalidObservation(
            f"{field}: expected an ISO 8601 string, got {type(value).__name__}"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidObservation(f"{field}: timestamp {str(value)[:40]} has no UTC offset")
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or instant < EARLIEST_INSTANT:
        raise InvalidObservation(
            f"{field}: {str(value)[:40]} is before {EARLIEST_INSTANT.date().isoformat()};"
            " check the sender's clock"
        )
    return instant


def check_id(value: object, field: str) -> str:
    """A non-empty printable identifier of bounded length."""
    if not isinstance(value, str):
        raise InvalidObservation(f"{field}: expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidObservation(f"{field}: must not be empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidObservation(f"{field}: longer than {MAX_ID_LENGTH} characters")
    if not text.isprintable():
        raise InvalidObservation(f"{field}: contains control characters")
    return text


def check_not_future(
    instant: datetime,
    now: datetime | None = None,
    field: str = "observed_at",
    skew: timedelta = MAX_FUTURE_SKEW,
) -> datetime:
    """Refuse an instant more than ``skew`` ahead: it would hide every later status."""
    now = now or datetime.now(UTC)
    if instant - now > skew:
        ahead = (
            f"{int(skew.total_seconds() // 3600)} hours"
            if skew >= timedelta(hours=1)
            else f"{int(skew.total_seconds() // 60)} minutes"
        )
        raise InvalidObservation(
            f"{field}: {instant.isoformat()} is more than {ahead} in the future;"
            " check the sender's clock"
        )
    return instant


@dataclass(frozen=True, slots=True)
class Observation:
    """One status report of one EVSE (spec section 3). ``observed_at`` is aware, in UTC."""

    cpo_id: str
    evse_uid: str
    status: str
    observed_at: datetime
    connector_id: str | None = None

    @property
    def category(self) -> Category:
        return STATUS_CATEGORY[self.status]

    @classmethod
    def parse(
        cls,
        *,
        cpo_id: object,
        evse_uid: object,
        status: object,
        observed_at: object,
        connector_id: object = None,
    ) -> Observation:
        """Validate raw field values from any feed; raises InvalidObservation naming the field."""
        cpo = check_id(cpo_id, "cpo_id")
        evse = check_id(evse_uid, "evse_uid")
        if not isinstance(status, str):
            raise InvalidObservation(f"status: expected a string, got {type(status).__name__}")
        key = normalise_status(status)
        if key not in STATUS_CATEGORY:
            category_of(status)  # raises, naming the unknown status
        instant = parse_instant(observed_at)
        connector = (
            None if connector_id in (None, "") else check_id(str(connector_id), "connector_id")
        )
        return cls(cpo, evse, key, instant, connector)
