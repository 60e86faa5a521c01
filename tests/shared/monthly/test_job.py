"""End to end: import → `chargeatlarge monthly` → Parquet and HTML in the blob store; and the job's
SQL read window: an outage spanning stored runs of one category, the unmatched table stable when
the month is run again later."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from chargeatlarge.cli import main
from shared import layout
from shared.blobstore import open_blobstore
from shared.db.observations import ObservationStore
from shared.metrics.schema import TABLES
from shared.monthly.job import run_month
from shared.settings import get_settings
from shared.status import Observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

LOG = """evse_uid,status,observed_at
AU*TST*E1,AVAILABLE,2026-08-31T23:55:00+10:00
AU*TST*E1,AVAILABLE,2026-09-01T00:05:00+10:00
AU*TST*E1,CHARGING,2026-09-01T00:15:00+10:00
AU*TST*E1,AVAILABLE,2026-09-01T00:25:00+10:00
AU*TST*E2,FAULTED,2026-09-02T10:00:00+10:00
AU*TST*E2,FAULTED,2026-09-02T10:10:00+10:00
AU*TST*GHOST,AVAILABLE,2026-09-03T00:00:00+10:00
AU*TST*E2,NONSENSE,2026-09-03T00:00:00+10:00
"""


@pytest.fixture(params=["local", "azurite"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    if request.param == "azurite":
        monkeypatch.setenv(
            "CAL_BLOB_CONNECTION_STRING", request.getfixturevalue("azurite_connection_string")
        )
        monkeypatch.setenv("CAL_BLOB_CONTAINER", f"e2e{abs(hash(str(tmp_path))) % 10**8}")
    else:
        monkeypatch.delenv("CAL_BLOB_CONNECTION_STRING", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_then_monthly(cli_env: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    invoke(cli_env, "db", "upgrade")
    invoke(cli_env, "sites", "load", str(FIXTURES / "sites_small.csv"))
    assert "accepted 7, duplicate 0, rejected 1" in invoke(
        cli_env, "observations", "import", str(log), "--cpo", "TESTCPO"
    )
    output = invoke(cli_env, "monthly", "--month", "2026-09")
    assert "unmatched 1" in output and "wrote processed/monthly/2026-09/" in output

    store = open_blobstore(get_settings())
    names = sorted(b.name for b in store.list(layout.monthly_prefix("2026-09") + "/"))
    assert names == sorted(
        [f"processed/monthly/2026-09/{t}.parquet" for t in TABLES]
        + ["processed/monthly/2026-09/manifest.json"]
    )
    tables = {
        t: pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob("2026-09", t))))
        for t in TABLES
    }
    for name, table in tables.items():
        assert table.schema.equals(TABLES[name]), name
    evse = {r["evse_uid"]: r for r in tables["evse"].to_pylist()}
    # E1: AVAILABLE carried in from 23:55 → 00:15, CHARGING 00:15–00:25, AVAILABLE 00:25–00:40.
    assert (evse["AU*TST*E1"]["available_minutes"], evse["AU*TST*E1"]["in_use_minutes"]) == (
        30.0,
        10.0,
    )
    assert evse["AU*TST*E2"]["out_of_order_minutes"] == 25.0
    assert evse["AU*TST*GHOST"]["matched"] is False
    network = {r["cpo_id"]: r for r in tables["network"].to_pylist()}
    assert network["TESTCPO"]["evse_count"] == 3  # E1, E2 and E3 of the fixture; not the ghost
    # E3 is commissioned on 2026-10-10: not in service for the whole of September.
    assert evse["AU*TST*E3"]["not_in_service_minutes"] == 30 * 1440
    manifest = json.loads(store.get(layout.monthly_manifest_blob("2026-09")))
    assert manifest["row_counts"]["unmatched"] == 1 and manifest["inputs"]["static_site_csvs"] == [
        "static/sites/sites_small.csv"
    ]
    html = store.get("reports/2026-09/report.html").decode()
    assert "Public EV charging reliability — 2026-09" in html
    # plotly.js is embedded and nothing is loaded from elsewhere: the file opens offline.
    assert "Plotly.newPlot" in html and "<script src=" not in html and len(html) > 3_000_000
    # Goulburn (S1): up 40 of 65 known minutes → 61.5 %, below 98 %; Hobart has no uptime at all.
    assert (
        "Sites below 98.0 % uptime" in html and "Goulburn Highway Stop" in html and "61.54" in html
    )
    network_csv = store.get("reports/2026-09/network.csv").decode().splitlines()
    assert network_csv[0].startswith("cpo_id,site_count,evse_count,period_minutes")

    before = {t: store.get(layout.monthly_table_blob("2026-09", t)) for t in TABLES}
    invoke(cli_env, "monthly", "--month", "2026-09")
    after = {t: store.get(layout.monthly_table_blob("2026-09", t)) for t in TABLES}
    assert before == after  # same inputs, byte-identical tables


def test_bad_inputs_are_reported_not_fatal(cli_env: CliRunner, tmp_path: Path) -> None:
    invoke(cli_env, "db", "upgrade")
    store = open_blobstore(get_settings())
    store.put("static/sites/broken.csv", b"this,is,not\na,site,file\n")
    output = cli_env.invoke(main, ["monthly", "--month", "2026-09"]).output
    assert "static sites: static/sites/broken.csv:1: missing required column(s)" in output
    assert "no observations for 2026-09" in output
    manifest = json.loads(store.get(layout.monthly_manifest_blob("2026-09")))
    assert any("broken.csv" in w for w in manifest["warnings"])
    future = cli_env.invoke(main, ["monthly", "--month", "2999-01"])
    assert future.exit_code != 0 and "has not started yet" in future.output
    bad = cli_env.invoke(main, ["monthly", "--month", "2026-1"])
    assert bad.exit_code != 0 and "expected YYYY-MM" in bad.output


def test_parquet_bytes_do_not_depend_on_how_the_rows_arrive(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shared.monthly.job import ROW_GROUP_ROWS, write_parquet

    table_schema = pa.schema([("evse_uid", pa.string()), ("minutes", pa.float64())])
    rows = ROW_GROUP_ROWS * 2 + 17
    table = pa.table(
        {"evse_uid": [f"E{i % 977}" for i in range(rows)], "minutes": [i / 7 for i in range(rows)]},
        schema=table_schema,
    )
    files = []
    for n, size in enumerate((rows, 1000, 65_536, 99_999)):
        path = tmp_path / f"{n}.parquet"
        assert write_parquet(table.to_batches(max_chunksize=size), table_schema, path) == rows
        files.append(path.read_bytes())
    assert len(set(files)) == 1
    assert pq.ParquetFile(tmp_path / "0.parquet").metadata.num_row_groups == 3
    assert pq.read_table(tmp_path / "0.parquet").equals(table)
    empty = tmp_path / "empty.parquet"
    assert write_parquet([], table_schema, empty) == 0
    assert pq.read_table(empty).schema.equals(table_schema)


JULY = """evse_uid,status,observed_at
AU*TST*E1,FAULTED,2026-07-10T10:00:00+10:00
AU*TST*E1,FAULTED,2026-07-10T10:10:00+10:00
"""
JULY_LATE = """evse_uid,status,observed_at
AU*TST*E1,AVAILABLE,2026-07-11T10:00:00+10:00
"""


def evse_rows(store, month: str) -> dict[str, dict]:
    table = pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob(month, "evse"))))
    return {r["evse_uid"]: r for r in table.to_pylist()}


def test_exclusions_and_twelve_month_figures(cli_env: CliRunner, tmp_path: Path) -> None:
    invoke(cli_env, "db", "upgrade")
    invoke(cli_env, "sites", "load", str(FIXTURES / "sites_small.csv"))
    for name, text in (("july.csv", JULY), ("log.csv", LOG)):
        (tmp_path / name).write_text(text)
        invoke(cli_env, "observations", "import", str(tmp_path / name), "--cpo", "TESTCPO")

    def propose(start: str, end: str, cause: str) -> str:
        output = invoke(
            cli_env, "exclusions", "propose", "--cpo", "TESTCPO", "--scope", "charger",
            "--id", "C1", "--from", start, "--to", end, "--cause", cause,
        )  # fmt: skip
        return output.strip().splitlines()[-1]

    # E2 is FAULTED 10:00-10:25 on 2 Sep. Approved: 10:00-10:10. Proposed only, and rejected:
    # the rest of it, which must count for nothing.
    approved = propose("2026-09-02T10:00:00+10:00", "2026-09-02T10:10:00+10:00", "VANDALISM")
    invoke(cli_env, "exclusions", "approve", approved)
    propose("2026-09-02T10:10:00+10:00", "2026-09-02T10:20:00+10:00", "UTILITY_INTERRUPTION")
    rejected = propose("2026-09-02T10:20:00+10:00", "2026-09-02T10:30:00+10:00", "VEHICLE_FAULT")
    invoke(cli_env, "exclusions", "reject", rejected, "--reason", "the CPO's own fault")

    invoke(cli_env, "monthly", "--month", "2026-07")
    invoke(cli_env, "monthly", "--month", "2026-09")  # August never processed
    store = open_blobstore(get_settings())
    september = evse_rows(store, "2026-09")
    e1, e2 = september["AU*TST*E1"], september["AU*TST*E2"]
    assert (e2["out_of_order_minutes"], e2["excluded_minutes"]) == (25, 10)
    assert e2["uptime_excl_pct"] == pytest.approx(100 * 10 / 25)
    outages = pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob("2026-09", "outages"))))
    assert [
        (r["evse_uid"], r["excluded_minutes_in_period"], r["causes"]) for r in outages.to_pylist()
    ] == [("AU*TST*E2", 10, "VANDALISM")]
    used = pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob("2026-09", "exclusions"))))
    assert used.column("exclusion_id").to_pylist() == [approved]
    assert used.column("evse_count").to_pylist() == [2]
    # E1: September up 40 of 40 known; July down 25 of 25 known → 40 / 65 over both months.
    assert e1["uptime_12m_pct"] == pytest.approx(100 * 40 / 65)
    assert (e1["months_in_12m"], e2["months_in_12m"]) == (2, 2)
    assert e2["uptime_excl_12m_pct"] == pytest.approx(100 * 10 / 25)
    site = pq.read_table(io.BytesIO(store.get(layout.monthly_table_blob("2026-09", "site"))))
    s1 = {r["site_id"]: r for r in site.to_pylist()}["S1"]
    assert s1["uptime_12m_pct"] == pytest.approx(100 * 40 / (65 + 25))
    manifest = json.loads(store.get(layout.monthly_manifest_blob("2026-09")))
    fed = manifest["inputs"]["twelve_month_months"]
    assert [m["month"] for m in fed] == ["2026-07"]
    assert manifest["inputs"]["approved_exclusions"] == 1

    # More July data and a July re-run: September's figures change only when it is re-run.
    (tmp_path / "late.csv").write_text(JULY_LATE)
    invoke(cli_env, "observations", "import", str(tmp_path / "late.csv"), "--cpo", "TESTCPO")
    invoke(cli_env, "monthly", "--month", "2026-07")
    assert evse_rows(store, "2026-09")["AU*TST*E1"]["uptime_12m_pct"] == pytest.approx(
        100 * 40 / 65
    )
    invoke(cli_env, "monthly", "--month", "2026-09")
    # July now: down 25, AVAILABLE 15 → up 40 + 15 of 40 + 25 + 15 known.
    assert evse_rows(store, "2026-09")["AU*TST*E1"]["uptime_12m_pct"] == pytest.approx(
        100 * 55 / 80
    )


# --- the job's SQL read window (spec section 4), through the real storage path ----------------
# ObservationStore → SQLite → runs_reader → run_month, with hand-computed expectations.

SYDNEY = ZoneInfo("Australia/Sydney")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SYDNEY).astimezone(UTC)


def every(evse: str, start: str, end: str, status: str, step: int = 10) -> list[Observation]:
    """One observation of ``status`` every ``step`` minutes from ``start`` to ``end`` (local)."""
    at, last, out = local(start), local(end), []
    while at <= last:
        out.append(Observation("A", evse, status, at))
        at += timedelta(minutes=step)
    return out


def run_and_read(engine, blobstore, name: str, now: datetime) -> dict:
    run_month(
        name,
        engine=engine,
        store=blobstore,
        tz="Australia/Sydney",
        default_max_gap_minutes=15,
        uptime_threshold_pct=98,
        now=now,
    )
    prefix = layout.monthly_prefix(name)
    return {
        table: pq.read_table(io.BytesIO(blobstore.get(f"{prefix}/{table}.parquet"))).to_pylist()
        for table in ("outages", "unmatched")
    }


def test_outage_started_at_spans_stored_runs_of_one_category(engine, blobstore) -> None:
    store = ObservationStore(engine)
    # FAULTED 00:00 … 00:10 on 1 Oct, then OUTOFORDER every 10 min from 00:20 on 1 Oct until
    # 02:00 on 2 Nov: one contiguous OUT_OF_ORDER run, i.e. one outage that began 1 Oct 00:00.
    store.write(
        every("E1", "2026-10-01 00:00", "2026-10-01 00:10", "FAULTED")
        + every("E1", "2026-10-01 00:20", "2026-11-02 02:00", "OUTOFORDER")
    )
    tables = run_and_read(engine, blobstore, "2026-11", now=datetime(2026, 12, 5, tzinfo=UTC))
    [outage] = tables["outages"]
    assert outage["category"] == "OUT_OF_ORDER"
    # 1 Oct 00:00 AEST (+10:00; DST starts 4 Oct) = 30 Sep 14:00 UTC.
    assert outage["started_at"] == datetime(2026, 9, 30, 14, 0, tzinfo=UTC)
    # Last confirmation 2 Nov 02:00 AEDT + 15 min max_gap = 1 Nov 15:15 UTC.
    assert outage["ended_at"] == datetime(2026, 11, 1, 15, 15, tzinfo=UTC)
    # From 1 Nov 00:00 to 2 Nov 02:15 local = 26 h 15 min.
    assert outage["minutes_in_period"] == 26 * 60 + 15


def test_unmatched_table_is_stable_when_rerun_later(engine, blobstore) -> None:
    store = ObservationStore(engine)
    # GHOST (listed nowhere) AVAILABLE every 10 min from 30 Nov 23:00 to 1 Dec 00:30 local.
    store.write(every("GHOST", "2026-11-30 23:00", "2026-12-01 00:30", "AVAILABLE"))
    first = run_and_read(engine, blobstore, "2026-11", now=datetime(2026, 12, 2, tzinfo=UTC))
    # The CPO keeps confirming it in December; nothing about November changes.
    store.write(every("GHOST", "2026-12-01 00:40", "2026-12-03 00:00", "AVAILABLE"))
    second = run_and_read(engine, blobstore, "2026-11", now=datetime(2026, 12, 6, tzinfo=UTC))
    # In November GHOST was known from 23:00 to midnight: 60 minutes.
    assert first["unmatched"][0]["known_minutes"] == second["unmatched"][0]["known_minutes"] == 60
    assert first["unmatched"] == second["unmatched"]
