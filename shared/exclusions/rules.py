"""Exclusion rules (spec 4.3): causes, scopes, states, and every check a proposal must pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, get_args

import pandas as pd
from pydantic import BaseModel

from shared.status import InvalidObservation, check_id, parse_instant

Scope = Literal["evse", "charger", "site"]
State = Literal["PROPOSED", "APPROVED", "REJECTED", "WITHDRAWN"]
Cause = Literal[
    "UTILITY_INTERRUPTION",
    "VEHICLE_FAULT",
    "SCHEDULED_MAINTENANCE",
    "VANDALISM",
    "NATURAL_DISASTER",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)
STATES: tuple[State, ...] = get_args(State)
CAUSES: tuple[Cause, ...] = get_args(Cause)
SCOPE_COLUMNS: dict[str, str] = {"evse": "evse_uid", "charger": "charger_id", "site": "site_id"}
MAX_FUTURE_START = timedelta(days=90)
MAX_TEXT_CHARS = 2000
_T = TypeVar("_T")


class ExclusionError(ValueError):
    """A proposal or review that cannot be accepted; the message names the field and why."""


class ExclusionNotFound(LookupError):
    """No such exclusion (or not one the asking CPO may see)."""


class StateConflict(ExclusionError):
    """The exclusion's current state does not allow the action."""


class DuplicateExclusion(ExclusionError):
    """The same window is already proposed or approved."""


class Proposal(BaseModel, frozen=True):
    """A checked exclusion window, instants in UTC."""

    cpo_id: str
    scope: Scope
    scope_id: str
    from_at: datetime
    to_at: datetime
    cause: str
    note: str | None = None


class SiteScopes:
    """Which EVSEs, chargers and sites each CPO's static CSVs list."""

    def __init__(self, ids: dict[tuple[str, str], set[str]]) -> None:
        self._ids = ids
        self._cpos = {cpo for cpo, _ in ids}

    @classmethod
    def from_connectors(cls, connectors: pd.DataFrame) -> SiteScopes:
        ids: dict[tuple[str, str], set[str]] = {}
        for scope, column in SCOPE_COLUMNS.items():
            for cpo_id, values in connectors.groupby("cpo_id")[column]:
                ids[(str(cpo_id), scope)] = {str(value) for value in values}
        return cls(ids)

    def check(self, cpo_id: str, scope: str, scope_id: str) -> None:
        if scope_id in self._ids.get((cpo_id, scope), ()):
            return
        if cpo_id not in self._cpos:
            raise ExclusionError(
                f"scope_id: {cpo_id} has no static sites loaded, so {scope} {scope_id!r} is not"
                " listed; load its static site CSV first (chargeatlarge sites load)"
            )
        raise ExclusionError(
            f"scope_id: {scope} {scope_id!r} is not in {cpo_id}'s static site CSV"
            f" (a {scope} is named by its {SCOPE_COLUMNS[scope]})"
        )


def clean_text(value: object, field: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExclusionError(f"{field}: expected text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        raise ExclusionError(f"{field}: longer than {limit} characters")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise ExclusionError(f"{field}: contains control characters")
    return text


def one_year_after(instant: datetime) -> datetime:
    """The same calendar instant a year later (29 February → 1 March)."""
    try:
        return instant.replace(year=instant.year + 1)
    except ValueError:
        return instant.replace(year=instant.year + 1, month=3, day=1)


def check_proposal(
    *,
    cpo_id: object,
    scope: object,
    scope_id: object,
    from_at: object,
    to_at: object,
    cause: object,
    note: object = None,
    scopes: SiteScopes,
    now: datetime | None = None,
) -> Proposal:
    """Every rule of a proposal; raises ExclusionError listing each problem by field."""
    now = now or datetime.now(UTC)
    problems: list[str] = []

    def attempt(check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except (ExclusionError, InvalidObservation) as exc:
            problems.append(str(exc))
            return None

    cpo = attempt(lambda: check_id(cpo_id, "cpo_id"))
    scope_text = scope.strip().lower() if isinstance(scope, str) else scope
    if scope_text not in SCOPES:
        problems.append(f"scope: {str(scope)[:40]!r} is not one of {', '.join(SCOPES)}")
    ident = attempt(lambda: check_id(scope_id, "scope_id"))
    start = attempt(lambda: parse_instant(from_at, "from"))
    end = attempt(lambda: parse_instant(to_at, "to"))
    cause_text = cause.strip().upper() if isinstance(cause, str) else cause
    if cause_text not in CAUSES:
        problems.append(f"cause: {str(cause)[:40]!r} is not one of {', '.join(CAUSES)}")
    note_text = attempt(lambda: clean_text(note, "note"))
    if start is not None and end is not None:
        if end <= start:
            problems.append(f"to: {end.isoformat()} is not after from ({start.isoformat()})")
        elif end > one_year_after(start):
            problems.append(
                f"to: the window from {start.isoformat()} to {end.isoformat()} is longer than a"
                " year; split it, or ask for a review of the site instead"
            )
    if start is not None and start - now > MAX_FUTURE_START:
        problems.append(
            f"from: {start.isoformat()} is more than {MAX_FUTURE_START.days} days in the future"
        )
    if (
        cpo is not None
        and isinstance(scope_text, str)
        and scope_text in SCOPES
        and ident is not None
    ):
        attempt(lambda: scopes.check(cpo, scope_text, ident))
    if problems:
        raise ExclusionError("; ".join(problems))
    # Every field is checked above; the model's own validation is the last word on types.
    return Proposal.model_validate(
        {
            "cpo_id": cpo,
            "scope": scope_text,
            "scope_id": ident,
            "from_at": start,
            "to_at": end,
            "cause": cause_text,
            "note": note_text,
        }
    )
