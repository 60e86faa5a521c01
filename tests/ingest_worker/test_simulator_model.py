"""The simulator's pure parts: the seeded status model, drop-outs, and the feed plan."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from ingest_worker.feeds.config import load_feeds
from ingest_worker.simulator.model import (
    AVAILABLE,
    CHARGING,
    FAULTED,
    FINISHING,
    PREPARING,
    RESERVED,
    SUSPENDEDEV,
    UNAVAILABLE,
    ModelParams,
    dropouts,
    hourly_rate,
    spelled,
    status_events,
)
from ingest_worker.simulator.plan import assign_kinds, simulated_evses, simulated_feeds, write_feeds
from shared.status import STATUS_CATEGORY, normalise_status

SYDNEY = ZoneInfo("Australia/Sydney")
START = datetime(2026, 3, 2, 0, 0, tzinfo=SYDNEY).astimezone(UTC)  # local midnight, a Monday

# After a status, the statuses the model may move to.
NEXT = {
    AVAILABLE: {RESERVED, PREPARING, FAULTED, UNAVAILABLE},
    RESERVED: {PREPARING},
    PREPARING: {CHARGING},
    CHARGING: {SUSPENDEDEV, FINISHING},
    SUSPENDEDEV: {FINISHING},
    FINISHING: {AVAILABLE},
    FAULTED: {AVAILABLE},
    UNAVAILABLE: {AVAILABLE},
}


def events_until(seed: int, uid: str, days: float, params: ModelParams | None = None, dc=False):  # type: ignore[no-untyped-def]
    end = START + timedelta(days=days)
    return list(
        itertools.takewhile(
            lambda e: e.at < end,
            status_events(seed, uid, START, params or ModelParams(), SYDNEY, dc),
        )
    )


@pytest.mark.parametrize(
    ("sessions_per_day", "hour", "expected"),
    [
        (24.0, 18, 1.50),  # 24/24 × 1.50
        (24.0, 3, 0.08),
        (8.0, 8, 1 / 3),  # 8/24 × 1.00
        (0.0, 18, 0.0),
    ],
)
def test_hourly_rate(sessions_per_day: float, hour: int, expected: float) -> None:
    assert hourly_rate(ModelParams(sessions_per_day=sessions_per_day), hour) == pytest.approx(
        expected
    )


def test_same_seed_same_statuses_other_seed_other_statuses() -> None:
    first = events_until(7, "AU*X*E1", 5)
    assert first == events_until(7, "AU*X*E1", 5)
    assert first != events_until(8, "AU*X*E1", 5)
    assert first != events_until(7, "AU*X*E2", 5)


def test_statuses_follow_a_charging_session_life_cycle() -> None:
    events = events_until(
        3, "AU*X*E1", 60, ModelParams(faults_per_day=0.5, maintenance_per_day=0.3)
    )
    assert events[0].at == START and events[0].status == AVAILABLE
    for before, after in itertools.pairwise(events):
        assert after.status in NEXT[before.status], (before, after)
        assert after.at >= before.at
    seen = {e.status for e in events}
    assert seen == set(NEXT)  # 60 days show every status


def test_daily_profile_puts_more_sessions_in_the_evening_than_at_night() -> None:
    starts = [
        e.at.astimezone(SYDNEY).hour
        for uid in ("E1", "E2", "E3", "E4")
        for e in events_until(11, uid, 90)
        if e.status == PREPARING
    ]
    evening = sum(1 for h in starts if 17 <= h <= 19)  # profile weights 1.20 + 1.45 + 1.50
    night = sum(1 for h in starts if 2 <= h <= 4)  # profile weights 0.08 + 0.08 + 0.10
    assert evening > 8 * night


def test_no_rates_means_the_evse_just_stays_available() -> None:
    quiet = ModelParams(sessions_per_day=0, faults_per_day=0, maintenance_per_day=0)
    assert [e.status for e in events_until(1, "E1", 365, quiet)] == [AVAILABLE]


def test_dropouts_are_seeded_and_ordered() -> None:
    params = ModelParams(dropouts_per_day=4, dropout_minutes=30)
    spells = list(itertools.islice(dropouts(5, "ACME/ocpp", START, params), 50))
    assert spells == list(itertools.islice(dropouts(5, "ACME/ocpp", START, params), 50))
    for (a_from, a_to), (b_from, _) in itertools.pairwise(spells):
        assert a_from < a_to <= b_from
    assert list(dropouts(5, "x", START, ModelParams(dropouts_per_day=0))) == []


@pytest.mark.parametrize("dialect", ["ocpp1.6", "ocpp2.0.1", "ocpi", "push"])
def test_every_spelling_is_a_status_of_the_spec(dialect: str) -> None:
    for status in NEXT:
        assert normalise_status(spelled(status, dialect)) in STATUS_CATEGORY


@pytest.mark.parametrize(
    ("cpo_ids", "ocpp", "overrides", "expected"),
    [
        (
            ["E", "D", "C", "B", "A", "F"],
            {"C"},
            {},
            {
                "A": "ocpi_pull",
                "B": "ocpi_push",
                "C": "ocpp",
                "D": "rest_push",
                "E": "ws_push",
                "F": "ocpi_pull",
            },
        ),
        (["A", "B"], {"A"}, {"A": "rest_push"}, {"A": "rest_push", "B": "ocpi_pull"}),
    ],
)
def test_assign_kinds(cpo_ids, ocpp, overrides, expected) -> None:  # type: ignore[no-untyped-def]
    assert assign_kinds(cpo_ids, ocpp, overrides) == expected


def test_assign_kinds_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="A=carrier_pigeon"):
        assign_kinds(["A"], set(), {"A": "carrier_pigeon"})


def connector(cpo, evse, charger, connector_id="1", cp=None, number=None):  # type: ignore[no-untyped-def]
    return {
        "cpo_id": cpo,
        "site_id": "S1",
        "site_name": "Site",
        "address": "1 Main St",
        "suburb": "Goulburn",
        "state": "NSW",
        "postcode": "2580",
        "latitude": -34.75,
        "longitude": 149.7,
        "charger_id": charger,
        "evse_uid": evse,
        "connector_id": connector_id,
        "connector_standard": "IEC_62196_T2",
        "power_type": "AC_3_PHASE",
        "max_power_kw": 22.0,
        "ocpp_charge_point_id": cp,
        "ocpp_evse_id": number,
    }


def test_simulated_evses_map_or_number_charge_points() -> None:
    frame = pd.DataFrame(
        [
            connector("A", "AU*A*E1", "C1", "1", "CP-1", "2"),
            connector("A", "AU*A*E1", "C1", "2", "CP-1", "2"),
            connector("B", "AU*B*E2", "charger 7/x"),
            connector("B", "AU*B*E1", "charger 7/x"),
        ]
    )
    evses = simulated_evses(frame)
    assert [(e.evse_uid, e.charge_point_id, e.number, e.mapped, e.ocpp_uid) for e in evses] == [
        ("AU*A*E1", "CP-1", 2, True, "AU*A*E1"),
        ("AU*B*E1", "charger-7-x", 1, False, "charger-7-x/1"),
        ("AU*B*E2", "charger-7-x", 2, False, "charger-7-x/2"),
    ]
    assert [c["id"] for c in evses[0].connectors] == ["1", "2"]


def test_written_feeds_file_loads_in_the_worker(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        [
            connector("ACME", "AU*A*E1", "C1", cp="CP-1", number="1"),
            connector("BOLT", "AU*B*E1", "C2"),
            connector("CURR", "AU*C*E1", "C3"),
        ]
    )
    feeds = simulated_feeds(simulated_evses(frame), seed=3, ocpi_base="http://127.0.0.1:9999")
    toml_path, env_path = write_feeds(feeds, tmp_path / "feeds.toml")
    for line in env_path.read_text().splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value)
    loaded = load_feeds(toml_path)
    assert [(f.cpo_id, f.kind) for f in loaded] == [
        ("ACME", "ocpp"),
        ("BOLT", "ocpi_pull"),
        ("CURR", "ocpi_push"),
    ]
    assert loaded[1].versions_url == "http://127.0.0.1:9999/ocpi/cpo/BOLT/versions"
    assert (loaded[2].country_code, loaded[2].party_id) == ("AU", "CUR")
    assert [f.secret for f in loaded] == [s.feed.secret for s in feeds]
    assert env_path.stat().st_mode & 0o777 == 0o600
