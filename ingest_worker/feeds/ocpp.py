"""The ``ocpp`` feed kind: charge points (or a CPO's gateway) connect to
``ws://HOST:PORT/ocpp/{charge_point_id}`` speaking OCPP 1.6J or 2.0.1 and we observe their status.

- Sub-protocols ``ocpp1.6`` and ``ocpp2.0.1`` (the charge point's first offer we speak wins).
- HTTP Basic auth on the upgrade (security profile 1/2): user = charge point id, password = the
  feed's secret, or the charge point's own secret when ``options.charge_point_secret_envs``
  names an environment variable for it. The password picks the feed, hence the CPO. A charge point
  that the static site CSVs list under another CPO, or that is not in the feed's
  ``options.charge_points`` list (when given), is refused (HTTP 403); bad credentials get 401.
- Observe only: we answer BootNotification (Accepted), Heartbeat and StatusNotification and send
  no commands. Other valid actions get the library's NotImplemented CallError (not quarantined).
- Heartbeat is a liveness signal for every EVSE of that charge point. StatusNotification is an
  observation: 1.6 ``connectorId`` / 2.0.1 ``evseId`` (connectors combined, see
  ``ocpp_mapping``) names the EVSE through the static CSV columns ``ocpp_charge_point_id`` /
  ``ocpp_evse_id``, else ``{charge_point_id}/{n}`` (unmatched until the CPO lists it). Number 0
  is the whole charge point: Faulted/Unavailable take every connector down, Available gives each
  its own status back (with no connector known yet, it changes nothing).
- No BootNotification: statuses and heartbeats are accepted anyway. A copy of a CPO's traffic
  (or a gateway reconnecting mid-session) need not repeat the boot, and dropping real statuses
  would lose data; the BootNotification carries nothing we store.
- Duplicate StatusNotifications are written like any observation; the store merges equal
  consecutive statuses into one run, so a duplicate only confirms it.
- Reconnects: a new connection of the same charge point replaces the old one (closed 1000); the
  per-charge-point connector state lives in the worker, so connector 0 keeps working.
- Clocks: see ``ocpp_mapping`` (missing → receipt time; >5 min ahead → receipt time; >24 h
  behind → acknowledged and quarantined). ``options.clock_future_minutes`` and
  ``options.clock_past_hours`` change the bounds per feed.
- Every message is validated against the library's JSON schemas. An invalid frame or payload
  gets the protocol's CallError (unique id ``-1`` when none can be read) and is quarantined;
  the connection stays up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ocpp.messages
from ocpp.exceptions import (
    FormatViolationError,
    OCPPError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplemented,
)
from ocpp.messages import Call, CallError, unpack
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from ingest_worker.feeds.ocpp_mapping import (
    ChargePointStatuses,
    ClockPolicy,
    EvseMap,
    TooOld,
    observed_at,
)
from ingest_worker.feeds_config import FeedConfig, read_secret
from ingest_worker.pipeline import Ingest
from shared.blobstore import BlobStore
from shared.status import InvalidObservation, Observation, parse_instant

log = logging.getLogger("chargeatlarge.worker.ocpp")

# A few hundred bytes of JSON per frame: validating inline is cheaper than the library's thread hop.
ocpp.messages.ASYNC_VALIDATION = False

SUBPROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
MAX_CHARGE_POINT_ID = 48  # OCPP 2.0.1 identity: identifierString[48]
MAX_FRAME_CHARS = 64 * 1024
CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")
UNIQUE_ID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,36})"')
MAP_REFRESH_SECONDS = 60.0
SOURCE = "ocpp"
# 1.6 spells two error codes its own way (sic, OCPP-J 1.6 section 4.2.3).
CODES_16 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}


def register(
    app: Starlette, feeds: list[FeedConfig], ingest: Ingest, store: BlobStore | None = None
) -> OcppFeed:
    """Add ``/ocpp/{charge_point_id}`` for the ``ocpp`` feeds to the worker's app."""
    feed = OcppFeed([f for f in feeds if f.kind == "ocpp"], ingest, store or ingest.blobs)
    app.router.add_websocket_route("/ocpp/{charge_point_id}", feed.endpoint)
    app.state.ocpp = feed
    return feed


class OcppFeed:
    """Routing, authentication and per-charge-point state shared by all OCPP connections."""

    def __init__(
        self,
        feeds: list[FeedConfig],
        ingest: Ingest,
        store: BlobStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.feeds = feeds
        self.ingest = ingest
        self.store = store
        self.clock = clock
        self.map = EvseMap()
        self._map_loaded_at: float | None = None
        self._map_lock = asyncio.Lock()
        self.states: dict[tuple[str, str], ChargePointStatuses] = {}
        self.connections: dict[tuple[str, str], WebSocket] = {}
        self.secrets = {f.cpo_id: _charge_point_secrets(f) for f in feeds}
        self.batchers = {f.cpo_id: AcceptBatcher(ingest, f) for f in feeds}

    async def evse_map(self) -> EvseMap:
        """The static-site mapping, re-read at most every minute (on a new connection)."""
        loop = asyncio.get_running_loop()
        async with self._map_lock:
            stale = (
                self._map_loaded_at is None
                or loop.time() - self._map_loaded_at > MAP_REFRESH_SECONDS
            )
            if stale:
                try:
                    self.map = await asyncio.to_thread(_load_map, self.store)
                except Exception as exc:  # noqa: BLE001 - keep the last mapping if the store fails
                    log.warning("OCPP: static sites not read, keeping the last mapping: %s", exc)
                self._map_loaded_at = loop.time()
        return self.map

    def feed_for(self, charge_point_id: str, password: str) -> FeedConfig | None:
        """The feed whose secret (or this charge point's own secret) is ``password``."""
        found = None
        for feed in self.feeds:
            secret = self.secrets[feed.cpo_id].get(charge_point_id, feed.secret)
            if hmac.compare_digest(secret.encode(), password.encode()):
                found = feed
        return found

    async def endpoint(self, websocket: WebSocket) -> None:
        charge_point_id = websocket.path_params["charge_point_id"]
        where = f"/ocpp/{charge_point_id[:60]}"
        if not CHARGE_POINT_ID.match(charge_point_id):
            await _deny(
                websocket, 400, f"{where}: charge point id must be 1-48 of A-Z a-z 0-9 *-_=:+|@."
            )
            return
        offered = list(websocket.scope.get("subprotocols") or [])
        chosen = next((p for p in offered if p in SUBPROTOCOLS), None)
        if chosen is None:
            await _deny(
                websocket,
                400,
                f"{where}: no OCPP sub-protocol we speak in {offered[:5]}; offer ocpp1.6 or ocpp2.0.1",
            )
            return
        credentials = _basic_credentials(websocket.headers.get("authorization"))
        if credentials is None or credentials[0] != charge_point_id:
            await _deny(
                websocket,
                401,
                f"{where}: HTTP Basic auth required, user = the charge point id",
                {"WWW-Authenticate": 'Basic realm="Charge@Large OCPP"'},
            )
            return
        feed = self.feed_for(charge_point_id, credentials[1])
        if feed is None:
            await _deny(
                websocket,
                401,
                f"{where}: wrong password for charge point {charge_point_id}",
                {"WWW-Authenticate": 'Basic realm="Charge@Large OCPP"'},
            )
            return
        mapping = await self.evse_map()
        listed = feed.options.get("charge_points")
        owners = mapping.owners.get(charge_point_id, set())
        if (owners and feed.cpo_id not in owners) or (
            isinstance(listed, list) and charge_point_id not in listed
        ):
            reason = f"charge point {charge_point_id} is not one of {feed.cpo_id}'s charge points"
            await self.ingest.reject(feed, source=SOURCE, location=where, reason=reason, payload="")
            await _deny(websocket, 403, f"{where}: {reason}")
            return
        await websocket.accept(subprotocol=chosen)
        key = (feed.cpo_id, charge_point_id)
        previous = self.connections.get(key)
        self.connections[key] = websocket
        if previous is not None:
            asyncio.ensure_future(_close_quietly(previous, "replaced by a new connection"))
        session_class = Session16 if SUBPROTOCOLS[chosen] == "1.6" else Session201
        session = session_class(charge_point_id, WebSocketConnection(websocket), self, feed)
        log.info("OCPP %s: %s connected (%s)", feed.cpo_id, charge_point_id, chosen)
        try:
            await session.start()
        except WebSocketDisconnect:
            pass
        except (RuntimeError, OSError) as exc:  # the peer vanished while we answered
            log.info("OCPP %s: %s connection lost: %s", feed.cpo_id, charge_point_id, exc)
        finally:
            if self.connections.get(key) is websocket:
                del self.connections[key]
            log.info("OCPP %s: %s disconnected", feed.cpo_id, charge_point_id)


class AcceptBatcher:
    """Coalesces the StatusNotifications of one feed that arrive while a spool write is under
    way into the next single ``accept`` (one durable write for many charge points); each
    charge point still gets its answer only once its own observations are durable."""

    def __init__(self, ingest: Ingest, feed: FeedConfig) -> None:
        self.ingest, self.feed = ingest, feed
        self.pending: list[tuple[list[Observation], str, str, asyncio.Future[None]]] = []
        self.flushing = False

    async def accept(self, observations: list[Observation], raw: str, charge_point_id: str) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((observations, raw, charge_point_id, done))
        if not self.flushing:
            self.flushing = True
            asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                if len(batch) == 1:
                    raw, sender = batch[0][1], f"ocpp:{batch[0][2]}"
                else:  # the archive keeps each frame with its charge point, one JSON line each
                    raw = "\n".join(
                        json.dumps({"charge_point_id": cp, "frame": frame})
                        for _, frame, cp, _ in batch
                    )
                    sender = f"ocpp:{len(batch)} charge points"
                observations = [o for obs, *_ in batch for o in obs]
                try:
                    await self.ingest.accept(self.feed, observations, raw=raw, sender=sender)
                except Exception as exc:  # noqa: BLE001 - each waiting handler answers InternalError
                    for *_, done in batch:
                        if not done.done():  # a closed connection stopped waiting
                            done.set_exception(exc)
                    continue
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self.flushing = False


class WebSocketConnection:
    """What the ``ocpp`` library needs of a connection (async ``recv``/``send``), on Starlette."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def recv(self) -> str | bytes:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)


class ObservingSession:
    """Shared behaviour of the 1.6 and 2.0.1 sessions: framing errors, quarantine, observations."""

    _ocpp_version: str
    id: str

    def __init__(
        self,
        charge_point_id: str,
        connection: WebSocketConnection,
        owner: OcppFeed,
        feed: FeedConfig,
    ) -> None:
        super().__init__(charge_point_id, connection)  # type: ignore[call-arg]
        self.owner = owner
        self.feed = feed
        self.raw = ""
        options = feed.options
        self.policy = ClockPolicy(
            float(options.get("clock_future_minutes", 5)),
            float(options.get("clock_past_hours", 24)),
        )
        self.heartbeat_seconds = int(options.get("heartbeat_seconds", 60))
        key = (feed.cpo_id, charge_point_id)
        self.statuses = owner.states.setdefault(key, ChargePointStatuses())

    async def start(self) -> None:
        # The library's loop logs every frame at INFO; thousands of charge points make that noise.
        while True:
            await self.route_message(await self._connection.recv())  # type: ignore[attr-defined]

    async def route_message(self, raw_msg: str | bytes) -> None:
        if isinstance(raw_msg, bytes):
            await self._frame_error(
                raw_msg, FormatViolationError(description="binary frame; OCPP-J frames are text")
            )
            return
        if len(raw_msg) > MAX_FRAME_CHARS:
            await self._frame_error(
                raw_msg,
                FormatViolationError(description=f"frame longer than {MAX_FRAME_CHARS} characters"),
            )
            return
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            await self._frame_error(raw_msg, error)
            return
        if not isinstance(message, Call):
            # We never send a Call, so a CallResult or CallError answers nothing of ours.
            await self._quarantine(
                raw_msg, "unsolicited CallResult/CallError (the platform sends no calls)"
            )
            return
        if not isinstance(message.payload, dict):
            await self._frame_error(
                raw_msg, FormatViolationError(description="payload is not a JSON object")
            )
            return
        self.raw = raw_msg
        try:
            await self._handle_call(message)  # type: ignore[attr-defined]
        except OCPPError as error:
            if not isinstance(error, OcppNotImplemented):
                await self._quarantine(
                    raw_msg, _describe(error), f"{message.action} {message.unique_id}"
                )
            await self._send_error(message.unique_id, error)

    async def _frame_error(self, raw: str | bytes, error: OCPPError) -> None:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        found = UNIQUE_ID.match(text[:200])
        await self._quarantine(raw, _describe(error))
        await self._send_error(found.group(1) if found else "-1", error)

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        code = error.code
        if self._ocpp_version == "1.6":
            code = CODES_16.get(code, code)
        elif code == "FormationViolation":
            code = "FormatViolation"
        details = (
            {"cause": str(error.details.get("cause", ""))[:300]}
            if isinstance(error.details, dict)
            else {}
        )
        await self._send(CallError(unique_id, code, error.description or "", details).to_json())  # type: ignore[attr-defined]

    async def _quarantine(self, raw: str | bytes, reason: str, what: str = "frame") -> None:
        await self.owner.ingest.reject(
            self.feed,
            source=SOURCE,
            location=f"/ocpp/{self.id} {what}"[:200],
            reason=f"OCPP {self._ocpp_version}: {reason}",
            payload=raw,
        )

    def received(self) -> datetime:
        return self.owner.clock()

    async def heartbeat(self) -> datetime:
        now = self.received()
        known = self.owner.map.numbers(self.feed.cpo_id, self.id)
        evse_uids = sorted(
            {
                self.owner.map.evse_uid(self.feed.cpo_id, self.id, n)
                for n in self.statuses.numbers(known)
            }
        )
        if evse_uids:
            await self.owner.ingest.liveness(self.feed, now, evse_uids)
        self.owner.ingest.mark_success(self.feed)
        return now

    async def status(
        self, changes: list[tuple[int, str]], sent: str | None, connector: int | None
    ) -> None:
        """Store the EVSE statuses a StatusNotification changed, under the clock policy."""
        received = self.received()
        try:
            instant = observed_at(
                parse_instant(sent, "timestamp") if sent else None, received, self.policy
            )
        except (TooOld, InvalidObservation) as exc:
            await self._quarantine(self.raw, str(exc), "StatusNotification")
            return
        cpo_id = self.feed.cpo_id
        observations = []
        for number, status in changes:
            evse_uid = self.owner.map.evse_uid(cpo_id, self.id, number)
            try:
                observations.append(
                    Observation.parse(
                        cpo_id=cpo_id,
                        evse_uid=evse_uid,
                        status=status,
                        observed_at=instant,
                        connector_id=connector if number and connector else None,
                    )
                )
            except InvalidObservation as exc:
                await self._quarantine(self.raw, str(exc), "StatusNotification")
        if observations:
            await self.owner.batchers[self.feed.cpo_id].accept(observations, self.raw, self.id)


def _now_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Session16(ObservingSession, ChargePoint16):
    @on("BootNotification")
    async def on_boot_notification(self, **_: Any) -> result16.BootNotification:
        return result16.BootNotification(
            current_time=_now_text(self.received()),
            interval=self.heartbeat_seconds,
            status="Accepted",
        )

    @on("Heartbeat")
    async def on_heartbeat(self, **_: Any) -> result16.Heartbeat:
        return result16.Heartbeat(current_time=_now_text(await self.heartbeat()))

    @on("StatusNotification")
    async def on_status_notification(
        self, connector_id: int, status: str, timestamp: str | None = None, **_: Any
    ) -> result16.StatusNotification:
        known = self.owner.map.numbers(self.feed.cpo_id, self.id)
        await self.status(self.statuses.report(connector_id, status, known), timestamp, None)
        return result16.StatusNotification()


class Session201(ObservingSession, ChargePoint201):
    @on("BootNotification")
    async def on_boot_notification(self, **_: Any) -> result201.BootNotification:
        return result201.BootNotification(
            current_time=_now_text(self.received()),
            interval=self.heartbeat_seconds,
            status="Accepted",
        )

    @on("Heartbeat")
    async def on_heartbeat(self, **_: Any) -> result201.Heartbeat:
        return result201.Heartbeat(current_time=_now_text(await self.heartbeat()))

    @on("StatusNotification")
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> result201.StatusNotification:
        known = self.owner.map.numbers(self.feed.cpo_id, self.id)
        changes = self.statuses.report_connector(evse_id, connector_id, connector_status, known)
        await self.status(changes, timestamp, connector_id if evse_id else None)
        return result201.StatusNotification()


def _describe(error: OCPPError) -> str:
    cause = error.details.get("cause") if isinstance(error.details, dict) else None
    text = f"{error.code}: {error.description}" + (f" ({cause})" if cause else "")
    return text[:1000]


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and password else None


def _charge_point_secrets(feed: FeedConfig) -> dict[str, str]:
    """``options.charge_point_secret_envs = {charge_point_id = "ENV_NAME"}`` resolved (env only)."""
    names = feed.options.get("charge_point_secret_envs") or {}
    if not isinstance(names, dict):
        raise ValueError(f"feed {feed.name}: options.charge_point_secret_envs must be a table")
    secrets = {}
    for charge_point_id, env in names.items():
        value = read_secret(str(env))
        if value is None:
            raise ValueError(
                f"feed {feed.name}: the secret variable {env} of charge point {charge_point_id} is not set"
            )
        secrets[str(charge_point_id)] = value
    return secrets


def _load_map(store: BlobStore) -> EvseMap:
    from shared.sites import read_static_sites

    return EvseMap.from_connectors(read_static_sites(store).connectors)


async def _deny(
    websocket: WebSocket, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Refuse the upgrade with an HTTP status and a JSON body (or close 1008 where unsupported)."""
    log.info("OCPP refused (%s): %s", status, message)
    try:
        await websocket.send_denial_response(
            JSONResponse({"error": message}, status_code=status, headers=headers)
        )
    except RuntimeError:
        await websocket.close(code=1008, reason=message[:120])


async def _close_quietly(websocket: WebSocket, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=1000, reason=reason)
