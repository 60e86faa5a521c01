"""Static site CSVs (spec section 5): good rows load, bad rows are reported with file and line."""

import re
from pathlib import Path

import pytest

from shared.sites import (
    REQUIRED_COLUMNS,
    SitesFileRefused,
    read_static_sites,
    store_sites,
    validate_sites_csv,
    write_sites_csv,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "sites_small.csv"
HEADER = ",".join(REQUIRED_COLUMNS)
GOOD = "ACME,S1,Site,1 Main St,Goulburn,NSW,2580,-34.75,149.72,C1,E1,1,IEC_62196_T2,AC_3_PHASE,22"


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def test_fixture_loads_clean() -> None:
    result = validate_sites_csv(FIXTURE.read_bytes(), "sites_small.csv")
    assert result.problems == []
    assert len(result.rows) == 5
    first = result.rows[0]
    assert (first["latitude"], first["max_power_kw"], first["program"]) == (
        -34.754,
        150.0,
        "NSW-FCG-R1",
    )
    assert str(result.rows[3]["commissioned_on"]) == "2026-10-10"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GOOD.replace(",NSW,", ",XYZ,"), "state: 'XYZ' is not one of"),
        (GOOD.replace("-34.75", "51.5"), "latitude: 51.5 is outside"),
        (GOOD.replace("149.72", "nan"), "longitude: nan is outside"),
        (GOOD.replace("IEC_62196_T2", "TYPE2"), "connector_standard: 'TYPE2' is not an OCPI"),
        (GOOD.replace("AC_3_PHASE", "AC"), "power_type: 'AC' is not one of"),
        (GOOD.replace(",22", ",lots"), "max_power_kw: 'lots' is not a number"),
        (GOOD.replace(",2580,", ",25800,"), "postcode: '25800' is not a 4-digit"),
        (GOOD.replace(",E1,", ",,"), "evse_uid: required, empty"),
        (GOOD.replace("Site", "=HYPERLINK(1)"), "looks like a spreadsheet formula"),
        (GOOD.replace("Site", "S" * 600), "site_name: longer than 500"),
        (GOOD + ",extra", "expected 15 fields, got 16"),
        ("ACME,S1", "expected 15 fields, got 2"),
    ],
)
def test_bad_rows_are_reported_and_good_rows_kept(line: str, reason: str) -> None:
    result = validate_sites_csv(csv_bytes(GOOD.replace("E1", "E0"), line), "upload.csv")
    assert len(result.rows) == 1
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.source, problem.line) == ("upload.csv", 3)
    assert reason in problem.reason
    assert str(problem).startswith("upload.csv:3: ")


def test_consistency_across_rows() -> None:
    result = validate_sites_csv(
        csv_bytes(
            GOOD,
            GOOD,  # the same connector twice
            GOOD.replace(",C1,E1,1,", ",C2,E1,2,"),  # EVSE moved to another charger
            GOOD.replace("ACME,S1", "ACME,S2").replace(
                ",E1,", ",E5,"
            ),  # charger C1 at another site
        ),
        "f.csv",
    )
    reasons = [p.reason for p in result.problems]
    assert [p.line for p in result.problems] == [3, 4, 5]
    assert "listed twice (first on line 2)" in reasons[0]
    assert "already belongs to charger C1" in reasons[1]
    assert "charger_id C1 already belongs to site S1" in reasons[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "not a CSV file"),
        ("cpo_id,site_id,Ä\nA,B\n".encode("latin-1"), "header: not UTF-8 (byte 0xc4)"),
        (b"", "empty file"),
        (b"cpo_id,site_id,state\nA,B,NSW\n", "missing required column(s): site_name"),
        ((HEADER + ",state\n").encode(), "repeated column name"),
    ],
)
def test_files_that_are_not_site_csvs_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(SitesFileRefused, match=re.escape(message)):
        validate_sites_csv(data, "bad.csv")


def test_utf8_bom_and_crlf_are_fine() -> None:
    data = "\ufeff".encode() + csv_bytes(GOOD).replace(b"\n", b"\r\n")
    assert len(validate_sites_csv(data, "excel.csv").rows) == 1


def test_store_and_read_back(blobstore) -> None:
    store_sites(blobstore, validate_sites_csv(FIXTURE.read_bytes(), "/some/where/sites_small.csv"))
    store_sites(blobstore, validate_sites_csv(csv_bytes(GOOD), "more"))
    blobstore.put("static/sites/broken.csv", b"not,a,site,file\n")
    sites = read_static_sites(blobstore)
    assert sites.sources == ["static/sites/more.csv", "static/sites/sites_small.csv"]
    assert len(sites.connectors) == 6
    assert list(sites.connectors.columns[:15]) == list(REQUIRED_COLUMNS)
    assert sites.connectors["latitude"].dtype == "float64"
    assert any(
        "broken.csv" in problem and "missing required" in problem for problem in sites.problems
    )


def test_same_connector_in_two_files_keeps_the_first(blobstore) -> None:
    blobstore.put("static/sites/a.csv", csv_bytes(GOOD))
    blobstore.put("static/sites/b.csv", csv_bytes(GOOD.replace(",22", ",7")))
    sites = read_static_sites(blobstore)
    assert sites.connectors["max_power_kw"].tolist() == [22.0]
    assert any("also in static/sites/a.csv" in problem for problem in sites.problems)


def test_empty_store_gives_an_empty_table_with_the_columns(blobstore) -> None:
    sites = read_static_sites(blobstore)
    assert sites.connectors.empty and "evse_uid" in sites.connectors.columns


def test_write_round_trip() -> None:
    rows = validate_sites_csv(FIXTURE.read_bytes(), "f").rows
    assert validate_sites_csv(write_sites_csv(rows), "g").rows == rows


# Version 2 columns: opening_hours, time_zone, lga_code, lga_name (spec 5).
V2_HEADER = HEADER + ",opening_hours,time_zone,lga_code,lga_name"


def v2_bytes(*lines: str) -> bytes:
    return ("\n".join([V2_HEADER, *lines]) + "\n").encode()


def v2(
    evse: str = "E1",
    site: str = "S1",
    hours: str = "",
    zone: str = "",
    lga_code: str = "",
    lga_name: str = "",
) -> str:
    line = GOOD.replace("ACME,S1", f"ACME,{site}").replace(",C1,E1,", f",C{site},{evse},")
    return f"{line},{hours},{zone},{lga_code},{lga_name}"


def test_version_2_columns_load_and_reach_the_connectors_frame(blobstore) -> None:
    result = validate_sites_csv(
        v2_bytes(
            v2(
                "E1",
                hours="Mo-Fr 08:00-18:00;Sa 09:00-12:00",
                lga_code="11400",
                lga_name="Goulburn Mulwaree",
            ),
            v2(
                "E2",
                hours="Mo-Fr 08:00-18:00;Sa 09:00-12:00",
                lga_code="11400",
                lga_name="Goulburn Mulwaree",
            ),
            v2("E3", site="S2", hours="24/7", zone="Australia/Perth"),
            v2("E4", site="S3"),
        ),
        "v2.csv",
    )
    assert result.problems == []
    assert [
        (r["opening_hours"], r["time_zone"], r["lga_code"], r["lga_name"]) for r in result.rows
    ] == [
        ("Mo-Fr 08:00-18:00;Sa 09:00-12:00", None, "11400", "Goulburn Mulwaree"),
        ("Mo-Fr 08:00-18:00;Sa 09:00-12:00", None, "11400", "Goulburn Mulwaree"),
        ("24/7", "Australia/Perth", None, None),
        (None, None, None, None),
    ]
    store_sites(blobstore, result)
    frame = read_static_sites(blobstore).connectors
    for column in ("opening_hours", "time_zone", "lga_code", "lga_name"):
        assert column in frame.columns
    e3 = frame[frame["evse_uid"] == "E3"].iloc[0]
    assert (e3["opening_hours"], e3["time_zone"]) == ("24/7", "Australia/Perth")
    assert frame[frame["evse_uid"] == "E1"].iloc[0]["lga_code"] == "11400"


def test_empty_frame_has_the_version_2_columns(blobstore) -> None:
    columns = read_static_sites(blobstore).connectors.columns
    assert {"opening_hours", "time_zone", "lga_code", "lga_name"} <= set(columns)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (v2(hours="Mo-Fr 8-18"), "opening_hours rule 1 'Mo-Fr 8-18'"),
        (v2(hours="Mo-Xx 08:00-18:00"), "unknown day 'Xx'"),
        (v2(hours="Mo 08:00-25:00"), "is not a time of day"),
        (v2(hours="Mo 08:00-18:00;;Tu 08:00-18:00"), "empty rule"),
        (v2(hours="Monday 08:00-18:00"), "unknown day 'Monday'"),
        (v2(zone="Australia/Gotham"), "time_zone: 'Australia/Gotham' is not an IANA time zone"),
        (v2(zone="australia/sydney"), "is not an IANA time zone"),
        (v2(zone="localtime"), "is not an IANA time zone"),
        (
            v2(lga_code="1140", lga_name="Goulburn"),
            "lga_code: '1140' is not a 5-digit ABS LGA code",
        ),
        (v2(lga_code="11400"), "lga_name: required when lga_code is given"),
        (v2(lga_name="Goulburn"), "lga_code: required when lga_name is given"),
    ],
)
def test_bad_version_2_values_are_reported_by_line(line: str, reason: str) -> None:
    result = validate_sites_csv(v2_bytes(v2("E0", site="S0"), line), "hours.csv")
    assert [r["evse_uid"] for r in result.rows] == ["E0"]
    assert len(result.problems) == 1
    assert str(result.problems[0]).startswith("hours.csv:3: ")
    assert reason in result.problems[0].reason


def test_a_site_whose_rows_disagree_is_reported_on_every_row() -> None:
    result = validate_sites_csv(
        v2_bytes(
            v2("E1", hours="Mo-Fr 08:00-18:00"),
            v2("E9", site="S9", hours="Sa 10:00-14:00"),  # another site: loads
            v2("E2", hours="Mo-Fr 08:00-17:00"),
            v2("E3"),  # empty opening hours means 24/7: a third value
            v2("E7", site="S7", zone="Australia/Perth"),
            v2("E8", site="S7", zone="Australia/Adelaide"),
        ),
        "disagree.csv",
    )
    assert [r["evse_uid"] for r in result.rows] == ["E9"]
    assert [p.line for p in result.problems] == [2, 4, 5, 6, 7]
    for problem in result.problems[:3]:
        assert "site S1: its rows disagree on opening_hours" in problem.reason
        assert "'Mo-Fr 08:00-17:00' vs 'Mo-Fr 08:00-18:00'" in problem.reason
    assert "site S7: its rows disagree on time_zone" in result.problems[3].reason


def test_rows_without_an_lga_take_their_sites_given_one_and_given_ones_must_agree() -> None:
    result = validate_sites_csv(
        v2_bytes(
            v2("E1", lga_code="11400", lga_name="Goulburn Mulwaree"),
            v2("E2"),
            v2("E5", site="S5", lga_code="11400", lga_name="Goulburn Mulwaree"),
            v2("E6", site="S5", lga_code="17200", lga_name="Sydney"),
        ),
        "lga.csv",
    )
    assert [(r["evse_uid"], r["lga_code"], r["lga_name"]) for r in result.rows] == [
        ("E1", "11400", "Goulburn Mulwaree"),
        ("E2", "11400", "Goulburn Mulwaree"),
    ]
    assert [p.line for p in result.problems] == [4, 5]
    assert all(
        "site S5: its rows disagree on lga_code, lga_name" in p.reason for p in result.problems
    )


def test_a_bad_row_does_not_make_its_site_disagree() -> None:
    """A row refused for its own reason is not counted when the site's rows are compared."""
    result = validate_sites_csv(
        v2_bytes(
            v2("E1", hours="Mo 08:00-18:00"),
            v2("E2", hours="Mo 8:00-18"),
            v2("E3", hours="Mo 08:00-18:00"),
        ),
        "f.csv",
    )
    assert [r["evse_uid"] for r in result.rows] == ["E1", "E3"]
    assert [p.line for p in result.problems] == [3]
