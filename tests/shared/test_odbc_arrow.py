"""Status runs read Arrow-native through ODBC (arrow-odbc), as the monthly job reads Azure SQL.

No SQL Server runs here, so the parts are tested apart: which reader a URL gets, the ODBC
connection string and parameters the SQL Server dialect makes, and, end to end, the SQL Server
runs query read by arrow-odbc from a real SQLite file through Debian's SQLite ODBC driver
(``libsqliteodbc``; skipped when it is not installed), which must give exactly the runs the
ADBC reader gives.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from shared.db.observations import ObservationStore, _runs_schema, runs_query, runs_reader
from shared.db.odbc_arrow import (
    ADBC_SQLITE,
    ARROW_ODBC,
    CURSOR,
    arrow_odbc_batches,
    odbc_connection_string,
    odbc_parameter,
    odbc_parameters,
    runs_source,
)
from shared.status import Observation

T0 = datetime(2026, 10, 1, tzinfo=UTC)
AZURE = (
    "mssql+pyodbc://cal_job:p%40ss;word@cal.database.windows.net:1433/chargeatlarge"
    "?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes"
)


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("sqlite:////var/cal/chargeatlarge.db", ADBC_SQLITE),
        ("sqlite://", CURSOR),
        ("sqlite:///:memory:", CURSOR),
        (AZURE, ARROW_ODBC),
        ("mssql+pyodbc:///?odbc_connect=Driver%3D%7BODBC+Driver+18%7D%3BServer%3Dx", ARROW_ODBC),
        # The access token goes to pyodbc as a pre-connect attribute, which arrow-odbc lacks.
        ("mssql+pyodbc://cal.database.windows.net/chargeatlarge?entra_token=1", CURSOR),
        ("mssql+pymssql://u:p@host/db", CURSOR),
        ("postgresql+psycopg://u:p@host/db", CURSOR),
    ],
)
def test_each_database_url_gets_its_reader(url: str, source: str) -> None:
    assert runs_source(make_url(url)) == source


def test_the_odbc_connection_string_is_the_one_pyodbc_gets() -> None:
    dialect = create_engine(AZURE).dialect  # nothing connects
    assert odbc_connection_string(make_url(AZURE), dialect) == (
        "DRIVER={ODBC Driver 18 for SQL Server};Server=cal.database.windows.net,1433;"
        "Database=chargeatlarge;UID=cal_job;PWD={p@ss;word};Encrypt=yes"  # braced: holds a ';'
    )
    given = "Driver={ODBC Driver 18};Server=tcp:x,1433;Authentication=ActiveDirectoryMsi"
    url = make_url("mssql+pyodbc:///").update_query_dict({"odbc_connect": given})
    assert odbc_connection_string(url, dialect) == given


def test_parameters_go_as_text_sql_server_reads_as_datetime2() -> None:
    instant = datetime(2026, 11, 1, 13, 0, 0, 5)
    assert odbc_parameter(instant) == "2026-11-01 13:00:00.000005"
    assert odbc_parameter(datetime(2026, 11, 1, 13)) == "2026-11-01 13:00:00.000000"
    assert odbc_parameter("OUT_OF_ORDER") == "OUT_OF_ORDER"
    assert odbc_parameter(None) is None
    with pytest.raises(ValueError, match="naive UTC"):
        odbc_parameter(instant.replace(tzinfo=UTC))
    with pytest.raises(ValueError, match="positional"):
        odbc_parameters({"started_at_1": instant})
    with pytest.raises(TypeError, match="bytes"):
        odbc_parameter(b"\x00")


def _sql_server_query(end: datetime) -> tuple[str, tuple[object, ...]]:
    """The runs query as the SQL Server dialect compiles and binds it."""
    dialect = create_engine(AZURE).dialect  # pyodbc's own: qmark parameters (no connection)
    compiled = runs_query(T0, end, timedelta(minutes=15), timedelta(0)).compile(dialect=dialect)
    processors = compiled._bind_processors
    values = compiled.construct_params()
    bound = tuple(
        processors[k](values[k]) if k in processors else values[k]
        for k in compiled.positiontup or []
    )
    assert "?" in str(compiled) and any(isinstance(v, datetime) for v in bound)
    return str(compiled), bound


def _sqlite_odbc_driver() -> str | None:
    """The name under which unixODBC knows Debian's SQLite 3 ODBC driver, if installed."""
    ini = Path("/etc/odbcinst.ini")
    if not ini.exists():
        return None
    for line in ini.read_text().splitlines():
        name = line.strip().strip("[]")
        if line.strip().startswith("[") and name.lower() == "sqlite3":
            return name
    return None


def test_arrow_odbc_reads_the_sql_server_runs_query_as_adbc_reads_sqlite(
    engine: Engine,
) -> None:
    driver = _sqlite_odbc_driver()
    if driver is None:
        pytest.skip("no SQLite3 ODBC driver in /etc/odbcinst.ini (apt-get install libsqliteodbc)")
    store = ObservationStore(engine, 15)
    store.write(
        [Observation("ACME", f"E{i}", status, T0 + timedelta(minutes=minute, microseconds=i))
         for i in range(5) for minute, status in
         ((-10, "CHARGING"), (30, "AVAILABLE"), (50, "FAULTED"), (90, "OUTOFORDER"))]
    )  # fmt: skip
    end = T0 + timedelta(minutes=120)
    with engine.connect() as connection:
        by_adbc = pa.Table.from_batches(
            list(runs_reader(connection, T0, end, timedelta(minutes=15)))
        )
    database = engine.url.database
    assert database
    sql, params = _sql_server_query(end)
    odbc = f"Driver={{{driver}}};Database={database}"
    fetched = list(arrow_odbc_batches(odbc, sql, params, 7, _runs_schema()))
    assert [b.num_rows for b in fetched] == [7, 7, 6]  # streamed in batches, not read whole
    by_odbc = pa.Table.from_batches(fetched)
    assert by_odbc.schema == by_adbc.schema == _runs_schema()
    keys = [("evse_uid", "ascending"), ("started_at", "ascending")]
    assert by_odbc.sort_by(keys).to_pylist() == by_adbc.sort_by(keys).to_pylist()
    assert by_odbc.num_rows == 20
    assert by_odbc.column("started_at").to_pylist()[0].microsecond in range(5)
