"""Data preparation for the uptime and utilisation page: level tables rolled up from EVSE
figures, daily trends and hour-of-week grids. Plain typed transforms, DataFrames in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from report_app.data import DataProblem, Filters, matching_evses, state_mask
from shared.monthly.rollup import RollupError, duration_minutes, percentages, rollup, twelve_month

LEVELS = ("network", "state", "program", "lga", "site", "charger", "connector")
LEVEL_KEYS = {
    "network": ["cpo_id"],
    "state": ["state"],
    "program": ["program"],
    "lga": ["state", "lga_code", "lga_name"],
    "site": ["cpo_id", "site_id", "site_name", "state", "lga_name", "program"],
    "charger": ["cpo_id", "charger_id", "site_id", "state", "program"],
    "connector": ["cpo_id", "evse_uid", "connector_id", "site_id", "state", "program"],
}
# The group key of each level in its table (what a roll-up groups by and merges on).
GROUP_KEYS = {
    "network": ["cpo_id"],
    "state": ["state"],
    "program": ["program"],
    "lga": ["state", "lga_code", "lga_name"],
    "site": ["cpo_id", "site_id"],
    "charger": ["cpo_id", "charger_id"],
}
# Coverage sits right beside uptime in every table (how much of the period we know about);
# figures of contract version 2 are shown where the tables have them.
SHOWN_FIGURES = [
    "uptime_pct",
    "uptime_excl_pct",
    "uptime_12m_pct",
    "uptime_excl_12m_pct",
    "months_in_12m",
    "coverage_pct",
    "uptime_strict_pct",
    "utilisation_pct",
    "in_use_sessions",
    "outage_count",
    "longest_outage_minutes",
    "excluded_minutes",
    "closed_minutes",
    "unknown_reported_minutes",
    "no_data_minutes",
    "known_minutes",
    "in_service_minutes",
]
ANY_UP_NOTE = (
    "Any port up (%) is empty for {n} site(s) of which the filter keeps only some ports: it "
    "needs every port's status at each instant, which the monthly tables do not keep."
)
TWELVE_MONTH_NOTE = (
    "12-month figures are recomputed over the shown ports from the stored months' port figures."
)


def aggregate(evse: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Port-weighted roll-up of EVSE rows to ``keys`` with the engine's formulas."""
    try:
        return rollup(evse, keys)
    except RollupError as exc:
        raise DataProblem(str(exc)) from None


def filter_level(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Rows of a level table passing the filters on the columns it has (scope: ``state``)."""
    mask = state_mask(frame, filters)
    if filters.cpo_ids and "cpo_id" in frame:
        mask &= frame["cpo_id"].isin(filters.cpo_ids)
    return frame[mask]


def evse_subset(evse: pd.DataFrame, connectors: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The month's EVSE rows that pass every filter and the viewer's scope."""
    frame = filter_level(evse, filters)
    if filters.programs:
        frame = frame[frame["program"].isin(filters.programs)]
    if filters.lga_codes:
        frame = (
            frame[frame["lga_code"].isin(filters.lga_codes)]
            if "lga_code" in frame
            else frame.iloc[0:0]
        )
    if filters.connector_level:
        frame = frame.merge(matching_evses(connectors, filters), on=["cpo_id", "evse_uid"])
    return frame


def _direct(level: str, frame: pd.DataFrame, filters: Filters) -> bool:
    """Whether the stored rows of ``level`` already are the figures the filters ask for.

    They are when every filter is a column that each row has one value of: a network's or a
    program's row spans states, so a viewer's scope makes them a roll-up.
    """
    if filters.connector_level:
        return False
    needs = []
    if filters.cpo_ids:
        needs.append("cpo_id")
    if filters.states or filters.scope is not None:
        needs.append("state")
    if filters.programs:
        needs.append("program" if level == "program" else "-")
    if filters.lga_codes:
        needs.append("lga_code")
    return all(column in frame.columns for column in needs)


@dataclass(frozen=True)
class LevelRows:
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()


def level_rows(
    level: str,
    tables: dict[str, pd.DataFrame],
    connectors: pd.DataFrame,
    filters: Filters,
    history: dict[str, pd.DataFrame] | None = None,
) -> LevelRows:
    """The rows of ``level`` that pass ``filters``, with the columns the page shows, and notes.

    ``tables`` holds the month's ``evse`` table and the table of ``level``. Rows whose stored
    figures cover more than the filters keep (a filter on connector attributes, or a network
    or program under a viewer's scope) are rolled up again from the EVSEs that pass, with the
    engine's formulas; ``history`` (EVSE rows of the processed months of the twelve ending with
    this one) gives those rows their twelve-month figures.
    """
    if level not in LEVELS:
        raise DataProblem(f"{level!r} is not a level ({', '.join(LEVELS)}).")
    if level not in tables and level not in GROUP_KEYS:
        raise DataProblem(f"The month has no {level} table.")
    keys = LEVEL_KEYS[level]
    notes: list[str] = []
    # Without the level's table (not read for a roll-up) its rows come from the EVSEs alone.
    table = tables.get(level, pd.DataFrame(columns=GROUP_KEYS.get(level, [])))
    if level == "connector":
        frame = filter_level(table, filters)
        if filters.power_types:
            frame = frame[frame["power_type"].isin(filters.power_types)]
        if filters.min_kw > 0:
            frame = frame[frame["max_power_kw"] >= filters.min_kw]
        if filters.connector_standards:
            frame = frame[frame["connector_standard"].isin(filters.connector_standards)]
        if filters.programs:
            frame = frame[frame["program"].isin(filters.programs)]
        if filters.lga_codes:
            kept = evse_subset(tables["evse"], connectors, Filters(lga_codes=filters.lga_codes))
            frame = frame.merge(kept[["cpo_id", "evse_uid"]], on=["cpo_id", "evse_uid"])
        keys = [*keys, "connector_standard", "power_type", "max_power_kw"]
    elif level in tables and _direct(level, table, filters):
        frame = filter_level(table, filters)
        if filters.programs:
            frame = frame[frame["program"].isin(filters.programs)]
        if filters.lga_codes:
            frame = frame[frame["lga_code"].isin(filters.lga_codes)]
    else:
        group = GROUP_KEYS[level]
        evse = evse_subset(tables["evse"], connectors, filters)
        if any(k not in evse.columns for k in group):
            raise DataProblem(f"The month's EVSE rows have no {', '.join(group)}.")
        rolled = aggregate(evse, group)
        attributes = [c for c in table.columns if c in keys and c not in group]
        if attributes:
            rolled = rolled.merge(
                table[[*group, *attributes]].drop_duplicates(group), on=group, how="left"
            )
        if level == "site" and "any_up_pct" in table.columns:
            # A site's any-up figure stands when the filter keeps every port of it.
            whole = rolled.merge(table[[*group, "evse_count", "any_up_pct"]], on=group,
                                 suffixes=("", "_stored"), how="left")  # fmt: skip
            complete = whole["evse_count"] == whole["evse_count_stored"]
            rolled["any_up_pct"] = whole["any_up_pct"].where(complete).to_numpy()
            partial = int((~complete).sum())
            if partial:
                notes.append(ANY_UP_NOTE.format(n=partial))
        if history:
            subsets = {m: evse_subset(e, connectors, filters) for m, e in history.items()}
            twelve = twelve_month(subsets, group)
            rolled = rolled.merge(twelve, on=group, how="left")
            notes.append(TWELVE_MONTH_NOTE)
        frame = rolled
    columns = [c for c in keys if c in frame.columns]
    columns += [c for c in ("site_count", "evse_count") if c in frame.columns]
    columns += SHOWN_FIGURES
    if level == "site" and "any_up_pct" in frame.columns:
        columns.insert(columns.index("uptime_strict_pct"), "any_up_pct")
    shown = frame[[c for c in columns if c in frame.columns]]
    sort = [k for k in keys[: 2 if level not in ("state", "program") else 1] if k in shown]
    return LevelRows(shown.sort_values(sort).reset_index(drop=True), tuple(notes))


# The daily columns a trend needs (the formulas' inputs), read alone from ``daily.parquet``.
TREND_MINUTES = duration_minutes()
DAILY_COLUMNS = ["cpo_id", "evse_uid", "charger_id", "date", *TREND_MINUTES]
TOTALS_COLUMNS = ["charger_id", "date", *TREND_MINUTES]  # what the unfiltered trend sums
HOUR_OF_WEEK_COLUMNS = ["cpo_id", "site_id", "hour_of_week", "utilisation_pct"]


@dataclass(frozen=True)
class DailyFigures:
    """A month's daily table as arrays: one row per EVSE, one column per local day.

    About a tenth of the memory of the table, and a selection's trend is a sum over rows.
    """

    keys: pd.MultiIndex  # (cpo_id, evse_uid) of each row
    matched: np.ndarray  # EVSEs with a charger (listed in the static sites)
    dates: np.ndarray
    present: np.ndarray  # bool (EVSE, day): the table has that row
    minutes: dict[str, np.ndarray]  # TREND_MINUTES → float (EVSE, day)


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a column's values and the values; a categorical's own codes are used."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        values = pd.Index(column.cat.categories, dtype=object)
        if (codes < 0).any():  # missing values get a code of their own
            codes[codes < 0] = len(values)
            values = values.append(pd.Index([None], dtype=object))
        return codes, values
    codes, values = pd.factorize(column, use_na_sentinel=False)
    return codes.astype(np.int64), pd.Index(values, dtype=object)


def _factorize_pairs(frame: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, pd.MultiIndex]:
    """Codes of the (a, b) pairs of ``frame`` and the distinct pairs (in the order of their
    columns' codes, or of appearance when the pairs are sparse).

    Column by column: factorizing tuples of a MultiIndex costs seconds at a million rows.
    """
    return _pairs(*_codes(frame[a]), *_codes(frame[b]), (a, b))


def _arrow_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
    """``_codes`` of an Arrow column: a dictionary column's own indices (one dictionary for
    every chunk, see ``pa.Table.unify_dictionaries``), nulls with a code of their own."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    assert isinstance(column, pa.DictionaryArray)  # encoded above
    values = pd.Index(column.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    indices = column.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(values))
        values = values.append(pd.Index([None], dtype=object))
    return indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), values


def _arrow_pairs(table: pa.Table, a: str, b: str) -> tuple[np.ndarray, pd.MultiIndex]:
    """``_factorize_pairs`` of an Arrow table."""
    table = table.select([a, b]).unify_dictionaries()
    return _pairs(*_arrow_codes(table[a]), *_arrow_codes(table[b]), (a, b))


def _pairs(
    a_codes: np.ndarray,
    a_values: pd.Index,
    b_codes: np.ndarray,
    b_values: pd.Index,
    names: tuple[str, str],
) -> tuple[np.ndarray, pd.MultiIndex]:
    """Codes of the pairs of two coded columns and the distinct pairs.

    When the possible pairs are few against the rows (a million hour-of-week rows of 20,000
    sites), a table over every possible pair replaces hashing, which took half a second here.
    """
    combined = a_codes * len(b_values) + b_codes
    possible = len(a_values) * len(b_values)
    if possible <= max(4 * len(combined), 65_536):
        seen = np.zeros(possible, dtype=bool)
        seen[combined] = True
        pairs = np.flatnonzero(seen)
        codes = (np.cumsum(seen) - 1)[combined]
    else:
        codes, pairs = pd.factorize(combined)
    index = pd.MultiIndex.from_arrays(
        [a_values.take(pairs // len(b_values)), b_values.take(pairs % len(b_values))],
        names=list(names),
    )
    return codes, index


def daily_figures(daily: pd.DataFrame) -> DailyFigures:
    """``DailyFigures`` of a daily table (rows of the same EVSE and day are summed)."""
    evse_codes, keys = _factorize_pairs(daily, "cpo_id", "evse_uid")
    day_codes, dates = pd.factorize(daily["date"], sort=True)
    shape = (len(keys), len(dates))
    cells = evse_codes * len(dates) + day_codes
    size = shape[0] * shape[1]
    present = (np.bincount(cells, minlength=size) > 0).reshape(shape)
    minutes = {
        column: np.bincount(
            cells, weights=daily[column].to_numpy(dtype=float), minlength=size
        ).reshape(shape)
        for column in TREND_MINUTES
    }
    matched = np.zeros(len(keys), dtype=bool)
    matched[evse_codes[daily["charger_id"].notna().to_numpy()]] = True
    return DailyFigures(keys, matched, np.asarray(dates), present, minutes)


def daily_trend(daily: DailyFigures | pd.DataFrame, evses: pd.DataFrame | None) -> pd.DataFrame:
    """Uptime, coverage and utilisation per local day over the given EVSEs.

    ``None`` means every matched EVSE (those with a charger).
    """
    if isinstance(daily, pd.DataFrame):
        daily = daily_figures(daily)
    if evses is None:
        rows = np.flatnonzero(daily.matched)
    else:
        wanted = pd.MultiIndex.from_frame(evses[["cpo_id", "evse_uid"]]).unique()
        rows = daily.keys.get_indexer(wanted)
        rows = rows[rows >= 0]
    days = daily.present[rows].any(axis=0)
    summed = pd.DataFrame({"date": daily.dates[days]})
    for column, grid in daily.minutes.items():
        summed[column] = grid[rows][:, days].sum(axis=0)
    return trend_of(summed)


def matched_daily_totals(daily: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """The trend's minutes summed per local day over every matched EVSE (those with a
    charger), straight from a daily table: the unfiltered trend needs no per-EVSE grid.

    Summed in Arrow: through pandas the table was copied whole first (the daily table of a
    national month is 600,000 rows). A table read from Parquet gives datetime64 dates.
    """
    columns = TOTALS_COLUMNS
    if isinstance(daily, pd.DataFrame):
        table, as_object = pa.Table.from_pandas(daily[columns], preserve_index=False), True
    else:
        table, as_object = daily.select(columns), False
    # grouped by day and whether matched, not filtered first: a filter copies every column
    charger = table.schema.get_field_index("charger_id")
    table = table.set_column(charger, "matched", pc.is_valid(table["charger_id"]))
    every = pc.ScalarAggregateOptions(min_count=0)  # a day of nulls sums to 0, as in pandas
    sums = table.group_by(["date", "matched"]).aggregate([(c, "sum", every) for c in TREND_MINUTES])
    sums = sums.filter(sums["matched"]).select(["date", *[f"{c}_sum" for c in TREND_MINUTES]])
    sums = sums.rename_columns(["date", *TREND_MINUTES]).sort_by("date")
    return sums.to_pandas(date_as_object=as_object)


def trend_of(summed: pd.DataFrame) -> pd.DataFrame:
    """Uptime, coverage and utilisation per day from minutes summed per day (the engine's
    formulas)."""
    columns = ["date", "uptime_pct", "coverage_pct", "utilisation_pct"]
    if summed.empty:
        return pd.DataFrame(columns=columns)
    return percentages(summed)[columns]


@dataclass(frozen=True)
class SiteProfiles:
    """A month's hour-of-week utilisation as one 7 × 24 grid per site."""

    sites: pd.MultiIndex  # (cpo_id, site_id) of each grid
    utilisation: np.ndarray  # float (site, day_of_week, hour); NaN where there is no figure


def site_profiles(profile: pd.DataFrame | pa.Table) -> SiteProfiles:
    """``SiteProfiles`` of an hour-of-week table (its ``hour_of_week``, else ``day_of_week``
    and ``hour``); an Arrow table's dictionary keys are used as they are, with no copy."""
    table = profile if isinstance(profile, pa.Table) else pa.Table.from_pandas(profile)
    codes, sites = _arrow_pairs(table, "cpo_id", "site_id")

    def numbers(name: str) -> np.ndarray:
        return table[name].to_numpy().astype(np.int64, copy=False)

    if "hour_of_week" in table.column_names:
        slot = numbers("hour_of_week")
        inside = (slot >= 0) & (slot < 7 * 24)
    else:
        day, hour = numbers("day_of_week"), numbers("hour")
        slot = day * 24 + hour
        inside = (day >= 0) & (day < 7) & (hour >= 0) & (hour < 24)
    values = table["utilisation_pct"].to_numpy().astype(float, copy=False)  # nulls as NaN
    grid = np.full(len(sites) * 7 * 24, np.nan)
    grid[codes[inside] * (7 * 24) + slot[inside]] = values[inside]
    return SiteProfiles(sites, grid.reshape(len(sites), 7, 24))


def hour_of_week_grid(
    profile: SiteProfiles | pd.DataFrame, cpo_id: str, site_id: str
) -> pd.DataFrame:
    """A 7 × 24 grid (rows Monday…Sunday, columns hour 0…23) of a site's utilisation %."""
    if isinstance(profile, pd.DataFrame):
        profile = site_profiles(profile)
    row = profile.sites.get_indexer([(cpo_id, site_id)])[0]
    values = profile.utilisation[row] if row >= 0 else np.full((7, 24), np.nan)
    return pd.DataFrame(
        values,
        index=pd.RangeIndex(7, name="day_of_week"),
        columns=pd.RangeIndex(24, name="hour"),
    )


def coverage_note(frame: pd.DataFrame) -> str:
    """One line on how much of the period the figures rest on (shown beside each uptime chart)."""
    if frame.empty or frame["coverage_pct"].isna().all():
        return "Coverage: no known time."
    low = int((frame["coverage_pct"] < 90).sum())
    return (
        f"Coverage: median {frame['coverage_pct'].median():.1f} %, "
        f"{low} of {len(frame)} below 90 %."
    )
