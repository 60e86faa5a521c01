"""The engine's SQL on Spark (PySpark local mode) gives DuckDB's tables, value for value.

The scenarios are the engine's own tests (test_engine, test_engine_v2, test_reference): each
test is run with ``compute_month`` replaced by a recorder that keeps its inputs and stops the
test there. Scenarios of one month and report zone are joined into one input (each one's CPO ids
and exclusion ids prefixed, so they stay apart), then computed by both engines and compared
table by table, row by row, with exact equality (floats included). A new engine test is a new
Spark scenario without a change here. Deselect with ``-m "not spark"``.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot

from shared.metrics import engine as duck
from shared.metrics import schema, spark
from shared.metrics.engine import MonthInputs, input_tables
from tests.shared.metrics import helpers, test_engine, test_engine_v2, test_reference

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCENARIO_MODULES = (test_engine, test_engine_v2, test_reference)
# DST months and the month most tests use, each computed once on each engine.
MONTHS = (("2026-11", "Australia/Sydney"), ("2026-04", "Australia/Sydney"),
          ("2026-10", "Australia/Sydney"))  # fmt: skip


class _Recorded(BaseException):
    """Stops a scenario test once its inputs are kept (not an Exception: nothing catches it)."""


def _calls(function) -> Iterator[dict]:
    """Every argument set pytest would call ``function`` with (its parametrize marks)."""
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    grids = []
    for mark in marks:
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = []
        for value in mark.args[1]:
            value = value.values if hasattr(value, "values") else value
            value = value if len(names) > 1 else (value,)
            rows.append(dict(zip(names, value, strict=True)))
        grids.append(rows)
    for combination in itertools.product(*grids):
        yield {k: v for part in combination for k, v in part.items()}


def _scenarios() -> list[MonthInputs]:
    recorded: list[MonthInputs] = []

    def record(inputs: MonthInputs, *args, **kwargs):
        runs = inputs.runs
        if isinstance(runs, pa.RecordBatchReader):
            runs = runs.read_all()
        recorded.append(dataclasses.replace(inputs, runs=runs))
        raise _Recorded

    original = helpers.compute_month
    helpers.compute_month = record
    try:
        for module in SCENARIO_MODULES:
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if not name.startswith("test_") or function.__module__ != module.__name__:
                    continue
                wanted = set(inspect.signature(function).parameters)
                for arguments in _calls(function):
                    if wanted - set(arguments):
                        break  # needs a fixture: not a plain scenario
                    try:
                        function(**arguments)
                    except _Recorded:
                        pass
                    except Exception:  # noqa: BLE001 - the test's own checks after a second compute, etc.
                        pass
    finally:
        helpers.compute_month = original
    return [inputs for inputs in recorded if _valid(inputs)]


def _valid(inputs: MonthInputs) -> bool:
    """Scenarios that test refusals (bad hours, exclusions, categories) are not joined."""
    try:
        input_tables(inputs, set())
    except ValueError:
        return False
    allowed = pa.array([c.value for c in spark.Category])
    return bool(pc.all(pc.is_in(inputs.runs.column("category"), value_set=allowed)).as_py())


def _prefixed(table: pa.Table | None, prefix: str, columns=("cpo_id", "exclusion_id")):
    if table is None:
        return None
    for name in columns:
        if name in table.column_names:
            index = table.column_names.index(name)
            values = pc.binary_join_element_wise(prefix, table.column(name).cast(pa.string()), "")
            table = table.set_column(index, name, values)
    return table


def _joined(scenarios: list[MonthInputs]) -> MonthInputs:
    """One input holding every scenario, each under its own CPO ids."""
    first = scenarios[0]
    runs, connectors, exclusions, programs, gaps = [], [], [], [], {}
    history: dict[str, list[pa.Table]] = defaultdict(list)
    for number, inputs in enumerate(scenarios):
        prefix = f"s{number}-"
        runs.append(_prefixed(inputs.runs.select(spark.RUN_COLUMNS), prefix))
        frame = inputs.connectors.copy()
        frame["cpo_id"] = prefix + frame["cpo_id"].astype(str)
        connectors.append(frame)
        gaps.update({prefix + cpo: gap for cpo, gap in inputs.max_gap_minutes.items()})
        exclusions.append(_prefixed(duck.exclusions_table(inputs.exclusions), prefix))
        programs.append(_prefixed(duck.programs_table(inputs.programs), prefix))
        for level, table in inputs.history.items():
            history[level].append(_prefixed(duck.history_table(level, {level: table}), prefix))
    frames = [f for f in connectors if len(f)]
    return MonthInputs(
        period=first.period,
        runs=pa.concat_tables(runs),
        connectors=pd.concat(frames, ignore_index=True) if frames else connectors[0],
        default_max_gap_minutes=first.default_max_gap_minutes,
        max_gap_minutes=gaps,
        exclusions=pa.concat_tables(exclusions),
        programs=pa.concat_tables(programs),
        history={level: pa.concat_tables(tables) for level, tables in history.items()},
    )


@pytest.fixture(scope="module")
def session():
    session = spark.local_session(cores=2, memory="1g", conf=spark.SMALL_DATA_CONF)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def scenarios() -> dict[tuple[str, str], list[MonthInputs]]:
    by_month: dict[tuple[str, str], list[MonthInputs]] = defaultdict(list)
    for inputs in _scenarios():
        key = (inputs.period.month, inputs.period.tz)
        if inputs.default_max_gap_minutes == 15:
            by_month[key].append(inputs)
    return by_month


def test_the_engine_tests_give_scenarios_with_opening_hours_and_exclusions(scenarios) -> None:
    every = [inputs for group in scenarios.values() for inputs in group]
    assert len(every) >= 40
    assert all(scenarios[key] for key in MONTHS)
    hours = [i for i in every if i.connectors.get("opening_hours", pd.Series()).notna().any()]
    assert hours and any(i.exclusions is not None and i.exclusions.num_rows for i in every)
    assert any(i.history for i in every) and any(i.programs is not None for i in every)


@pytest.mark.timeout(1200)  # Spark plans each of ~35 statements; a busy CI machine is slow at it
# The October month keeps each step's table as Parquet instead of a local checkpoint.
@pytest.mark.parametrize(("month", "tz"), MONTHS)
def test_spark_tables_equal_duckdb_tables(session, scenarios, month: str, tz: str) -> None:
    inputs = _joined(scenarios[(month, tz)])
    expected = duck.compute_month(inputs)
    materialise = "parquet" if month == "2026-10" else "checkpoint"
    with spark.month_tables(inputs, session, materialise=materialise) as tables:
        got = {name: tables.table(name) for name in schema.TABLES}
    assert set(got) == set(schema.TABLES)
    for name in schema.TABLES:
        assert got[name].schema == expected[name].schema, name
        assert got[name].num_rows == expected[name].num_rows, name
        for index, (mine, theirs) in enumerate(
            zip(got[name].to_pylist(), expected[name].to_pylist(), strict=True)
        ):
            assert mine == theirs, f"{name} row {index}"
    # The scenarios' own figures are there, not only empty tables.
    assert expected["evse"].num_rows >= len(scenarios[(month, tz)])


LOG = """evse_uid,status,observed_at
AU*TST*E1,AVAILABLE,2026-08-31T23:55:00+10:00
AU*TST*E1,CHARGING,2026-09-01T00:15:00+10:00
AU*TST*E1,AVAILABLE,2026-09-01T00:25:00+10:00
AU*TST*E2,FAULTED,2026-09-02T10:00:00+10:00
AU*TST*E2,FAULTED,2026-09-02T10:10:00+10:00
AU*TST*GHOST,AVAILABLE,2026-09-03T00:00:00+10:00
"""


@pytest.mark.timeout(1200)
def test_monthly_command_on_spark_writes_the_same_files(session, tmp_path, monkeypatch) -> None:
    """`chargeatlarge monthly --engine spark` writes byte-identical Parquet to DuckDB's."""
    from click.testing import CliRunner

    from chargeatlarge.cli import main
    from shared.blobstore import open_blobstore
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAL_BLOB_CONNECTION_STRING", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    sites = Path(__file__).resolve().parents[2] / "fixtures" / "sites_small.csv"
    manifests = {}
    try:
        for args in (
            ("db", "upgrade"),
            ("sites", "load", str(sites)),
            ("observations", "import", str(log), "--cpo", "TESTCPO"),
        ):
            result = runner.invoke(main, list(args), catch_exceptions=False)
            assert result.exit_code == 0, result.output
        store = open_blobstore(get_settings())
        for engine in ("duckdb", "spark"):
            result = runner.invoke(
                main, ["monthly", "--month", "2026-09", "--engine", engine], catch_exceptions=False
            )
            assert result.exit_code == 0, result.output
            assert "unmatched 1" in result.output
            manifests[engine] = json.loads(store.get("processed/monthly/2026-09/manifest.json"))
    finally:
        get_settings.cache_clear()
    assert manifests["spark"]["metrics_engine"] == "spark"
    assert manifests["duckdb"]["metrics_engine"] == "duckdb"
    assert manifests["spark"]["files"] == manifests["duckdb"]["files"]
    assert manifests["spark"]["row_counts"] == manifests["duckdb"]["row_counts"]
    assert manifests["spark"]["row_counts"]["evse"] > 0


def test_rewrite_rules_give_duckdbs_answers(session) -> None:
    """The as-of join, sorted distinct string_agg and microsecond intervals, on edge rows."""
    import duckdb

    ts = pa.timestamp("us")
    tables = {
        "a": pa.table({"k": [1, 1, 1, 2, 3], "x": pa.array([0, 5, 10, 7, 1], pa.int64())}),
        "b": pa.table(
            {"k": [1, 1, 2, 2], "y": pa.array([2, 5, 1, 9], pa.int64()), "v": ["p", "q", "r", "s"]}
        ),
        "g": pa.table({"k": [1, 1, 1, 2, 3], "s": ["b", None, "a", None, "b"]}),
        "t": pa.table({"at": pa.array([0], ts), "n": pa.array([900_000_001], pa.int64())}),
    }
    query = """
        SELECT a.k, a.x, b.y, b.v, CAST(b.v AS category) AS c
        FROM a ASOF LEFT JOIN b ON b.k = a.k AND a.x >= b.y
        ORDER BY a.k, a.x;
        SELECT k, string_agg(DISTINCT s, ',' ORDER BY s) AS s FROM g GROUP BY k ORDER BY k;
        SELECT CAST(at + to_microseconds(n) AS VARCHAR) AS later FROM t
        """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TYPE category AS ENUM ('p', 'q', 'r', 's')")
    for name, table in tables.items():
        con.register(name, table)
        session.createDataFrame(table).createOrReplaceTempView(name)
    for original in sqlglot.parse(query, read="duckdb"):
        expected = con.sql(original.sql("duckdb")).fetchall()
        got = [tuple(r) for r in session.sql(spark.translate(original).sql("spark")).collect()]
        assert got == expected, original.sql("duckdb")
        if "string_agg" in original.sql("duckdb"):
            assert got == [(1, "a,b"), (2, None), (3, "b")]
        if "ASOF" in original.sql("duckdb"):
            assert [r[2] for r in got] == [None, 5, 5, 1, None]
