"""Engines and schema migration for the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # Azure SQL: fast_executemany makes batched inserts one round trip.
    if parsed.query.get(ENTRA_TOKEN_OPTION) == "1":
        engine = create_engine(effective_url(url), pool_pre_ping=True, fast_executemany=True)
        event.listen(engine, "do_connect", _entra_access_token)
        return engine
    return create_engine(url, pool_pre_ping=True, fast_executemany=True)


def effective_url(url: str) -> URL:
    """The URL an engine connects with. With ``entra_token=1`` the ODBC string is written out
    (driver, server, database, encryption) so that no login or integrated-security keyword
    competes with the access token."""
    parsed = make_url(url)
    if parsed.query.get(ENTRA_TOKEN_OPTION) != "1":
        return parsed
    driver = parsed.query.get("driver", "ODBC Driver 18 for SQL Server")
    odbc = (
        f"Driver={{{driver}}};Server=tcp:{parsed.host},{parsed.port or 1433};"
        f"Database={parsed.database};Encrypt=yes;TrustServerCertificate=no"
    )
    return URL.create("mssql+pyodbc", query={"odbc_connect": odbc})


# Our own URL option: sign in to Azure SQL with a Microsoft Entra access token of whoever runs
# the command (az login, environment, managed identity), for tools such as the schema migration
# that run outside Azure, where the ODBC driver's own Entra methods are not available on Linux.
ENTRA_TOKEN_OPTION = "entra_token"
SQL_COPT_SS_ACCESS_TOKEN = 1256


def access_token_struct(token: str) -> bytes:
    """The ODBC driver's access-token attribute: a length-prefixed UTF-16-LE token."""
    import struct

    encoded = token.encode("utf-16-le")
    return struct.pack(f"<I{len(encoded)}s", len(encoded), encoded)


def _entra_access_token(
    _dialect: Dialect,
    _conn_rec: ConnectionPoolEntry,
    _cargs: tuple[object, ...],
    cparams: dict[str, object],
) -> None:
    from azure.identity import DefaultAzureCredential

    token = DefaultAzureCredential().get_token("https://database.windows.net/.default").token
    cparams["attrs_before"] = {SQL_COPT_SS_ACCESS_TOKEN: access_token_struct(token)}


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Create or migrate the schema to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
