"""The ``ocpp`` feed kind: charge points (or a CPO's gateway) connect to
``ws://HOST:PORT/ocpp/{charge_point_id}`` speaking OCPP 1.6J or 2.0.1 and we observe their status.

- Sub-protocols ``ocpp1.6`` and ``ocpp2.0.1`` (the charge point's first offer we speak wins).
- HTTP Basic auth on the upgrade (security profile 1/2): user = charge point id, password = the
  feed's secret, or the charge point's own secret when ``options.charge_point_secret_envs``
  names an environment variable for it. The password picks the feed, hence the CPO. A charge point
  that the static site CSVs list under another CPO, or that is not in the feed's
  ``options.charge_points`` list (when given), is refused (HTTP 403); bad credentials get 401.
- Observe only, and answer everything: every charge-point-initiated message of both versions gets
  a schema-valid CallResult and we send no Call. What is kept is the status: StatusNotification
  is an observation, Heartbeat a liveness signal for every EVSE of that charge point (at most
  every ``options.liveness_seconds``, default 5, per connection), and a
  transaction start (1.6 StartTransaction, 2.0.1 TransactionEvent ``Started`` with its EVSE) is an
  IN_USE observation (raw status OCCUPIED) unless the EVSE's last reported status already is in
  use. Nothing else is stored: no energy, meter values, id tags, transaction ids or vendor data;
  frames of those messages are quarantined (when invalid) and archived only with their payload
  replaced by the names of its fields.
- The platform is not the CPO's CSMS and authorises nothing: Authorize, StartTransaction and a
  TransactionEvent carrying an id token are answered "identifier unknown" (1.6 ``Invalid``, 2.0.1
  ``Unknown``: not allowed to charge), DataTransfer ``UnknownVendorId``, certificate requests
  ``Rejected``/``Failed``. A CPO should point its charge points at its own CSMS and have the CSMS
  forward (proxy or copy) their BootNotification, Heartbeat and StatusNotification traffic here; a
  charge point connected only to us cannot start a charge.
- Number 0 (1.6 ``connectorId`` / 2.0.1 ``evseId``) is the charge point's main controller, see
  ``ocpp_mapping``: Unavailable/Faulted covers every connector, Available never makes an
  unreported connector available. Other numbers name EVSEs through the static CSV columns
  ``ocpp_charge_point_id`` / ``ocpp_evse_id``, else ``{charge_point_id}/{n}`` (unmatched until
  the CPO lists it); a number outside ``0..9999`` is refused.
- No BootNotification: statuses and heartbeats are accepted anyway. A copy of a CPO's traffic
  (or a gateway reconnecting mid-session) need not repeat the boot, and dropping real statuses
  would lose data; the BootNotification carries nothing we store.
- Duplicate StatusNotifications are written like any observation; the store merges equal
  consecutive statuses into one run, so a duplicate only confirms it.
- Reconnects: a new connection of the same charge point replaces the old one (closed 1000); the
  per-charge-point connector state lives in the worker, so connector 0 keeps working.
- Clocks: see ``ocpp_mapping`` (missing → receipt time; no offset → UTC; >5 min ahead → receipt
  time; before 2000 or >24 h behind → refused). ``options.clock_future_minutes`` and
  ``options.clock_past_hours`` change the bounds per feed. A transaction start with an untrusted
  timestamp is still answered (a charge point must not hold its transaction queue for us); only its
  in-use observation is not stored, and that goes to quarantine with the reason.
- Errors (OCPP-J section 4.2.3): an unknown action gets ``NotImplemented``, a known action a
  charge point does not send (a CSMS-to-charge-point one) ``NotSupported``; a frame or payload
  that breaks the JSON schema (the ``ocpp`` library's official schemas), nests more than 20
  levels, or carries a number or timestamp we cannot store gets the matching code (1.6 spells it
  ``FormationViolation``; unique id ``-1`` when none can be read) and is quarantined with the
  reason the charge point was given. The connection stays up, always.
- The ``ocpp`` library is used through its public API only. Its ``ChargePoint`` (one subclass
  per version, ``ocpp_routes``) routes every call a charge point may send to an ``@on`` handler
  and sends the ``call_result`` it returns; its receive loop (``start()``) reads a
  ``Connection`` over the Starlette WebSocket, and its ``logger=`` is ``ocpp_routes.LibraryLog``
  (no frame payloads in our logs). What its router does not do the way OCPP-J and this feed
  need, the session does before a frame reaches it (``Session.screen``, with ``ocpp.messages``:
  ``unpack``, ``get_validator`` over the official schemas, ``CallError``): an unparsable, binary,
  oversized or too deeply nested frame is answered (the library would log it and answer
  nothing), an unknown action gets ``NotImplemented`` and a CSMS's action ``NotSupported`` (the
  library answers the other way round), schema errors get 1.6's spelling and no driver data in
  their description, and every refusal is quarantined. An unsolicited CallResult never reaches
  the library (it would queue it for a call we never made).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from ocpp.exceptions import (
    FormatViolationError,
    NotImplementedError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallError, get_validator, unpack
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from ingest_worker.auth import OcppRefused, charge_point_feed
from ingest_worker.feeds.config import FeedConfig, OcppFeedConfig, OcppOptions
from ingest_worker.feeds.ocpp_mapping import (
    ChargePointStatuses,
    ClockPolicy,
    EvseMap,
    Reporter,
    Untrusted,
    check_number,
    evses_of,
    observations_from_transaction_start,
)
from ingest_worker.feeds.ocpp_routes import OBSERVERS
from ingest_worker.pipeline import Ingest
from shared.blobstore import BlobStore
from shared.status import Observation

log = logging.getLogger("chargeatlarge.worker.ocpp")

SUBPROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
KNOWN_ACTIONS = {
    "1.6": frozenset(a.value for a in Action16),
    "2.0.1": frozenset(a.value for a in Action201),
}
MAX_FRAME_CHARS = 64 * 1024
MAX_NESTING = 20  # the deepest official payload (2.0.1 charging schedules) nests 8 levels
MAX_UNIQUE_ID = 36  # OCPP-J: the unique id is a string of at most 36 characters
CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{1,48}$")  # 2.0.1: identifierString[48]
UNIQUE_ID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,36})"')
SNIFF_ACTION = re.compile(r'^\s*\[\s*2\s*,\s*"[^"\\]{0,36}"\s*,\s*"([A-Za-z0-9]{1,60})"')
MAP_REFRESH_SECONDS = 60.0
# A heartbeat flood confirms a charge point's EVSEs at most this often (options.liveness_seconds).
LIVENESS_EVERY_SECONDS = 5.0
SOURCE = "ocpp"
# 1.6 spells two error codes its own way (sic, OCPP-J 1.6 section 4.2.3).
CODES_16 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}
CODES_201 = {v: k for k, v in CODES_16.items()}
# Frames of these actions are archived and quarantined verbatim; the payload of any other action
# may carry driver, energy or vendor data, so only its field names are kept.
STATUS_TRAFFIC = frozenset({"BootNotification", "Heartbeat", "StatusNotification"})

_denied: contextvars.ContextVar[bool] = contextvars.ContextVar("ocpp_denied", default=False)


def register(
    app: Starlette, feeds: list[FeedConfig], ingest: Ingest, store: BlobStore | None = None
) -> OcppFeed:
    """Add ``/ocpp/{charge_point_id}`` for the ``ocpp`` feeds to the worker's app."""
    feed = OcppFeed([f for f in feeds if f.kind == "ocpp"], ingest, store or ingest.blobs)
    app.router.add_websocket_route("/ocpp/{charge_point_id}", feed.endpoint)
    app.state.ocpp = feed
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DeniedHandshakeFilter) for f in server_log.filters):
        server_log.addFilter(DeniedHandshakeFilter())
    return feed


class DeniedHandshakeFilter(logging.Filter):
    """uvicorn's websockets-sansio protocol logs "ASGI callable returned without completing
    handshake" at ERROR after every correct denial response (it never marks the handshake done;
    Kludex/uvicorn#3138). Drop that one record, and only in the task of a connection we denied."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _denied.get()
            and str(record.msg).startswith("ASGI callable returned without completing")
        )


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
        for feed in feeds:  # a charge point's missing secret variable is named now, not later
            _charge_point_secrets(feed)
        self.batchers = {f.cpo_id: AcceptBatcher(ingest, f) for f in feeds}
        # 1.6 needs a transaction id in its answer; seconds since 2020 keep ids rising across
        # restarts and inside a signed 32-bit integer until 2088.
        self.transaction_ids = itertools.count(int(time.time()) - 1_577_836_800)

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
                f"{where}: no OCPP sub-protocol we speak in {offered[:5]};"
                " offer ocpp1.6 or ocpp2.0.1",
            )
            return
        try:
            feed = charge_point_feed(
                self.feeds, charge_point_id, websocket.headers.get("authorization")
            ).feed
        except OcppRefused as refused:
            await _deny(websocket, refused.status, refused.message, refused.headers)
            return
        mapping = await self.evse_map()
        listed = _options(feed).charge_points
        owners = mapping.owners.get(charge_point_id, set())
        if (owners and feed.cpo_id not in owners) or (
            listed is not None and charge_point_id not in listed
        ):
            reason = f"charge point {charge_point_id} is not one of {feed.cpo_id}'s charge points"
            try:
                await self.ingest.reject(
                    feed, source=SOURCE, location=where, reason=reason, payload=""
                )
            except Exception:  # logged; the charge point is refused all the same
                log.exception("OCPP %s: refusal of %s not recorded", feed.cpo_id, charge_point_id)
            await _deny(websocket, 403, f"{where}: {reason}")
            return
        await websocket.accept(subprotocol=chosen)
        key = (feed.cpo_id, charge_point_id)
        previous = self.connections.get(key)
        self.connections[key] = websocket
        if previous is not None:
            asyncio.ensure_future(_close_quietly(previous, "replaced by a new connection"))
        session = Session(charge_point_id, SUBPROTOCOLS[chosen], websocket, self, feed)
        log.info("OCPP %s: %s connected (%s)", feed.cpo_id, charge_point_id, chosen)
        try:
            await session.serve()
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


class Refused(Exception):
    """A frame answered with a CallError (and quarantined with the same reason)."""

    def __init__(self, error: OCPPError, unique_id: str = "-1", action: str | None = None) -> None:
        super().__init__(error.description)
        self.error, self.unique_id, self.action = error, unique_id, action

    def what(self) -> str:
        return f"{self.action or 'frame'} {self.unique_id}"


class Connection:
    """The connection the ``ocpp`` library's ChargePoint reads and writes: the Starlette
    WebSocket, where ``recv`` answers (and quarantines) every frame the library must not route
    itself (``Session.screen``) and hands it the rest."""

    def __init__(self, websocket: WebSocket, session: Session) -> None:
        self.websocket, self.session = websocket, session

    async def recv(self) -> str:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            frame = await self.session.screen(
                text if text is not None else message.get("bytes") or b""
            )
            if frame is not None:
                return frame

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)


class Session:
    """One charge point's connection: every frame gets its answer, in order. Frames a route
    answers reach the library's ChargePoint (``ocpp_routes``); the session keeps what they need
    (the feed, the charge point's state, the clock) and answers the frames that never get that
    far."""

    def __init__(
        self,
        charge_point_id: str,
        version: str,
        websocket: WebSocket,
        owner: OcppFeed,
        feed: FeedConfig,
    ) -> None:
        self.id, self.version, self.websocket = charge_point_id, version, websocket
        self.owner, self.feed = owner, feed
        options = _options(feed)
        self.policy = ClockPolicy(options.clock_future_minutes, options.clock_past_hours)
        self.heartbeat_seconds = options.heartbeat_seconds
        self.liveness_seconds = options.liveness_seconds or LIVENESS_EVERY_SECONDS
        self.statuses = owner.states.setdefault(
            (feed.cpo_id, charge_point_id), ChargePointStatuses()
        )
        self.raw = ""
        self.last_liveness = float("-inf")
        self.connection = Connection(websocket, self)
        self.charge_point = OBSERVERS[version](self)

    async def serve(self) -> None:
        """Until the charge point goes: the library's receive loop over ``Connection``."""
        await self.charge_point.start()

    async def screen(self, raw: str | bytes) -> str | None:
        """A frame the library may route, or None when it is answered (or, for an unsolicited
        CallResult/CallError, recorded) here. Never raises."""
        try:
            call = self._call(raw)
            if call is None:
                await self._quarantine(
                    raw, "unsolicited CallResult/CallError (the platform sends no calls)"
                )
                return None
            self._check(call)
        except Refused as refused:
            await self._quarantine(
                self._kept(raw, refused.action), self._reason(refused.error), refused.what()
            )
            code = self.wire_code(refused.error.code)
            reply = CallError(refused.unique_id, code, refused.error.description[:500], {})
        except Exception:  # logged (a bug of ours); the charge point is told and may retry
            log.exception("OCPP %s: %s frame not handled", self.feed.cpo_id, self.id)
            found = UNIQUE_ID.match(raw[:200]) if isinstance(raw, str) else None
            unique_id = found.group(1) if found else "-1"
            reply = CallError(unique_id, "InternalError", "not stored; send it again", {})
        else:
            # the archive keeps status traffic as received, anything else by its field names
            assert isinstance(raw, str)  # _call refuses binary frames
            self.raw = raw if call.action in STATUS_TRAFFIC else _redacted(call)
            return raw
        await self.websocket.send_text(reply.to_json())
        return None

    def wire_code(self, code: str) -> str:
        return (CODES_16 if self.version == "1.6" else CODES_201).get(code, code)

    def _reason(self, error: OCPPError) -> str:
        return f"{self.wire_code(error.code)}: {error.description}"[:1000]

    async def refused(self, error: OCPPError, unique_id: str, action: str) -> None:
        """A route refuses the frame it is answering: quarantine it with the charge point's
        reason (the library sends the CallError)."""
        await self._quarantine(self.raw, self._reason(error), f"{action} {unique_id}")

    def _call(self, raw: str | bytes) -> Call | None:
        """The frame as a Call whose payload may be validated, or None for an unsolicited reply."""
        if isinstance(raw, bytes):
            raise Refused(FormatViolationError(description="binary frame; OCPP-J frames are text"))
        found = UNIQUE_ID.match(raw[:200])
        sniffed = found.group(1) if found else "-1"
        if len(raw) > MAX_FRAME_CHARS:
            raise Refused(
                FormatViolationError(description=f"frame longer than {MAX_FRAME_CHARS} characters"),
                sniffed,
            )
        try:
            message = unpack(raw)
        except OCPPError as error:
            error.description = _cause(error)
            raise Refused(error, sniffed) from None
        except (ValueError, RecursionError) as exc:  # e.g. integers over 4,300 digits, deep nesting
            description = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
            raise Refused(FormatViolationError(description=description), sniffed) from None
        if not isinstance(message, Call):
            return None  # a CallResult or CallError: we never send a Call, so it answers nothing
        unique_id = message.unique_id
        if not isinstance(unique_id, str) or not 1 <= len(unique_id) <= MAX_UNIQUE_ID:
            raise Refused(
                FormatViolationError(
                    description=f"unique id must be a string of 1-{MAX_UNIQUE_ID} characters"
                )
            )
        if not isinstance(message.action, str):
            raise Refused(FormatViolationError(description="action must be a string"), unique_id)
        if not isinstance(message.payload, dict):
            raise Refused(
                FormatViolationError(description="payload is not a JSON object"),
                unique_id,
                message.action[:60],
            )
        if _deeper_than(message.payload, MAX_NESTING):
            raise Refused(
                FormatViolationError(description=f"payload nests more than {MAX_NESTING} levels"),
                unique_id,
                message.action[:60],
            )
        return message

    def _check(self, call: Call) -> None:
        """What the library's router would get wrong or not check: an unknown action is
        NotImplemented and a CSMS's action NotSupported (OCPP-J 4.2.3); the payload is valid by
        the official schema (our codes, and no driver data quoted); numbers are storable."""
        action, unique_id = call.action, call.unique_id
        if action not in KNOWN_ACTIONS[self.version]:
            raise Refused(
                NotImplementedError(
                    description=f"{action[:60]!r} is not an OCPP {self.version} action"
                ),
                unique_id,
                action[:60],
            )
        if action not in self.charge_point.route_map:
            raise Refused(
                NotSupportedError(
                    description=f"{action} is sent by a CSMS, not a charge point;"
                    " the platform only observes"
                ),
                unique_id,
                action,
            )
        problem = best_match(get_validator(2, action, self.version).iter_errors(call.payload))
        if problem is not None:
            raise Refused(_schema_error(problem, action in STATUS_TRAFFIC), unique_id, action)
        try:
            _check_numbers(call.payload)
        except ValueError as exc:
            raise Refused(
                PropertyConstraintViolationError(description=str(exc)), unique_id, action
            ) from None

    def _kept(self, raw: str | bytes, action: str | None) -> str | bytes:
        """What may be quarantined of a refused frame: only status traffic verbatim."""
        if isinstance(raw, str) and (action is None or action not in STATUS_TRAFFIC):
            found = SNIFF_ACTION.match(raw[:200])
            action = action or (found.group(1) if found else None)
            if action is not None and action not in STATUS_TRAFFIC:
                return (
                    f"[OCPP {action} frame of {len(raw)} characters,"
                    " not kept: it may carry driver data]"
                )
        return raw

    async def _quarantine(self, raw: str | bytes, reason: str, what: str = "frame") -> None:
        try:
            await self.owner.ingest.reject(
                self.feed,
                source=SOURCE,
                location=f"/ocpp/{self.id} {what}"[:200],
                reason=f"OCPP {self.version}: {reason}",
                payload=raw,
            )
        except Exception:  # logged; the charge point still gets its CallError
            log.exception("OCPP %s: %s refused frame not quarantined", self.feed.cpo_id, self.id)

    def received(self) -> datetime:
        return self.owner.clock()

    def reporter(self) -> Reporter:
        """This charge point for the plain functions of ``ocpp_mapping``, with today's mapping."""
        return Reporter(self.feed.cpo_id, self.id, self.owner.map, self.policy)

    async def heartbeat(self) -> datetime:
        """A liveness signal for the charge point's EVSEs (at most every ``liveness_seconds``);
        returns the instant it confirms them at."""
        now = self.received()
        clock = time.monotonic()
        if clock - self.last_liveness >= self.liveness_seconds:
            self.last_liveness = clock
            evse_uids = evses_of(self.reporter(), self.statuses)
            if evse_uids:
                await self.owner.ingest.liveness(self.feed, now, evse_uids)
        self.owner.ingest.mark_success(self.feed)
        return now

    async def store(self, observations: list[Observation]) -> None:
        """Durable before the route answers; concurrent charge points share one spool write."""
        if observations:
            await self.owner.batchers[self.feed.cpo_id].accept(observations, self.raw, self.id)

    async def transaction_started(
        self, number: int, connector: int | None, sent: object, action: str
    ) -> None:
        """A transaction start as an IN_USE observation (see the module docstring)."""
        try:
            observations = observations_from_transaction_start(
                self.reporter(),
                self.statuses,
                number=number,
                connector_id=connector,
                timestamp=sent,
                received=self.received(),
            )
        except Untrusted as exc:
            # The transaction itself is answered (a charge point must not hold its transaction
            # queue for our sake); only the in-use observation is not stored, and that is recorded.
            await self._quarantine(self.raw, f"no IN_USE observation stored: {exc}", action)
            return
        await self.store(observations)


def _check_numbers(payload: dict[str, Any]) -> None:
    """Connector and EVSE numbers anywhere we read them are small and not negative."""
    for name in ("connectorId", "evseId"):
        if name in payload:
            check_number(payload[name], name)
    evse = payload.get("evse")
    if isinstance(evse, dict):
        for name in ("id", "connectorId"):
            if name in evse:
                check_number(evse[name], f"evse.{name}")


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _schema_error(error: SchemaError, verbatim: bool) -> OCPPError:
    """The OCPP error for a schema violation (the ``ocpp`` library's mapping); the description
    quotes the offending value only for status traffic (other payloads may carry driver data)."""
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    if verbatim or error.validator in ("required", "additionalProperties"):
        description = f"{where}: {error.message}"
    else:
        description = f"{where}: fails {error.validator} {error.validator_value!r}"
    description = description[:500]
    if error.validator in ("type", "maxLength"):
        return TypeConstraintViolationError(description=description)
    if error.validator == "required":
        return ProtocolError(description=description)
    return FormatViolationError(description=description)


def _redacted(call: Call) -> str:
    """A frame with its payload replaced by its field names (for the archive and quarantine)."""
    return json.dumps([2, call.unique_id, call.action, {"fields": sorted(call.payload)}])


def _cause(error: OCPPError) -> str:
    cause = error.details.get("cause") if isinstance(error.details, dict) else None
    return (f"{error.description} ({cause})" if cause else error.description)[:500]


def _options(feed: FeedConfig) -> OcppOptions:
    return feed.options if isinstance(feed, OcppFeedConfig) else OcppOptions()


def _charge_point_secrets(feed: FeedConfig) -> dict[str, str]:
    """``options.charge_point_secret_envs = {charge_point_id = "ENV_NAME"}`` resolved: by
    ``load_feeds`` at start-up, else (a feed built in code) read here."""
    if not isinstance(feed, OcppFeedConfig):
        return {}
    return feed.charge_point_secrets or feed.read_charge_point_secrets()


def _load_map(store: BlobStore) -> EvseMap:
    from shared.sites import read_static_sites

    return EvseMap.from_connectors(read_static_sites(store).connectors)


async def _deny(
    websocket: WebSocket, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Refuse the upgrade with an HTTP status and a JSON body (or close 1008 where unsupported)."""
    log.info("OCPP refused (%s): %s", status, message)
    _denied.set(True)
    try:
        await websocket.send_denial_response(
            JSONResponse({"error": message}, status_code=status, headers=headers)
        )
    except RuntimeError:
        await websocket.close(code=1008, reason=message[:120])


async def _close_quietly(websocket: WebSocket, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=1000, reason=reason)
