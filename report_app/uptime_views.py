"""What the uptime page draws a month with, as plain functions over the month's tables: the
views every session shares when no filter is picked (built once per month, by the prefetch
when it can) and the builders of the map, the breakdown and the site choices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import pandas as pd

from report_app import context, plots
from report_app.caches import MonthlyTables
from report_app.data import DataProblem, Filters, in_scope, rounded
from report_app.grids import SharedGrid
from report_app.month_data import (
    DAILY_COLUMNS,
    HOUR_OF_WEEK_COLUMNS,
    TOTALS_COLUMNS,
    SiteProfiles,
    aggregate,
    coverage_note,
    daily_figures,
    evse_subset,
    level_rows,
    matched_daily_totals,
    site_profiles,
    trend_of,
)
from shared.metrics import schema
from shared.monthly import charts
from shared.monthly.labels import HOUR_COLUMNS, for_display

T = TypeVar("T")

# What the figures table leaves out unless "All columns" is picked: the port-hours (the "Where
# the port time went" tab draws them), strict uptime and the 12-month figure's month count.
# Fewer cells to send and draw on every month switch; the CSV holds every column.
DETAIL_COLUMNS = HOUR_COLUMNS | {"uptime_strict_pct", "months_in_12m"}
TABLE_COLUMNS = {"key": "Key figures", "all": "All columns"}


def read_month(
    tables: MonthlyTables,
    month: str,
    level: str = "site",
    scope: tuple[str, ...] | None = None,
    views: bool = True,
    pause: Callable[[], None] = lambda: None,
) -> None:
    """Read into ``tables`` everything the page draws a month with (warm-up and prefetch).

    For a viewer's ``scope`` (a government viewer) the tables and the structures every viewer
    shares, not the national views only analysts see; the national map, breakdown and site
    rows only with ``views`` (their tabs are hidden otherwise, and built when opened).
    ``pause()`` is called between the steps (a read-ahead gives way to sessions there).
    """
    steps: list[Callable[[], object]] = [lambda: tables.get(month, "network")]
    if scope is None:
        steps += [
            lambda: unfiltered_distribution(tables, month, level),
            lambda: unfiltered_grid(tables, month, level).to_payload(),
            lambda: unfiltered_trend(tables, month),
            lambda: unfiltered_site_choices(tables, month),
        ]
    else:
        steps += [
            lambda: month_tables_for(tables, month, level),
            lambda: tables.derived(month, "daily", daily_figures, DAILY_COLUMNS),
            lambda: month_choices(tables, month, scope),
        ]
    steps.append(lambda: month_profiles(tables, month))
    if scope is None and views:
        steps.append(lambda: unfiltered_views(tables, month))
    with tables.ahead():  # a guess: it must not push out a month a visitor looked at
        for step in steps:
            pause()
            step()


def month_tables_for(tables: MonthlyTables, month: str, level: str) -> dict[str, pd.DataFrame]:
    """The tables the page needs for ``level``: EVSE, network, site (the map), lga, the level's."""
    wanted = ["evse", "network", "site", level]
    found = {name: tables.get(month, name) for name in dict.fromkeys(wanted)}
    if "lga" in schema.TABLES and "lga" not in found:
        # a month processed before LGA figures: the map shows the sites alone
        with contextlib.suppress(DataProblem):
            found["lga"] = tables.get(month, "lga")
    return found


# What the page shows before any filter is picked is the same for every session, so it is
# built once per month (by the prefetch, ideally) and kept with the month's tables.


def unfiltered_rows(tables: MonthlyTables, month: str, level: str) -> pd.DataFrame:
    def build() -> pd.DataFrame:
        month_tables = {"evse": tables.get(month, "evse"), level: tables.get(month, level)}
        return rounded(level_rows(level, month_tables, pd.DataFrame(), Filters()).frame)

    return tables.remember(month, f"rows:{level}", build)


def display_rows(frame: pd.DataFrame, columns: str = "key") -> pd.DataFrame:
    """The figures table as people read it: the key columns (or ``"all"``), words, units and
    local times; the index stays the frame's, so a download can follow the table's order."""
    if columns != "all":
        frame = frame[[c for c in frame.columns if c not in DETAIL_COLUMNS]]
    shown = for_display(frame, context.settings.report_tz)
    # Python strings: the grid reads its cells one by one, and Arrow-backed strings yield theirs
    # three times slower (the same payload either way).
    strings = [c for c in shown.columns if pd.api.types.is_string_dtype(shown[c])]
    return shown.astype(dict.fromkeys(strings, object))


def unfiltered_display(
    tables: MonthlyTables, month: str, level: str, columns: str = "key"
) -> pd.DataFrame:
    return tables.remember(
        month,
        f"display:{level}:{columns}",
        lambda: display_rows(unfiltered_rows(tables, month, level), columns),
    )


def figures_grid(
    frame: pd.DataFrame, payload: Callable[[Callable[[], T]], T] | None = None
) -> SharedGrid:
    """The figures table's grid (``payload``: where its browser payload is kept)."""
    return SharedGrid(frame, payload, width="100%", height="420px", filters=False)


def unfiltered_grid(
    tables: MonthlyTables, month: str, level: str, columns: str = "key"
) -> SharedGrid:
    """The grid of the month's rows at ``level`` with no filter, its payload kept with the
    month: the same bytes for every analyst's session."""

    def payload(build: Callable[[], T]) -> T:
        return tables.remember(month, f"grid:{level}:{columns}", build)

    return figures_grid(unfiltered_display(tables, month, level, columns), payload)


def distribution_spec(frame: pd.DataFrame, level: str, month: str) -> str:
    return plots.spec(plots.uptime_distribution(frame, level, month, coverage_note(frame)))


def unfiltered_distribution(tables: MonthlyTables, month: str, level: str) -> str:
    return tables.remember(
        month,
        f"distribution:{level}",
        lambda: distribution_spec(unfiltered_rows(tables, month, level), level, month),
    )


def unfiltered_trend(tables: MonthlyTables, month: str) -> str:
    def build() -> str:
        totals = tables.derived(month, "daily", matched_daily_totals, TOTALS_COLUMNS, arrow=True)
        return plots.spec(plots.daily_trend(trend_of(totals), month))

    return tables.remember(month, "trend", build)


def month_profiles(tables: MonthlyTables, month: str) -> SiteProfiles:
    """Every site's hour-of-week grid of the month (for the heatmap), built once."""
    return tables.derived(month, "hour_of_week", site_profiles, HOUR_OF_WEEK_COLUMNS, arrow=True)


def site_choices_of(evse: pd.DataFrame) -> dict[str, str]:
    """Heatmap choices: "cpo_id/site_id" → "site name (cpo_id/site_id)" of the EVSEs' sites."""
    sites = evse[["cpo_id", "site_id", "site_name"]].drop_duplicates(["cpo_id", "site_id"])
    keys = sites["cpo_id"] + "/" + sites["site_id"]
    labels = sites["site_name"].fillna("") + " (" + keys + ")"
    # as lists: iterating Arrow-backed strings one by one took three times as long
    return dict(zip(keys.tolist(), labels.tolist(), strict=True))


def month_choices(
    tables: MonthlyTables, month: str, scope: tuple[str, ...] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """Networks, grant programs and LGAs ("code" → "name (state)") of the month's EVSEs in the
    viewer's states, built once per month and states for every session."""

    def build() -> tuple[list[str], list[str], dict[str, str]]:
        evse = in_scope(tables.get(month, "evse"), scope)
        lgas: dict[str, str] = {}
        if "lga_code" in evse:
            pairs = evse[["lga_code", "lga_name", "state"]].dropna().drop_duplicates()
            pairs = pairs.sort_values(["state", "lga_name"])
            lgas = {str(c): f"{n} ({s})" for c, n, s in pairs.itertuples(index=False)}
        return context.distinct(evse, "cpo_id"), context.distinct(evse, "program"), lgas

    return tables.remember(month, f"choices:{scope}", build)


def matched(evse: pd.DataFrame) -> pd.DataFrame:
    return evse[evse["matched"].astype(bool)]


def unfiltered_site_choices(tables: MonthlyTables, month: str) -> dict[str, str]:
    return tables.remember(
        month, "site_choices", lambda: site_choices_of(matched(tables.get(month, "evse")))
    )


def neighbours(months: tuple[str, ...], month: str) -> list[str]:
    """The months either side of ``month`` in ``months`` (newest first), nearest first."""
    if month not in months:
        return []
    at = months.index(month)
    return [months[i] for i in (at + 1, at - 1) if 0 <= i < len(months)]


def read_ahead_months(
    months: tuple[str, ...], month: str, held: Sequence[str], capacity: int
) -> list[str]:
    """The neighbours of ``month`` worth reading ahead: those ``held`` already (their views may
    be missing) and others only while the cache has room; a guess must not push out a month
    a visitor has looked at (with more months than the cache holds it did, and switching back
    read that month again)."""
    room = capacity - len(held)
    chosen = []
    for other in neighbours(months, month):
        if other in held or room > 0:
            chosen.append(other)
            room -= other not in held
    return chosen


def breakdown_rows(
    tables: dict[str, pd.DataFrame], connectors: pd.DataFrame, filters: Filters
) -> pd.DataFrame:
    """Minutes per network over the EVSEs that pass the filters (the breakdown's rows)."""
    return aggregate(evse_subset(tables["evse"], connectors, filters), ["cpo_id"])


def site_rows_of(
    tables: dict[str, pd.DataFrame], connectors: pd.DataFrame, filters: Filters
) -> pd.DataFrame:
    """Site rows that pass the filters, with their coordinates (for the map)."""
    places = tables["site"][["cpo_id", "site_id", "latitude", "longitude"]]
    rows = level_rows("site", tables, connectors, filters).frame
    return rows.merge(places, on=["cpo_id", "site_id"], how="left")


def map_spec(
    tables: dict[str, pd.DataFrame], connectors: pd.DataFrame, filters: Filters, month: str,
    sites: pd.DataFrame,
) -> str:  # fmt: skip
    """The uptime map (LGA choropleth, sites on top) as plotly JSON; sites drawn with WebGL."""
    lgas = (
        level_rows("lga", tables, connectors, filters).frame if "lga" in tables else pd.DataFrame()
    )
    path = getattr(context.settings, "lga_boundaries", None)
    shapes = charts.lga_shapes(path) if path else {}
    title = f"Uptime by LGA and site, {month}"
    if lgas.empty:
        title += " (no LGA figures this month)"
    return charts.uptime_map(lgas, sites, shapes, title, webgl=True).to_json()


def breakdown_spec(
    tables: dict[str, pd.DataFrame], connectors: pd.DataFrame, filters: Filters, month: str
) -> str:
    networks = breakdown_rows(tables, connectors, filters)
    return charts.time_breakdown(networks, "cpo_id", f"Port time by network, {month}").to_json()


def unfiltered_views(tables: MonthlyTables, month: str) -> None:
    """The map, the breakdown and the site rows of the whole month, for every analyst session."""
    month_tables = month_tables_for(tables, month, "site")
    empty, none = pd.DataFrame(), Filters()
    sites = tables.remember(month, "site_rows:None",
                            lambda: site_rows_of(month_tables, empty, none))  # fmt: skip
    tables.remember(month, "map:None", lambda: map_spec(month_tables, empty, none, month, sites))
    tables.remember(month, "breakdown:None",
                    lambda: breakdown_spec(month_tables, empty, none, month))  # fmt: skip
