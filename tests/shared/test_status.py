"""Spec section 2: every raw status maps to its category, case-insensitively; others are refused."""

from datetime import UTC, datetime

import pytest

from shared.status import (
    DOWN,
    UP,
    Category,
    InvalidObservation,
    Observation,
    category_of,
    parse_instant,
)

SPEC_TABLE = [
    ("AVAILABLE", Category.AVAILABLE),
    ("CHARGING", Category.IN_USE),
    ("BLOCKED", Category.IN_USE),
    ("OCCUPIED", Category.IN_USE),
    ("PREPARING", Category.IN_USE),
    ("SUSPENDEDEV", Category.IN_USE),
    ("SUSPENDEDEVSE", Category.IN_USE),
    ("FINISHING", Category.IN_USE),
    ("RESERVED", Category.RESERVED),
    ("OUTOFORDER", Category.OUT_OF_ORDER),
    ("FAULTED", Category.OUT_OF_ORDER),
    ("INOPERATIVE", Category.UNAVAILABLE),
    ("UNAVAILABLE", Category.UNAVAILABLE),
    ("PLANNED", Category.NOT_IN_SERVICE),
    ("REMOVED", Category.NOT_IN_SERVICE),
    ("UNKNOWN", Category.UNKNOWN),
]


@pytest.mark.parametrize(("raw", "category"), SPEC_TABLE)
def test_spec_table(raw: str, category: Category) -> None:
    assert category_of(raw) is category
    assert category_of(raw.lower()) is category
    assert category_of(f"  {raw.title()} ") is category


@pytest.mark.parametrize(
    "raw", ["", "AVAILABLE!", "Charging Now", "OUT_OF_ORDER", "IN_USE", "ÀVAILABLE", "x" * 500]
)
def test_unknown_raw_status_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(InvalidObservation, match="status: unknown raw status"):
        category_of(raw)


def test_up_and_down_sets() -> None:
    assert {Category.AVAILABLE, Category.IN_USE, Category.RESERVED} == UP
    assert {Category.OUT_OF_ORDER, Category.UNAVAILABLE} == DOWN
    assert Category.UNKNOWN not in UP | DOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-01T10:00:00+10:00", datetime(2026, 10, 1, 0, 0, tzinfo=UTC)),
        ("2026-10-01T00:00:00Z", datetime(2026, 10, 1, 0, 0, tzinfo=UTC)),
        ("2026-10-04T02:30:00.250+11:00", datetime(2026, 10, 3, 15, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_instants_are_stored_in_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-10-01T10:00:00", "has no UTC offset"),
        ("yesterday", "not an ISO 8601 timestamp"),
        (1696118400, "expected an ISO 8601 string"),
        ("2026-13-01T00:00:00Z", "not an ISO 8601 timestamp"),
        ("2" * 1000, "not an ISO 8601 timestamp"),
    ],
)
def test_bad_instants(value: object, message: str) -> None:
    with pytest.raises(InvalidObservation, match=message):
        parse_instant(value)


def test_observation_parse_normalises_and_names_the_bad_field() -> None:
    obs = Observation.parse(
        cpo_id="ACME", evse_uid=" AU*ACM*E1 ", status="charging", observed_at="2026-10-01T00:00:00Z"
    )
    assert (obs.evse_uid, obs.status, obs.category) == ("AU*ACM*E1", "CHARGING", Category.IN_USE)
    with pytest.raises(InvalidObservation, match="^evse_uid: must not be empty"):
        Observation.parse(
            cpo_id="ACME", evse_uid=" ", status="AVAILABLE", observed_at="2026-10-01T00:00:00Z"
        )
    with pytest.raises(InvalidObservation, match="^evse_uid: longer than 64"):
        Observation.parse(
            cpo_id="ACME", evse_uid="E" * 65, status="AVAILABLE", observed_at="2026-10-01T00:00:00Z"
        )
    with pytest.raises(InvalidObservation, match="^evse_uid: contains control"):
        Observation.parse(
            cpo_id="ACME",
            evse_uid="E\x1b[2J",
            status="AVAILABLE",
            observed_at="2026-10-01T00:00:00Z",
        )
    with pytest.raises(InvalidObservation, match="^status: expected a string"):
        Observation.parse(
            cpo_id="ACME", evse_uid="E1", status=None, observed_at="2026-10-01T00:00:00Z"
        )
    with pytest.raises(InvalidObservation, match="^cpo_id: expected a string"):
        Observation.parse(
            cpo_id=7, evse_uid="E1", status="AVAILABLE", observed_at="2026-10-01T00:00:00Z"
        )
