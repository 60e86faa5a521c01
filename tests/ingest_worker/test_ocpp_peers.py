"""Charge points written by other people against the worker on loopback: the ``ocpp`` library
(PyPI) and ocpp-rpc (npm, strict mode, run with node) send every charge-point-initiated message
of OCPP 1.6J and 2.0.1. Every frame the worker sends is checked against the official JSON
schemas shipped in the ``ocpp`` package, statuses and transaction starts must land in SQL and
in the live snapshot, and no id tag, energy reading or vendor data may be stored anywhere."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import get_validator
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.feeds.config import FeedConfig
from shared import layout
from shared.blobstore import LocalBlobStore
from shared.db.engine import upgrade
from shared.settings import Settings
from tests.ingest_worker.conftest import quarantined, serve, stored_runs, wait_for

REPO = Path(__file__).resolve().parents[2]
OCPP_RPC = REPO / "node_modules" / "ocpp-rpc"
SECRET = "acme-ocpp-secret"
FEEDS = [FeedConfig(cpo_id="ACME", kind="ocpp", token_env="ACME_OCPP", secret=SECRET)]

# Values that must never be stored: an id tag / token, an energy reading, vendor data.
ID_TAG = "DRIVERTAG42"
ENERGY = "987654321"
VENDOR_DATA = "VENDORSECRET7"

# The charge-point-initiated messages (OCPP 1.6 edition 2 with the security extension; OCPP 2.0.1
# part 2, "Charging Station → CSMS"): each must get a CallResult.
CP_ACTIONS_16 = {
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
}
CP_ACTIONS_201 = {
    "Authorize",
    "BootNotification",
    "ClearedChargingLimit",
    "DataTransfer",
    "FirmwareStatusNotification",
    "Get15118EVCertificate",
    "GetCertificateStatus",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyReport",
    "PublishFirmwareStatusNotification",
    "ReportChargingProfiles",
    "ReservationStatusUpdate",
    "SecurityEventNotification",
    "SignCertificate",
    "StatusNotification",
    "TransactionEvent",
}


# Every status of each version, each on its own connector / EVSE (numbered from 11).
STATUSES_16 = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
STATUSES_201 = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")


def now_text(seconds: float = 0) -> str:
    instant = datetime.now(UTC) + timedelta(seconds=seconds)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def messages_16(now: str) -> list[tuple[str, dict[str, Any]]]:
    """Connector 1 reports Preparing then starts a transaction (already in use: nothing new);
    connector 2 starts one without any status (in use from the transaction)."""
    meter = [{"timestamp": now, "sampledValue": [{"value": ENERGY, "unit": "Wh"}]}]
    return [
        ("BootNotification", {"chargePointVendor": "Peer", "chargePointModel": "AC22"}),
        ("Heartbeat", {}),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}),
        ("Authorize", {"idTag": ID_TAG}),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": ID_TAG, "meterStart": 0, "timestamp": now},
        ),
        (
            "StartTransaction",
            {"connectorId": 2, "idTag": ID_TAG, "meterStart": 5, "timestamp": now},
        ),
        ("MeterValues", {"connectorId": 2, "transactionId": 7, "meterValue": meter}),
        (
            "StopTransaction",
            {"meterStop": int(ENERGY), "timestamp": now, "transactionId": 7, "idTag": ID_TAG},
        ),
        ("DataTransfer", {"vendorId": "com.example", "messageId": "m", "data": VENDOR_DATA}),
        ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
        ("FirmwareStatusNotification", {"status": "Installed"}),
        (
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": now, "techInfo": "boot"},
        ),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 1}),
        ("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
        ("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
        *(
            ("StatusNotification", {"connectorId": n, "errorCode": "NoError", "status": status})
            for n, status in enumerate(STATUSES_16, start=11)
        ),
    ]


def messages_201(now: str) -> list[tuple[str, dict[str, Any]]]:
    """EVSE 1 reports Available, then a transaction starts on it (in use from the transaction)."""
    before = now_text(-30)  # the status is older than the transaction (same instant: last wins)
    token = {"idToken": ID_TAG, "type": "ISO14443"}
    meter = [{"timestamp": now, "sampledValue": [{"value": float(ENERGY)}]}]
    schedule = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000.0}],
    }
    profile = {
        "id": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [schedule],
    }

    def transaction(event: str, seq: int) -> dict[str, Any]:
        return {
            "eventType": event,
            "timestamp": now,
            "triggerReason": "Authorized" if event == "Started" else "MeterValuePeriodic",
            "seqNo": seq,
            "transactionInfo": {"transactionId": "TX-1"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": token,
            "meterValue": meter,
        }

    return [
        (
            "BootNotification",
            {"chargingStation": {"model": "DC50", "vendorName": "Peer"}, "reason": "PowerUp"},
        ),
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {"timestamp": before, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        ),
        ("Authorize", {"idToken": token}),
        ("TransactionEvent", transaction("Started", 0)),
        ("TransactionEvent", transaction("Updated", 1)),
        ("TransactionEvent", transaction("Ended", 2)),
        ("MeterValues", {"evseId": 1, "meterValue": meter}),
        (
            "NotifyEvent",
            {
                "generatedAt": now,
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": now,
                        "trigger": "Alerting",
                        "actualValue": "true",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Problem"},
                    }
                ],
            },
        ),
        (
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": now, "techInfo": "boot"},
        ),
        ("FirmwareStatusNotification", {"status": "Installed"}),
        ("LogStatusNotification", {"status": "Uploaded"}),
        ("DataTransfer", {"vendorId": "com.example", "data": VENDOR_DATA}),
        ("ClearedChargingLimit", {"chargingLimitSource": "EMS"}),
        ("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS"}}),
        (
            "NotifyCustomerInformation",
            {"data": ID_TAG, "seqNo": 0, "generatedAt": now, "requestId": 1},
        ),
        ("NotifyDisplayMessages", {"requestId": 1}),
        (
            "NotifyEVChargingNeeds",
            {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_single_phase"}},
        ),
        ("NotifyEVChargingSchedule", {"timeBase": now, "evseId": 1, "chargingSchedule": schedule}),
        ("NotifyMonitoringReport", {"requestId": 1, "seqNo": 0, "generatedAt": now}),
        ("NotifyReport", {"requestId": 1, "seqNo": 0, "generatedAt": now}),
        ("PublishFirmwareStatusNotification", {"status": "Idle"}),
        (
            "ReportChargingProfiles",
            {
                "requestId": 1,
                "chargingLimitSource": "CSO",
                "evseId": 1,
                "chargingProfile": [profile],
            },
        ),
        ("ReservationStatusUpdate", {"reservationId": 1, "reservationUpdateStatus": "Expired"}),
        (
            "Get15118EVCertificate",
            {
                "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                "action": "Install",
                "exiRequest": "AAAA",
            },
        ),
        (
            "GetCertificateStatus",
            {
                "ocspRequestData": {
                    "hashAlgorithm": "SHA256",
                    "issuerNameHash": "a1",
                    "issuerKeyHash": "b2",
                    "serialNumber": "c3",
                    "responderURL": "http://ocsp.example",
                }
            },
        ),
        ("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
        *(
            (
                "StatusNotification",
                {"timestamp": now, "connectorStatus": status, "evseId": n, "connectorId": 1},
            )
            for n, status in enumerate(STATUSES_201, start=11)
        ),
    ]


# What the scenarios above must leave: (evse_uid, status) runs per charge point.
EXPECTED_16 = sorted(
    [("/1", "PREPARING"), ("/2", "OCCUPIED")]
    + [(f"/{n}", s.upper()) for n, s in enumerate(STATUSES_16, start=11)],
    key=lambda row: row[0],
)
EXPECTED_201 = sorted(
    [("/1", "AVAILABLE"), ("/1", "OCCUPIED")]
    + [(f"/{n}", s.upper()) for n, s in enumerate(STATUSES_201, start=11)],
    key=lambda row: row[0],
)
# The answers that say the platform authorises nothing.
EXPECTED_ANSWERS_16 = {
    "Authorize": {"idTagInfo": {"status": "Invalid"}},
    "DataTransfer": {"status": "UnknownVendorId"},
    "SignCertificate": {"status": "Rejected"},
}
EXPECTED_ANSWERS_201 = {
    "Authorize": {"idTokenInfo": {"status": "Unknown"}},
    "TransactionEvent": {"idTokenInfo": {"status": "Unknown"}},
}


@pytest.fixture
def peer_worker(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    upgrade(settings.database_url)
    app = create_app(settings, FEEDS, WorkerOptions(snapshot_seconds=0.2))
    with serve(app) as url:
        yield url.replace("http://", "ws://"), settings


def check_answers(
    version: str, sent: list[tuple[str, str, dict[str, Any]]], frames: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every frame we received is a CallResult to one of our calls and valid by the official
    schema of that call's response; returns the answers by action."""
    actions = {unique_id: action for unique_id, action, _ in sent}
    answers: dict[str, list[dict[str, Any]]] = {}
    for text in frames:
        frame = json.loads(text)
        assert frame[0] == 3, f"not a CallResult: {text[:300]}"
        action = actions.pop(frame[1])
        get_validator(3, action, version).validate(frame[2])
        answers.setdefault(action, []).append(frame[2])
    assert actions == {}, f"unanswered: {actions}"
    return answers


def check_stored(
    settings: Settings,
    charge_point_id: str,
    expected: list[tuple[str, str]],
    quarantine_codes: tuple[str, ...] = (),
) -> None:
    """The runs in SQL, the live snapshot, the quarantine, and nothing of the drivers anywhere
    on disk."""
    rows = [(f"{charge_point_id}{suffix}", status) for suffix, status in expected]
    wait_for(
        lambda: (
            [(e, s) for c, e, s in stored_runs(settings) if e.startswith(charge_point_id + "/")]
            == rows
        ),
        20,
    )
    store = LocalBlobStore(settings.blob_dir)

    def snapshot() -> set[tuple[str, str]]:
        if not store.info(layout.LIVE_STATUS):
            return set()
        table = pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS))).to_pylist()
        return {(r["evse_uid"], r["status"]) for r in table}

    latest = {}
    for evse_uid, status in rows:
        latest[evse_uid] = status  # the snapshot holds each EVSE's last status
    wait_for(lambda: set(latest.items()) <= snapshot(), 20)
    codes = [reason.split(":")[1].strip() for *_, reason in quarantined(settings)]
    assert codes == list(quarantine_codes)
    text = wait_for(
        lambda: (
            "StatusNotification" in stored_text(settings.data_dir)
            and stored_text(settings.data_dir)
        ),
        20,
    )
    for secret in (ID_TAG, ENERGY, VENDOR_DATA):
        assert secret not in text, f"{secret} was stored"


def stored_text(root: Path) -> str:
    """Everything the worker wrote (database, spool, archive, snapshot), gzip members opened."""
    parts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a temporary file renamed into place meanwhile
            continue
        if data[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):  # one being written is read as is
                data = gzip.decompress(data)
        parts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


class Recording:
    """A client connection that keeps every frame the worker sends."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.frames = ws, []

    async def recv(self) -> str:
        frame = await self.ws.recv()
        self.frames.append(frame)
        return frame

    async def send(self, frame: str) -> None:
        await self.ws.send(frame)


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{SECRET}".encode()).decode()}


async def run_ocpp_library(
    url: str, charge_point_id: str, version: str, messages: list[tuple[str, dict[str, Any]]]
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    protocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    calls = call16 if version == "1.6" else call201
    client_class: Callable[..., Any] = Client16 if version == "1.6" else Client201
    async with connect(
        f"{url}/ocpp/{charge_point_id}",
        subprotocols=[protocol],
        additional_headers=basic(charge_point_id),
    ) as ws:
        recording = Recording(ws)
        cp = client_class(charge_point_id, recording, response_timeout=30)
        task = asyncio.create_task(cp.start())
        sent = []
        try:
            for n, (action, payload) in enumerate(messages):
                unique_id = f"{action[:20]}-{n}"
                request = getattr(calls, action)(**camel_to_snake_case(payload))
                # the library validates our answer against its schema and raises if it is not
                await cp.call(request, suppress=False, unique_id=unique_id)
                sent.append((unique_id, action, payload))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return sent, recording.frames


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_ocpp_library_as_a_charge_point_sends_every_message(peer_worker, version: str) -> None:  # type: ignore[no-untyped-def]
    url, settings = peer_worker
    charge_point_id = f"LIB{version.replace('.', '')}"
    messages = (messages_16 if version == "1.6" else messages_201)(now_text())
    assert {a for a, _ in messages} == (CP_ACTIONS_16 if version == "1.6" else CP_ACTIONS_201)
    sent, frames = asyncio.run(run_ocpp_library(url, charge_point_id, version, messages))
    answers = check_answers(version, sent, frames)
    expected_answers = EXPECTED_ANSWERS_16 if version == "1.6" else EXPECTED_ANSWERS_201
    for action, answer in expected_answers.items():
        assert all(a == answer for a in answers[action]), (action, answers[action])
    if version == "1.6":
        assert all(a["idTagInfo"] == {"status": "Invalid"} for a in answers["StartTransaction"])
        first, second = (a["transactionId"] for a in answers["StartTransaction"])
        assert second == first + 1
    check_stored(settings, charge_point_id, EXPECTED_16 if version == "1.6" else EXPECTED_201)


NODE_PEER = r"""
const { RPCClient } = require(process.env.OCPP_RPC);
const cfg = JSON.parse(process.env.PEER_CONFIG);
(async () => {
    const frames = [], failures = [], results = [];
    const cli = new RPCClient({
        endpoint: cfg.endpoint, identity: cfg.identity, password: cfg.password,
        protocols: [cfg.protocol], strictMode: true, reconnect: false, callTimeoutMs: 30000,
    });
    cli.on('message', ({message, outbound}) => { if (!outbound) frames.push(message.toString()); });
    cli.on('strictValidationFailure', (e) => failures.push(
        {method: e.method, outbound: e.outbound, error: String(e.error && e.error.message)}));
    await cli.connect();
    for (const [method, params] of cfg.calls) {
        try {
            results.push({method, ok: true, result: await cli.call(method, params)});
        } catch (err) {
            results.push({method, ok: false, code: err.rpcErrorCode || null, message: String(err.message)});
        }
    }
    await cli.close({code: 1000});
    process.stdout.write(JSON.stringify({protocol: cli.protocol, frames, failures, results}));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
"""


def run_ocpp_rpc(
    tmp_path: Path,
    url: str,
    charge_point_id: str,
    version: str,
    calls: list[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    script = tmp_path / "peer.js"
    script.write_text(NODE_PEER)
    config = {
        "endpoint": f"{url}/ocpp",
        "identity": charge_point_id,
        "password": SECRET,
        "protocol": "ocpp1.6" if version == "1.6" else "ocpp2.0.1",
        "calls": calls,
    }
    env = {**os.environ, "OCPP_RPC": str(OCPP_RPC), "PEER_CONFIG": json.dumps(config)}
    done = subprocess.run(
        [shutil.which("node") or "node", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


needs_ocpp_rpc = pytest.mark.skipif(
    shutil.which("node") is None or not (OCPP_RPC / "package.json").exists(),
    reason="needs node and node_modules/ocpp-rpc (make setup runs npm ci)",
)


@needs_ocpp_rpc
@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_ocpp_rpc_in_strict_mode_sends_every_message(
    peer_worker, tmp_path: Path, version: str
) -> None:  # type: ignore[no-untyped-def]
    url, settings = peer_worker
    charge_point_id = f"RPC{version.replace('.', '')}"
    messages = (messages_16 if version == "1.6" else messages_201)(now_text())
    # a CSMS's own action, valid by the schema, is known but not supported by an observer
    csms_action = (
        ("Reset", {"type": "Hard"})
        if version == "1.6"
        else (
            "GetVariables",
            {"getVariableData": [{"component": {"name": "EVSE"}, "variable": {"name": "Power"}}]},
        )
    )
    out = run_ocpp_rpc(tmp_path, url, charge_point_id, version, [*messages, csms_action])
    assert out["protocol"] == ("ocpp1.6" if version == "1.6" else "ocpp2.0.1")
    assert out["failures"] == []  # strict mode found every answer valid by its own schemas
    results = out["results"]
    assert [r["method"] for r in results] == [m for m, _ in messages] + [csms_action[0]]
    assert all(r["ok"] for r in results[:-1]), [r for r in results if not r["ok"]]
    assert results[-1]["ok"] is False and results[-1]["code"] == "NotSupported"
    expected_answers = EXPECTED_ANSWERS_16 if version == "1.6" else EXPECTED_ANSWERS_201
    for r in results[:-1]:
        if r["method"] in expected_answers:
            assert r["result"] == expected_answers[r["method"]]
    # the same answers by the ``ocpp`` package's official schemas
    answers = [json.loads(f) for f in out["frames"]]
    assert [a[0] for a in answers] == [3] * len(messages) + [4]
    for (action, _), answer in zip(messages, answers, strict=False):
        get_validator(3, action, version).validate(answer[2])
    wait_for(lambda: quarantined(settings))
    expected = EXPECTED_16 if version == "1.6" else EXPECTED_201
    check_stored(settings, charge_point_id, expected, ("NotSupported",))
