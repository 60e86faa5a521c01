"""OCPI 2.2.1 Locations as plain functions, for the Receiver (pushed) and the Sender poll (pulled)
alike: a request body → the typed object of its URL (``parse_pushed``), an object → its EVSE
statuses as observations (``observations_from_location``, ``observation_from_evse``), and the
stored Location after a PUT or PATCH (``apply_push``, kept in blobs by ``LocationStore``).
Nothing here does HTTP; tests call it directly."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

from pydantic import ValidationError

from ingest_worker.feeds.ocpi_common import Canonical, ci
from ingest_worker.feeds.ocpi_models import (
    PATCH_MODELS,
    PUT_MODELS,
    Evse,
    Location,
    OcpiObject,
    RejectedItem,
    UrlLevel,
    problems,
)
from shared.blobstore import BlobNotFound, BlobStore
from shared.status import InvalidObservation, Observation, check_not_future, parse_instant

LOCATIONS_PREFIX = "ocpi/locations/"  # blob folder of the client-owned Locations we received
Ids = tuple[str, str | None, str | None]  # location_id, evse_uid, connector_id of the URL


def _as_is(cpo_id: str, evse_uid: str) -> str:
    return evse_uid


class OcpiBodyError(InvalidObservation):
    """A pushed body the URL's object cannot be: ``status_code`` 2002 when something required
    is missing, else 2001 (OCPI 2.2.1 status codes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.status_code = (
            2002 if message.endswith(": required") or ": required;" in message else 2001
        )


def url_level(ids: Ids) -> UrlLevel:
    """Which object a Receiver URL names."""
    return "location" if ids[1] is None else "evse" if ids[2] is None else "connector"


def url_ids(party: tuple[str, str], ids: Ids, method: str) -> dict[str, str]:
    """The ids a body at this URL must repeat if it names them: the party of a Location (and its
    id in a PUT), the uid of an EVSE, the id of a Connector."""
    location_id, evse_uid, connector_id = ids
    if evse_uid is None:
        named = {"country_code": party[0], "party_id": party[1]}
        return {**named, "id": location_id} if method == "PUT" else named
    return {"uid": evse_uid} if connector_id is None else {"id": connector_id}


def parse_pushed(
    method: Literal["PUT", "PATCH"], party: tuple[str, str], ids: Ids, document: object
) -> OcpiObject:
    """A PUT or PATCH body → the model of the object its URL names (``Location``, ``EvsePatch`` …),
    its ids checked against the URL; ``OcpiBodyError`` naming the field otherwise."""
    if not isinstance(document, dict):
        raise OcpiBodyError("body: expected a JSON object")
    for name, expected in url_ids(party, ids, method).items():
        value = document.get(name)
        if value is not None and (not isinstance(value, str) or ci(value) != ci(expected)):
            raise OcpiBodyError(f"{name}: {value!r} differs from the URL's {expected!r}")
    model = (PUT_MODELS if method == "PUT" else PATCH_MODELS)[url_level(ids)]
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise OcpiBodyError(problems(exc, "")) from None


def parse_location(document: object, where: str = "location") -> Location:
    """A Location as a Sender pages it (``InvalidObservation`` naming the field otherwise)."""
    if not isinstance(document, dict):
        raise InvalidObservation(f"{where}: expected a Location object")
    try:
        return Location.model_validate(document)
    except ValidationError as exc:
        raise InvalidObservation(problems(exc, where)) from None


def observation_from_evse(
    cpo_id: str,
    evse: Evse,
    where: str = "evse",
    fallback_time: str | None = None,
    canonical: Canonical = _as_is,
) -> Observation | None:
    """An EVSE (or a PATCH of one) → its status as an Observation at ``last_updated`` (else the
    Location's); None when it carries no status."""
    if evse.status is None:
        return None
    if evse.uid is None:
        raise InvalidObservation(f"{where}.uid: required")
    at = evse.last_updated or fallback_time
    if at is None:
        raise InvalidObservation(f"{where}.last_updated: required")
    try:
        observation = Observation.parse(
            cpo_id=cpo_id,
            evse_uid=canonical(cpo_id, evse.uid),
            status=evse.status,
            observed_at=parse_instant(at, field="last_updated"),
        )
        check_not_future(observation.observed_at, field="last_updated")
        return observation
    except InvalidObservation as exc:
        raise InvalidObservation(f"{where}.{exc}") from None


def observations_from_location(
    cpo_id: str, location: Location, where: str = "location", canonical: Canonical = _as_is
) -> tuple[list[Observation], list[str]]:
    """Every EVSE status of a Location; a bad EVSE is reported by its index, the others kept."""
    observations: list[Observation] = []
    found: list[str] = []
    for index, evse in enumerate(location.evses or []):
        at = f"{where}.evses[{index}]"
        if isinstance(evse, RejectedItem):
            found.extend(evse.problems_at(at))
            continue
        try:
            obs = observation_from_evse(cpo_id, evse, at, location.last_updated, canonical)
        except InvalidObservation as exc:
            found.append(str(exc))
            continue
        if obs is not None:
            observations.append(obs)
    return observations, found


def observations_from_pushed(
    cpo_id: str, pushed: OcpiObject, ids: Ids, canonical: Canonical = _as_is
) -> tuple[list[Observation], list[str]]:
    """The statuses a PUT or PATCH carries: a Location's EVSEs, one EVSE's (its uid the URL's),
    none for a Connector (it has no status of its own)."""
    if isinstance(pushed, Location):
        return observations_from_location(cpo_id, pushed, canonical=canonical)
    if isinstance(pushed, Evse) and ids[1] is not None:
        evse = pushed.model_copy(update={"uid": ids[1]})
        obs = observation_from_evse(cpo_id, evse, "evse", canonical=canonical)
        return ([obs] if obs else []), []
    return [], []


class LocationStore:
    """The client-owned Locations pushed to us, for the Receiver ``GET``: one JSON blob per
    Location under ``ocpi/locations/{cpo_id}/{country_code}/{party_id}/``, cached in memory for
    ``fresh_seconds`` (another replica may have changed the blob since)."""

    def __init__(self, store: BlobStore, cached: int = 2_000, fresh_seconds: float = 10.0) -> None:
        self.store = store
        self.cached = cached  # a national network has tens of thousands of Locations
        self.fresh_seconds = fresh_seconds
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._locks = [asyncio.Lock() for _ in range(64)]  # striped: one per key would grow

    @staticmethod
    def key(cpo_id: str, party: tuple[str, str], location_id: str) -> str:
        return (
            f"{LOCATIONS_PREFIX}{cpo_id}/{party[0]}/{party[1]}/"
            f"{quote(ci(location_id), safe='')}.json"
        )

    async def get(self, key: str) -> dict[str, Any] | None:
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.fresh_seconds:
            self._cache.move_to_end(key)
            return cached[1]
        try:
            raw = await asyncio.to_thread(self.store.get, key)
        except BlobNotFound:
            return None
        location = json.loads(raw)
        self._keep(key, location)
        return location

    def _keep(self, key: str, location: dict[str, Any]) -> None:
        self._cache[key] = (time.monotonic(), location)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cached:
            self._cache.popitem(last=False)

    async def change(
        self, key: str, edit: Callable[[dict[str, Any] | None], dict[str, Any]]
    ) -> None:
        """Apply ``edit`` to the stored Location (None when there is none) and store the result."""
        async with self._locks[hash(key) % len(self._locks)]:
            current = await self.get(key)
            changed = edit(json.loads(json.dumps(current)) if current is not None else None)
            await asyncio.to_thread(self.store.put, key, json.dumps(changed).encode("utf-8"))
            self._keep(key, changed)


def _find(items: object, key: str, value: str) -> int | None:
    if not isinstance(items, list):
        return None
    return next(
        (
            i
            for i, item in enumerate(items)
            if isinstance(item, dict)
            and isinstance(item.get(key), str)
            and ci(item[key]) == ci(value)
        ),
        None,
    )


def _later(a: object, b: object) -> object:
    return max((v for v in (a, b) if isinstance(v, str)), default=a)


def apply_push(
    location: dict[str, Any] | None,
    method: str,
    ids: Ids,
    document: dict[str, Any],
    party: tuple[str, str],
) -> dict[str, Any]:
    """The stored Location after a PUT or PATCH of the Location, one of its EVSEs or a Connector."""
    location_id, evse_uid, connector_id = ids
    if evse_uid is None:
        if method == "PUT" or location is None:
            return {"country_code": party[0], "party_id": party[1], "id": location_id, **document}
        return {**location, **document}
    location = location or {
        "country_code": party[0],
        "party_id": party[1],
        "id": location_id,
        "evses": [],
    }
    evses = location.setdefault("evses", [])
    if not isinstance(evses, list):
        evses = location["evses"] = []
    index = _find(evses, "uid", evse_uid)
    evse = evses[index] if index is not None else {"uid": evse_uid}
    if connector_id is None:
        evse = {"uid": evse_uid, **document} if method == "PUT" else {**evse, **document}
    else:
        connectors = evse.setdefault("connectors", [])
        if not isinstance(connectors, list):
            connectors = evse["connectors"] = []
        at = _find(connectors, "id", connector_id)
        current = connectors[at] if at is not None else {"id": connector_id}
        new = {"id": connector_id, **document} if method == "PUT" else {**current, **document}
        if at is None:
            connectors.append(new)
        else:
            connectors[at] = new
        evse["last_updated"] = _later(evse.get("last_updated"), document.get("last_updated"))
    if index is None:
        evses.append(evse)
    else:
        evses[index] = evse
    location["last_updated"] = _later(location.get("last_updated"), document.get("last_updated"))
    return location


def select_object(
    location: dict[str, Any], evse_uid: str | None, connector_id: str | None
) -> dict[str, Any] | None:
    """The stored Location, EVSE or Connector a Receiver GET asks for."""
    if evse_uid is None:
        return location
    index = _find(location.get("evses"), "uid", evse_uid)
    if index is None:
        return None
    evse = location["evses"][index]
    if connector_id is None:
        return evse
    at = _find(evse.get("connectors"), "id", connector_id)
    return evse["connectors"][at] if at is not None else None
