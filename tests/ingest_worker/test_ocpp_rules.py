"""The pure OCPP rules: clock policy, connector 0, transactions, 2.0.1 connector combination,
number bounds, EVSE mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ingest_worker.feeds.ocpp_mapping import (
    ChargePointStatuses,
    ClockPolicy,
    EvseMap,
    Untrusted,
    check_number,
    observed_at,
    parse_timestamp,
)

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = ClockPolicy(future_minutes=5, past_hours=24)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, RECEIVED),  # 1.6 timestamp omitted
        (RECEIVED - timedelta(minutes=3), RECEIVED - timedelta(minutes=3)),  # as sent
        (RECEIVED + timedelta(minutes=4), RECEIVED + timedelta(minutes=4)),  # small skew: as sent
        (RECEIVED + timedelta(minutes=5), RECEIVED + timedelta(minutes=5)),  # bound: as sent
        (RECEIVED + timedelta(minutes=5, seconds=1), RECEIVED),  # ahead: receipt time
        (RECEIVED + timedelta(days=400), RECEIVED),
        (RECEIVED - timedelta(hours=24), RECEIVED - timedelta(hours=24)),  # bound: as sent
    ],
)
def test_clock_policy_keeps_or_clamps(sent: datetime | None, expected: datetime) -> None:
    assert observed_at(sent, RECEIVED, POLICY) == expected


@pytest.mark.parametrize(
    ("sent", "match"),
    [
        (RECEIVED - timedelta(hours=24, seconds=1), "more than 24 h before receipt"),
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), "before 2000-01-01"),
        (datetime(1970, 1, 1, tzinfo=UTC), "before 2000-01-01"),
        (datetime(1, 1, 1, 0, 5, tzinfo=UTC), "before 2000-01-01"),
    ],
)
def test_clock_policy_refuses_the_far_past(sent: datetime, match: str) -> None:
    with pytest.raises(Untrusted, match=match):
        observed_at(sent, RECEIVED, POLICY)


def test_clock_policy_before_2000_is_refused_whatever_the_feed_allows() -> None:
    lenient = ClockPolicy(future_minutes=5, past_hours=1_000_000)
    assert observed_at(datetime(2000, 1, 1, tzinfo=UTC), RECEIVED, lenient) == datetime(
        2000, 1, 1, tzinfo=UTC
    )
    with pytest.raises(Untrusted, match="before 2000-01-01"):
        observed_at(datetime(1999, 6, 1, tzinfo=UTC), RECEIVED, lenient)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T11:58:00Z", datetime(2026, 3, 1, 11, 58, tzinfo=UTC)),
        ("2026-03-01T11:58:00.123z", datetime(2026, 3, 1, 11, 58, 0, 123000, tzinfo=UTC)),
        ("2026-03-01T21:58:00+10:00", datetime(2026, 3, 1, 11, 58, tzinfo=UTC)),
        ("2026-03-01T11:58:00", datetime(2026, 3, 1, 11, 58, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_timestamps_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "", "2026-13-01T00:00:00Z", "9999-12-31T23:59:59-01:00", 17, "9" * 50]
)
def test_unreadable_timestamps_are_refused(text: object) -> None:
    with pytest.raises(Untrusted, match="not an ISO 8601 timestamp"):
        parse_timestamp(text)


def test_connector_zero_down_covers_every_connector_and_up_restores_only_reports() -> None:
    cp = ChargePointStatuses()
    assert cp.report(1, "Charging") == [(1, "CHARGING")]
    assert cp.report(2, "Available") == [(2, "AVAILABLE")]
    # connector 3 is known only from the static CSVs
    assert cp.report(0, "Faulted", known=[3]) == [(1, "FAULTED"), (2, "FAULTED"), (3, "FAULTED")]
    # a connector's own report while the whole charge point is down stays covered
    assert cp.report(2, "Preparing") == [(2, "FAULTED")]
    # back up: 2 reported during the outage, 1 and 3 did not and are unknown until they do
    assert cp.report(0, "Available", known=[3]) == [
        (1, "UNKNOWN"),
        (2, "PREPARING"),
        (3, "UNKNOWN"),
    ]
    assert cp.report(0, "Unavailable") == [
        (1, "UNAVAILABLE"),
        (2, "UNAVAILABLE"),
        (3, "UNAVAILABLE"),
    ]
    assert cp.numbers(known=[4]) == [1, 2, 3, 4]


def test_connector_zero_available_never_makes_an_unreported_connector_available() -> None:
    cp = ChargePointStatuses()
    assert cp.report(0, "Available", known=[1, 2]) == []
    assert cp.report(1, "Charging") == [(1, "CHARGING")]
    assert cp.report(0, "Available", known=[1, 2]) == []  # not down before: nothing changes


def test_connector_zero_with_no_known_connector_changes_nothing_yet() -> None:
    cp = ChargePointStatuses()
    assert cp.report(0, "Faulted") == []
    assert cp.report(1, "Available") == [(1, "FAULTED")]  # it still covers what reports later


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (None, [(1, "OCCUPIED")]),  # nothing reported: the transaction says in use
        ("Available", [(1, "OCCUPIED")]),
        ("Finishing", []),  # a StatusNotification already says in use
        ("Preparing", []),
        ("SuspendedEV", []),
    ],
)
def test_a_transaction_start_is_in_use_unless_a_status_says_so(
    before: str | None, expected: list[tuple[int, str]]
) -> None:
    cp = ChargePointStatuses()
    if before:
        cp.report(1, before)
    assert cp.start_transaction(1) == expected


def test_a_transaction_start_on_a_charge_point_that_is_down_stays_down() -> None:
    cp = ChargePointStatuses()
    cp.report(1, "Available")
    cp.report(0, "Unavailable")
    assert cp.start_transaction(1) == [(1, "UNAVAILABLE")]


def test_a_201_transaction_start_occupies_its_connector() -> None:
    cp = ChargePointStatuses()
    cp.report_connector(1, 2, "Available")
    assert cp.start_transaction(1, connector_id=1) == [(1, "OCCUPIED")]
    assert cp.report_connector(1, 1, "Available") == [(1, "AVAILABLE")]


@pytest.mark.parametrize(
    ("value", "zero", "ok"),
    [
        (0, True, True),
        (0, False, False),
        (1, False, True),
        (9999, True, True),
        (10_000, True, False),
        (-1, True, False),
        (10**30, True, False),
        (True, True, False),
        ("1", True, False),
        (1.0, True, False),
    ],
)
def test_connector_and_evse_numbers_are_bounded(value: object, zero: bool, ok: bool) -> None:
    if ok:
        assert check_number(value, "connectorId", zero=zero) == value
    else:
        with pytest.raises(ValueError, match="connectorId .* is not a number from"):
            check_number(value, "connectorId", zero=zero)


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([(1, "Available")], "AVAILABLE"),
        ([(1, "Occupied"), (2, "Unavailable")], "OCCUPIED"),  # the other plug is locked out
        ([(1, "Faulted"), (2, "Available")], "AVAILABLE"),  # one plug still serves
        ([(1, "Faulted"), (2, "Unavailable")], "UNAVAILABLE"),
        ([(1, "Faulted"), (2, "Faulted")], "FAULTED"),
        ([(1, "Reserved"), (2, "Available")], "RESERVED"),
        ([(1, "Occupied"), (1, "Available"), (2, "Faulted")], "AVAILABLE"),  # latest per plug
    ],
)
def test_v201_evse_status_combines_its_connectors(
    reports: list[tuple[int, str]], expected: str
) -> None:
    cp = ChargePointStatuses()
    changes = []
    for connector_id, status in reports:
        changes = cp.report_connector(7, connector_id, status)
    assert changes == [(7, expected)]


def test_evse_map_from_static_connectors() -> None:
    connectors = pd.DataFrame(
        {
            "cpo_id": ["A", "A", "A", "B", "A"],
            "evse_uid": ["AU*A*E1", "AU*A*E1", "AU*A*E2", "AU*B*E9", "AU*A*E3"],
            "ocpp_charge_point_id": ["CP1", "CP1", "CP1", "CPB", None],
            "ocpp_evse_id": ["1", "1", "2", "1", None],
        }
    )
    mapping = EvseMap.from_connectors(connectors)
    assert mapping.evse_uid("A", "CP1", 1) == "AU*A*E1"
    assert mapping.evse_uid("A", "CP1", 2) == "AU*A*E2"
    assert mapping.evse_uid("A", "CP1", 3) == "CP1/3"  # unmapped
    assert mapping.evse_uid("A", "CPB", 1) == "CPB/1"  # another CPO's mapping is not ours
    assert mapping.numbers("A", "CP1") == {1, 2}
    assert mapping.owners == {"CP1": {"A"}, "CPB": {"B"}}


def test_a_charge_points_own_secret_replaces_the_feeds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The OCPP feed authenticates through ``auth.charge_point_feed``."""
    import base64

    from ingest_worker.auth import OcppRefused, charge_point_feed
    from ingest_worker.feeds.config import FeedConfig

    monkeypatch.setenv("ACME_CP7_SECRET", "cp7-own-secret")
    acme = FeedConfig(
        cpo_id="ACME",
        kind="ocpp",
        token_env="ACME_OCPP",
        secret="acme-secret",
        options={"charge_point_secret_envs": {"CP7": "ACME_CP7_SECRET"}},
    )
    other = FeedConfig(cpo_id="OTHER", kind="ocpp", token_env="OTHER_OCPP", secret="other-secret")

    def feed_for(charge_point_id: str, password: str) -> FeedConfig | None:
        header = "Basic " + base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
        try:
            return charge_point_feed([acme, other], charge_point_id, header).feed
        except OcppRefused:
            return None

    assert feed_for("CP7", "cp7-own-secret") is acme
    assert feed_for("CP7", "acme-secret") is None  # its own secret replaces the feed's
    assert feed_for("CP8", "acme-secret") is acme
    assert feed_for("CP8", "other-secret") is other
    assert feed_for("CP8", "cp7-own-secret") is None


def test_a_missing_charge_point_secret_variable_is_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest_worker.feeds.config import FeedConfig
    from ingest_worker.feeds.ocpp import OcppFeed

    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    acme = FeedConfig(
        cpo_id="ACME",
        kind="ocpp",
        token_env="ACME_OCPP",
        secret="acme-secret",
        options={"charge_point_secret_envs": {"CP7": "NOT_SET_ANYWHERE"}},
    )
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE of charge point CP7 is not set"):
        OcppFeed([acme], ingest=None, store=None)  # type: ignore[arg-type]
