"""OCPI 2.2.1 pieces both Locations feeds share: the response envelope, tokens, status parsing."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from shared.status import InvalidObservation, Observation, check_not_future

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003


def envelope(
    data: Any = None, status_code: int = SUCCESS, message: str = "Success", http_status: int = 200
) -> JSONResponse:
    body: dict[str, Any] = {
        "status_code": status_code,
        "status_message": message,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=http_status)


def token_header(token: str) -> str:
    """``Authorization`` value for ``token``: Base64 since OCPI 2.2."""
    return "Token " + base64.b64encode(token.encode()).decode()


def token_candidates(header: str | None) -> list[str]:
    """What a ``Token …`` header may carry: the Base64-decoded token, and the raw value (2.1.1 style)."""
    if not header:
        return []
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value or len(value) > 1024:
        return []
    candidates = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        if decoded:
            candidates.insert(0, decoded)
    except (binascii.Error, UnicodeDecodeError):
        pass
    return candidates


def evse_observation(
    cpo_id: str, evse: Any, where: str, fallback_time: str | None = None
) -> Observation | None:
    """An OCPI EVSE object (or a PATCH of one) → Observation; None when it carries no status."""
    if not isinstance(evse, dict):
        raise InvalidObservation(f"{where}: expected an EVSE object")
    if "status" not in evse:
        return None
    uid = evse.get("uid")
    if uid is None:
        raise InvalidObservation(f"{where}.uid: required")
    at = evse.get("last_updated") or fallback_time
    if at is None:
        raise InvalidObservation(f"{where}.last_updated: required")
    try:
        observation = Observation.parse(
            cpo_id=cpo_id, evse_uid=uid, status=evse["status"], observed_at=at
        )
        check_not_future(observation.observed_at, field="last_updated")
        return observation
    except InvalidObservation as exc:
        raise InvalidObservation(f"{where}.{exc}") from None


def location_observations(
    cpo_id: str, location: Any, where: str = "location"
) -> tuple[list[Observation], list[str]]:
    """Every EVSE status of an OCPI Location; bad EVSEs are reported, good ones kept."""
    if not isinstance(location, dict):
        raise InvalidObservation(f"{where}: expected a Location object")
    evses = location.get("evses") or []
    if not isinstance(evses, list):
        raise InvalidObservation(f"{where}.evses: expected a list")
    observations: list[Observation] = []
    problems: list[str] = []
    for index, evse in enumerate(evses):
        try:
            obs = evse_observation(
                cpo_id, evse, f"{where}.evses[{index}]", location.get("last_updated")
            )
        except InvalidObservation as exc:
            problems.append(str(exc))
            continue
        if obs is not None:
            observations.append(obs)
    return observations, problems
