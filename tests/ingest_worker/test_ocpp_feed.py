"""Real OCPP 1.6J and 2.0.1 charge points (the ``ocpp`` library over ``websockets``) against the
worker on loopback: boot, heartbeats, statuses, auth, another CPO's charge point, malformed
frames, reconnects and the clock policy."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import websockets
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call as call201
from ocpp.v201 import datatypes as types201
from sqlalchemy import select
from websockets.asyncio.client import connect

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.feeds.config import FeedConfig
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import quarantine, status_run
from shared.settings import Settings
from shared.sites import write_sites_csv
from tests.ingest_worker.conftest import quarantined, query_rows, serve, wait_for

FEEDS = [
    FeedConfig(cpo_id="ACME", kind="ocpp", token_env="ACME_OCPP", secret="acme-ocpp-secret"),
    FeedConfig(
        cpo_id="OTHER",
        kind="ocpp",
        token_env="OTHER_OCPP",
        secret="other-ocpp-secret",
        options={"charge_points": ["OTHER-CP1", "OTHER-CP2"]},
    ),
]


def site_row(cpo_id: str, evse_uid: str, charge_point_id: str, number: int) -> dict[str, object]:
    return {
        "cpo_id": cpo_id,
        "site_id": "S1",
        "site_name": "Goulburn Highway Stop",
        "address": "1 Hume St",
        "suburb": "Goulburn",
        "state": "NSW",
        "postcode": "2580",
        "latitude": -34.754,
        "longitude": 149.718,
        "charger_id": charge_point_id,
        "evse_uid": evse_uid,
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "power_type": "AC_3_PHASE",
        "max_power_kw": 22,
        "ocpp_charge_point_id": charge_point_id,
        "ocpp_evse_id": number,
    }


@pytest.fixture
def ocpp_worker(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    upgrade(settings.database_url)
    store = LocalBlobStore(settings.blob_dir)
    store.put(
        "static/sites/ocpp.csv",
        write_sites_csv(
            [
                site_row("ACME", "AU*ACM*E1", "CP16", 1),
                site_row("ACME", "AU*ACM*E3", "CP16", 3),
                site_row("ACME", "AU*ACM*E7", "CP201", 1),
                site_row("OTHER", "AU*OTH*E1", "OTHER-CP1", 1),
            ]
        ),
    )
    app = create_app(settings, FEEDS, WorkerOptions(snapshot_seconds=0.2), store=store)
    with serve(app) as url:
        yield url.replace("http://", "ws://"), settings


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def runs(settings: Settings) -> list[tuple[str, str, str]]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            query = select(status_run.c.cpo_id, status_run.c.evse_uid, status_run.c.status)
            return [
                tuple(r)
                for r in connection.execute(
                    query.order_by(
                        status_run.c.cpo_id, status_run.c.evse_uid, status_run.c.started_at
                    )
                )
            ]
    finally:
        engine.dispose()


def run_rows(settings: Settings, evse_uid: str) -> list[tuple[str, datetime, datetime]]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(status_run.c.status, status_run.c.started_at, status_run.c.last_confirmed_at)
                .where(status_run.c.evse_uid == evse_uid)
                .order_by(status_run.c.started_at)
            )
            return [(s, a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)) for s, a, b in rows]
    finally:
        engine.dispose()


class Session:
    """A charge point of the ``ocpp`` library, connected and serving its receive loop."""

    def __init__(self, url: str, cp_id: str, password: str, version: str) -> None:
        self.url, self.cp_id, self.password, self.version = url, cp_id, password, version

    async def __aenter__(self) -> Client16 | Client201:
        protocol = "ocpp1.6" if self.version == "1.6" else "ocpp2.0.1"
        self.ws = await connect(
            f"{self.url}/ocpp/{self.cp_id}",
            subprotocols=[protocol],
            additional_headers=basic(self.cp_id, self.password),
        )
        assert self.ws.subprotocol == protocol
        client_class = Client16 if self.version == "1.6" else Client201
        self.cp = client_class(self.cp_id, self.ws, response_timeout=5)
        self.task = asyncio.create_task(self.cp.start())
        return self.cp

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def status16(
    connector_id: int, status: str, timestamp: str | None = None
) -> call16.StatusNotification:
    return call16.StatusNotification(
        connector_id=connector_id,
        error_code="NoError" if status != "Faulted" else "GroundFailure",
        status=status,
        timestamp=timestamp,
    )


def now_text(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).isoformat().replace("+00:00", "Z")


def test_v16_boot_statuses_connector_zero_and_heartbeat(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> None:
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            boot = await cp.call(
                call16.BootNotification(charge_point_model="AC22", charge_point_vendor="Test")
            )
            assert (boot.status, boot.interval) == ("Accepted", 60)
            await cp.call(status16(1, "Charging"))
            await cp.call(status16(2, "Available"))  # unmapped: CP16/2
            await cp.call(status16(2, "Available"))  # duplicate: one run
            await cp.call(status16(0, "Faulted"))  # covers 1, 2 and the listed 3
            await cp.call(status16(1, "Available"))  # reported during the outage: still faulted
            await cp.call(status16(0, "Available"))  # 1 is available, 2 and 3 unknown
            with pytest.raises(PropertyConstraintViolationError, match="connector 0 can only"):
                await cp.call(status16(0, "Charging"), suppress=False)
            beat = await cp.call(call16.Heartbeat())
            assert beat.current_time.endswith("Z")

    asyncio.run(scenario())
    expected = [
        ("ACME", "AU*ACM*E1", "CHARGING"),
        ("ACME", "AU*ACM*E1", "FAULTED"),
        ("ACME", "AU*ACM*E1", "AVAILABLE"),
        ("ACME", "AU*ACM*E3", "FAULTED"),
        ("ACME", "AU*ACM*E3", "UNKNOWN"),
        ("ACME", "CP16/2", "AVAILABLE"),
        ("ACME", "CP16/2", "FAULTED"),
        ("ACME", "CP16/2", "UNKNOWN"),
    ]
    wait_for(lambda: runs(settings) == expected)
    rows = wait_for(lambda: quarantined(settings))
    assert [reason for *_, reason in rows] == [
        "OCPP 1.6: PropertyConstraintViolation: connector 0 can only be Available, Unavailable"
        " or Faulted, not Charging"
    ]


def test_v16_heartbeat_confirms_the_charge_points_evses(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> None:
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Available"))
            await asyncio.sleep(0.3)
            await cp.call(call16.Heartbeat())

    asyncio.run(scenario())

    def confirmed() -> bool:
        rows = run_rows(settings, "AU*ACM*E1")
        return len(rows) == 1 and rows[0][2] - rows[0][1] >= timedelta(seconds=0.25)

    wait_for(confirmed)


def test_a_heartbeat_flood_confirms_at_most_once_per_interval(tmp_path: Path) -> None:
    """Each connection confirms its EVSEs at most every ``options.liveness_seconds``; the
    heartbeats themselves are all answered."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    upgrade(settings.database_url)
    feeds = [
        FeedConfig(
            cpo_id="ACME",
            kind="ocpp",
            token_env="ACME_OCPP",
            secret="acme-ocpp-secret",
            options={"liveness_seconds": 3600},
        )
    ]
    app = create_app(settings, feeds, WorkerOptions(snapshot_seconds=0.2))

    async def scenario(url: str) -> list[str]:
        async with Session(url, "FLOOD", "acme-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Available"))
            answers = [(await cp.call(call16.Heartbeat())).current_time for _ in range(19)]
            await asyncio.sleep(0.01)  # the last heartbeat's time differs from the first's
            answers.append((await cp.call(call16.Heartbeat())).current_time)
            # the spool is drained in order: once this is stored, every heartbeat before it is
            await cp.call(status16(2, "Available"))
            return answers

    with serve(app) as url:
        answers = asyncio.run(scenario(url.replace("http://", "ws://")))
        wait_for(lambda: len(runs(settings)) == 2)
    assert len(answers) == 20
    ((status, started, confirmed),) = run_rows(settings, "FLOOD/1")
    first, last = (datetime.fromisoformat(answers[i].replace("Z", "+00:00")) for i in (0, -1))
    # the first heartbeat confirmed it (answers carry milliseconds), the other 19 did not
    assert first <= confirmed < first + timedelta(milliseconds=1) <= last
    assert started < confirmed


def test_v201_boot_statuses_per_evse_and_heartbeat(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    def status(
        evse_id: int, connector_id: int, connector_status: str
    ) -> call201.StatusNotification:
        return call201.StatusNotification(
            timestamp=now_text(),
            connector_status=connector_status,
            evse_id=evse_id,
            connector_id=connector_id,
        )

    async def scenario() -> None:
        async with Session(url, "CP201", "acme-ocpp-secret", "2.0.1") as cp:
            boot = await cp.call(
                call201.BootNotification(
                    charging_station=types201.ChargingStationType(model="DC50", vendor_name="Test"),
                    reason="PowerUp",
                )
            )
            assert boot.status == "Accepted"
            await cp.call(status(1, 1, "Occupied"))
            await cp.call(status(1, 2, "Unavailable"))  # the other plug of an EVSE in use
            await cp.call(status(2, 1, "Faulted"))  # unmapped: CP201/2
            await cp.call(status(2, 1, "Reserved"))
            await cp.call(call201.Heartbeat())

    asyncio.run(scenario())
    expected = [
        ("ACME", "AU*ACM*E7", "OCCUPIED"),
        ("ACME", "CP201/2", "FAULTED"),
        ("ACME", "CP201/2", "RESERVED"),
    ]
    wait_for(lambda: runs(settings) == expected)


async def refused_status(
    url: str, cp_id: str, headers: dict[str, str], protocols: list[str]
) -> int:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await connect(f"{url}/ocpp/{cp_id}", subprotocols=protocols, additional_headers=headers)
    return refused.value.response.status_code


@pytest.mark.parametrize(
    ("cp_id", "headers", "protocols", "status"),
    [
        ("CP16", basic("CP16", "wrong"), ["ocpp1.6"], 401),
        ("CP16", {}, ["ocpp1.6"], 401),
        ("CP16", basic("CP201", "acme-ocpp-secret"), ["ocpp1.6"], 401),  # user ≠ charge point
        ("CP16", {"Authorization": "Basic !!!not-base64"}, ["ocpp1.6"], 401),
        ("CP16", {"Authorization": "Bearer acme-ocpp-secret"}, ["ocpp1.6"], 401),
        ("CP16", basic("CP16", "acme-ocpp-secret"), ["ocpp1.5"], 400),  # no protocol we speak
        ("CP16", basic("CP16", "acme-ocpp-secret"), [], 400),
        # another CPO's charge point (in OTHER's static sites) with ACME's password
        ("OTHER-CP1", basic("OTHER-CP1", "acme-ocpp-secret"), ["ocpp1.6"], 403),
        # OTHER's own password, but a charge point not in OTHER's list
        ("CP16", basic("CP16", "other-ocpp-secret"), ["ocpp1.6"], 403),
        ("X" * 49, basic("X" * 49, "acme-ocpp-secret"), ["ocpp1.6"], 400),  # id too long
        ("CP%20X", basic("CP X", "acme-ocpp-secret"), ["ocpp1.6"], 400),  # not an OCPP identity
    ],
)
def test_refused_connections(ocpp_worker, cp_id, headers, protocols, status) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker
    assert asyncio.run(refused_status(url, cp_id, headers, protocols)) == status
    assert runs(settings) == []


def test_another_cpos_charge_point_is_refused_and_recorded(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker
    headers = basic("OTHER-CP1", "acme-ocpp-secret")
    assert asyncio.run(refused_status(url, "OTHER-CP1", headers, ["ocpp1.6"])) == 403
    rows = wait_for(lambda: quarantined(settings))
    assert rows == [
        (
            "ACME",
            "ocpp",
            "/ocpp/OTHER-CP1",
            "charge point OTHER-CP1 is not one of ACME's charge points",
        )
    ]


def test_other_cpo_writes_only_its_own_evses(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> None:
        async with Session(url, "OTHER-CP1", "other-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Charging"))

    asyncio.run(scenario())
    wait_for(lambda: runs(settings) == [("OTHER", "AU*OTH*E1", "CHARGING")])


STATUS = '"errorCode": "NoError", "status": "Available"'
MALFORMED_16 = [
    # (frame, expected CallError unique id, expected error code)
    ("this is not json", "-1", "FormationViolation"),
    ('{"not": "a list"}', "-1", "ProtocolError"),
    ('[2, "m1", "StatusNotification", {"connectorId": 1}]', "m1", "ProtocolError"),
    (
        '[2, "m2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]',
        "m2",
        "FormationViolation",
    ),
    (
        '[2, "m3", "StatusNotification", {"connectorId": "one", ' + STATUS + "}]",
        "m3",
        "TypeConstraintViolation",
    ),
    ('[2, "m4", "Teleport", {}]', "m4", "NotImplemented"),  # not an OCPP action
    ('[2, "m4b", "Reset", {"type": "Hard"}]', "m4b", "NotSupported"),  # a CSMS's action
    ('[9, "m5", "Heartbeat", {}]', "-1", "PropertyConstraintViolation"),
    ('[2, "m6", "Heartbeat", {}, ' + '"x", ' * 20_000 + "1]", "m6", "FormationViolation"),
    # nesting: inside the limits of JSON but beyond any OCPP payload, and beyond the parser
    (
        '[2, "m7", "DataTransfer", {"vendorId": "v", "x": ' + "[" * 30 + "]" * 30 + "}]",
        "m7",
        "FormationViolation",
    ),
    (
        '[2, "m8", "Heartbeat", {"x": ' + "[" * 20_000 + "]" * 20_000 + "}]",
        "m8",
        "FormationViolation",
    ),
    ("[" * 60_000, "-1", "FormationViolation"),
    # numbers: an integer Python will not parse, and ids that would make bogus EVSEs
    (
        '[2, "m9", "StatusNotification", {"connectorId": ' + "9" * 5000 + ", " + STATUS + "}]",
        "m9",
        "FormationViolation",
    ),
    (
        '[2, "m10", "StatusNotification", {"connectorId": -1, ' + STATUS + "}]",
        "m10",
        "PropertyConstraintViolation",
    ),
    (
        '[2, "m11", "StatusNotification", {"connectorId": 1000000000000, ' + STATUS + "}]",
        "m11",
        "PropertyConstraintViolation",
    ),
    (
        '[2, "m12", "StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 0, '
        '"timestamp": "2026-01-01T00:00:00Z"}]',
        "m12",
        "PropertyConstraintViolation",
    ),
    ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),  # the unique id is a string
    ('[2, "m13", "Heartbeat", []]', "m13", "FormationViolation"),
    # timestamps storage cannot hold or should not trust
    (
        '[2, "m14", "StatusNotification", {"connectorId": 1, ' + STATUS + ', "timestamp": '
        '"0001-01-01T00:05:00Z"}]',
        "m14",
        "PropertyConstraintViolation",
    ),
    (
        '[2, "m15", "StatusNotification", {"connectorId": 1, ' + STATUS + ', "timestamp": '
        '"9999-12-31T23:59:59-01:00"}]',
        "m15",
        "PropertyConstraintViolation",
    ),
]


def test_malformed_frames_get_call_errors_are_quarantined_and_the_connection_stays(
    ocpp_worker,
) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> list[list]:
        replies = []
        async with connect(
            f"{url}/ocpp/CP16",
            subprotocols=["ocpp1.6"],
            additional_headers=basic("CP16", "acme-ocpp-secret"),
            max_size=2**20,
        ) as ws:
            for frame, _, _ in MALFORMED_16:
                await ws.send(frame)
                replies.append(json.loads(await ws.recv()))
            await ws.send(b"\x00binary")
            replies.append(json.loads(await ws.recv()))
            await ws.send('[3, "unasked", {}]')  # a result we never asked for: no reply
            await ws.send('[2, "ok", "Heartbeat", {}]')
            replies.append(json.loads(await ws.recv()))
            # after all that, on the same connection, a valid status is still stored
            await ws.send('[2, "good", "StatusNotification", {"connectorId": 3, ' + STATUS + "}]")
            replies.append(json.loads(await ws.recv()))
        return replies

    replies = asyncio.run(scenario())
    for (frame, unique_id, code), reply in zip(MALFORMED_16, replies, strict=False):
        assert reply[:3] == [4, unique_id, code], frame[:80]
    assert replies[len(MALFORMED_16)][:3] == [4, "-1", "FormationViolation"]
    assert replies[-2][:2] == [3, "ok"] and "currentTime" in replies[-2][2]
    assert replies[-1] == [3, "good", {}]
    rows = wait_for(
        lambda: len(quarantined(settings)) == len(MALFORMED_16) + 2 and quarantined(settings)
    )
    assert all(cpo == "ACME" and source == "ocpp" for cpo, source, _, _ in rows)
    reasons = [reason for *_, reason in rows]
    for (_, _, code), reason in zip(MALFORMED_16, reasons, strict=False):
        assert reason.startswith(f"OCPP 1.6: {code}: "), reason  # the code on the wire
    assert "Dancing" in reasons[3]
    assert "connectorId -1 is not a number from 0 to 9999" in reasons[10 + 3]
    assert reasons[-1].startswith("OCPP 1.6: unsolicited CallResult")
    assert "before 2000-01-01" in reasons[-4]
    assert "not an ISO 8601 timestamp" in reasons[-3]
    # nothing refused reached SQL (no bogus EVSE), the valid status did
    wait_for(lambda: runs(settings) == [("ACME", "AU*ACM*E3", "AVAILABLE")])


MALFORMED_201 = [
    ("{{{", "-1", "FormatViolation"),
    ('[2, "s1", "StatusNotification", {"evseId": 1}]', "s1", "ProtocolError"),
    ('[2, "s2", "Teleport", {}]', "s2", "NotImplemented"),
    ('[2, "s3", "GetVariables", {"getVariableData": []}]', "s3", "NotSupported"),
    (
        '[2, "s4", "StatusNotification", {"timestamp": "2026-01-01T00:00:00Z", '
        '"connectorStatus": "Available", "evseId": 1000000, "connectorId": 1}]',
        "s4",
        "PropertyConstraintViolation",
    ),
    (
        '[2, "s5", "TransactionEvent", {"eventType": "Started", "timestamp": '
        '"2026-01-01T00:00:00Z", "triggerReason": "Authorized", "seqNo": 0, '
        '"transactionInfo": {"transactionId": "T"}, "evse": {"id": -3}}]',
        "s5",
        "PropertyConstraintViolation",
    ),
]


def test_v201_malformed_frames_use_201_codes(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> list[list]:
        async with connect(
            f"{url}/ocpp/CP201",
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic("CP201", "acme-ocpp-secret"),
        ) as ws:
            replies = []
            for frame, _, _ in MALFORMED_201:
                await ws.send(frame)
                replies.append(json.loads(await ws.recv()))
            return replies

    replies = asyncio.run(scenario())
    for (frame, unique_id, code), reply in zip(MALFORMED_201, replies, strict=True):
        assert reply[:3] == [4, unique_id, code], frame[:80]
    rows = wait_for(
        lambda: len(quarantined(settings)) == len(MALFORMED_201) and quarantined(settings)
    )
    for (_, _, code), (*_, reason) in zip(MALFORMED_201, rows, strict=True):
        assert reason.startswith(f"OCPP 2.0.1: {code}: "), reason
    # the transaction frame may carry driver data: only its field names are kept
    payloads = [p for (p,) in query_rows(settings, select(quarantine.c.payload))]
    assert payloads[-1].startswith("[OCPP TransactionEvent frame of ")
    assert '"T"' not in payloads[-1]
    assert runs(settings) == []


def test_reconnect_without_boot_and_a_replaced_connection(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker

    async def scenario() -> None:
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Charging"))
        # reconnect, no BootNotification: statuses are still taken
        first = Session(url, "CP16", "acme-ocpp-secret", "1.6")
        old = await first.__aenter__()
        await old.call(status16(1, "Finishing"))
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as new:
            await new.call(status16(1, "Available"))
            await asyncio.wait_for(first.ws.wait_closed(), 5)  # the old one was replaced
            assert first.ws.close_code == 1000
        await first.__aexit__()

    asyncio.run(scenario())
    wait_for(
        lambda: (
            runs(settings)
            == [
                ("ACME", "AU*ACM*E1", "CHARGING"),
                ("ACME", "AU*ACM*E1", "FINISHING"),
                ("ACME", "AU*ACM*E1", "AVAILABLE"),
            ]
        )
    )


def test_clock_policy_on_the_wire(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    url, settings = ocpp_worker
    before = datetime.now(UTC)

    async def scenario() -> list[str]:
        refused = []
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Charging", now_text(timedelta(minutes=-10))))  # as sent
            await cp.call(status16(3, "Available", now_text(timedelta(hours=3))))  # → receipt
            naive = (datetime.now(UTC) - timedelta(minutes=20)).replace(tzinfo=None).isoformat()
            await cp.call(status16(4, "Preparing", naive))  # no offset: read as UTC
            for bad in ("1970-01-01T00:00:00Z", "yesterday", now_text(timedelta(hours=-25))):
                with pytest.raises(PropertyConstraintViolationError) as error:
                    await cp.call(status16(2, "Faulted", bad), suppress=False)
                refused.append(error.value.description)
        return refused

    refused = asyncio.run(scenario())
    after = datetime.now(UTC)
    assert "before 2000-01-01" in refused[0]
    assert "timestamp: not an ISO 8601 timestamp" in refused[1]
    assert "more than 24 h before receipt" in refused[2]
    wait_for(lambda: len(runs(settings)) == 3 and len(quarantined(settings)) == 3)
    charging = run_rows(settings, "AU*ACM*E1")[0][1]
    assert before - timedelta(minutes=10, seconds=1) <= charging <= after - timedelta(minutes=10)
    available = run_rows(settings, "AU*ACM*E3")[0][1]
    assert before <= available <= after
    preparing = run_rows(settings, "CP16/4")[0][1]
    assert before - timedelta(minutes=20, seconds=1) <= preparing <= after - timedelta(minutes=20)
    reasons = [reason for *_, reason in quarantined(settings)]
    assert [r.split(":")[1].strip() for r in reasons] == ["PropertyConstraintViolation"] * 3
    assert run_rows(settings, "CP16/2") == []  # refused, so the charge point knows: not dropped


def test_a_refused_upgrade_logs_no_server_error(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    """uvicorn logs "ASGI callable returned without completing handshake" at ERROR after a
    denial response; the feed's denials must not (while the server's other errors still log)."""
    url, _ = ocpp_worker
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.ERROR)
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(handler)
    try:
        for cp_id, headers, protocols in [
            ("CP16", basic("CP16", "wrong"), ["ocpp1.6"]),
            ("CP16", basic("CP16", "acme-ocpp-secret"), ["ocpp1.5"]),
            ("OTHER-CP1", basic("OTHER-CP1", "acme-ocpp-secret"), ["ocpp1.6"]),
        ]:
            assert asyncio.run(refused_status(url, cp_id, headers, protocols)) in (400, 401, 403)
        server_log.error("ASGI callable returned without completing handshake.")  # not ours
    finally:
        server_log.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        "ASGI callable returned without completing handshake."
    ]


def test_concurrent_charge_points_are_all_stored(ocpp_worker) -> None:  # type: ignore[no-untyped-def]
    """Statuses arriving together share one spool write; every charge point's still lands."""
    url, settings = ocpp_worker

    async def one(n: int) -> None:
        async with Session(url, f"BULK-{n}", "acme-ocpp-secret", "1.6") as cp:
            for status in ("Preparing", "Charging", "Finishing"):
                await cp.call(status16(1, status))

    async def scenario() -> None:
        await asyncio.gather(*(one(n) for n in range(12)))

    asyncio.run(scenario())
    expected = [
        ("ACME", f"BULK-{n}/1", status)
        for n in sorted(range(12), key=lambda n: f"BULK-{n}/1")
        for status in ("PREPARING", "CHARGING", "FINISHING")
    ]
    wait_for(lambda: runs(settings) == expected)


def test_a_transaction_with_an_untrusted_clock_is_answered_and_its_start_quarantined(
    ocpp_worker,
) -> None:  # type: ignore[no-untyped-def]
    """The charge point must not hold its transaction queue for us: the transaction is answered,
    only the in-use observation is not stored, and the quarantine says so (without the id tag)."""
    url, settings = ocpp_worker

    async def scenario() -> tuple[object, object]:
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            old = await cp.call(
                call16.StartTransaction(
                    connector_id=1,
                    id_tag="TAG-1970",
                    meter_start=0,
                    timestamp="1970-01-01T00:00:00Z",
                ),
                suppress=False,
            )
            fresh = await cp.call(
                call16.StartTransaction(
                    connector_id=3, id_tag="TAG-NOW", meter_start=0, timestamp=now_text()
                ),
                suppress=False,
            )
            return old, fresh

    old, fresh = asyncio.run(scenario())
    assert old.id_tag_info == {"status": "Invalid"} and isinstance(old.transaction_id, int)
    assert fresh.transaction_id == old.transaction_id + 1
    wait_for(lambda: runs(settings) == [("ACME", "AU*ACM*E3", "OCCUPIED")])
    rows = wait_for(lambda: quarantined(settings))
    assert [(location.split()[1], reason) for _, _, location, reason in rows] == [
        (
            "StartTransaction",
            "OCPP 1.6: no IN_USE observation stored: timestamp 1970-01-01T00:00:00+00:00 is"
            " before 2000-01-01; the charge point's clock is wrong",
        )
    ]
    payloads = [p for (p,) in query_rows(settings, select(quarantine.c.payload))]
    assert "TAG-1970" not in payloads[0] and "connectorId" in payloads[0]
