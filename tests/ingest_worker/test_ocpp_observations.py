"""What each kept OCPP message means, through the plain functions the feed's routes call (no
connection), which actions the library's router is given, and that the library's logging through
its ``logger=`` keeps no payload."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import create_route_map
from ocpp.v16 import call as call16

from ingest_worker.feeds.ocpp_mapping import (
    ChargePointStatuses,
    EvseMap,
    Reporter,
    Untrusted,
    evses_of,
    observations_from_status_notification,
    observations_from_status_notification_201,
    observations_from_transaction_start,
)
from ingest_worker.feeds.ocpp_routes import Observer16, Observer201
from shared.status import Observation
from tests.ingest_worker.test_ocpp_feed import Session, ocpp_worker, status16  # noqa: F401
from tests.ingest_worker.test_ocpp_peers import CP_ACTIONS_16, CP_ACTIONS_201

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAPPED = EvseMap(evse_uids={("ACME", "CP1", 1): "AU*ACM*E1", ("ACME", "CP1", 3): "AU*ACM*E3"})
CP1 = Reporter("ACME", "CP1", MAPPED)


def seen(evse_uid: str, status: str, at: datetime, connector_id: str | None = None) -> Observation:
    return Observation("ACME", evse_uid, status, at, connector_id)


def status16_(statuses: ChargePointStatuses, connector_id: int, status: str, sent: object = None):  # type: ignore[no-untyped-def]
    return observations_from_status_notification(
        CP1, statuses, connector_id=connector_id, status=status, timestamp=sent, received=RECEIVED
    )


def test_v16_statuses_map_to_evses_and_connector_zero_covers_the_listed_ones() -> None:
    statuses = ChargePointStatuses()
    assert status16_(statuses, 1, "Charging", "2026-03-01T11:58:00Z") == [
        seen("AU*ACM*E1", "CHARGING", RECEIVED - timedelta(minutes=2))
    ]
    assert status16_(statuses, 2, "Available") == [seen("CP1/2", "AVAILABLE", RECEIVED)]
    # connector 0 down: every connector reported (1, 2) or listed in the CSVs (3)
    assert status16_(statuses, 0, "Faulted") == [
        seen("AU*ACM*E1", "FAULTED", RECEIVED),
        seen("CP1/2", "FAULTED", RECEIVED),
        seen("AU*ACM*E3", "FAULTED", RECEIVED),
    ]
    assert status16_(statuses, 1, "Available") == [seen("AU*ACM*E1", "FAULTED", RECEIVED)]
    # up again: 1 has reported since, 2 and 3 have not
    assert status16_(statuses, 0, "Available") == [
        seen("AU*ACM*E1", "AVAILABLE", RECEIVED),
        seen("CP1/2", "UNKNOWN", RECEIVED),
        seen("AU*ACM*E3", "UNKNOWN", RECEIVED),
    ]
    assert evses_of(CP1, statuses) == ["AU*ACM*E1", "AU*ACM*E3", "CP1/2"]


@pytest.mark.parametrize(
    ("connector_id", "status", "sent", "error", "words"),
    [
        (0, "Charging", None, ValueError, "connector 0 can only be Available, Unavailable or"),
        (1, "Charging", "1970-01-01T00:00:00Z", Untrusted, "before 2000-01-01"),
        (1, "Charging", "2026-02-28T11:59:59Z", Untrusted, "more than 24 h before receipt"),
        (1, "Charging", "yesterday", Untrusted, "timestamp: not an ISO 8601 timestamp"),
    ],
)
def test_a_refused_status_changes_nothing(
    connector_id: int, status: str, sent: object, error: type[Exception], words: str
) -> None:
    statuses = ChargePointStatuses()
    status16_(statuses, 1, "Available")
    with pytest.raises(error, match=words):
        status16_(statuses, connector_id, status, sent)
    assert status16_(statuses, 3, "Available") == [seen("AU*ACM*E3", "AVAILABLE", RECEIVED)]
    assert statuses.own == {1: "AVAILABLE", 3: "AVAILABLE"}


def test_v201_connectors_combine_and_name_their_connector() -> None:
    statuses = ChargePointStatuses()

    def report(evse_id: int, connector_id: int, status: str) -> list[Observation]:
        return observations_from_status_notification_201(
            CP1,
            statuses,
            evse_id=evse_id,
            connector_id=connector_id,
            connector_status=status,
            timestamp="2026-03-01T12:00:00+00:00",
            received=RECEIVED,
        )

    assert report(1, 1, "Occupied") == [seen("AU*ACM*E1", "OCCUPIED", RECEIVED, "1")]
    # the EVSE's other plug is unavailable: the EVSE is still in use
    assert report(1, 2, "Unavailable") == [seen("AU*ACM*E1", "OCCUPIED", RECEIVED, "2")]
    with pytest.raises(ValueError, match="evseId 0 can only be"):
        report(0, 1, "Occupied")


def test_a_transaction_start_is_in_use_unless_a_status_says_so() -> None:
    statuses = ChargePointStatuses()

    def start(number: int, sent: object) -> list[Observation]:
        return observations_from_transaction_start(
            CP1, statuses, number=number, connector_id=None, timestamp=sent, received=RECEIVED
        )

    assert start(1, "2026-03-01T11:59:00Z") == [
        seen("AU*ACM*E1", "OCCUPIED", RECEIVED - timedelta(minutes=1))
    ]
    status16_(statuses, 3, "Charging")
    assert start(3, "2026-03-01T11:59:00Z") == []  # already in use
    with pytest.raises(Untrusted, match="before 2000-01-01"):
        start(5, "1970-01-01T00:00:00Z")
    assert 5 not in statuses.own  # refused before anything changed


def test_the_library_routes_every_charge_point_action_and_nothing_else() -> None:
    assert set(create_route_map(Observer16)) == CP_ACTIONS_16
    assert set(create_route_map(Observer201)) == CP_ACTIONS_201


def test_the_librarys_logging_keeps_no_payload(ocpp_worker, caplog) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Frames (with their id tags) are not logged at any level, nor a refusal already
    quarantined; the feed's own records still are."""
    url, _ = ocpp_worker

    async def scenario() -> None:
        async with Session(url, "CP16", "acme-ocpp-secret", "1.6") as cp:
            await cp.call(status16(1, "Charging"))
            await cp.call(call16.Authorize(id_tag="TAG-SECRET-1"))
            with pytest.raises(PropertyConstraintViolationError):
                await cp.call(
                    call16.StartTransaction(
                        connector_id=0, id_tag="TAG-SECRET-2", meter_start=0, timestamp="x"
                    ),
                    suppress=False,
                )

    with caplog.at_level(logging.DEBUG, logger="chargeatlarge"):
        caplog.set_level(logging.DEBUG, logger="ocpp")
        asyncio.run(scenario())
    ours = [r for r in caplog.records if r.name.startswith("chargeatlarge.worker.ocpp")]
    assert any("CP16 connected" in r.getMessage() for r in ours)
    worker_side = [r for r in ours if "TAG-SECRET" in r.getMessage() or r.exc_info]
    assert worker_side == []
    library = [r for r in ours if r.getMessage().startswith("ocpp library:")]
    assert library == []
