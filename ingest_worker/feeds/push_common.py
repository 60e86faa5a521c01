"""The REST and WebSocket push format, as the models that validate it, document it (OpenAPI) and
answer it: ``{"observations": [ObservationItem, …]}``, one item alone over the WebSocket, and
``PushResult``. ``observations_from_push`` is the whole parse, without HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from shared.status import (
    MAX_ID_LENGTH,
    STATUS_CATEGORY,
    InvalidObservation,
    Observation,
    category_of,
    check_id,
    check_not_future,
    normalise_status,
    parse_instant,
)

if TYPE_CHECKING:
    from ingest_worker.feeds.config import FeedConfig
    from ingest_worker.pipeline import Ingest

MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 10_000


class BadPayload(ValueError):
    """The payload as a whole is unusable (not JSON, wrong shape, too large)."""


def _context(info: ValidationInfo, key: str) -> Any:  # noqa: ANN401 - whatever the caller put there
    return (info.context or {}).get(key)


class ObservationItem(BaseModel):
    """One pushed observation. Validate with ``context={"cpo_id": …, "now": …}``: the token's
    CPO and the instant the future bound is counted from (default: now)."""

    model_config = ConfigDict(extra="ignore")

    evse_uid: Annotated[
        str, Field(min_length=1, max_length=MAX_ID_LENGTH, examples=["AU*VOL*E1234*1"])
    ]
    status: Annotated[
        str,
        Field(
            max_length=40,
            description="a raw status, in any case: " + ", ".join(STATUS_CATEGORY),
            examples=["CHARGING"],
        ),
    ]
    observed_at: Annotated[
        datetime,
        Field(
            description="ISO 8601 with a UTC offset, from 2000-01-01 to 5 minutes ahead",
            examples=["2026-11-23T10:15:00+11:00"],
        ),
    ]
    connector_id: Annotated[
        str | int | None,
        Field(description="validated, not stored: the EVSE is the unit tracked", examples=["1"]),
    ] = None
    cpo_id: Annotated[
        str | None, Field(max_length=MAX_ID_LENGTH, description="if present, the token's CPO")
    ] = None

    # The checks of shared.status, so every feed refuses the same things in the same words.
    @field_validator("evse_uid", mode="before")
    @classmethod
    def _evse_uid(cls, value: object) -> str:
        return check_id(value, "evse_uid")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidObservation(f"status: expected a string, got {type(value).__name__}")
        key = normalise_status(value)
        if key not in STATUS_CATEGORY:
            category_of(value)  # raises, naming the unknown status
        return key

    @field_validator("observed_at", mode="before")
    @classmethod
    def _observed_at(cls, value: object, info: ValidationInfo) -> datetime:
        instant = parse_instant(value)
        return check_not_future(instant, _context(info, "now") or datetime.now(UTC))

    @field_validator("connector_id", mode="before")
    @classmethod
    def _connector_id(cls, value: object) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidObservation(
                f"connector_id: expected a string or an integer, got {type(value).__name__}"
            )
        return check_id(str(value), "connector_id")

    @field_validator("cpo_id", mode="before")
    @classmethod
    def _cpo_id(cls, value: object, info: ValidationInfo) -> object:
        expected = _context(info, "cpo_id")
        if value is not None and expected is not None and value != expected:
            raise InvalidObservation(f"cpo_id: {str(value)[:64]!r} is not the CPO of this token")
        return value

    def observation(self, cpo_id: str) -> Observation:
        connector = None if self.connector_id is None else str(self.connector_id)
        return Observation(cpo_id, self.evse_uid, self.status, self.observed_at, connector)


class PushBody(BaseModel):
    """``POST /api/v1/observations`` and a WebSocket batch. Items are validated one by one, so
    one bad item is rejected by its index and the others are still taken."""

    observations: Annotated[list[ObservationItem], Field(max_length=MAX_ITEMS)]
    cpo_id: Annotated[
        str | None, Field(max_length=MAX_ID_LENGTH, description="if present, the token's CPO")
    ] = None


_ITEMS = TypeAdapter(list[ObservationItem])


class Ping(BaseModel):
    """A WebSocket liveness message, answered ``{"type": "pong"}``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["ping"]


class Rejected(BaseModel):
    index: int
    error: str


class PushResult(BaseModel):
    accepted: int
    rejected: list[Rejected]


class ErrorOut(BaseModel):
    error: str


@dataclass(slots=True)
class ParsedBatch:
    observations: list[Observation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_items: list[object] = field(default_factory=list)

    def quarantine_entry(self) -> tuple[str, str, str]:
        """(location, reason, payload) recording every rejected item of the message once."""
        indexes = ",".join(str(r.index) for r in self.rejected)
        reasons = "; ".join(f"[{r.index}] {r.error}" for r in self.rejected)
        return (
            f"observations[{indexes}]"[:200],
            reasons,
            json.dumps(self.rejected_items, default=str),
        )

    def result(self) -> PushResult:
        return PushResult(accepted=len(self.observations), rejected=self.rejected)


def loads_json(body: bytes | str) -> object:
    """JSON from an untrusted peer; any failure, deep nesting included, is a BadPayload."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(f"not JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadPayload(f"not JSON we accept: {str(exc)[:120]}") from None
    except RecursionError:
        raise BadPayload("not JSON we accept: nested too deeply") from None


def item_error(error: ValidationError) -> str:
    """One line naming each field of an item and what is wrong with it."""
    problems = []
    for problem in error.errors(include_url=False):
        cause = (problem.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidObservation):
            problems.append(str(cause))  # already names its field
        else:
            where = ".".join(str(p) for p in problem["loc"]) or "item"
            problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)


def observations_from_push(
    body: bytes | str, cpo_id: str, now: datetime, *, single_allowed: bool = False
) -> ParsedBatch:
    """A push body of ``cpo_id`` received at ``now``: good items become observations, bad ones
    are rejected by index; raises BadPayload when the body as a whole is unusable.
    ``single_allowed``: one ``ObservationItem`` alone is a batch of one (the WebSocket)."""
    size = len(body.encode() if isinstance(body, str) else body)
    if size > MAX_BODY_BYTES:
        raise BadPayload(f"payload of {size} bytes is larger than {MAX_BODY_BYTES} bytes")
    document = loads_json(body)
    if isinstance(document, dict) and "observations" in document:
        items = document["observations"]
        if not isinstance(items, list):
            raise BadPayload("observations: expected a list")
        extra = document.get("cpo_id")
        if extra is not None and extra != cpo_id:
            raise BadPayload(f"cpo_id: {str(extra)[:64]!r} is not the CPO of this token")
    elif single_allowed and isinstance(document, dict):
        items = [document]
    else:
        raise BadPayload('expected an object {"observations": [...]}')
    if len(items) > MAX_ITEMS:
        raise BadPayload(f"observations: {len(items)} items, at most {MAX_ITEMS} in one message")
    batch = ParsedBatch()
    context = {"cpo_id": cpo_id, "now": now}
    try:  # every item good, the usual case: one call, no per-item overhead
        batch.observations = [
            item.observation(cpo_id) for item in _ITEMS.validate_python(items, context=context)
        ]
        return batch
    except ValidationError:
        pass  # say which items, one by one
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            error = f"expected an object, got {type(item).__name__}"
        else:
            try:
                parsed = ObservationItem.model_validate(item, context=context)
            except ValidationError as exc:
                error = item_error(exc)
            else:
                batch.observations.append(parsed.observation(cpo_id))
                continue
        batch.rejected.append(Rejected(index=index, error=error))
        batch.rejected_items.append(item)
    return batch


async def keep(
    ingest: Ingest, feed: FeedConfig, batch: ParsedBatch, raw: bytes | str, sender: str, source: str
) -> None:
    """Spool a parsed batch's observations (durable before the answer) and quarantine its
    rejected items, once for the message."""
    if batch.observations:
        await ingest.accept(feed, batch.observations, raw=raw, sender=sender)
    if batch.rejected:
        location, reason, payload = batch.quarantine_entry()
        await ingest.reject(feed, source=source, location=location, reason=reason, payload=payload)


def is_ping(text: str) -> bool:
    """Whether a WebSocket message is exactly ``{"type": "ping"}``."""
    if len(text) > 64:
        return False
    try:
        Ping.model_validate_json(text)
    except ValidationError:
        return False
    return True
