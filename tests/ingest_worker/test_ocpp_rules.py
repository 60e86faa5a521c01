"""The pure OCPP rules: clock policy, connector 0, 2.0.1 connector combination, EVSE mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ingest_worker.feeds.ocpp_mapping import (
    ChargePointStatuses,
    ClockPolicy,
    EvseMap,
    TooOld,
    observed_at,
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
    "sent",
    [RECEIVED - timedelta(hours=24, seconds=1), datetime(1970, 1, 1, tzinfo=UTC)],
)
def test_clock_policy_refuses_the_far_past(sent: datetime) -> None:
    with pytest.raises(TooOld, match="more than 24 h before receipt"):
        observed_at(sent, RECEIVED, POLICY)


def test_connector_zero_takes_every_connector_down_and_gives_their_own_status_back() -> None:
    cp = ChargePointStatuses()
    assert cp.report(1, "Charging") == [(1, "CHARGING")]
    assert cp.report(2, "Available") == [(2, "AVAILABLE")]
    # connector 3 is known only from the static CSVs
    assert cp.report(0, "Faulted", known=[3]) == [(1, "FAULTED"), (2, "FAULTED"), (3, "FAULTED")]
    # a connector's own report while the whole charge point is down stays down
    assert cp.report(2, "Preparing") == [(2, "FAULTED")]
    assert cp.report(0, "Available", known=[3]) == [
        (1, "CHARGING"),
        (2, "PREPARING"),
        (3, "AVAILABLE"),
    ]
    assert cp.report(0, "Unavailable") == [(1, "UNAVAILABLE"), (2, "UNAVAILABLE")]
    assert cp.numbers(known=[3]) == [1, 2, 3]


def test_connector_zero_with_no_known_connector_changes_nothing() -> None:
    assert ChargePointStatuses().report(0, "Faulted") == []


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


def test_feed_for_uses_the_charge_points_own_secret_when_one_is_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest_worker.feeds.ocpp import OcppFeed
    from ingest_worker.feeds_config import FeedConfig

    monkeypatch.setenv("ACME_CP7_SECRET", "cp7-own-secret")
    acme = FeedConfig(
        cpo_id="ACME",
        kind="ocpp",
        token_env="ACME_OCPP",
        secret="acme-secret",
        options={"charge_point_secret_envs": {"CP7": "ACME_CP7_SECRET"}},
    )
    other = FeedConfig(cpo_id="OTHER", kind="ocpp", token_env="OTHER_OCPP", secret="other-secret")
    feed = OcppFeed([acme, other], ingest=None, store=None)  # type: ignore[arg-type]
    assert feed.feed_for("CP7", "cp7-own-secret") is acme
    assert feed.feed_for("CP7", "acme-secret") is None  # its own secret replaces the feed's
    assert feed.feed_for("CP8", "acme-secret") is acme
    assert feed.feed_for("CP8", "other-secret") is other
    assert feed.feed_for("CP8", "cp7-own-secret") is None


def test_a_missing_charge_point_secret_variable_is_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest_worker.feeds.ocpp import OcppFeed
    from ingest_worker.feeds_config import FeedConfig

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
