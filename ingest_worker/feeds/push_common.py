"""The REST and WebSocket push format: ``{"observations": [{evse_uid, status, observed_at}, …]}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shared.status import InvalidObservation, Observation, check_not_future

MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 10_000


class BadPayload(ValueError):
    """The payload as a whole is unusable (not JSON, wrong shape, too large)."""


@dataclass(slots=True)
class ParsedBatch:
    observations: list[Observation] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)  # {"index": i, "error": "…"}
    rejected_items: list[object] = field(default_factory=list)

    def quarantine_entry(self) -> tuple[str, str, str]:
        """(location, reason, payload) recording every rejected item of the message once."""
        indexes = ",".join(str(r["index"]) for r in self.rejected)
        reasons = "; ".join(f"[{r['index']}] {r['error']}" for r in self.rejected)
        return (
            f"observations[{indexes}]"[:200],
            reasons,
            json.dumps(self.rejected_items, default=str),
        )

    def result(self) -> dict[str, object]:
        return {"accepted": len(self.observations), "rejected": self.rejected}


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


def parse_items(body: bytes | str, cpo_id: str, *, single_allowed: bool) -> ParsedBatch:
    """Validate a push body for ``cpo_id``: good items become observations, bad ones say why."""
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
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidObservation("expected an object")
            given = item.get("cpo_id")
            if given is not None and given != cpo_id:
                raise InvalidObservation(
                    f"cpo_id: {str(given)[:64]!r} is not the CPO of this token"
                )
            observation = Observation.parse(
                cpo_id=cpo_id,
                evse_uid=item.get("evse_uid"),
                status=item.get("status"),
                observed_at=item.get("observed_at"),
                connector_id=item.get("connector_id"),
            )
            check_not_future(observation.observed_at)
            batch.observations.append(observation)
        except InvalidObservation as exc:
            batch.rejected.append({"index": index, "error": str(exc)})
            batch.rejected_items.append(item)
    return batch
