"""CSV formula injection: text cells that a spreadsheet would run are written with a leading
``'``, numbers stay numbers, and every CSV writer of outsiders' text uses the one helper."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from chargeatlarge.cli import main
from shared.csv_safety import (
    escape_formula,
    escape_formula_arrow,
    frame_csv,
    looks_like_formula,
    safe_dict,
    safe_row,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "sites_small.csv"

# (text, what the CSV cell must hold)
CELLS = [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
    ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("- power cut", "'- power cut"),
    ("-", "'-"),
    ("-34.75", "-34.75"),  # a plain number is read as that number
    ("+61", "+61"),
    ("-1e-5", "-1e-5"),
    ("Goulburn = Hume", "Goulburn = Hume"),
    (" =1+1", " =1+1"),  # a leading space makes it text in Excel and LibreOffice
    ("feeder fault", "feeder fault"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "cell"), CELLS)
def test_formula_like_text_is_prefixed_and_other_text_kept(text: str, cell: str) -> None:
    assert escape_formula(text) == cell
    assert looks_like_formula(text) is (cell != text)


@pytest.mark.parametrize("value", [-34.75, -1, 0, None, True, datetime(2026, 10, 1, tzinfo=UTC)])
def test_values_that_are_not_text_are_never_touched(value: object) -> None:
    assert escape_formula(value) is value


def test_rows_dicts_and_arrow_columns_follow_the_same_rule() -> None:
    texts = [text for text, _ in CELLS]
    expected = [cell for _, cell in CELLS]
    assert safe_row(texts) == expected
    assert list(safe_dict(dict(enumerate(texts))).values()) == expected
    column = pa.chunked_array([pa.array([*texts, None])])
    assert escape_formula_arrow(column).to_pylist() == [*expected, None]


def test_frame_csv_escapes_text_columns_and_keeps_numeric_columns_numeric() -> None:
    frame = pd.DataFrame(
        {
            "site_name": ["=cmd|' /C calc'!A0", "Goulburn", None],
            "latitude": [-34.75, -33.0, -35.5],
            "evse_count": [2, -1, 3],
            "address": ["-2+3", "1 Hume St", "@x"],
        }
    )
    text = frame_csv(frame)
    assert text.splitlines() == [
        "site_name,latitude,evse_count,address",
        "'=cmd|' /C calc'!A0,-34.75,2,'-2+3",
        "Goulburn,-33.0,-1,1 Hume St",
        ",-35.5,3,'@x",
    ]
    assert frame["site_name"].iloc[0] == "=cmd|' /C calc'!A0"  # the caller's frame is not changed
    read_back = pd.read_csv(io.StringIO(text))
    assert read_back["latitude"].tolist() == [-34.75, -33.0, -35.5]
    assert read_back["evse_count"].tolist() == [2, -1, 3]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    for name in ("CAL_DATABASE_URL", "CAL_BLOB_DIR", "CAL_BLOB_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    run("db", "upgrade")
    run("sites", "load", str(FIXTURE))
    yield run
    get_settings.cache_clear()


def test_exclusions_list_csv_escapes_notes_typed_by_outsiders(cli) -> None:
    now = datetime.now(UTC)
    for hours, note in [(3, "=cmd|' /C calc'!A0"), (2, "-2+3+cmd|' /C calc'!A0"), (1, "fuse")]:
        cli(
            "exclusions", "propose", "--cpo", "TESTCPO", "--scope", "charger", "--id", "C1",
            "--from", (now - timedelta(hours=hours + 1)).isoformat(),
            "--to", (now - timedelta(hours=hours)).isoformat(),
            "--cause", "UTILITY_INTERRUPTION", "--note", note,
        )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(cli("exclusions", "list", "--format", "csv"))))
    assert [r["note"] for r in rows] == ["fuse", "'-2+3+cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"]
    assert {r["scope_id"] for r in rows} == {"C1"}


def test_program_list_csv_escapes_a_funded_list_named_like_a_formula(
    cli,
    tmp_path: Path,
) -> None:
    listed = tmp_path / "=1+2.csv"
    listed.write_text(
        "cpo_name,address,suburb,postcode,latitude,longitude,program,round\n"
        "Test CPO,1 Hume St,Goulburn,2580,-34.754,149.718,Destination Charging,1\n"
    )
    cli("programs", "import", str(listed), "--cpo", "TESTCPO")
    rows = list(csv.DictReader(io.StringIO(cli("programs", "list", "--format", "csv"))))
    assert [(r["program"], r["site_id"], r["source"]) for r in rows] == [
        ("Destination Charging", "S1", "'=1+2.csv:2")
    ]
    assert rows[0]["distance_m"] == "0.0"


def test_published_report_csvs_escape_site_text_and_keep_figures_numeric() -> None:
    from shared.monthly.report import csv_bytes

    frame = pd.DataFrame(
        {
            "site_name": ["=cmd|' /C calc'!A0", "Goulburn"],
            "address": ["@SUM(1)", "-2+3+cmd|' /C calc'!A0"],
            "site_id": ["-5", "S1"],
            "uptime_pct": [-0.5, 99.25],
        }
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows == [
        ["site_name", "address", "site_id", "uptime_pct"],
        ["'=cmd|' /C calc'!A0", "'@SUM(1)", "-5", "-0.5"],
        ["Goulburn", "'-2+3+cmd|' /C calc'!A0", "S1", "99.25"],
    ]
