"""The shipped default site set: valid per spec section 5 and shaped like the real network."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from chargeatlarge.sample_data import DEFAULT_SITES_CSV
from chargeatlarge.sample_data.build_sites import OPERATORS, build_default_rows, charger_layout
from chargeatlarge.sample_data.localities import LOCALITIES
from shared.blobstore import LocalBlobStore
from shared.sites import (
    CONNECTOR_STANDARDS,
    REQUIRED_COLUMNS,
    read_static_sites,
    store_sites,
    validate_sites_csv,
    write_sites_csv,
)

STATES = {"ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"}

# Australia Post ranges of delivery-area postcodes (PO-box ranges not used by localities).
POSTCODE_RANGES = {
    "NSW": ((2000, 2599), (2619, 2899), (2921, 2999)),
    "ACT": ((200, 299), (2600, 2618), (2900, 2920)),
    "VIC": ((3000, 3999),),
    "QLD": ((4000, 4999),),
    "SA": ((5000, 5799),),
    "WA": ((6000, 6797),),
    "TAS": ((7000, 7799),),
    "NT": ((800, 899),),
}

# Rough bounding boxes of each state / territory: (lat_min, lat_max, lon_min, lon_max).
STATE_BOXES = {
    "NSW": (-37.6, -28.1, 140.9, 153.7),
    "VIC": (-39.2, -33.9, 140.9, 150.0),
    "QLD": (-29.2, -10.0, 137.9, 153.6),
    "SA": (-38.1, -25.9, 128.9, 141.1),
    "WA": (-35.2, -13.6, 112.9, 129.1),
    "TAS": (-43.7, -39.5, 143.8, 148.5),
    "NT": (-26.1, -10.9, 128.9, 138.1),
    "ACT": (-35.95, -35.1, 148.75, 149.4),
}

REAL_OPERATOR_NAMES = ("tesla", "chargefox", "evie", "nrma", "ampol", "ampcharge", "jolt", "bp ")


def state_of_postcode(postcode: str) -> str | None:
    number = int(postcode)
    for state, ranges in POSTCODE_RANGES.items():
        if any(low <= number <= high for low, high in ranges):
            return state
    return None


@pytest.mark.parametrize(
    ("postcode", "state"),
    [
        ("2000", "NSW"),
        ("2600", "ACT"),
        ("2618", "ACT"),
        ("2619", "NSW"),
        ("2620", "NSW"),
        ("2900", "ACT"),
        ("2921", "NSW"),
        ("0800", "NT"),
        ("0200", "ACT"),
        ("3690", "VIC"),
        ("4000", "QLD"),
        ("5000", "SA"),
        ("6000", "WA"),
        ("7000", "TAS"),
        ("1999", None),
        ("9999", None),
    ],
)
def test_postcode_ranges_table(postcode: str, state: str | None) -> None:
    assert state_of_postcode(postcode) == state


@pytest.fixture(scope="module")
def text() -> str:
    return DEFAULT_SITES_CSV.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_shipped_csv_is_valid_per_spec(text: str, rows: list[dict[str, str]]) -> None:
    validated = validate_sites_csv(text.encode(), str(DEFAULT_SITES_CSV))
    assert validated.problems == []
    assert len(validated.rows) == len(rows) > 0
    header = text.splitlines()[0].split(",")
    assert header[: len(REQUIRED_COLUMNS)] == list(REQUIRED_COLUMNS)
    for column in ("ocpp_charge_point_id", "ocpp_evse_id", "program"):
        assert column in header
    for column in ("commissioned_on", "decommissioned_on"):
        assert column in header


def test_every_value_in_range(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["state"] in STATES
        assert -44 <= float(row["latitude"]) <= -10, row
        assert 112 <= float(row["longitude"]) <= 154, row
        assert row["connector_standard"] in CONNECTOR_STANDARDS
        assert row["power_type"] in ("AC_1_PHASE", "AC_3_PHASE", "DC")
        assert all(row[column].strip() for column in REQUIRED_COLUMNS), row


def test_keys_unique_and_hierarchy_consistent(rows: list[dict[str, str]]) -> None:
    connectors = Counter((r["cpo_id"], r["evse_uid"], r["connector_id"]) for r in rows)
    assert max(connectors.values()) == 1
    evse_home: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    charger_site: dict[tuple[str, str], set[str]] = defaultdict(set)
    site_place: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for r in rows:
        evse_home[(r["cpo_id"], r["evse_uid"])].add((r["charger_id"], r["site_id"]))
        charger_site[(r["cpo_id"], r["charger_id"])].add(r["site_id"])
        site_place[(r["cpo_id"], r["site_id"])].add(
            (r["site_name"], r["address"], r["suburb"], r["state"], r["postcode"])
        )
    assert all(len(homes) == 1 for homes in evse_home.values())
    assert all(len(sites) == 1 for sites in charger_site.values())
    assert all(len(places) == 1 for places in site_place.values())
    for (_, evse_uid), _ in evse_home.items():
        assert re.fullmatch(r"AU\*[A-Z]{3}\*E\d{4,}\*\d+", evse_uid), evse_uid


def test_network_shape(rows: list[dict[str, str]]) -> None:
    sites = {(r["cpo_id"], r["site_id"]): r["state"] for r in rows}
    assert 150 <= len(sites) <= 250
    per_state = Counter(sites.values())
    assert set(per_state) == STATES
    assert {state for state, _ in per_state.most_common(3)} == {"NSW", "VIC", "QLD"}
    cpos = {r["cpo_id"] for r in rows}
    assert 6 <= len(cpos) <= 8
    for r in rows:
        for name in REAL_OPERATOR_NAMES:
            assert name not in f"{r['cpo_id']} {r['site_name']} ".lower(), r


def test_realistic_power_and_connectors(rows: list[dict[str, str]]) -> None:
    for r in rows:
        kw = float(r["max_power_kw"])
        if r["power_type"] == "DC":
            assert r["connector_standard"] in ("IEC_62196_T2_COMBO", "CHADEMO"), r
            assert 50 <= kw <= 350, r
            if r["connector_standard"] == "CHADEMO":
                assert kw == 50, r
        else:
            assert r["connector_standard"] == "IEC_62196_T2", r
            assert 7 <= kw <= 22, r
        if r["power_type"] == "AC_1_PHASE":
            assert kw <= 7.4, r
    by_evse: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        by_evse[(r["cpo_id"], r["evse_uid"])].add(r["connector_standard"])
    assert {"IEC_62196_T2_COMBO", "CHADEMO"} in by_evse.values()  # a dual-standard EVSE
    power_types = Counter(r["power_type"] for r in rows)
    assert power_types["DC"] > 0 and power_types["AC_3_PHASE"] > 0 and power_types["AC_1_PHASE"] > 0
    assert {float(r["max_power_kw"]) for r in rows} >= {50.0, 350.0, 22.0, 7.0}


def test_programs_dates_and_ocpp(rows: list[dict[str, str]]) -> None:
    programs = {r["program"] for r in rows if r["program"]}
    assert {"NSW-FCG-R1", "VIC-ZEV", "QLD-ESH"} <= programs
    for r in rows:
        if r["program"]:
            assert r["program"].startswith(r["state"] + "-"), r
    commissioned = {date.fromisoformat(r["commissioned_on"]) for r in rows if r["commissioned_on"]}
    decommissioned = [r for r in rows if r["decommissioned_on"]]
    assert commissioned and all(day.year == 2026 for day in commissioned)
    assert decommissioned
    ocpp_cpos = {r["cpo_id"] for r in rows if r["ocpp_charge_point_id"]}
    assert 1 <= len(ocpp_cpos) <= 2
    per_point: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in rows:
        if r["cpo_id"] in ocpp_cpos:
            assert re.fullmatch(r"CP-[A-Z]{3}-\d{4,}", r["ocpp_charge_point_id"]), r
            per_point[(r["cpo_id"], r["ocpp_charge_point_id"])].add(int(r["ocpp_evse_id"]))
        else:
            assert r["ocpp_charge_point_id"] == r["ocpp_evse_id"] == "", r
    for evse_ids in per_point.values():
        assert evse_ids == set(range(1, len(evse_ids) + 1))


def test_postcodes_agree_with_states(rows: list[dict[str, str]]) -> None:
    for r in rows:
        assert state_of_postcode(r["postcode"]) == r["state"], r
    for locality in LOCALITIES:
        assert state_of_postcode(locality.postcode) == locality.state, locality


def test_localities_are_inside_their_state() -> None:
    seen = set()
    for locality in LOCALITIES:
        lat_min, lat_max, lon_min, lon_max = STATE_BOXES[locality.state]
        assert lat_min <= locality.latitude <= lat_max, locality
        assert lon_min <= locality.longitude <= lon_max, locality
        assert locality.kind in ("city", "regional", "highway")
        key = (locality.name, locality.state)
        assert key not in seen, locality
        seen.add(key)


def test_sites_sit_at_their_locality(rows: list[dict[str, str]]) -> None:
    centres = {(loc.name, loc.state): loc for loc in LOCALITIES}
    for r in rows:
        locality = centres[(r["suburb"], r["state"])]
        assert r["postcode"] == locality.postcode
        assert abs(float(r["latitude"]) - locality.latitude) <= 0.005, r
        assert abs(float(r["longitude"]) - locality.longitude) <= 0.005, r


def test_shipped_csv_is_reproducible(text: str) -> None:
    assert write_sites_csv(build_default_rows()) == text.encode("utf-8")
    assert build_default_rows(seed=7) != build_default_rows()


def test_loads_through_the_blob_store(blobstore: LocalBlobStore, rows: list[dict]) -> None:
    validated = validate_sites_csv(DEFAULT_SITES_CSV.read_bytes(), "sites_au.csv")
    store_sites(blobstore, validated)
    static = read_static_sites(blobstore)
    assert static.problems == []
    assert len(static.connectors) == len(rows)
    assert set(static.connectors["state"]) == STATES


def test_operator_table_and_unknown_template() -> None:
    assert len({op.cpo_id for op in OPERATORS}) == len({op.code for op in OPERATORS}) == 7
    with pytest.raises(ValueError, match="unknown site template 'megawatt'"):
        charger_layout(random.Random(1), "megawatt")
