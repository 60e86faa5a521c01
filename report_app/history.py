"""Figures over several processed months: the per-network trend, the selection's monthly trend
and the twelve-month figures of rolled-up rows, all from the engine's formulas over each
month's EVSE rows (kept compact, one small frame per month, for every session).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from report_app.caches import MonthlyTables
from report_app.data import DataProblem, Filters
from report_app.month_data import aggregate, evse_subset, filter_level
from report_app.sources import read_month_table
from shared.metrics import schema
from shared.monthly.rollup import duration_minutes

EVSE_KEYS = ("cpo_id", "evse_uid", "charger_id", "site_id", "state", "program", "lga_code",
             "lga_name", "matched")  # fmt: skip
TREND_FIGURES = ["uptime_pct", "uptime_excl_pct", "coverage_pct", "utilisation_pct"]
WINDOWS = {"1": "This month, by day", "3": "Last 3 months", "6": "Last 6 months",
           "12": "Last 12 months"}  # fmt: skip


def evse_columns() -> list[str]:
    """The EVSE columns the formulas and the filters need (what the stored table has of them)."""
    wanted = [*EVSE_KEYS, *duration_minutes(), "in_use_sessions", "outage_count",
              "longest_outage_minutes"]  # fmt: skip
    return [c for c in dict.fromkeys(wanted) if c in schema.EVSE.names]


def evse_minutes(tables: MonthlyTables, month: str) -> pd.DataFrame:
    """The month's EVSE rows, only the columns roll-ups need, kept for every month."""
    return tables.remember_small(
        month,
        "evse_minutes",
        lambda: read_month_table(tables.store, month, "evse", evse_columns()),
    )


def last_months(months: Sequence[str], month: str, count: int) -> list[str]:
    """The ``count`` processed months ending with ``month``, oldest first."""
    ordered = sorted(m for m in months if m <= month)
    return ordered[-count:]


def twelve_months(months: Sequence[str], month: str) -> list[str]:
    """Processed months among the twelve report months ending with ``month`` (spec 4.5)."""
    year, number = int(month[:4]), int(month[5:])
    index = year * 12 + number - 1 - 11
    first = f"{index // 12:04d}-{index % 12 + 1:02d}"
    return sorted(m for m in months if first <= m <= month)


def history(tables: MonthlyTables, months: Sequence[str], month: str) -> dict[str, pd.DataFrame]:
    """EVSE rows of each processed month of the twelve ending with ``month``."""
    out = {}
    for other in twelve_months(months, month):
        try:
            out[other] = evse_minutes(tables, other)
        except DataProblem:
            continue
    return out


def network_history(
    tables: MonthlyTables, months: Sequence[str], connectors: pd.DataFrame, filters: Filters
) -> pd.DataFrame:
    """Uptime, coverage and utilisation per network for each month (oldest first).

    The stored network rows when they are what the filters ask for (no filter but CPO, no
    viewer's scope); else the engine's formulas over each month's EVSEs that pass.
    """
    stored = not (
        filters.picked and filters != Filters(cpo_ids=filters.cpo_ids, scope=filters.scope)
    )
    stored = stored and filters.scope is None
    frames = []
    for month in sorted(months):
        try:
            if stored:
                network = filter_level(tables.get(month, "network"), filters)
            elif filters.connector_level:
                network = aggregate(
                    evse_subset(evse_minutes(tables, month), connectors, filters), ["cpo_id"]
                )
            else:

                def build(month: str = month) -> pd.DataFrame:
                    subset = evse_subset(evse_minutes(tables, month), connectors, filters)
                    return aggregate(subset, ["cpo_id"])

                network = tables.remember_small(month, f"networks:{filters!r}", build)
        except DataProblem:
            continue
        frames.append(network.assign(month=month))
    columns = ["month", "cpo_id", *TREND_FIGURES, "evse_count"]
    if not frames:
        return pd.DataFrame(columns=columns)
    joined = pd.concat(frames, ignore_index=True)
    return joined[[c for c in columns if c in joined.columns]]


def selection_trend(
    tables: MonthlyTables, months: Sequence[str], connectors: pd.DataFrame, filters: Filters
) -> pd.DataFrame:
    """One row per month: the figures of every EVSE that passes the filters, as one group."""
    rows = []
    for month in sorted(months):
        try:
            subset = evse_subset(evse_minutes(tables, month), connectors, filters)
        except DataProblem:
            continue
        rolled = aggregate(subset, [])
        if not rolled.empty:
            rows.append(rolled.assign(month=month))
    columns = ["month", *TREND_FIGURES, "evse_count"]
    if not rows:
        return pd.DataFrame(columns=columns)
    joined = pd.concat(rows, ignore_index=True)
    return joined[[c for c in columns if c in joined.columns]]
