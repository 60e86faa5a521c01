"""Status runs out of an ODBC database (Azure SQL) as Arrow record batches, via arrow-odbc.

arrow-odbc fetches whole column buffers from the ODBC driver and builds the Arrow arrays in
Rust, so a national month of runs never becomes Python rows (the pyodbc cursor's ``fetchmany``
makes one tuple per run and one Python object per value). The monthly job's
``shared.db.observations.runs_reader`` uses it for ``mssql+pyodbc`` URLs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime

import pyarrow as pa
from sqlalchemy.engine import URL, Dialect

from shared.db.engine import ENTRA_TOKEN_OPTION

# What runs_reader reads with: a SQLite file through ADBC, an ODBC database through arrow-odbc,
# anything else (an in-memory SQLite, an Entra-token Azure SQL URL) through its DBAPI cursor.
ADBC_SQLITE, ARROW_ODBC, CURSOR = "adbc-sqlite", "arrow-odbc", "cursor"


def runs_source(url: URL) -> str:
    """Which reader ``runs_reader`` uses for a database ``url``.

    An ``entra_token=1`` URL signs in with an access token that the engine hands to pyodbc as
    a pre-connect attribute, which arrow-odbc cannot pass: that one keeps the pyodbc cursor.
    (Inside Azure, ``Authentication=ActiveDirectoryMsi`` in the ODBC string needs no token and
    reads through arrow-odbc.)
    """
    if url.get_backend_name() == "sqlite":
        return ADBC_SQLITE if url.database not in (None, "", ":memory:") else CURSOR
    if url.get_driver_name() == "pyodbc" and url.query.get(ENTRA_TOKEN_OPTION) != "1":
        return ARROW_ODBC
    return CURSOR


def odbc_connection_string(url: URL, dialect: Dialect) -> str:
    """The ODBC connection string pyodbc would get for ``url``, built by the dialect itself
    (``odbc_connect=…`` as given, or driver, server, database, credentials and the URL's other
    options as ODBC keywords)."""
    args, kwargs = dialect.create_connect_args(url)
    if len(args) != 1 or not isinstance(args[0], str):
        raise ValueError(f"{url.drivername}: no ODBC connection string for this URL")
    unused = set(kwargs) - {"autocommit"}
    if unused:
        raise ValueError(
            f"{url.drivername}: connection option(s) {', '.join(sorted(unused))} cannot be"
            " passed to arrow-odbc"
        )
    return args[0]


def odbc_parameter(value: object) -> str | None:
    """One bound value as the text arrow-odbc sends (it binds every parameter as VARCHAR).

    Instants become ``YYYY-MM-DD HH:MM:SS.ffffff``, which SQL Server converts to DATETIME2
    whatever the session's DATEFORMAT or language, and which compares as text in SQLite the way
    SQLAlchemy stores instants there.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(f"instant parameter {value!r} must be naive UTC")
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int):
        return str(value)
    raise TypeError(f"parameter {value!r}: {type(value).__name__} cannot be sent as text")


def odbc_parameters(params: Sequence[object] | Mapping[str, object]) -> list[str | None]:
    """Positional parameters for arrow-odbc (the dialect must compile ``?`` placeholders)."""
    if isinstance(params, Mapping):
        raise ValueError("arrow-odbc takes positional (?) parameters, got named ones")
    return [odbc_parameter(value) for value in params]


def arrow_odbc_batches(
    connection_string: str,
    sql: str,
    params: Sequence[object],
    batch_rows: int,
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """``sql``'s rows as record batches of at most ``batch_rows`` rows, fetched by arrow-odbc
    (the next buffer is fetched by its own thread while this one is converted).

    ``schema`` names the Arrow type of each column in order; zoned timestamps are fetched as
    naive ones (the database holds naive UTC) and then cast. Instants are fetched as
    microseconds whatever precision the driver reports for the column (SQLite's driver says
    seconds and would drop the fraction).
    """
    from arrow_odbc import read_arrow_batches_from_odbc

    fetch = pa.schema(
        pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f for f in schema
    )
    reader = read_arrow_batches_from_odbc(
        query=sql,
        connection_string=connection_string,
        batch_size=batch_rows,
        parameters=odbc_parameters(params),
        schema=fetch,
        fetch_concurrently=True,
    )
    for batch in reader:
        if batch.num_rows:
            yield pa.record_batch(
                [batch.column(i).cast(f.type) for i, f in enumerate(schema)], schema=schema
            )
