"""Alembic migrations: real on SQLite (up, and down by the README's rollback command), and rendered
as T-SQL for Azure SQL."""

import io
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import inspect

from chargeatlarge.cli import main as cli
from shared.db.engine import alembic_config, current_revision, make_engine, upgrade
from shared.db.tables import metadata
from shared.settings import get_settings


def test_upgrade_creates_every_table_and_is_repeatable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'db.sqlite'}"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert current_revision(engine) is not None
    columns = {c["name"] for c in inspect(engine).get_columns("status_run")}
    assert set(metadata.tables["status_run"].columns.keys()) == columns


def test_migrations_match_the_table_definitions(tmp_path) -> None:
    """The migrations build exactly the tables the code uses (no drift between the two)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_migrations_render_for_sql_server() -> None:
    config = alembic_config("mssql+pyodbc://user@server/db?driver=ODBC+Driver+18+for+SQL+Server")
    out = io.StringIO()
    config.output_buffer = out
    with redirect_stdout(out):
        command.upgrade(config, "head", sql=True)
    sql = out.getvalue()
    assert "CREATE TABLE status_run" in sql
    assert "DATETIME2(6)" in sql
    assert "BIGINT NOT NULL IDENTITY" in sql
    assert "GO" in sql  # T-SQL batch separators
    assert "DROP TABLE feed" in sql  # 0007: the unused table goes on Azure SQL too


def test_entra_token_option_signs_in_with_an_access_token() -> None:
    import struct

    from shared.db.engine import access_token_struct

    engine = make_engine(
        "mssql+pyodbc://@server.database.windows.net:1433/db?driver=ODBC+Driver+18+for+SQL+Server&entra_token=1"
    )
    assert "entra_token" not in engine.url.query
    from sqlalchemy import event

    assert event.contains(
        engine, "do_connect", __import__("shared.db.engine", fromlist=["x"])._entra_access_token
    )
    packed = access_token_struct("abc")
    assert struct.unpack("<I", packed[:4])[0] == 6 and packed[4:] == "abc".encode("utf-16-le")


def test_schema_rollback_command_of_the_readme_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAL_DATABASE_URL", f"sqlite:///{tmp_path / 'cal.db'}")
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    get_settings.cache_clear()  # the CLI reads the process-wide settings
    try:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(cli, ["db", "upgrade", "--revision", "0001"])
    finally:
        get_settings.cache_clear()
    with sqlite3.connect(tmp_path / "cal.db") as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    # Either the rollback happened, or the command said it could not.
    rolled_back = version == "0001" and "ocpi_party" not in tables
    assert rolled_back or result.exit_code != 0, (version, result.output)


def test_the_unused_feed_table_is_dropped_and_comes_back_on_downgrade(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    assert "feed" not in inspect(engine).get_table_names()
    command.downgrade(alembic_config(url), "0006")
    assert "feed" in inspect(engine).get_table_names()
    upgrade(url)
    assert "feed" not in inspect(engine).get_table_names()
    engine.dispose()
