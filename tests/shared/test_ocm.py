"""Open Charge Map export → static CSV: messy real-world exports convert with warnings."""

import json
from pathlib import Path

import pytest

from shared.ocm import (
    ATTRIBUTION,
    OcmExportRefused,
    convert_export,
    normalise_state,
    state_from_postcode,
)
from shared.sites import validate_sites_csv, write_sites_csv
from tests.conftest import shared_data

MESSY = Path(__file__).parent.parent / "fixtures" / "ocm_messy.json"


@pytest.mark.parametrize(
    ("postcode", "state"),
    [
        ("2000", "NSW"),
        ("2600", "ACT"),
        ("2619", "NSW"),
        ("2913", "ACT"),
        ("0800", "NT"),
        ("3000", "VIC"),
        ("4000", "QLD"),
        ("5000", "SA"),
        ("6000", "WA"),
        ("7000", "TAS"),
        ("0200", "ACT"),
        ("9726", "QLD"),
        ("12", None),
        ("abcd", None),
    ],
)
def test_state_from_postcode(postcode: str, state: str | None) -> None:
    assert state_from_postcode(postcode) == state


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("New South Wales", "NSW"),
        ("nsw", "NSW"),
        ("N.S.W.", "NSW"),
        ("Vic", "VIC"),
        ("Western  Australia", "WA"),
        ("Westralia", None),
        (None, None),
        (42, None),
    ],
)
def test_state_spellings(raw: object, state: str | None) -> None:
    assert normalise_state(raw) == state


def test_messy_export() -> None:
    result = convert_export(MESSY.read_bytes(), "messy.json")
    by_site: dict[str, list[dict]] = {}
    for row in result.rows:
        by_site.setdefault(row["site_id"], []).append(row)
    # Quantity 2 → two EVSEs; the CHAdeMO shares Reference "A" so all three are one charger.
    plaza = by_site["OCM-900001"]
    assert [r["evse_uid"] for r in plaza] == ["OCM-900001-1-1", "OCM-900001-1-2", "OCM-900001-2-1"]
    assert {r["charger_id"] for r in plaza} == {"OCM-900001-A"}
    assert [r["connector_standard"] for r in plaza] == [
        "IEC_62196_T2_COMBO",
        "IEC_62196_T2_COMBO",
        "CHADEMO",
    ]
    assert plaza[0]["cpo_id"] == "OCM-OP77" and plaza[0]["state"] == "NSW"
    # Missing state comes from the postcode; unknown connection type is kept with a warning.
    darwin = by_site["OCM-900002"][0]
    assert (darwin["state"], darwin["cpo_id"], darwin["connector_standard"]) == (
        "NT",
        "OCM-UNKNOWN",
        "IEC_62196_T2",
    )
    assert by_site["OCM-900003"][0]["state"] == "VIC"
    assert (
        by_site["OCM-900003"][0]["max_power_kw"] == 22.0
        or by_site["OCM-900003"][0]["max_power_kw"] == 7.0
    )
    # Unrecognised state → from postcode; formula neutralised; absurd Quantity capped.
    perth = by_site["OCM-900005"]
    assert perth[0]["state"] == "WA" and not str(perth[0]["site_name"]).startswith("=")
    assert len(perth) == 50
    assert "OCM-900004" not in by_site and "OCM-900006" not in by_site
    assert result.skipped_pois == 3
    warnings = "\n".join(result.warnings)
    assert "ConnectionTypeID 9999" in warnings
    assert "outside Australia" in warnings and "POI #5: not an object" in warnings
    assert "capped at 50" in warnings and "no Connections" in warnings
    assert all(row["attribution"] == ATTRIBUTION for row in result.rows)
    # The output is a valid static CSV that carries the attribution.
    validated = validate_sites_csv(write_sites_csv(result.rows), "ocm.csv")
    assert validated.problems == [] and len(validated.rows) == len(result.rows)
    assert validated.rows[0]["attribution"] == ATTRIBUTION


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"ID": 1}', "expected a JSON list"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_not_an_export(data: bytes, message: str) -> None:
    with pytest.raises(OcmExportRefused, match=message):
        convert_export(data, "x.json")


def test_real_open_charge_map_sample() -> None:
    path = shared_data("openchargemap-au", "ocm-au-sample.json")
    pois = json.loads(path.read_text())
    result = convert_export(path.read_bytes(), path.name)
    assert result.skipped_pois == 0
    assert {row["site_id"] for row in result.rows} == {f"OCM-{poi['ID']}" for poi in pois}
    states = {row["site_id"]: row["state"] for row in result.rows}
    assert (
        states["OCM-113602"] == "NSW" and states["OCM-148117"] == "WA"
    )  # "NSW" and "Western Australia"
    # Quantity 4 at the Tamworth POI → four EVSEs.
    assert sum(row["site_id"] == "OCM-113602" for row in result.rows) == 4
    assert validate_sites_csv(write_sites_csv(result.rows), "ocm.csv").problems == []
