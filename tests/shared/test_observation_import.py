"""Backfill import: streaming, counts, quarantine with reasons, idempotent re-import."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from chargeatlarge.cli import main
from shared.db.tables import ingest_batch, quarantine, status_run
from shared.observation_import import ImportRefused, import_observations

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def write_csv(path: Path, lines: list[str], header: str = "evse_uid,status,observed_at") -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def count(engine: Engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_csv_import_counts_and_quarantine(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "log.csv",
        [
            "E1,AVAILABLE,2026-10-01T00:00:00Z",
            "E1,AVAILABLE,2026-10-01T10:05:00+10:00",  # 00:05 UTC: a re-confirmation
            "E1,AVAILABLE,2026-10-01T00:05:00Z",  # the same instant again: duplicate
            "E1,charging,2026-10-01T00:10:00Z",
            "E2,EXPLODED,2026-10-01T00:00:00Z",
            "E3,AVAILABLE,2026-10-01 00:00",
            ",AVAILABLE,2026-10-01T00:00:00Z",
            "E4,AVAILABLE",
        ],
    )
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert (result.accepted, result.duplicate, result.rejected) == (3, 1, 4)
    with engine.connect() as connection:
        rows = connection.execute(
            select(quarantine.c.location, quarantine.c.reason, quarantine.c.payload).order_by(
                quarantine.c.location
            )
        ).all()
        batch = connection.execute(select(ingest_batch)).one()
    assert [(loc, reason.split(":")[0]) for loc, reason, _ in rows] == [
        ("log.csv:6", "status"),
        ("log.csv:7", "observed_at"),
        ("log.csv:8", "evse_uid"),
        ("log.csv:9", "expected 3 fields, got 2"),
    ]
    assert rows[0][2] == "E2,EXPLODED,2026-10-01T00:00:00Z"
    assert (batch.source, batch.cpo_id, batch.accepted, batch.duplicate, batch.rejected) == (
        "import",
        "ACME",
        3,
        1,
        4,
    )
    assert count(engine, status_run) == 2


def test_reimport_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "log.csv", ["E1,AVAILABLE,2026-10-01T00:00:00Z", "E1,BAD,2026-10-01T00:01:00Z"]
    )
    import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    with engine.connect() as connection:
        before = connection.execute(select(status_run)).all()
    again = import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert (again.accepted, again.duplicate, again.rejected) == (0, 1, 1)
    with engine.connect() as connection:
        assert connection.execute(select(status_run)).all() == before
    assert count(engine, quarantine) == 1


def test_jsonl_with_cpo_check(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = [
        json.dumps(
            {
                "cpo_id": "ACME",
                "evse_uid": "E1",
                "status": "FAULTED",
                "observed_at": "2026-10-01T00:00:00Z",
            }
        ),
        json.dumps(
            {
                "cpo_id": "EVIL",
                "evse_uid": "E1",
                "status": "AVAILABLE",
                "observed_at": "2026-10-01T00:01:00Z",
            }
        ),
        "{broken json",
        "[1, 2]",
        json.dumps(
            {
                "evse_uid": "E1",
                "status": "FAULTED",
                "observed_at": "2026-10-01T00:05:00Z",
                "connector_id": 2,
            }
        ),
        "",
    ]
    path.write_text("\n".join(lines))
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert (result.accepted, result.duplicate, result.rejected) == (2, 0, 3)
    with engine.connect() as connection:
        reasons = (
            connection.execute(select(quarantine.c.reason).order_by(quarantine.c.location))
            .scalars()
            .all()
        )
    assert reasons[0] == "cpo_id: 'EVIL' is not the imported CPO 'ACME'"
    assert reasons[1].startswith("not JSON") and reasons[2] == "expected a JSON object per line"


def test_unsorted_file_gives_the_same_runs_as_sorted(
    engine: Engine, tmp_path: Path, settings
) -> None:
    lines = [
        f"E1,{'AVAILABLE' if i % 7 else 'CHARGING'},{(T0 + timedelta(minutes=5 * i)).isoformat()}"
        for i in range(200)
    ]
    sorted_path = write_csv(tmp_path / "sorted.csv", lines)
    shuffled_path = write_csv(tmp_path / "shuffled.csv", lines[::2] + lines[1::2][::-1])
    import_observations(engine, sorted_path, "SORTED", default_max_gap_minutes=15)
    import_observations(engine, shuffled_path, "SHUFFLED", default_max_gap_minutes=15)
    with engine.connect() as connection:

        def runs(cpo: str) -> list[tuple]:
            return connection.execute(
                select(status_run.c.status, status_run.c.started_at, status_run.c.last_confirmed_at)
                .where(status_run.c.cpo_id == cpo)
                .order_by(status_run.c.started_at)
            ).all()

        assert runs("SORTED") == runs("SHUFFLED")
        # i = 0, 7, …, 196 are 29 CHARGING runs, each followed by an AVAILABLE run.
        assert len(runs("SORTED")) == 58


def test_chunks_are_invisible_to_the_result(engine: Engine, tmp_path: Path) -> None:
    lines = [f"E{i % 3},AVAILABLE,{(T0 + timedelta(minutes=i)).isoformat()}" for i in range(100)]
    path = write_csv(tmp_path / "log.csv", lines)
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15, chunk_rows=7)
    assert (result.accepted, result.duplicate, result.rejected) == (100, 0, 0)
    assert count(engine, status_run) == 3


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x00\x01\x02binary", "log.csv", "binary file"),
        (
            b"evse,state,time\nE1,AVAILABLE,2026-10-01T00:00:00Z\n",
            "log.csv",
            "missing column(s) evse_uid, status, observed_at",
        ),
        (b"", "log.csv", "empty file"),
        (
            "evse_uid,status,observed_at\nÉ1,AVAILABLE,2026-10-01T00:00:00Z\n".encode("latin-1"),
            "log.csv",
            "not UTF-8",
        ),
    ],
)
def test_files_refused_whole(
    engine: Engine, tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=re.escape(message)):
        import_observations(engine, path, "ACME", default_max_gap_minutes=15)


def test_oversized_field_and_line(engine: Engine, tmp_path: Path) -> None:
    huge = "E" * 200_000
    path = write_csv(
        tmp_path / "log.csv",
        [f"{huge},AVAILABLE,2026-10-01T00:00:00Z", "E1,AVAILABLE,2026-10-01T00:00:00Z"],
    )
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert (result.accepted, result.rejected) == (1, 1)
    jl = tmp_path / "log.jsonl"
    jl.write_text(
        json.dumps({"evse_uid": huge})
        + "\n"
        + json.dumps(
            {"evse_uid": "E9", "status": "AVAILABLE", "observed_at": "2026-10-01T00:00:00Z"}
        )
        + "\n"
    )
    result = import_observations(engine, jl, "ACME", default_max_gap_minutes=15)
    assert (result.accepted, result.rejected) == (1, 1)


def test_cli_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    path = write_csv(
        tmp_path / "log.csv", ["E1,AVAILABLE,2026-10-01T00:00:00Z", "E1,NOPE,2026-10-01T00:00:00Z"]
    )
    result = runner.invoke(main, ["observations", "import", str(path), "--cpo", "ACME"])
    assert result.exit_code == 0, result.output
    assert "accepted 1, duplicate 0, rejected 1" in result.output
    bad = runner.invoke(main, ["observations", "import", str(path), "--cpo", "  "])
    assert bad.exit_code != 0 and "--cpo: must not be empty" in bad.output
    get_settings.cache_clear()


def stored(engine: Engine, cpo: str) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            select(status_run.c.status, status_run.c.started_at, status_run.c.last_confirmed_at)
            .where(status_run.c.cpo_id == cpo)
            .order_by(status_run.c.started_at)
        ).all()


def test_a_file_is_a_set_and_the_later_line_wins_ties(engine: Engine, tmp_path: Path) -> None:
    # A fault inside a stretch of re-confirmations, written before it; and two rows at one
    # instant, where the later line wins whatever the order of the rest.
    lines = [f"E1,AVAILABLE,{(T0 + timedelta(minutes=5 * i)).isoformat()}" for i in range(12)]
    fault = f"E1,FAULTED,{(T0 + timedelta(minutes=22)).isoformat()}"
    tie = [
        f"E1,CHARGING,{(T0 + timedelta(minutes=70)).isoformat()}",
        f"E1,AVAILABLE,{(T0 + timedelta(minutes=70)).isoformat()}",
    ]
    write_csv(tmp_path / "a.csv", [fault, *reversed(lines), *tie])
    write_csv(tmp_path / "b.csv", [*lines, *tie, fault])
    import_observations(engine, tmp_path / "a.csv", "A", default_max_gap_minutes=15)
    import_observations(engine, tmp_path / "b.csv", "B", default_max_gap_minutes=15)
    naive = T0.replace(tzinfo=None)
    expected = [
        ("AVAILABLE", naive, naive + timedelta(minutes=20)),
        ("FAULTED", naive + timedelta(minutes=22), naive + timedelta(minutes=22)),
        ("AVAILABLE", naive + timedelta(minutes=25), naive + timedelta(minutes=70)),
    ]
    assert stored(engine, "A") == stored(engine, "B") == expected


def test_gzip_and_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from shared.db.engine import make_engine
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    text = "evse_uid,status,observed_at\nE1,AVAILABLE,2026-10-01T00:00:00Z\n"
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    result = runner.invoke(main, ["observations", "import", str(gz), "--cpo", "GZ"])
    assert "accepted 1, duplicate 0, rejected 0" in result.output, result.output
    jsonl = '{"evse_uid": "E2", "status": "CHARGING", "observed_at": "2026-10-01T00:00:00Z"}\n'
    result = runner.invoke(
        main, ["observations", "import", "-", "--cpo", "PIPE"], input=gzip.compress(jsonl.encode())
    )
    assert "accepted 1, duplicate 0, rejected 0" in result.output, result.output
    engine = make_engine(get_settings().database_url)
    try:
        assert [r[0] for r in stored(engine, "GZ")] == ["AVAILABLE"]
        assert [r[0] for r in stored(engine, "PIPE")] == ["CHARGING"]
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_invalid_utf8_late_in_a_file_commits_nothing(engine: Engine, tmp_path: Path) -> None:
    good = [f"E1,AVAILABLE,{(T0 + timedelta(minutes=i)).isoformat()}" for i in range(3000)]
    path = tmp_path / "log.csv"
    path.write_bytes(
        ("evse_uid,status,observed_at\n" + "\n".join(good) + "\n").encode() + b"E2,AVAIL\xff\n"
    )
    with pytest.raises(ImportRefused, match="Nothing was imported"):
        import_observations(engine, path, "ACME", default_max_gap_minutes=15, chunk_rows=100)
    assert count(engine, status_run) == 0 and count(engine, ingest_batch) == 0


def test_future_and_ancient_rows_are_rejected(engine: Engine, tmp_path: Path) -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    path = write_csv(
        tmp_path / "log.csv",
        [
            "E1,AVAILABLE,2099-01-01T00:00:00Z",
            "E2,AVAILABLE,0001-01-01T00:05:00Z",
            "E3,AVAILABLE,1999-12-31T23:00:00Z",
            f"E4,AVAILABLE,{soon.isoformat()}",  # within 24 h ahead: a clock a little fast
        ],
    )
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert (result.accepted, result.rejected) == (1, 3)
    with engine.connect() as connection:
        reasons = connection.execute(select(quarantine.c.reason)).scalars().all()
    assert any("in the future" in r for r in reasons)
    assert sum("before 2000-01-01" in r for r in reasons) == 2


def test_the_audit_row_says_what_was_committed(engine: Engine, tmp_path: Path) -> None:
    lines = [f"E{i % 5},AVAILABLE,{(T0 + timedelta(minutes=i)).isoformat()}" for i in range(50)]
    path = write_csv(tmp_path / "log.csv", [*lines, "E1,NOPE,2026-10-01T00:00:00Z"])
    result = import_observations(engine, path, "ACME", default_max_gap_minutes=15, chunk_rows=10)
    with engine.connect() as connection:
        row = connection.execute(
            select(ingest_batch.c.accepted, ingest_batch.c.rejected, ingest_batch.c.detail)
        ).one()
    assert (row.accepted, row.rejected) == (result.accepted, result.rejected) == (50, 1)
    assert json.loads(row.detail)["state"] == "done"


def test_the_csv_field_limit_is_left_as_it_was(engine: Engine, tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    path = write_csv(tmp_path / "log.csv", ["E1,AVAILABLE,2026-10-01T00:00:00Z"])
    import_observations(engine, path, "ACME", default_max_gap_minutes=15)
    assert csv.field_size_limit() == before  # process-wide: the site CSV reader relies on it
