"""Alembic migrations: real on SQLite, and rendered as T-SQL for Azure SQL."""

import io
from contextlib import redirect_stdout

from alembic import command
from sqlalchemy import inspect

from shared.db.engine import alembic_config, current_revision, make_engine, upgrade
from shared.db.tables import metadata


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
