"""LGA of a site from its coordinates (spec 4.4, 5): point in polygon, given/derived/none counts."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargeatlarge.cli import main
from shared.lga import Lga, LgaBoundaries, LgaBoundariesRefused, assign_lgas
from shared.settings import Settings
from shared.sites import REQUIRED_COLUMNS, read_static_sites

SHIPPED = Settings(_env_file=None).lga_boundaries


def square(code: str, name: str, state: str, west: float, south: float, size: float) -> dict:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return {
        "type": "Feature",
        "properties": {"LGA_code": code, "LGA_name": name, "STE_NAME21": state},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


# Two unit squares side by side sharing the line longitude 150; a third, far away, in Victoria.
AREAS = {
    "type": "FeatureCollection",
    "features": [
        square("10002", "East", "New South Wales", 150.0, -35.0, 1.0),
        square("10001", "West", "New South Wales", 149.0, -35.0, 1.0),
        square("20001", "Border", "Victoria", 145.0, -37.0, 1.0),
    ],
}


@pytest.fixture
def boundaries() -> LgaBoundaries:
    return LgaBoundaries.from_geojson(json.dumps(AREAS).encode(), "areas.geojson")


@pytest.mark.parametrize(
    ("latitude", "longitude", "code"),
    [
        (-34.5, 149.5, "10001"),
        (-34.5, 150.5, "10002"),
        (-34.5, 150.0, "10001"),  # on the shared edge: both hold it, the lowest code wins
        (-35.0, 149.2, "10001"),  # on the outer edge: the boundary belongs to the area
        (-34.5, 151.5, None),
        (-36.5, 145.5, "20001"),
    ],
)
def test_locate(
    boundaries: LgaBoundaries, latitude: float, longitude: float, code: str | None
) -> None:
    found = boundaries.locate(latitude, longitude)
    assert (found.code if found else None) == code


def test_shipped_boundaries_locate_capital_cities() -> None:
    shipped = LgaBoundaries.read(SHIPPED)
    assert len(shipped.areas) == 153
    assert shipped.locate(-33.8732, 151.2061) == Lga("17200", "Sydney", "NSW")  # Town Hall
    assert shipped.locate(-31.95, 115.86) == Lga("57080", "Perth", "WA")
    assert shipped.locate(-42.88, 147.33) == Lga("62810", "Hobart", "TAS")
    assert shipped.locate(-36.08, 146.91) == Lga("10050", "Albury", "NSW")
    assert shipped.locate(-25.0, 135.0) is None  # the desert: no LGA of the charging subset


def row(site: str, latitude: float, longitude: float, state: str = "NSW", lga: str = "") -> dict:
    return {
        "cpo_id": "ACME",
        "site_id": site,
        "state": state,
        "latitude": latitude,
        "longitude": longitude,
        "lga_code": lga or None,
        "lga_name": "Given" if lga else None,
    }


def test_assign_counts_sites_given_derived_none(boundaries: LgaBoundaries) -> None:
    rows = [
        row("S1", -34.5, 149.5, lga="19999"),
        row("S1", -34.5, 149.5, lga="19999"),
        row("S2", -34.5, 150.5),
        row("S2", -34.5, 150.5),
        row("S3", -20.0, 150.5),  # outside every area
        row("S4", -36.5, 145.5),  # a Victorian area, but the site says NSW
        row("S5", -36.5, 145.5, state="VIC"),
    ]
    summary = assign_lgas(rows, boundaries)
    assert (summary.given, summary.derived, summary.none) == (1, 2, 2)
    assert [(r["site_id"], r["lga_code"], r["lga_name"]) for r in rows] == [
        ("S1", "19999", "Given"),
        ("S1", "19999", "Given"),
        ("S2", "10002", "East"),
        ("S2", "10002", "East"),
        ("S3", None, None),
        ("S4", None, None),
        ("S5", "20001", "Border"),
    ]
    assert summary.notes == [
        "site S4 (ACME): its coordinates lie in Border (20001), VIC, not in NSW; no LGA derived"
    ]
    assert str(summary) == "LGA: 1 given, 2 derived from coordinates, 2 none"


def test_without_boundaries_every_site_without_an_lga_has_none() -> None:
    summary = assign_lgas([row("S1", -34.5, 149.5), row("S2", -34.5, 149.5, lga="10001")], None)
    assert (summary.given, summary.derived, summary.none) == (1, 0, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not GeoJSON"),
        (b'{"type": "FeatureCollection", "features": []}', "with features"),
        (b"[1, 2]", "with features"),
        (
            json.dumps({"features": [{"properties": {"name": "x"}, "geometry": None}]}).encode(),
            "expected the ABS properties LGA_code, LGA_name and STE_NAME21",
        ),
        (
            json.dumps(
                {
                    "features": [
                        {
                            "properties": {
                                "LGA_code": "1",
                                "LGA_name": "x",
                                "STE_NAME21": "Victoria",
                            },
                            "geometry": {"type": "Point", "coordinates": [145, -37]},
                        }
                    ]
                }
            ).encode(),
            "Point, expected polygons",
        ),
        (b"[" * 100_000, "not GeoJSON"),
    ],
)
def test_unusable_boundary_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(LgaBoundariesRefused, match=message):
        LgaBoundaries.from_geojson(data, "b.geojson")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LgaBoundariesRefused, match="cannot be read"):
        LgaBoundaries.read(tmp_path / "absent.geojson")


def test_sites_load_derives_lgas_stores_them_and_reports_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.blobstore import LocalBlobStore
    from shared.settings import get_settings

    boundary_file = tmp_path / "areas.geojson"
    boundary_file.write_text(json.dumps(AREAS))
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAL_LGA_BOUNDARIES", str(boundary_file))
    get_settings.cache_clear()
    header = ",".join(REQUIRED_COLUMNS) + ",lga_code,lga_name"
    base = "ACME,{site},Site,1 Main St,Town,NSW,2580,{lat},{lon},C{site},E{site},1,IEC_62196_T2,AC_3_PHASE,22,{lga}"
    lines = [
        base.format(site="1", lat=-34.5, lon=149.5, lga="18888,Given Shire"),
        base.format(site="2", lat=-34.5, lon=150.5, lga=","),
        base.format(site="3", lat=-20.0, lon=150.5, lga=","),
    ]
    sites_csv = tmp_path / "sites.csv"
    sites_csv.write_text("\n".join([header, *lines]) + "\n")
    try:
        result = CliRunner().invoke(main, ["sites", "load", str(sites_csv)])
        assert result.exit_code == 0, result.output
        assert f"{sites_csv}: LGA: 1 given, 1 derived from coordinates, 1 none" in result.output
        stored = read_static_sites(LocalBlobStore(tmp_path / "var" / "blobs")).connectors
        assert stored[["site_id", "lga_code", "lga_name"]].fillna("").values.tolist() == [
            ["1", "18888", "Given Shire"],
            ["2", "10002", "East"],
            ["3", "", ""],
        ]
        monkeypatch.setenv("CAL_LGA_BOUNDARIES", str(tmp_path / "absent.geojson"))
        get_settings.cache_clear()
        again = CliRunner().invoke(main, ["sites", "load", str(sites_csv)])
        assert again.exit_code == 0, again.output
        assert "warning: no LGA is derived from coordinates" in again.output
        assert "LGA: 1 given, 0 derived from coordinates, 2 none" in again.output
    finally:
        get_settings.cache_clear()
