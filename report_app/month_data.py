"""Data preparation for the uptime and utilisation page: level tables rolled up from EVSE
figures, daily trends and hour-of-week grids. Plain typed transforms, DataFrames in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from report_app.data import DataProblem, Filters, matching_evses
from shared.metrics import schema

LEVELS = ("network", "state", "site", "charger", "connector")
LEVEL_KEYS = {
    "network": ["cpo_id"],
    "state": ["state"],
    "site": ["cpo_id", "site_id", "site_name", "state", "program"],
    "charger": ["cpo_id", "charger_id", "site_id", "state", "program"],
    "connector": ["cpo_id", "evse_uid", "connector_id", "site_id", "state", "program"],
}
# Coverage sits right beside uptime in every table (how much of the period we know about).
SHOWN_FIGURES = [
    "uptime_pct",
    "coverage_pct",
    "uptime_strict_pct",
    "utilisation_pct",
    "in_use_sessions",
    "outage_count",
    "longest_outage_minutes",
    "known_minutes",
    "in_service_minutes",
]


SUMMED = [*schema.MINUTE_FIGURES, "in_use_sessions", "outage_count"]


def with_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """Spec section 4's percentages from summed minutes; null where the denominator is 0."""
    up = frame["available_minutes"] + frame["in_use_minutes"] + frame["reserved_minutes"]
    known = frame["known_minutes"]
    in_service = frame["in_service_minutes"]

    def pct(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
        return (100.0 * numerator / denominator).where(denominator > 0)

    return frame.assign(
        coverage_pct=pct(known, in_service),
        uptime_pct=pct(up, known),
        uptime_strict_pct=pct(up, in_service),
        utilisation_pct=pct(frame["in_use_minutes"], known),
    )


def aggregate(evse: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Port-weighted roll-up of EVSE rows to ``keys`` (sums of minutes and counts)."""
    matched = evse[evse["matched"].astype(bool)]
    if matched.empty:
        figures = [f.name for f in schema.FIGURE_FIELDS]
        return pd.DataFrame(columns=[*keys, "site_count", "evse_count", *figures])
    grouped = matched.groupby(keys, sort=True, dropna=False)
    out = grouped[SUMMED].sum()
    out["longest_outage_minutes"] = grouped["longest_outage_minutes"].max()
    out["evse_count"] = grouped["evse_uid"].nunique()
    site_keys = matched["cpo_id"].astype(str) + "\x00" + matched["site_id"].astype(str)
    out["site_count"] = site_keys.groupby([matched[k] for k in keys], dropna=False).nunique()
    return with_figures(out.reset_index())


def filter_level(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Rows of a level table passing the filters on the columns it has."""
    mask = pd.Series(True, index=frame.index)
    if filters.cpo_ids and "cpo_id" in frame:
        mask &= frame["cpo_id"].isin(filters.cpo_ids)
    if filters.states and "state" in frame:
        mask &= frame["state"].isin(filters.states)
    return frame[mask]


def level_table(
    level: str, tables: dict[str, pd.DataFrame], connectors: pd.DataFrame, filters: Filters
) -> pd.DataFrame:
    """The rows of ``level`` that pass ``filters``, with the columns the page shows.

    ``tables`` holds the month's ``evse`` table and the table of ``level``. When a filter needs
    connector attributes (power, standard, kW, program), site and coarser rows are rolled up
    again from the EVSEs whose connectors pass it; connector rows are filtered directly.
    """
    if level not in LEVELS:
        raise DataProblem(f"{level!r} is not a level ({', '.join(LEVELS)}).")
    keys = LEVEL_KEYS[level]
    if level == "connector":
        frame = filter_level(tables["connector"], filters)
        if filters.power_types:
            frame = frame[frame["power_type"].isin(filters.power_types)]
        if filters.min_kw > 0:
            frame = frame[frame["max_power_kw"] >= filters.min_kw]
        if filters.connector_standards:
            frame = frame[frame["connector_standard"].isin(filters.connector_standards)]
        if filters.programs:
            frame = frame[frame["program"].isin(filters.programs)]
        keys = [*keys, "connector_standard", "power_type", "max_power_kw"]
    elif filters.connector_level:
        evse = filter_level(tables["evse"], filters)
        evse = evse.merge(matching_evses(connectors, filters), on=["cpo_id", "evse_uid"])
        if level in ("network", "state"):
            frame = aggregate(evse, keys)
        else:
            frame = tables[level].merge(
                evse[["cpo_id", f"{level}_id"]].drop_duplicates(), on=["cpo_id", f"{level}_id"]
            )
            frame = filter_level(frame, filters)
            rolled = aggregate(evse, ["cpo_id", f"{level}_id"])
            # any_up_pct cannot be rolled up from EVSE sums, so it is not shown for a subset
            kept = [c for c in frame.columns if c not in rolled.columns or c in keys]
            frame = frame[[c for c in kept if c != "any_up_pct"]]
            frame = frame.merge(rolled, on=["cpo_id", f"{level}_id"])
    else:
        frame = filter_level(tables[level], filters)
    columns = [c for c in keys if c in frame.columns]
    columns += [c for c in ("site_count", "evse_count") if c in frame.columns]
    columns += SHOWN_FIGURES
    if level == "site" and "any_up_pct" in frame.columns:
        columns.insert(columns.index("uptime_strict_pct"), "any_up_pct")
    shown = frame[[c for c in columns if c in frame.columns]]
    return shown.sort_values(keys[: 2 if level != "state" else 1]).reset_index(drop=True)


# The daily columns a trend needs (``with_figures``' inputs), read alone from ``daily.parquet``.
TREND_MINUTES = ("available_minutes", "in_use_minutes", "reserved_minutes", "known_minutes",
                 "in_service_minutes")  # fmt: skip
DAILY_COLUMNS = ["cpo_id", "evse_uid", "charger_id", "date", *TREND_MINUTES]
HOUR_OF_WEEK_COLUMNS = ["cpo_id", "site_id", "day_of_week", "hour", "utilisation_pct"]


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
    """Codes of the (a, b) pairs of ``frame`` and the distinct pairs, in order of appearance.

    Column by column: factorizing tuples of a MultiIndex costs seconds at a million rows.
    """
    a_codes, a_values = _codes(frame[a])
    b_codes, b_values = _codes(frame[b])
    codes, pairs = pd.factorize(a_codes * len(b_values) + b_codes)
    index = pd.MultiIndex.from_arrays(
        [a_values.take(pairs // len(b_values)), b_values.take(pairs % len(b_values))],
        names=[a, b],
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
    if not days.any():
        return pd.DataFrame(columns=["date", "uptime_pct", "coverage_pct", "utilisation_pct"])
    summed = pd.DataFrame({"date": daily.dates[days]})
    for column, grid in daily.minutes.items():
        summed[column] = grid[rows][:, days].sum(axis=0)
    return with_figures(summed)[["date", "uptime_pct", "coverage_pct", "utilisation_pct"]]


@dataclass(frozen=True)
class SiteProfiles:
    """A month's hour-of-week utilisation as one 7 × 24 grid per site."""

    sites: pd.MultiIndex  # (cpo_id, site_id) of each grid
    utilisation: np.ndarray  # float (site, day_of_week, hour); NaN where there is no figure


def site_profiles(profile: pd.DataFrame) -> SiteProfiles:
    """``SiteProfiles`` of an hour-of-week table."""
    codes, sites = _factorize_pairs(profile, "cpo_id", "site_id")
    grid = np.full((len(sites), 7, 24), np.nan)
    day = profile["day_of_week"].to_numpy(dtype=int)
    hour = profile["hour"].to_numpy(dtype=int)
    inside = (day >= 0) & (day < 7) & (hour >= 0) & (hour < 24)
    values = profile["utilisation_pct"].to_numpy(dtype=float, na_value=np.nan)
    grid[codes[inside], day[inside], hour[inside]] = values[inside]
    return SiteProfiles(sites, grid)


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
