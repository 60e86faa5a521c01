"""Group figures of a subset of EVSEs with the engine's own formulas (``shared.metrics.formulas``).

The dashboard (a filter, or a government viewer's states) and the per-state reports need
figures over some EVSEs only, e.g. a network's figures over its NSW ports. They are the
engine's sums and formulas run by DuckDB over the EVSE table's rows: each minute figure is
turned back into the exact integer microseconds it was written from (the engine writes
``us / 60e6``, which ``round(minutes × 60e6)`` recovers exactly), summed with
``formulas.summed()`` and finished with ``formulas.figure_columns()``. Nothing is re-derived.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from shared.metrics import formulas

US_PER_MINUTE = formulas.US_PER_MINUTE
_AGGREGATE = re.compile(r"^(SUM|MAX)\((?:\w+\.)?(\w+)\) AS (\w+)$")


class RollupError(ValueError):
    """The EVSE rows lack a figure the engine's formulas need."""


def _inputs() -> list[tuple[str, str]]:
    """(column the formulas sum, EVSE column it comes from) for every aggregate of ``summed()``."""
    pairs = []
    for expression in formulas.summed():
        match = _AGGREGATE.match(expression)
        if match is None:
            raise RollupError(
                f"formulas.summed() has an aggregate this roll-up cannot read: {expression}"
            )
        column = match.group(2)
        source = f"{column[:-3]}_minutes" if column.endswith("_us") else column
        pairs.append((column, source))
    return pairs


def _evse_inputs(columns: Sequence[str]) -> str:
    """SELECT list turning the EVSE table's minutes back into the formulas' microseconds."""
    out = []
    for column, source in _inputs():
        if source not in columns:
            raise RollupError(
                f"the EVSE rows have no {source}, which the engine's formulas need for {column}"
            )
        if column.endswith("_us"):
            out.append(f"CAST(round({source} * {US_PER_MINUTE}) AS BIGINT) AS {column}")
        else:
            out.append(f"CAST({source} AS BIGINT) AS {column}")
    return ", ".join(out)


def _frame(evse: pd.DataFrame | pa.Table, wanted: Sequence[str]) -> pa.Table:
    """The rows with only the ``wanted`` columns they have (the EVSE table's text columns
    cost more to convert than the figures do to sum)."""
    names = list(evse.columns) if isinstance(evse, pd.DataFrame) else evse.column_names
    kept = [c for c in dict.fromkeys(wanted) if c in names]
    if isinstance(evse, pa.Table):
        return evse.select(kept)
    return pa.Table.from_pandas(evse[kept], preserve_index=False)


def _wanted(keys: Sequence[str]) -> list[str]:
    """The columns a roll-up over ``keys`` reads."""
    return [*keys, "cpo_id", "site_id", "evse_uid", "matched", *(s for _, s in _inputs())]


@functools.cache
def _database() -> duckdb.DuckDBPyConnection:
    # One empty in-memory database for every roll-up: a new database costs ~10 ms, a
    # connection to it (``cursor``) next to nothing, and each has its own registered names.
    return duckdb.connect()


def _run(sql: str, name: str, table: pa.Table) -> pd.DataFrame:
    """``sql`` over ``table`` registered as ``name``, in a DuckDB connection of its own."""
    connection = _database().cursor()
    try:
        connection.register(name, table)
        return connection.sql(sql).to_arrow_table().to_pandas()
    finally:
        connection.close()


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def rollup(evse: pd.DataFrame | pa.Table, keys: Sequence[str]) -> pd.DataFrame:
    """Figures per ``keys`` over the given EVSE rows (matched ones only), sorted by ``keys``.

    With no ``keys`` the result is one row over all of them. Columns: the keys, ``site_count``,
    ``evse_count`` and every column of ``formulas.figure_columns()``.
    """
    table = _frame(evse, _wanted(keys))
    names = table.column_names
    missing = [k for k in [*keys, "cpo_id", "site_id", "evse_uid", "matched"] if k not in names]
    if missing:
        raise RollupError(f"the EVSE rows have no {', '.join(missing)}")
    group = f"GROUP BY {_quoted(keys)}" if keys else ""
    order = f"ORDER BY {_quoted(keys)}" if keys else ""
    key_list = f"{_quoted(keys)}, " if keys else ""
    sql = f"""
        WITH e AS (
            SELECT {key_list}cpo_id, site_id, evse_uid, {_evse_inputs(names)}
            FROM evse_rows WHERE matched
        ), g AS (
            SELECT {key_list}COUNT(DISTINCT (cpo_id, site_id)) AS site_count,
                   COUNT(*) AS evse_count, {", ".join(formulas.summed("e"))}
            FROM e {group}
        )
        SELECT {key_list}site_count, evse_count, {", ".join(formulas.figure_columns("g"))}
        FROM g {order}
    """
    out = _run(sql, "evse_rows", table)
    if not keys and out.empty:
        return out
    if not keys and int(out["evse_count"].iloc[0]) == 0:
        return out.iloc[0:0]
    return out


def twelve_month(
    evse_by_month: Mapping[str, pd.DataFrame | pa.Table], keys: Sequence[str]
) -> pd.DataFrame:
    """Spec 4.5 over a subset: the formulas of ``uptime_pct`` (and ``uptime_excl_pct`` where
    the engine has it) applied to minutes summed over the given months' EVSE rows.

    ``evse_by_month`` holds the EVSE rows (already restricted to the subset) of each processed
    month of the twelve ending with the report month. Columns: the keys, ``uptime_12m_pct``,
    ``uptime_excl_12m_pct`` (when computable) and ``months_in_12m``.
    """
    frames = []
    for month, evse in sorted(evse_by_month.items()):
        table = _frame(evse, [c for c in _wanted(keys) if c != "month"])
        frames.append(table.append_column("month", pa.array([month] * table.num_rows)))
    columns = [*keys, "uptime_12m_pct", "uptime_excl_12m_pct", "months_in_12m"]
    if not frames:
        return pd.DataFrame(columns=columns)
    common = set(frames[0].column_names).intersection(*[f.column_names for f in frames])
    ordered = [c for c in frames[0].column_names if c in common]
    table = pa.concat_tables([f.select(ordered) for f in frames], promote_options="permissive")
    key_list = f"{_quoted(keys)}, " if keys else ""
    group = f"GROUP BY {_quoted(keys)}" if keys else ""
    figures = ", ".join(formulas.figure_columns("g"))
    sql = f"""
        WITH e AS (
            SELECT {key_list}month, {_evse_inputs(table.column_names)}
            FROM evse_rows WHERE matched
        ), g AS (
            SELECT {key_list}COUNT(DISTINCT month) AS months_in_12m,
                   {", ".join(formulas.summed("e"))}
            FROM e {group}
        )
        SELECT {key_list}months_in_12m, {figures} FROM g
    """
    out = _run(sql, "evse_rows", table).rename(
        columns={"uptime_pct": "uptime_12m_pct", "uptime_excl_pct": "uptime_excl_12m_pct"}
    )
    if "uptime_excl_12m_pct" not in out:
        out["uptime_excl_12m_pct"] = float("nan")
    return out[columns].sort_values(list(keys)).reset_index(drop=True) if keys else out[columns]


def duration_minutes() -> tuple[str, ...]:
    """The minute columns whose sums the engine's formulas read (``*_us`` as minutes)."""
    names = {f"{c}_us" for c in ("longest_outage",)}  # a maximum, not a duration sum
    return tuple(s for c, s in _inputs() if c.endswith("_us") and c not in names)


def percentages(sums: pd.DataFrame) -> pd.DataFrame:
    """The engine's percentage figures for rows that already hold summed minutes (e.g. one
    row per day of a selection): ``sums`` with every ``*_pct`` column of the formulas added."""
    table = pa.Table.from_pandas(sums, preserve_index=False)
    for _, source in _inputs():
        if source not in table.column_names:
            # run counts and the longest outage enter no percentage
            table = table.append_column(source, pa.array([0] * table.num_rows, pa.int64()))
    figures = [f for f in formulas.figure_columns("") if f.endswith("_pct")]
    sql = f"""
        WITH e AS (SELECT *, {_evse_inputs(table.column_names)} FROM sums_rows)
        SELECT {", ".join(figures)} FROM e
    """
    result = _run(sql, "sums_rows", table)
    out = sums.reset_index(drop=True).copy()
    for column in result.columns:
        out[column] = result[column].to_numpy(dtype=float, na_value=float("nan"))
    return out
