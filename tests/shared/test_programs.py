"""Grant programs: funded-charger lists matched to static sites, stored assignments, the CLI.

Distances are placed along a meridian, where the great-circle distance of a latitude step is
exactly R × Δφ: a site ``metres_north(d)`` from a listed point is d metres from it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import Engine

from chargeatlarge.cli import main
from shared.blobstore import LocalBlobStore
from shared.monthly.sections import threshold_lookup
from shared.programs import PROGRAMS_SCHEMA, site_programs
from shared.programs.addresses import EARTH_RADIUS_M, Address, haversine_m
from shared.programs.funded import FundedListRefused, read_funded_list
from shared.programs.importer import import_funded_list
from shared.programs.matching import MatchOptions, SiteIndex, match_rows
from shared.programs.operators import OperatorDirectory, operator_key
from shared.programs.store import NotAssigned, assign, assignments, unassign
from shared.settings import Settings, get_settings
from shared.sites import store_sites, validate_sites_csv, write_sites_csv
from tests.conftest import shared_data

FUNDED_HEADER = "cpo_name,address,suburb,postcode,latitude,longitude,program,round"
DEGREE_M = EARTH_RADIUS_M * math.pi / 180  # 111,195.08 m per degree of latitude


def metres_north(latitude: float, metres: float) -> float:
    return latitude + metres / DEGREE_M


def site(
    cpo_id: str,
    site_id: str,
    address: str,
    suburb: str,
    postcode: str,
    latitude: float,
    longitude: float,
    program: str | None = None,
    evses: int = 1,
) -> list[dict[str, object]]:
    """The static CSV rows (one connector per EVSE) of one site."""
    return [
        {
            "cpo_id": cpo_id,
            "site_id": site_id,
            "site_name": f"{suburb} charging",
            "address": address,
            "suburb": suburb,
            "state": "NSW",
            "postcode": postcode,
            "latitude": latitude,
            "longitude": longitude,
            "charger_id": f"{site_id}-C1",
            "evse_uid": f"{site_id}-E{n}",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "power_type": "AC_3_PHASE",
            "max_power_kw": 22,
            "program": program,
        }
        for n in range(1, evses + 1)
    ]


def static_csv(rows: list[dict[str, object]]) -> bytes:
    return write_sites_csv(rows)


def index_of(rows: list[dict[str, object]]) -> SiteIndex:
    validated = validate_sites_csv(static_csv(rows), "sites.csv")
    assert validated.problems == []
    return SiteIndex.from_connectors(pd.DataFrame(validated.rows))


def funded(*lines: str, header: str = FUNDED_HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def match_funded(
    data: bytes, rows: list[dict[str, object]], cpo_id: str | None = None, **options: float
):
    listed = read_funded_list(data, "funded.csv")
    assert listed.problems == []
    index = index_of(rows)
    return match_rows(
        listed.rows, index, OperatorDirectory.build(index.sites), MatchOptions(**options), cpo_id
    )


# --- pieces ------------------------------------------------------------------------------------


def test_haversine_along_a_meridian_and_across_the_continent() -> None:
    assert haversine_m(-33.0, 151.0, -34.0, 151.0) == pytest.approx(111_195.08, abs=0.01)
    assert haversine_m(-33.0, 151.0, metres_north(-33.0, 25.0), 151.0) == pytest.approx(25.0)
    # Sydney GPO to Perth GPO: 3,290 km is the published great-circle figure.
    assert haversine_m(-33.8675, 151.2070, -31.9523, 115.8613) == pytest.approx(
        3_290_000, rel=0.003
    )


@pytest.mark.parametrize(
    ("text", "numbers", "words"),
    [
        ("67-71 Bulahdelah Way", ((67, 71),), ("bulahdelah", "wy")),
        ("3/45 Smith Street", ((45, 45),), ("smith", "st")),
        ("12A Mingara Road ", ((12, 12),), ("mingara", "rd")),
        ("Shop 2, 204 Beach Rd", ((2, 2), (204, 204)), ("shop", "beach", "rd")),
        ("Pacific Highway", (), ("pacific", "hwy")),
    ],
)
def test_address_parse(text: str, numbers: tuple, words: tuple) -> None:
    address = Address.parse(text)
    assert (address.numbers, address.words) == (numbers, words)


@pytest.mark.parametrize(
    ("listed", "site_address", "numbers_agree", "street_at_least", "street_below"),
    [
        ("69 Bulahdelah Way", "67-71 Bulahdelah Way", True, 100, None),
        ("11 Paradise Beach Rd", "13 Paradise Beach Road", False, 100, None),
        ("Paradise Beach Rd", "11 Paradise Beach Road", True, 100, None),
        ("76 Ford St", "76 Beach Rd", True, None, 1),  # only the street type is shared
        ("12 Main St", "12 Main Rd", True, None, 85),
    ],
)
def test_address_agreement(
    listed: str,
    site_address: str,
    numbers_agree: bool,
    street_at_least: float | None,
    street_below: float | None,
) -> None:
    a, b = Address.parse(listed), Address.parse(site_address)
    assert a.numbers_agree(b) is numbers_agree
    if street_at_least is not None:
        assert a.street_score(b) >= street_at_least
    if street_below is not None:
        assert a.street_score(b) < street_below


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Exploren", "exploren"),
        ("Evie Networks Pty Ltd", "evienetworks"),
        ("EVIE_NETWORKS", "evienetworks"),
        ("Chargefox Pty. Ltd.", "chargefox"),
        ("  NRMA  ", "nrma"),
    ],
)
def test_operator_key(name: str, key: str) -> None:
    assert operator_key(name) == key


def test_operator_directory_resolves_ids_and_names() -> None:
    directory = OperatorDirectory.build(
        ["EXPLOREN", "EVIE_NETWORKS", "EVIE-NETWORKS"], {"NRMA01": "NRMA Motoring Limited"}
    )
    assert directory.resolve("Exploren Pty Ltd") == ("EXPLOREN", "")
    assert directory.resolve("nrma motoring") == ("NRMA01", "")
    cpo_id, why = directory.resolve("Evie Networks")
    assert cpo_id is None and "fits several CPOs (EVIE-NETWORKS, EVIE_NETWORKS)" in why
    cpo_id, why = directory.resolve("Tesla")
    assert cpo_id is None and "'Tesla' is not a known CPO" in why


# --- reading a funded list ---------------------------------------------------------------------


def test_the_real_funded_list_reads_clean() -> None:
    path = shared_data("evc-charge-at-large", "government_funded_chargers.csv")
    listed = read_funded_list(path.read_bytes(), path.name)
    assert listed.problems == []
    assert len(listed.rows) == 11
    fifth = listed.rows[4]  # "Ganmain " carries a trailing space in the file
    assert (fifth.line, fifth.cpo_name, fifth.address, fifth.suburb, fifth.postcode) == (
        6,
        "Exploren",
        "76 Ford St",
        "Ganmain",
        "2702",
    )
    assert (fifth.latitude, fifth.longitude, fifth.program, fifth.round) == (
        -34.7933852,
        147.0388513,
        "Destination Charging",
        "2",
    )
    assert fifth.evse_id is None
    assert {r.round for r in listed.rows} == {"1", "2"}


GOOD_ROW = "Exploren,11 Paradise Beach Rd,Sanctuary Point,2540,-35.1043696,150.624673,Destination Charging,1"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GOOD_ROW.replace("-35.1043696", "35.1"), "latitude: 35.1 is outside Australia"),
        (GOOD_ROW.replace("150.624673", "east"), "longitude: 'east' is not a number"),
        (GOOD_ROW.replace(",2540,", ",25400,"), "postcode: '25400' is not a 4-digit"),
        (GOOD_ROW.replace("Destination Charging", ""), "program: required, empty"),
        (GOOD_ROW.replace("Destination Charging", "=HYPERLINK(1)"), "looks like a spreadsheet"),
        (GOOD_ROW.replace("-35.1043696", ""), "latitude, longitude: give both or neither"),
        (GOOD_ROW.replace("Destination Charging", '"Fast, Round 1"'), "contains ','"),
        (
            "Exploren,,Sanctuary Point,2540,,,Destination Charging,1",
            "a row needs a place to match",
        ),
        (GOOD_ROW + ",extra", "fields, got a different count"),
    ],
)
def test_bad_rows_are_reported_with_line_and_good_rows_kept(line: str, reason: str) -> None:
    listed = read_funded_list(funded(GOOD_ROW, line, GOOD_ROW), "list.csv")
    assert [r.line for r in listed.rows] == [2, 4]
    assert len(listed.problems) == 1 and listed.problems[0].startswith("list.csv:3: ")
    assert reason in listed.problems[0]


def test_a_file_without_the_required_columns_is_refused() -> None:
    with pytest.raises(
        FundedListRefused, match=r"list.csv:1: missing required column\(s\): program"
    ):
        read_funded_list(funded(header="cpo_name,address,postcode,latitude,longitude"), "list.csv")
    with pytest.raises(FundedListRefused, match="not UTF-8"):
        read_funded_list(FUNDED_HEADER.encode() + b"\nCaf\xe9,1 Rd,,2000,,,P,1\n", "list.csv")


# --- matching generated lists ------------------------------------------------------------------

LAT, LON = -35.1043696, 150.624673  # 11 Paradise Beach Rd, Sanctuary Point (the real list)


def row(address: str, suburb: str, postcode: str, lat: float, lon: float, **kw: str) -> str:
    operator = kw.get("operator", "Exploren")
    return f"{operator},{address},{suburb},{postcode},{lat},{lon},{kw.get('program', 'Destination Charging')},{kw.get('round', '1')}"


def test_match_by_location_and_address() -> None:
    sites = site(
        "EXPLOREN",
        "S1",
        "11 Paradise Beach Road",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 25),
        LON,
        program="NSW-DC",
        evses=2,
    )
    sites[1]["program"] = "NSW-AC"
    sites += site(
        "EXPLOREN", "S2", "1 Elsewhere St", "Sanctuary Point", "2540", metres_north(LAT, 900), LON
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert (m.status, m.cpo_id, m.site_id, m.matched_by) == (
        "matched",
        "EXPLOREN",
        "S1",
        "location+address",
    )
    assert m.candidate.distance_m == pytest.approx(25.0)
    assert m.reason == ""
    assert m.candidate.site.programs == ("NSW-AC", "NSW-DC")  # the static CSV's own, still used


def test_near_duplicate_sites_with_the_same_address_are_left_to_a_person() -> None:
    sites = site(
        "EXPLOREN",
        "S1",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 10),
        LON,
    )
    sites += site(
        "EXPLOREN",
        "S1-NEW",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 40),
        LON,
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert m.status == "ambiguous" and m.site_id is None
    assert [c.site.site_id for c in m.contenders] == ["S1", "S1-NEW"]
    assert [c.distance_m for c in m.contenders] == pytest.approx([10.0, 40.0])
    assert "2 sites within 200 m share the address" in m.reason


def test_near_sites_apart_by_street_number_are_told_apart_by_the_address() -> None:
    sites = site(
        "EXPLOREN",
        "S11",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 60),
        LON,
    )
    sites += site(
        "EXPLOREN",
        "S13",
        "13 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 5),
        LON,
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert (m.status, m.site_id, m.matched_by) == ("matched", "S11", "location+address")


def test_near_sites_without_the_address_are_ambiguous() -> None:
    sites = site(
        "EXPLOREN", "A", "2 Kent St", "Sanctuary Point", "2540", metres_north(LAT, 30), LON
    )
    sites += site(
        "EXPLOREN", "B", "4 Kent St", "Sanctuary Point", "2540", metres_north(LAT, -30), LON
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert m.status == "ambiguous"
    assert "2 sites within 200 m, none with the address" in m.reason


def test_wrong_postcode() -> None:
    sites = site(
        "EXPLOREN",
        "S1",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 20),
        LON,
    )
    # Right place, wrong postcode: the suburb still confirms the address.
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2541", LAT, LON)), sites
    )
    assert (m.status, m.site_id, m.matched_by) == ("matched", "S1", "location+address")
    # Wrong postcode, no suburb: the address cannot be confirmed, the place still fits.
    [m] = match_funded(funded(row("11 Paradise Beach Rd", "", "2541", LAT, LON)), sites)
    assert (m.status, m.site_id, m.matched_by) == ("matched", "S1", "location")
    assert "address differs" in m.reason
    # Wrong postcode and coordinates 5 km off: neither place nor address holds.
    far = metres_north(LAT, 5_000)
    [m] = match_funded(funded(row("11 Paradise Beach Rd", "", "2541", far, LON)), sites)
    assert m.status == "unmatched"
    assert "no site of EXPLOREN within 200 m or with the address; nearest is S1" in m.reason
    assert "4,980 m" in m.reason


def test_coordinates_off_but_the_address_agrees() -> None:
    sites = site("EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    far = metres_north(LAT, 3_000)
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", far, LON)), sites
    )
    assert (m.status, m.site_id, m.matched_by) == ("matched", "S1", "address")
    assert m.candidate.distance_m == pytest.approx(3_000.0)
    assert "the listed coordinates are 3,000 m from the site" in m.reason
    # A wider distance limit makes it a location match.
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", far, LON)),
        sites,
        max_distance_m=3_500,
    )
    assert m.matched_by == "location+address"


def test_a_near_site_while_another_site_has_the_address_is_ambiguous() -> None:
    sites = site(
        "EXPLOREN", "NEAR", "2 Kent St", "Sanctuary Point", "2540", metres_north(LAT, 50), LON
    )
    sites += site(
        "EXPLOREN",
        "ADDR",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 2_000),
        LON,
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert m.status == "ambiguous"
    assert [c.site.site_id for c in m.contenders] == ["NEAR", "ADDR"]


def test_sites_of_other_cpos_are_not_matched_but_named() -> None:
    sites = site("OTHERCPO", "O1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    sites += site(
        "EXPLOREN", "S9", "9 Far Away Rd", "Nowra", "2541", metres_north(LAT, 20_000), LON
    )
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)), sites
    )
    assert (m.status, m.cpo_id) == ("unmatched", "EXPLOREN")
    assert "OTHERCPO's site O1 (11 Paradise Beach Rd, Sanctuary Point 2540) is 0 m away" in m.reason
    # --cpo naming the other operator matches it there.
    [m] = match_funded(
        funded(row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)),
        sites,
        cpo_id="OTHERCPO",
    )
    assert (m.status, m.site_id) == ("matched", "O1")


def test_duplicate_rows_and_a_second_round_for_the_same_site() -> None:
    sites = site("EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    same = row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    other_round = row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON, round="2")
    other_program = row(
        "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON, program="Fast Charging"
    )
    m1, m2, m3, m4 = match_funded(funded(same, same, other_round, other_program), sites)
    assert (m1.status, m2.status, m3.status, m4.status) == (
        "matched",
        "duplicate",
        "duplicate",
        "matched",
    )
    assert m2.reason == "site S1 was already matched by line 2"
    assert m3.reason == "site S1 was already matched by line 2 in round 1, not 2"
    assert m4.row.program == "Fast Charging"


def test_an_evse_id_names_the_site() -> None:
    sites = site(
        "EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON, evses=2
    )
    sites += site("EXPLOREN", "S2", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    header = "evse_id," + FUNDED_HEADER
    [m] = match_funded(
        funded(
            "S1-E2," + row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON),
            header=header,
        ),
        sites,
    )
    assert (m.status, m.site_id, m.matched_by) == ("matched", "S1", "evse")
    assert m.candidate.distance_m == 0.0 and m.candidate.address_agrees


def test_a_row_without_coordinates_matches_by_address_alone() -> None:
    sites = site("EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    sites += site("EXPLOREN", "S2", "11 Other St", "Sanctuary Point", "2540", LAT, LON)
    [m] = match_funded(
        funded("Exploren,11 Paradise Beach Road,,2540,,,Destination Charging,1"), sites
    )
    assert (m.status, m.site_id, m.matched_by, m.reason) == (
        "matched",
        "S1",
        "address",
        "no coordinates listed",
    )
    assert m.candidate.distance_m is None


def test_operators_that_map_to_no_cpo() -> None:
    sites = site("EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    m1, m2 = match_funded(
        funded(
            row(
                "11 Paradise Beach Rd",
                "Sanctuary Point",
                "2540",
                LAT,
                LON,
                operator="Exploren Pty Ltd",
            ),
            row(
                "11 Paradise Beach Rd",
                "Sanctuary Point",
                "2540",
                LAT,
                LON,
                operator="Someone Else",
                program="Other",
            ),
        ),
        sites,
    )
    assert (m1.status, m1.cpo_id, m1.site_id) == ("matched", "EXPLOREN", "S1")
    assert (m2.status, m2.cpo_id) == ("unmatched", None)
    assert "'Someone Else' is not a known CPO" in m2.reason


# --- the import, the store and the monthly table ------------------------------------------------


def load_sites(
    store: LocalBlobStore, rows: list[dict[str, object]], name: str = "sites.csv"
) -> None:
    validated = validate_sites_csv(static_csv(rows), name)
    assert validated.problems == []
    store_sites(store, validated)


def real_list_sites(path: Path) -> list[dict[str, object]]:
    """Static sites placed at the real list's coordinates: eight 25 m north of their row, two
    near-duplicates at Port Macquarie, Springwood's 3 km off (its address agrees), none of
    Exploren at Tumbi Umbi (only another CPO's), and the other CPO at Sanctuary Point too."""
    listed = read_funded_list(path.read_bytes(), path.name).rows
    sites: list[dict[str, object]] = []
    for r in listed[:8]:
        address = r.address.replace(" Rd", " Road") if r.line % 2 else r.address
        sites += site(
            "EXPLOREN",
            f"EXP-{r.line}",
            address,
            r.suburb,
            r.postcode,
            metres_north(r.latitude, 25),
            r.longitude,
        )
    port, springwood, tumbi = listed[8], listed[9], listed[10]
    for suffix, metres in (("A", 10), ("B", 40)):
        sites += site(
            "EXPLOREN",
            f"EXP-{port.line}{suffix}",
            port.address,
            port.suburb,
            port.postcode,
            metres_north(port.latitude, metres),
            port.longitude,
        )
    sites += site(
        "EXPLOREN",
        f"EXP-{springwood.line}",
        springwood.address,
        springwood.suburb,
        springwood.postcode,
        metres_north(springwood.latitude, 3_000),
        springwood.longitude,
    )
    sites += site(
        "OTHERCPO",
        "OTH-1",
        tumbi.address,
        tumbi.suburb,
        tumbi.postcode,
        tumbi.latitude,
        tumbi.longitude,
    )
    first = listed[0]
    sites += site(
        "OTHERCPO",
        "OTH-2",
        first.address,
        first.suburb,
        first.postcode,
        first.latitude,
        first.longitude,
    )
    return sites


def test_the_real_list_imports_against_sites_at_its_coordinates(
    engine: Engine, blobstore: LocalBlobStore
) -> None:
    path = shared_data("evc-charge-at-large", "government_funded_chargers.csv")
    load_sites(blobstore, real_list_sites(path))
    report = import_funded_list(engine, blobstore, path, cpo_id=None, options=MatchOptions())
    by_line = {m.row.line: m for m in report.matches}
    assert [(line, by_line[line].status, by_line[line].site_id) for line in range(2, 13)] == [
        (2, "matched", "EXP-2"),
        (3, "matched", "EXP-3"),
        (4, "matched", "EXP-4"),
        (5, "matched", "EXP-5"),
        (6, "matched", "EXP-6"),
        (7, "matched", "EXP-7"),
        (8, "matched", "EXP-8"),
        (9, "matched", "EXP-9"),
        (10, "ambiguous", None),
        (11, "matched", "EXP-11"),
        (12, "unmatched", None),
    ]
    assert {by_line[n].matched_by for n in range(2, 10)} == {"location+address"}
    assert by_line[11].matched_by == "address"
    assert "OTHERCPO's site OTH-1" in by_line[12].reason
    assert [m.row.line for m in report.to_settle] == [10, 12]
    assert report.summary() == (
        "government_funded_chargers.csv: 11 rows: 9 matched (address 1, location+address 8),"
        " 1 with several sites, 1 not matched, 0 duplicates, 0 bad rows; stored 9 assignments"
    )
    with engine.connect() as connection:
        stored = assignments(connection)
        table = site_programs(connection)
    assert [(a.site_id, a.round, a.matched_by) for a in stored] == [
        ("EXP-2", "1", "location+address"),
        ("EXP-3", "1", "location+address"),
        ("EXP-4", "1", "location+address"),
        ("EXP-5", "1", "location+address"),
        ("EXP-11", "2", "address"),
        ("EXP-6", "2", "location+address"),
        ("EXP-7", "2", "location+address"),
        ("EXP-8", "2", "location+address"),
        ("EXP-9", "2", "location+address"),
    ]
    assert [a.distance_m for a in stored] == pytest.approx([25.0] * 4 + [3_000.0] + [25.0] * 4)
    assert stored[0].source == "government_funded_chargers.csv:2"
    assert stored[0].listed_address == "11 Paradise Beach Rd, Sanctuary Point, NSW 2540"
    assert table.schema == PROGRAMS_SCHEMA
    assert table.column("site_id").to_pylist() == [f"EXP-{n}" for n in (11, 2, 3, 4, 5, 6, 7, 8, 9)]
    assert set(table.column("program").to_pylist()) == {"Destination Charging"}
    # The same list again changes nothing.
    again = import_funded_list(engine, blobstore, path, cpo_id="EXPLOREN", options=MatchOptions())
    assert (again.stored.stored, again.stored.removed) == (9, [])
    with engine.connect() as connection:
        assert [(a.site_id, a.round, a.distance_m) for a in assignments(connection)] == [
            (a.site_id, a.round, a.distance_m) for a in stored
        ]


def test_manual_decisions_survive_reimports_and_stale_matches_go(
    engine: Engine, blobstore: LocalBlobStore, tmp_path: Path
) -> None:
    sites = site("EXPLOREN", "S1", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON)
    sites += site("EXPLOREN", "S2", "5 Kent St", "Vincentia", "2540", -35.07, 150.67)
    sites += site("EXPLOREN", "S3", "7 Bay Rd", "Huskisson", "2540", -35.04, 150.67)
    load_sites(blobstore, sites)
    path = tmp_path / "funded.csv"
    path.write_bytes(
        funded(
            row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON),
            row("5 Kent St", "Vincentia", "2540", -35.07, 150.67),
        )
    )
    import_funded_list(engine, blobstore, path, cpo_id=None, options=MatchOptions())
    with engine.begin() as connection:
        unassign(
            connection, cpo_id="EXPLOREN", site_id="S2", program="Destination Charging", round="1"
        )
        assign(
            connection, cpo_id="EXPLOREN", site_id="S3", program="Destination Charging", round="1"
        )
        with pytest.raises(NotAssigned, match="round 1, not round 2"):
            unassign(
                connection,
                cpo_id="EXPLOREN",
                site_id="S1",
                program="Destination Charging",
                round="2",
            )
        with pytest.raises(NotAssigned, match="is not in program 'Fast Charging'"):
            unassign(
                connection, cpo_id="EXPLOREN", site_id="S1", program="Fast Charging", round=None
            )
    # The corrected list drops S1 and still names S2: S1 goes, S2 stays out, S3 stays in.
    path.write_bytes(funded(row("5 Kent St", "Vincentia", "2540", -35.07, 150.67)))
    report = import_funded_list(engine, blobstore, path, cpo_id=None, options=MatchOptions())
    assert [a.site_id for a in report.stored.removed] == ["S1"]
    assert [(item.site_id, held.assigned) for item, held in report.stored.kept_manual] == [
        ("S2", False)
    ]
    with engine.connect() as connection:
        assert [(a.site_id, a.matched_by, a.distance_m) for a in assignments(connection)] == [
            ("S3", "manual", None)
        ]
        everything = assignments(connection, include_unassigned=True)
        assert [(a.site_id, a.assigned) for a in everything] == [("S2", False), ("S3", True)]
        assert site_programs(connection).column("site_id").to_pylist() == ["S3"]


# --- settings ----------------------------------------------------------------------------------


def test_per_program_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAL_PROGRAM_THRESHOLDS", '{"Destination Charging": 97, "Fast": 99.5}')
    monkeypatch.setenv("CAL_UPTIME_THRESHOLD_PCT", "96")
    settings = Settings(_env_file=None)
    # As the report and the dashboard read them: through the one lookup of shared.monthly.
    threshold_for = threshold_lookup(settings.uptime_threshold_pct, settings.program_thresholds)
    assert threshold_for("Destination Charging") == 97
    assert threshold_for("Fast") == 99.5
    assert threshold_for("Unlisted") == 96
    assert threshold_for(None) == 96
    monkeypatch.setenv("CAL_PROGRAM_THRESHOLDS", '{"Fast": 120}')
    with pytest.raises(ValidationError, match="'Fast': 120.0 is not a percentage"):
        Settings(_env_file=None)
    monkeypatch.delenv("CAL_PROGRAM_THRESHOLDS")
    assert Settings(_env_file=None).program_thresholds == {}


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    for name in (
        "CAL_DATABASE_URL",
        "CAL_BLOB_DIR",
        "CAL_BLOB_CONNECTION_STRING",
        "CAL_BLOB_ACCOUNT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run("db", "upgrade")
    yield run
    get_settings.cache_clear()


def test_cli_import_list_assign_unassign(cli, tmp_path: Path) -> None:
    sites_csv = tmp_path / "exploren.csv"
    sites = site(
        "EXPLOREN",
        "S1",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 30),
        LON,
    )
    sites += site(
        "EXPLOREN",
        "S2",
        "11 Paradise Beach Rd",
        "Sanctuary Point",
        "2540",
        metres_north(LAT, 60),
        LON,
    )
    sites += site(
        "EXPLOREN",
        "S3",
        "76 Ford St",
        "Ganmain",
        "2702",
        -34.7933852,
        147.0388513,
        program="NSW-DF",
    )
    sites += site("OTHERCPO", "O1", "1 Mingara Rd", "Tumbi Umbi", "2261", -33.3619632, 151.4407242)
    sites_csv.write_bytes(static_csv(sites))
    cli("sites", "load", str(sites_csv))
    listed = tmp_path / "funded.csv"
    listed.write_bytes(
        funded(
            row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON),
            row(
                "76 Ford St",
                "Ganmain",
                "2702",
                -34.7933852,
                147.0388513,
                operator="Some Brand",
                round="2",
            ),
            row(
                "12 Mingara Rd",
                "Tumbi Umbi",
                "2261",
                -33.3619632,
                151.4407242,
                operator="Some Brand",
                round="2",
            ),
            row("1 Nowhere Rd", "Tumbi Umbi", "2261", 35.0, 151.0, operator="Some Brand"),
        )
    )
    # The file's operator names are not ours: without --cpo nothing maps ...
    refused = cli("programs", "import", str(listed), "--cpo", "EXPLOREN", ok=False)
    assert refused.exit_code == 1
    assert "the file names 2 operators (Exploren, Some Brand)" in refused.output
    listed.write_bytes(listed.read_bytes().replace(b"Exploren,", b"Some Brand,"))
    outcome = tmp_path / "outcome.csv"
    result = cli("programs", "import", str(listed), "--cpo", "EXPLOREN", "--report", str(outcome))
    assert "bad row: funded.csv:5: latitude: 35.0 is outside Australia" in result.output
    outcomes = list(csv.DictReader(io.StringIO(outcome.read_text())))
    assert [
        (
            r["line"],
            r["status"],
            r["round"],
            r["cpo_id"],
            r["site_id"],
            r["distance_m"],
            r["candidates"],
        )
        for r in outcomes
    ] == [
        ("2", "ambiguous", "1", "EXPLOREN", "", "", "S1 S2"),
        ("3", "matched", "2", "EXPLOREN", "S3", "0.0", ""),
        ("4", "unmatched", "2", "EXPLOREN", "", "", ""),
    ]
    assert outcomes[2]["reason"].startswith("no site of EXPLOREN within 200 m or with the address")
    assert (
        "funded.csv: 4 rows: 1 matched (location+address 1), 1 with several sites, 1 not matched,"
        " 0 duplicates, 1 bad rows; stored 1 assignments"
    ) in result.output
    assert (
        "funded.csv:2: several sites: 11 Paradise Beach Rd, Sanctuary Point, 2540:" in result.output
    )
    assert (
        "chargeatlarge programs assign --program 'Destination Charging' --round 1 --cpo EXPLOREN --site S1"
        in result.output
    )
    assert "funded.csv:4: not matched:" in result.output and "OTHERCPO's site O1" in result.output
    assert (
        "funded.csv:3: matched S3 by location+address: its static CSV names program NSW-DF as well"
        in result.output
    )

    # A person settles line 2 with the printed command.
    cli(
        "programs",
        "assign",
        "--program",
        "Destination Charging",
        "--round",
        "1",
        "--cpo",
        "EXPLOREN",
        "--site",
        "S1",
    )
    out = cli("programs", "list", "--format", "csv").output
    records = list(csv.DictReader(io.StringIO(out)))
    assert list(records[0])[:6] == [
        "program",
        "round",
        "cpo_id",
        "site_id",
        "distance_m",
        "matched_by",
    ]
    assert [
        (r["program"], r["round"], r["cpo_id"], r["site_id"], r["distance_m"], r["matched_by"])
        for r in records
    ] == [
        ("Destination Charging", "1", "EXPLOREN", "S1", "", "manual"),
        ("Destination Charging", "2", "EXPLOREN", "S3", "0.0", "location+address"),
    ]
    table = cli("programs", "list").output.splitlines()
    assert table[0].split() == [
        "program",
        "round",
        "cpo_id",
        "site_id",
        "distance_m",
        "matched_by",
        "source",
        "listed_address",
    ]
    assert len(table) == 3 and "S1" in table[1] and "manual" in table[1]

    # Re-importing keeps the manual assignment; unassigning takes a site out for good.
    cli("programs", "import", str(listed), "--cpo", "EXPLOREN")
    cli(
        "programs",
        "unassign",
        "--program",
        "Destination Charging",
        "--cpo",
        "EXPLOREN",
        "--site",
        "S3",
    )
    again = cli("programs", "import", str(listed), "--cpo", "EXPLOREN")
    assert "kept the manual decision for site S3 (taken out of the program by hand)" in again.output
    out = cli("programs", "list", "--format", "csv").output
    assert [r["site_id"] for r in csv.DictReader(io.StringIO(out))] == ["S1"]

    # Errors say what and where.
    missing = cli(
        "programs", "assign", "--program", "P", "--cpo", "EXPLOREN", "--site", "NOPE", ok=False
    )
    assert (
        missing.exit_code == 1
        and "site NOPE of EXPLOREN is in no static site CSV" in missing.output
    )
    out_of = cli(
        "programs", "unassign", "--program", "P", "--cpo", "EXPLOREN", "--site", "S1", ok=False
    )
    assert out_of.exit_code == 1 and "site S1 of EXPLOREN is not in program 'P'" in out_of.output
    unknown = cli("programs", "import", str(listed), "--cpo", "NOBODY", ok=False)
    assert "--cpo NOBODY: no static site of that CPO (CPOs: EXPLOREN, OTHERCPO)" in unknown.output
    formula = cli(
        "programs", "assign", "--program", "=cmd", "--cpo", "EXPLOREN", "--site", "S1", ok=False
    )
    assert "looks like a spreadsheet formula" in formula.output
    absent = cli("programs", "import", str(tmp_path / "none.csv"), ok=False)
    assert "none.csv: no such file" in absent.output


def test_cli_import_without_static_sites_is_refused(cli, tmp_path: Path) -> None:
    listed = tmp_path / "funded.csv"
    listed.write_bytes(funded(GOOD_ROW))
    result = cli("programs", "import", str(listed), ok=False)
    assert result.exit_code == 1 and "load the sites first" in result.output
    assert cli("programs", "list").output.strip() == "no site is assigned to a program"


def test_assignments_reach_the_monthly_program_table(cli, tmp_path: Path) -> None:
    """programs import → monthly: an assigned site's EVSEs are in its program; a site whose
    static CSV names a program keeps that one."""
    import json

    import pyarrow.parquet as pq

    from shared import layout
    from shared.blobstore import open_blobstore

    sites = site(
        "EXPLOREN", "SA", "11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON, evses=2
    )
    sites += site(
        "EXPLOREN",
        "SB",
        "76 Ford St",
        "Ganmain",
        "2702",
        -34.7933852,
        147.0388513,
        program="NSW-DC",
    )
    sites += site("EXPLOREN", "SC", "146 Dangar St", "Armidale", "2350", -30.5167599, 151.6636723)
    (tmp_path / "sites.csv").write_bytes(static_csv(sites))
    cli("sites", "load", str(tmp_path / "sites.csv"))
    log = tmp_path / "log.csv"
    log.write_text(
        "evse_uid,status,observed_at\n"
        + "".join(
            f"{e},AVAILABLE,2026-09-0{d}T00:00:00+10:00\n"
            for e in ("SA-E1", "SA-E2", "SB-E1", "SC-E1")
            for d in (1, 2)
        )
    )
    cli("observations", "import", str(log), "--cpo", "EXPLOREN")
    listed = tmp_path / "funded.csv"
    listed.write_bytes(
        funded(
            row("11 Paradise Beach Rd", "Sanctuary Point", "2540", LAT, LON),
            row("76 Ford St", "Ganmain", "2702", -34.7933852, 147.0388513, round="2"),
        )
    )
    cli("programs", "import", str(listed))
    cli("monthly", "--month", "2026-09")
    store = open_blobstore(get_settings())
    program = pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob("2026-09", "program"))))
    assert [(r["program"], r["site_count"], r["evse_count"]) for r in program.to_pylist()] == [
        ("Destination Charging", 1, 2),
        ("NSW-DC", 1, 1),
    ]
    manifest = json.loads(store.get(layout.monthly_manifest_blob("2026-09")))
    assert manifest["inputs"]["program_assignments"] == 2
