"""The metrics engine on Spark: the same SQL steps and output queries, translated by sqlglot.

``shared.metrics.engine`` is the one definition of every figure: its ``sql/`` steps (STEPS) and
its output queries (``output_sql``), written for DuckDB. Here each statement is parsed as DuckDB
SQL, put through the few rewrite rules below where the dialects differ, generated as Spark SQL
and run, in the same order, over the same input tables (``input_tables``), which reach Spark as
Parquet files (the runs streamed batch by batch). Each table a step creates is materialised
(a local checkpoint, or Parquet) before the next step reads it, as DuckDB's ``CREATE TABLE`` is;
``INSERT INTO t query`` and ``DELETE FROM t WHERE c`` rebuild t (t UNION ALL query; t's rows
where c is not true).

Rewrite rules (everything else is sqlglot's own DuckDB → Spark translation):

- ``CAST(x AS category)``: DuckDB's runs keep the category as a one-byte ENUM; Spark has none, so
  the category is text (every comparison in the SQL is by name, never by ENUM order).
- ``to_microseconds(n)`` (an INTERVAL of n microseconds) → ``INTERVAL '0.000001' SECOND * n``
  (Spark multiplies a day-time interval by an integer exactly).
- ``string_agg(DISTINCT x, sep ORDER BY x)`` → ``array_join(array_sort(collect_set(x)), sep)``,
  NULL when x is NULL throughout, as in DuckDB (Spark's LISTAGG(DISTINCT …) WITHIN GROUP fails
  to plan beside another DISTINCT aggregate in Spark 4.0). Both sort text by its UTF-8 bytes.
- ``WITH x AS NOT MATERIALIZED (…)``: DuckDB's hint to inline a CTE read twice rather than
  store its rows; Spark takes no hint there, and plans CTEs its own way.
- ``A ASOF [LEFT] JOIN B ON <equalities> AND a.x >= b.y`` (for each A row, the B row with the
  greatest y <= x): Spark has no as-of join, so B gets the start of its next row,
  ``LEAD(y) OVER (PARTITION BY <B's equality columns> ORDER BY y)``, and the join becomes an
  ordinary [LEFT] JOIN that also needs ``a.x < next`` (or no next row). Exactly one B row
  matches, as in DuckDB (of rows tied on y, only the last one has a next start above x).

Use ``month_tables`` exactly like ``shared.metrics.engine.month_tables``; it returns the same
tables, value for value (tests/shared/metrics/test_spark.py). Without a ``spark`` session it
uses the active one (a Databricks job's) or starts a local one.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from shared.metrics import schema
from shared.metrics.engine import STEPS, MonthInputs, input_tables, output_sql, render
from shared.status import Category

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("chargeatlarge.spark")
RUN_COLUMNS = ("cpo_id", "evse_uid", "category", "started_at", "last_confirmed_at")
_UTC = pa.timestamp("us", tz="UTC")
_NEXT = "asof_next_start"
MATERIALISE = ("checkpoint", "parquet")


# --- translation -----------------------------------------------------------------------------


def _category_casts(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.DataType)
        and node.this == exp.DataType.Type.USERDEFINED
        and str(node.args.get("kind", "")).lower() == "category"
    ):
        return exp.DataType.build("text")
    return node


def _microsecond_intervals(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_microseconds":
        (count,) = node.expressions
        one = exp.Interval(this=exp.Literal.string("0.000001"), unit=exp.var("SECOND"))
        return exp.Mul(this=one, expression=exp.paren(count.copy(), copy=False))
    return node


def _plain_ctes(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
    return node


def _sorted_distinct_lists(node: exp.Expression) -> exp.Expression:
    order = node.this if isinstance(node, exp.GroupConcat) else None
    if not isinstance(order, exp.Order) or not isinstance(order.this, exp.Distinct):
        return node
    (value,) = order.this.expressions
    (by,) = order.expressions
    if by.this != value or by.args.get("desc"):
        raise ValueError(f"string_agg not translated: {node.sql('duckdb')}")
    separator = node.args.get("separator") or exp.Literal.string(",")
    text = sqlglot.parse_one(
        "CASE WHEN COUNT(v) = 0 THEN NULL ELSE array_join(array_sort(collect_set(v)), s) END",
        read="spark",
    )
    return text.transform(
        lambda n: (
            value.copy()
            if isinstance(n, exp.Column) and n.name == "v"
            else separator.copy()
            if isinstance(n, exp.Column) and n.name == "s"
            else n
        )
    )


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    if isinstance(condition, exp.And):
        return [*_conjuncts(condition.this), *_conjuncts(condition.expression)]
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    return [condition]


def _asof_join(join: exp.Join) -> None:
    """Rewrite one ASOF join in place (see the module docstring)."""
    table = join.this
    if not isinstance(table, exp.Table) or not table.alias_or_name:
        raise ValueError(f"ASOF JOIN of something other than a named table: {join.sql('duckdb')}")
    inner = table.alias_or_name

    def of_inner(node: exp.Expression) -> bool:
        return isinstance(node, exp.Column) and node.table == inner

    keys: list[exp.Column] = []
    bound: tuple[exp.Expression, exp.Column] | None = None  # (outer x, inner y): x >= y
    for part in _conjuncts(join.args["on"]):
        if isinstance(part, exp.EQ) and of_inner(part.this) != of_inner(part.expression):
            keys.append(part.this if of_inner(part.this) else part.expression)
        elif isinstance(part, exp.GTE) and of_inner(part.expression) and bound is None:
            bound = (part.this, part.expression)
        elif isinstance(part, exp.LTE) and of_inner(part.this) and bound is None:
            bound = (part.expression, part.this)
        else:
            raise ValueError(f"ASOF JOIN condition not translated: {part.sql('duckdb')}")
    if bound is None:
        raise ValueError(f"ASOF JOIN without an inequality: {join.sql('duckdb')}")
    outer_x, inner_y = bound
    partition = ", ".join(k.name for k in keys)
    over = (
        f"PARTITION BY {partition} ORDER BY {inner_y.name}" if keys else f"ORDER BY {inner_y.name}"
    )
    source = sqlglot.parse_one(
        f"SELECT *, LEAD({inner_y.name}) OVER ({over}) AS {_NEXT} FROM {table.name}",
        read="duckdb",
    )
    join.set("this", exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier(inner))))
    next_start = exp.column(_NEXT, table=inner)
    within = exp.paren(
        exp.or_(
            exp.LT(this=outer_x.copy(), expression=next_start), next_start.copy().is_(exp.null())
        )
    )
    join.set("on", exp.and_(join.args["on"], within))
    join.set("method", None)


def translate(statement: exp.Expression) -> exp.Expression:
    """A parsed DuckDB statement with the rewrite rules applied (a new tree)."""
    tree = (
        statement.copy()
        .transform(_category_casts)
        .transform(_microsecond_intervals)
        .transform(_sorted_distinct_lists)
        .transform(_plain_ctes)
    )
    for join in list(tree.find_all(exp.Join)):
        if str(join.args.get("method") or "").upper() == "ASOF":
            _asof_join(join)
    return tree


def spark_sql(sql: str) -> list[exp.Expression]:
    """DuckDB SQL text (one or more statements) → translated statements (``.sql("spark")``)."""
    parsed = sqlglot.parse(sql, read="duckdb")
    return [translate(s) for s in parsed if isinstance(s, exp.Expression)]


def step_statements() -> list[exp.Expression]:
    """Every statement of the engine's STEPS, in order, translated."""
    return [s for step in STEPS for s in spark_sql(render(step.read_text()))]


# --- running ---------------------------------------------------------------------------------


# For small inputs (tests): one shuffle partition, and no code generation, whose compile time
# dominates a query over a few thousand rows.
SMALL_DATA_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}


def local_session(
    cores: int = 2, memory: str = "2g", conf: dict[str, str] | None = None
) -> SparkSession:
    """A Spark session in local mode with ``cores`` threads, small shuffles, UTC times."""
    from pyspark.sql import SparkSession

    settings = {
        "spark.driver.memory": memory,
        "spark.sql.shuffle.partitions": str(max(2, cores * 2)),
        "spark.default.parallelism": str(max(2, cores * 2)),
        "spark.sql.session.timeZone": "UTC",  # the engine's naive timestamps are UTC
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    builder = SparkSession.builder.master(f"local[{cores}]").appName("chargeatlarge-monthly")
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _session(spark: SparkSession | None) -> SparkSession:
    if spark is not None:
        return spark
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or local_session(os.cpu_count() or 2)


def _utc_columns(table: pa.Table | pa.RecordBatch) -> pa.Schema:
    """The table's schema with every timestamp as microseconds in UTC (naive ones are UTC):
    Spark reads zoned Parquet timestamps as its TIMESTAMP, which runs in the session's UTC."""
    return pa.schema(
        pa.field(f.name, _UTC) if pa.types.is_timestamp(f.type) else f for f in table.schema
    )


def _write_runs(runs: pa.Table | pa.RecordBatchReader, path: Path) -> int:
    """Stream the runs into one Parquet file (the columns the SQL reads); returns the count."""
    allowed = pa.array([c.value for c in Category])
    target = pa.schema(
        [("cpo_id", pa.string()), ("evse_uid", pa.string()), ("category", pa.string()),
         ("started_at", _UTC), ("last_confirmed_at", _UTC)]
    )  # fmt: skip
    batches = runs.to_batches() if isinstance(runs, pa.Table) else runs
    count = 0
    with pq.ParquetWriter(path, target, compression="zstd") as writer:
        for batch in batches:
            columns = [batch.column(n).cast(target.field(n).type) for n in RUN_COLUMNS]
            bad = pc.invert(pc.is_in(columns[2], value_set=allowed))
            if pc.any(pc.fill_null(bad, True)).as_py():
                values = ", ".join(f"'{c.value}'" for c in Category)
                raise ValueError(f"status runs hold a category that is not one of {values}")
            writer.write_batch(pa.record_batch(columns, schema=target))
            count += batch.num_rows
    return count


def _write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table.cast(_utc_columns(table)), path)


@dataclass
class SparkMonthTables:
    """The monthly tables of one month computed on Spark (``engine.MonthTables``' interface)."""

    spark: SparkSession
    queries: dict[str, str]
    run_count: int

    def frame(self, table: str) -> DataFrame:
        return self.spark.sql(self.queries[table])

    def table(self, table: str) -> pa.Table:
        target = schema.TABLES[table]
        got = self.frame(table).toArrow()
        columns = [got.column(field.name).cast(field.type) for field in target]
        return pa.Table.from_arrays(columns, schema=target)

    def batches(self, table: str, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        yield from self.table(table).to_batches(max_chunksize=batch_rows)

    def concurrent(self) -> SparkMonthTables:
        return self  # a Spark session takes queries from several threads at once


class _Catalog:
    """Temporary views standing in for the engine's tables, each materialised once."""

    def __init__(self, spark: SparkSession, folder: Path, materialise: str) -> None:
        if materialise not in MATERIALISE:
            raise ValueError(f"materialise {materialise!r}: expected one of {MATERIALISE}")
        self.spark = spark
        self.folder = folder
        self.materialise = materialise
        self.frames: dict[str, DataFrame] = {}
        # a step's folder is never reused: frame counts shrink on drop and id()s are recycled
        self.steps = itertools.count()

    def put(self, name: str, frame: DataFrame) -> None:
        self.frames[name] = frame
        frame.createOrReplaceTempView(name)

    def drop(self, name: str) -> None:
        self.frames.pop(name).unpersist()
        self.spark.catalog.dropTempView(name)

    def drop_all(self) -> None:
        for name in list(self.frames):
            self.drop(name)

    def _materialise(self, frame: DataFrame) -> DataFrame:
        if self.materialise == "parquet":
            path = str(self.folder / f"step-{next(self.steps)}")
            frame.write.parquet(path)
            return self.spark.read.parquet(path)
        from pyspark.sql import functions as F

        frame = frame.localCheckpoint(eager=True)
        # Fresh column ids over the checkpoint: two checkpoints of one lineage share ids, and
        # a query reading both (a union, a self-join) then fails to plan.
        return frame.select(*(F.col(f"`{c}`").alias(c) for c in frame.columns))

    def _replace(self, name: str, query: str) -> None:
        """``name`` becomes ``query``'s rows (which may read ``name``)."""
        try:
            frame = self._materialise(self.spark.sql(query))
        except Exception as error:
            raise RuntimeError(f"Spark failed to rebuild {name}: {error}") from error
        self.drop(name)
        self.put(name, frame)

    def run(self, statement: exp.Expression) -> None:
        began = time.perf_counter()
        self._run(statement)
        log.debug("%.2f s: %s", time.perf_counter() - began, statement.sql("duckdb")[:60])

    def _run(self, statement: exp.Expression) -> None:
        """One translated statement of the engine: CREATE TABLE … AS, INSERT INTO … query,
        DELETE FROM … WHERE, DROP TABLE, ALTER TABLE … RENAME TO."""
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            name = statement.this.name
            query = statement.expression.sql("spark")
            try:
                self.put(name, self._materialise(self.spark.sql(query)))
            except Exception as error:
                raise RuntimeError(f"Spark failed to build {name}: {error}") from error
        elif isinstance(statement, exp.Delete) and isinstance(statement.this, exp.Table):
            # The rows a DELETE leaves are those whose condition is not true (false or NULL).
            name = statement.this.name
            where = statement.args.get("where")
            keep = (
                exp.not_(exp.func("COALESCE", exp.paren(where.this.copy()), exp.false()))
                if where is not None
                else exp.false()
            )
            self._replace(name, exp.select("*").from_(name).where(keep).sql("spark"))
        elif isinstance(statement, exp.Insert) and isinstance(statement.this, exp.Table):
            # INSERT without a column list adds the query's rows by position: a UNION ALL.
            name = statement.this.name
            query = statement.expression.sql("spark")
            self._replace(name, f"SELECT * FROM {name} UNION ALL SELECT * FROM ({query}) AS added")
        elif isinstance(statement, exp.Drop) and statement.kind == "TABLE":
            for table in statement.args.get("tables") or [statement.this]:
                self.drop(table.name)
        elif isinstance(statement, exp.Alter) and isinstance(
            (statement.args.get("actions") or [None])[0], exp.AlterRename
        ):
            old, new = statement.this.name, statement.args["actions"][0].this.name
            frame = self.frames.pop(old)
            self.spark.catalog.dropTempView(old)
            self.put(new, frame)
        else:
            raise ValueError(f"engine statement not supported on Spark: {statement.sql('duckdb')}")


@contextmanager
def month_tables(
    inputs: MonthInputs,
    spark: SparkSession | None = None,
    work_dir: str | Path | None = None,
    materialise: str = "checkpoint",
) -> Iterator[SparkMonthTables]:
    """Compute every table of ``shared.metrics.schema.TABLES`` for one month on Spark.

    The inputs are written as Parquet under ``work_dir`` (a temporary folder by default; on a
    cluster, a folder every executor can read) and read by Spark from there. Each step's table
    is kept as a local checkpoint (fast; lost with an executor) or, with ``materialise``
    "parquet", written under ``work_dir`` and read back (survives executor loss).
    """
    spark = _session(spark)
    with tempfile.TemporaryDirectory(prefix="chargeatlarge-spark-", dir=work_dir) as work:
        folder = Path(work)
        catalog = _Catalog(spark, folder, materialise)
        try:
            run_count = _write_runs(inputs.runs, folder / "runs.parquet")
            catalog.put("runs", spark.read.parquet(str(folder / "runs.parquet")))
            observed = {r.cpo_id for r in spark.sql("SELECT DISTINCT cpo_id FROM runs").collect()}
            for name, table in input_tables(inputs, observed).items():
                _write_table(table, folder / f"{name}.parquet")
                catalog.put(name, spark.read.parquet(str(folder / f"{name}.parquet")))
            for statement in step_statements():
                catalog.run(statement)
            evse_full, queries = output_sql(inputs)
            for statement in spark_sql(evse_full):
                catalog.run(statement)
            translated = {
                name: "\n".join(s.sql("spark") for s in spark_sql(query))
                for name, query in queries.items()
            }
            yield SparkMonthTables(spark, translated, run_count)
        finally:
            catalog.drop_all()


def compute_month(inputs: MonthInputs, spark: SparkSession | None = None) -> dict[str, pa.Table]:
    """Every table of ``shared.metrics.schema.TABLES`` for one month, computed on Spark."""
    with month_tables(inputs, spark) as tables:
        return {name: tables.table(name) for name in schema.TABLES}


__all__ = [
    "SparkMonthTables",
    "compute_month",
    "local_session",
    "month_tables",
    "spark_sql",
    "step_statements",
    "translate",
]
