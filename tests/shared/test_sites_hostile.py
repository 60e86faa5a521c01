"""Static site CSVs against hostile and careless input (issue 17, item 12): every bad row is
reported as ``file:line: reason``, every good row around it is kept, and nothing crashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargeatlarge.cli import main
from shared.blobstore import LocalBlobStore, check_name
from shared.sites import (
    REQUIRED_COLUMNS,
    SitesFileRefused,
    read_static_sites,
    sites_blob_name,
    validate_sites_csv,
)

HEADER = ",".join(REQUIRED_COLUMNS)
ROW = (
    "ACME,S1,Site,1 Main St,Goulburn,NSW,2580,-34.75,149.72,C1,{evse},1,IEC_62196_T2,AC_3_PHASE,22"
)


def row(evse: str, **changes: str) -> str:
    """A good row of EVSE ``evse`` with some of its values replaced (by column name)."""
    values = dict(zip(REQUIRED_COLUMNS, ROW.format(evse=evse).split(","), strict=True))
    values.update(changes)
    return ",".join(values.values())


def sandwich(*hostile: str, newline: str = "\n") -> bytes:
    """Header, good E0 on line 2, the hostile lines, good E9 last."""
    lines = [HEADER, row("E0"), *hostile, row("E9")]
    return (newline.join(lines) + newline).encode("utf-8", "surrogateescape")


MULTILINE_HUGE = '"' + ("x" * 1000 + "\n") * 200 + 'x"'  # 200 lines inside one quoted field

# (case, file bytes, [(line, reason substring)], EVSEs kept)
CASES = [
    (
        "a field over the csv module's limit",
        sandwich(row("E1", site_name="x" * 200_000), row("E2")),
        [(3, "a field is longer than 131,072 characters (fields hold at most 500)")],
        ["E0", "E2", "E9"],
    ),
    (
        "an oversized quoted field over 200 lines: its lines are not rows",
        sandwich(row("E1", site_name=MULTILINE_HUGE), row("E2"), row("E3", state="XX")),
        [(3, "a field is longer than 131,072"), (205, "state: 'XX' is not one of")],
        ["E0", "E2", "E9"],
    ),
    (
        "a field just over the column limit",
        sandwich(row("E1", address="a" * 501)),
        [(3, "address: longer than 500 characters")],
        ["E0", "E9"],
    ),
    (
        "an id longer than the columns hold",
        sandwich(row("E" + "1" * 64)),
        [(3, "evse_uid: longer than 64 characters")],
        ["E0", "E9"],
    ),
    (
        "a NUL byte in a field",
        sandwich(row("E1", site_name="Si\x00te")),
        [(3, "site_name: contains control characters")],
        ["E0", "E9"],
    ),
    (
        "a byte that is not UTF-8 (Latin-1 é)",
        sandwich(row("E1", suburb="Caf\udce9")),
        [(3, "suburb: not UTF-8 (byte 0xe9); save the file as UTF-8")],
        ["E0", "E9"],
    ),
    (
        "a truncated UTF-8 sequence at the end of a field",
        sandwich(row("E1", address="1 Main St \udce2\udc82")),
        [(3, "address: not UTF-8 (byte 0xe2)")],
        ["E0", "E9"],
    ),
    (
        "a second byte order mark inside the file (two files pasted together)",
        sandwich("\ufeff" + HEADER, row("E1")),
        [(3, "cpo_id: contains control characters")],
        ["E0", "E1", "E9"],
    ),
    (
        "Windows line ends throughout",
        sandwich(row("E1"), row("E2", postcode="25800"), newline="\r\n"),
        [(4, "postcode: '25800' is not a 4-digit Australian postcode")],
        ["E0", "E1", "E9"],
    ),
    (
        "old Mac line ends (CR only)",
        sandwich(row("E1"), row("E2", state="XX"), newline="\r"),
        [(4, "state: 'XX' is not one of")],
        ["E0", "E1", "E9"],
    ),
    (
        "a DDE formula in a name",
        sandwich(row("E1", site_name="=cmd|' /C calc'!A0")),
        [(3, "site_name: \"=cmd|' /C calc'!A0\" looks like a spreadsheet formula")],
        ["E0", "E9"],
    ),
    (
        "formulas starting with + - @ and after white space",
        sandwich(
            row("E1", address="+SUM(A1:A9)"),
            row("E2", address="-2+3+cmd|' /C calc'!A0"),
            row("E3", suburb="@SUM(1)"),
            row("E4", site_name=" \t=1+1"),
        ),
        [
            (3, "address: '+SUM(A1:A9)' looks like a spreadsheet formula"),
            (4, "address: \"-2+3+cmd|' /C calc'!\" looks like a spreadsheet formula"),
            (5, "suburb: '@SUM(1)' looks like a spreadsheet formula"),
            (6, "site_name: '=1+1' looks like a spreadsheet formula"),
        ],
        ["E0", "E9"],
    ),
    (
        "Unicode digits as postcode, LGA code and coordinates",
        sandwich(
            row("E1", postcode="٢٠٠٠"),
            row("E2", postcode="２０００"),
            row("E3", latitude="-٣٤.٧٥"),
            row("E4", max_power_kw="٢٢"),
            row("E5", max_power_kw="2_2"),
        ),
        [
            (3, "postcode: '٢٠٠٠' is not a 4-digit Australian postcode"),
            (4, "postcode: '２０００' is not a 4-digit Australian postcode"),
            (5, "latitude: '-٣٤.٧٥' looks like a spreadsheet formula"),
            (6, "max_power_kw: '٢٢' is not a number"),
            (7, "max_power_kw: '2_2' is not a number"),
        ],
        ["E0", "E9"],
    ),
    (
        "huge numbers",
        sandwich(
            row("E1", max_power_kw="9" * 400),
            row("E2", max_power_kw="1e309"),
            row("E3", latitude="-1e-400"),
            row("E4", max_power_kw="1" * 501),
        ),
        [
            (3, f"max_power_kw: {'9' * 400} is outside 0.1..2000"),
            (4, "max_power_kw: 1e309 is outside 0.1..2000"),
            (5, "latitude: -1e-400 is outside -44.0..-9.0"),
            (6, "max_power_kw: longer than 500 characters"),
        ],
        ["E0", "E9"],
    ),
    (
        "NaN and infinite coordinates",
        sandwich(
            row("E1", latitude="nan"),
            row("E2", longitude="inf"),
            row("E3", longitude="Infinity"),
            row("E4", latitude="-inf"),
        ),
        [
            (3, "latitude: nan is outside -44.0..-9.0"),
            (4, "longitude: inf is outside 112.0..154.0"),
            (5, "longitude: Infinity is outside 112.0..154.0"),
            (6, "latitude: '-inf' looks like a spreadsheet formula"),
        ],
        ["E0", "E9"],
    ),
    (
        "extra and missing fields in rows",
        sandwich(row("E1") + ",extra", "ACME,S1", ",,,,,,,,,,,,,,"),
        [
            (3, "expected 15 fields, got 16"),
            (4, "expected 15 fields, got 2"),
            (5, "cpo_id: required, empty"),
        ],
        ["E0", "E9"],
    ),
    (
        "a quote that is never closed: the lines after it are read",
        sandwich(row("E1", site_name='"Unclosed'), row("E2"), row("E3", state="XX")),
        [
            (3, "a quote opened on this line is never closed; the lines after it are read as rows"),
            (5, "state: 'XX' is not one of"),
        ],
        ["E0", "E2", "E9"],
    ),
    (
        "text after a closing quote",
        sandwich(row("E1", site_name='"Big" Stop'), row("E2")),
        [
            (
                3,
                "not valid CSV (',' expected after '\"'); a quote inside a quoted field must be doubled",
            )
        ],
        ["E0", "E2", "E9"],
    ),
    (
        "a newline inside a quoted name",
        sandwich(row("E1", site_name='"Two\nlines"'), row("E2", state="XX")),
        [(3, "site_name: contains control characters"), (5, "state: 'XX' is not one of")],
        ["E0", "E9"],
    ),
    (
        "an OCPP EVSE id that is not a small ASCII whole number",
        (
            "\n".join(
                [
                    HEADER + ",ocpp_charge_point_id,ocpp_evse_id",
                    row("E0") + ",CP1,1",
                    row("E1") + ",CP1,٣",
                    row("E2") + ",CP1,1000000000000",
                    row("E3") + ",CP1,-1",
                    row("E9") + ",CP1,9999",
                ]
            )
            + "\n"
        ).encode(),
        [
            (3, "ocpp_evse_id: '٣' is not a whole number from 0 to 9999"),
            (4, "ocpp_evse_id: '1000000000000' is not a whole number from 0 to 9999"),
            (5, "ocpp_evse_id: '-1' is not a whole number from 0 to 9999"),
        ],
        ["E0", "E9"],
    ),
    (
        "an LGA code in other digits",
        (
            "\n".join(
                [
                    HEADER + ",lga_code,lga_name",
                    row("E0") + ",11400,Goulburn Mulwaree",
                    row("E1", site_id="S2", charger_id="C2") + ",١١٤٠٠,Goulburn Mulwaree",
                    row("E9") + ",11400,Goulburn Mulwaree",
                ]
            )
            + "\n"
        ).encode(),
        [(3, "lga_code: '١١٤٠٠' is not a 5-digit ABS LGA code")],
        ["E0", "E9"],
    ),
    (
        "the same connector many times",
        sandwich(*[row("E0")] * 50),
        [
            (line, "connector 1 of EVSE E0 is listed twice (first on line 2)")
            for line in range(3, 53)
        ],
        ["E0", "E9"],
    ),
]


@pytest.mark.parametrize(
    ("data", "problems", "kept"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_hostile_rows_are_reported_and_good_rows_kept(
    data: bytes, problems: list[tuple[int, str]], kept: list[str]
) -> None:
    result = validate_sites_csv(data, "hostile.csv")
    assert [r["evse_uid"] for r in result.rows] == kept
    assert [p.line for p in result.problems] == [line for line, _ in problems]
    for problem, (line, reason) in zip(result.problems, problems, strict=True):
        assert str(problem).startswith(f"hostile.csv:{line}: ")
        assert reason in problem.reason, problem.reason


def test_very_many_connectors_of_one_site_all_load() -> None:
    lines = [row(f"E{n}", charger_id=f"C{n // 4}") for n in range(20_000)]
    result = validate_sites_csv(("\n".join([HEADER, *lines]) + "\n").encode(), "big.csv")
    assert result.problems == []
    assert len(result.rows) == 20_000
    assert {(r["cpo_id"], r["site_id"]) for r in result.rows} == {("ACME", "S1")}


def test_one_row_of_a_big_site_that_disagrees_reports_the_site_on_every_row() -> None:
    header = HEADER + ",opening_hours"
    lines = [row(f"E{n}") + ",24/7" for n in range(1000)]
    lines[500] = row("E500") + ",Mo-Fr 08:00-18:00"
    result = validate_sites_csv(("\n".join([header, *lines]) + "\n").encode(), "site.csv")
    assert result.rows == []
    assert [p.line for p in result.problems] == list(range(2, 1002))
    assert "disagree on opening_hours (opening_hours '24/7' vs 'Mo-Fr 08:00-18:00')" in (
        result.problems[0].reason
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            (HEADER + ",state\n" + row("E0") + ",NSW\n").encode(),
            "1: repeated column name in header: 'state'",
        ),
        ("\ufeffcpo_id".encode("utf-16"), "UTF-16, not UTF-8; save the file as CSV UTF-8"),
        (HEADER.encode("utf-16-le"), "not a CSV file (binary content)"),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00",
            "binary content",
        ),
        (
            ("cpo_id,site\udcffid\n").encode("utf-8", "surrogateescape"),
            "1: header: not UTF-8 (byte 0xff)",
        ),
        (b"\n\n", "empty file"),
        (
            b'"cpo_id' + b"x" * 200_000 + b'"\n',
            "1: not a CSV header (a field is longer than 131,072",
        ),
    ],
    ids=[
        "duplicate header",
        "UTF-16",
        "UTF-16 without BOM",
        "xlsx",
        "header not UTF-8",
        "blank",
        "huge header",
    ],
)
def test_files_that_cannot_be_site_csvs_are_refused_with_a_reason(
    data: bytes, message: str
) -> None:
    with pytest.raises(SitesFileRefused, match=re.escape(message)):
        validate_sites_csv(data, "bad.csv")


def test_blank_lines_before_the_header_and_a_very_wide_header() -> None:
    blank = validate_sites_csv(("\n\n" + HEADER + "\n" + row("E1") + "\n").encode(), "b.csv")
    assert [r["evse_uid"] for r in blank.rows] == ["E1"]
    with pytest.raises(SitesFileRefused, match=re.escape("b.csv:3: missing required column(s)")):
        validate_sites_csv(b"\n\ncpo_id\n", "b.csv")
    extra = ",".join(f"x{n}" for n in range(50_000))
    wide = validate_sites_csv(
        (HEADER + "," + extra + "\n" + row("E1") + "," * 50_000 + "\n").encode(), "w.csv"
    )
    assert [r["evse_uid"] for r in wide.rows] == ["E1"]
    assert wide.notes == [
        "w.csv:1: column(s) 'x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9'"
        " (and 49,990 more) are not static CSV columns; their values are ignored"
    ]
    trailing = validate_sites_csv((HEADER + ",,\n" + row("E1") + ",,\n").encode(), "t.csv")
    assert [r["evse_uid"] for r in trailing.rows] == ["E1"]
    assert trailing.notes == ["t.csv:1: 2 unnamed column(s); their values are ignored"]


def test_utf8_bom_first_is_fine_and_unknown_columns_are_named() -> None:
    data = "\ufeff".encode() + (HEADER + ",lga_cdoe\n" + row("E1") + ",11400\n").encode()
    result = validate_sites_csv(data, "bom.csv")
    assert [r["evse_uid"] for r in result.rows] == ["E1"]
    assert result.problems == []
    assert result.notes == [
        "bom.csv:1: column(s) 'lga_cdoe' are not static CSV columns; their values are ignored"
    ]


@pytest.mark.parametrize(
    ("source", "blob"),
    [
        ("/data/.hidden.csv", "static/sites/hidden.csv"),
        ("/data/..hidden", "static/sites/hidden.csv"),
        ("/data/a\\b.csv", "static/sites/a_b.csv"),
        ("/data/tab\there\n.CSV", "static/sites/tab_here_.CSV"),
        ("/data/.csv", "static/sites/csv.csv"),
        ("/data/...", "static/sites/sites.csv"),
        ("/data/sites (1).csv", "static/sites/sites (1).csv"),
        ("/data/Ørsted.csv", "static/sites/Ørsted.csv"),
        ("/data/" + "n" * 300 + ".csv", "static/sites/" + "n" * 120 + ".csv"),
    ],
)
def test_odd_file_names_become_plain_blob_names(source: str, blob: str) -> None:
    assert sites_blob_name(source) == blob
    assert check_name(blob) == blob


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "blob"),
    [(".hidden.csv", "static/sites/hidden.csv"), ("a\\b.csv", "static/sites/a_b.csv")],
)
def test_sites_load_of_odd_file_names_stores_them(cli_env: Path, name: str, blob: str) -> None:
    path = cli_env / name
    path.write_bytes(sandwich(row("E1", site_name="x" * 200_000)))
    result = CliRunner().invoke(main, ["sites", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert f"bad row: {path}:3: a field is longer than 131,072 characters" in result.output
    assert f"{path}: loaded 2 connectors, 2 EVSEs, 1 sites → {blob}; 1 bad rows" in result.output
    stored = read_static_sites(LocalBlobStore(cli_env / "var" / "blobs"))
    assert stored.sources == [blob]
    assert stored.connectors["evse_uid"].tolist() == ["E0", "E9"]


def test_sites_load_of_a_folder_or_unreadable_file_says_so(cli_env: Path) -> None:
    folder = cli_env / "folder.csv"
    folder.mkdir()
    locked = cli_env / "locked.csv"
    locked.write_bytes(sandwich())
    locked.chmod(0)
    try:
        locked.read_bytes()  # root reads it anyway; then the permission case cannot be seen
        readable = True
    except PermissionError:
        readable = False
    try:
        result = CliRunner().invoke(main, ["sites", "load", str(locked), str(cli_env / "none.csv")])
    finally:
        locked.chmod(0o600)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"refused: {cli_env / 'none.csv'}: no such file" in result.output
    if not readable:
        assert f"refused: {locked}: cannot be read (Permission denied)" in result.output
    refused = CliRunner().invoke(main, ["sites", "load", str(folder)])
    assert refused.exit_code != 0
    assert "Traceback" not in refused.output


@pytest.mark.parametrize(
    ("data", "problems", "kept"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_sites_load_answers_every_hostile_file_and_stores_its_good_rows(
    cli_env: Path, data: bytes, problems: list[tuple[int, str]], kept: list[str]
) -> None:
    path = cli_env / "hostile.csv"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["sites", "load", str(path)])
    assert result.exit_code == 0, result.output
    bad = [line for line in result.output.splitlines() if line.startswith("bad row: ")]
    assert len(bad) == len(problems)
    for text, (line, reason) in zip(bad, problems, strict=True):
        assert text.startswith(f"bad row: {path}:{line}: ") and reason in text, text
    stored = read_static_sites(LocalBlobStore(cli_env / "var" / "blobs"))
    assert stored.connectors["evse_uid"].tolist() == sorted(kept)
    assert stored.problems == []  # what was stored is clean
