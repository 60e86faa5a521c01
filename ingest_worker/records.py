"""The records a worker hands on (spool rows and queue messages alike): one pydantic model per
kind, a discriminated union on ``kind``, validated when read back and serialised for storage.

The stored form is the one the previous, untyped version wrote (the kind beside a JSON body of
these fields), so a spool or a queue message from before an upgrade reads as it was written.
A stored body that does not validate is no exception: it reads as ``Unreadable`` with the reason,
and the writer quarantines it whole.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from shared.status import EARLIEST_INSTANT, MAX_ID_LENGTH, STATUS_CATEGORY, Observation


def _known_status(value: str) -> str:
    if value not in STATUS_CATEGORY:
        raise ValueError(f"unknown raw status {value[:40]!r}")
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
RawStatus = Annotated[str, AfterValidator(_known_status)]
Instant = Annotated[AwareDatetime, Field(ge=EARLIEST_INSTANT)]
# One observation as stored: [evse_uid, status, observed_at] (the compact form of every version).
Item = tuple[Id, RawStatus, Instant]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObservationBatch(_Record):
    """Observations one feed accepted in one request or message, with its raw payload."""

    kind: Literal["obs"] = "obs"
    cpo: Id
    source: Annotated[str, StringConstraints(max_length=32)]
    sender: Annotated[str, StringConstraints(max_length=200)]
    received_at: AwareDatetime
    items: list[Item]
    # The connector each item named (README: kept in the raw archive, not in the runs); None
    # when no item named one, which is every record of the previous version.
    connector_ids: list[Id | None] | None = None
    # The raw payload, gzip then base64; None on the later parts of a split batch (archived
    # once, with the first part).
    raw: str | None = None

    @model_validator(mode="after")
    def _connectors_match_items(self) -> ObservationBatch:
        if self.connector_ids is not None and len(self.connector_ids) != len(self.items):
            raise ValueError(
                f"connector_ids: {len(self.connector_ids)} for {len(self.items)} items"
            )
        return self

    @classmethod
    def of(
        cls,
        observations: list[Observation],
        *,
        source: str,
        sender: str,
        received_at: datetime,
        raw: str,
        cpo: str,
    ) -> ObservationBatch:
        connectors = [o.connector_id for o in observations]
        return cls(
            cpo=cpo,
            source=source,
            sender=sender[:200],
            received_at=received_at,
            items=[(o.evse_uid, o.status, o.observed_at) for o in observations],
            connector_ids=connectors if any(c is not None for c in connectors) else None,
            raw=base64.b64encode(gzip.compress(raw.encode("utf-8"), 1)).decode("ascii"),
        )

    def observations(self) -> list[Observation]:
        connectors = self.connector_ids or [None] * len(self.items)
        return [
            Observation(self.cpo, evse, status, at, connector)
            for (evse, status, at), connector in zip(self.items, connectors, strict=True)
        ]

    def raw_text(self) -> str | None:
        """The raw payload as received (raises on a payload that is not gzip in base64)."""
        if self.raw is None:
            return None
        return gzip.decompress(base64.b64decode(self.raw, validate=True)).decode("utf-8")

    def connectors(self) -> list[tuple[str, str]]:
        """(evse_uid, connector_id) of the items that named a connector."""
        if self.connector_ids is None:
            return []
        return [
            (item[0], connector)
            for item, connector in zip(self.items, self.connector_ids, strict=True)
            if connector is not None
        ]


class LivenessSignal(_Record):
    """A liveness signal (spec section 3): ``evses`` None covers every EVSE of the CPO."""

    kind: Literal["live"] = "live"
    cpo: Id
    at: Instant
    evses: list[Id] | None = None


class Rejection(_Record):
    """Input a feed refused, to be quarantined with its reason."""

    kind: Literal["reject"] = "reject"
    cpo: Id | None = None
    source: Annotated[str, StringConstraints(max_length=32)]
    location: str
    reason: str
    payload: str
    received_at: AwareDatetime


Record = Annotated[ObservationBatch | LivenessSignal | Rejection, Field(discriminator="kind")]
RECORD = TypeAdapter[ObservationBatch | LivenessSignal | Rejection](Record)
KINDS: dict[str, type[ObservationBatch | LivenessSignal | Rejection]] = {
    model.model_fields["kind"].default: model
    for model in (ObservationBatch, LivenessSignal, Rejection)
}


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored record that does not validate (a broken peer of the queue, an older bug):
    never dropped, it goes to quarantine whole with ``error`` as its reason."""

    kind: str
    body: object  # the stored body: JSON value, or text that is not JSON (None: not read)
    error: str


def body_json(record: ObservationBatch | LivenessSignal | Rejection) -> str:
    """The stored body: the record's fields without its kind, which is stored beside it."""
    return record.model_dump_json(exclude={"kind"}, exclude_none=True)


def body_dict(record: ObservationBatch | LivenessSignal | Rejection) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"kind"}, exclude_none=True)


def read_record(kind: str, body: str | bytes | dict[str, Any]) -> Record | Unreadable:
    """A stored (kind, body) as its model, or ``Unreadable`` saying what is wrong. A body
    already parsed (a queue message's) goes through the union; stored text straight to the
    kind's model, parsed once."""
    try:
        if isinstance(body, dict):
            return RECORD.validate_python({**body, "kind": kind})
        model = KINDS.get(kind)
        if model is None:
            return Unreadable(kind, _as_json(body), f"unknown record kind {kind[:20]!r}")
        return model.model_validate_json(body)
    except ValidationError as exc:
        return Unreadable(kind, _as_json(body), f"not a valid {kind[:20]} record: {_first(exc)}")


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


def _as_json(body: str | bytes | dict[str, Any]) -> object:
    import json

    if isinstance(body, dict):
        return body
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
