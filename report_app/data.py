"""Data preparation for the dashboard: plain typed transforms, DataFrames in and out.

No I/O and no Shiny here; ``report_app.sources`` reads the blobs, the database and the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from shared.metrics import schema

# Site colour classes of the live map, in legend order: (key, label, colour).
SITE_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("all_available", "All available", "#1a9850"),
    ("some_in_use", "Some in use", "#91cf60"),
    ("all_in_use", "All in use", "#2166ac"),
    ("some_down", "Some down", "#fc8d59"),
    ("all_down", "All down", "#d73027"),
    ("unknown", "Unknown or stale", "#8c8c8c"),
)
SITE_STATUS_LABELS = {key: label for key, label, _ in SITE_STATUSES}
SITE_STATUS_COLOURS = {key: colour for key, _, colour in SITE_STATUSES}

UP = ("AVAILABLE", "IN_USE", "RESERVED")
DOWN = ("OUT_OF_ORDER", "UNAVAILABLE")
OCCUPIED = ("IN_USE", "RESERVED")

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


class DataProblem(Exception):
    """A blob the page needs is missing or unreadable; the message is shown to the user."""


# ---------------------------------------------------------------- live map


@dataclass
class LiveData:
    """The live snapshot joined to static sites, shared by every session."""

    evses: pd.DataFrame  # one row per placed EVSE (static sites ∩ anything live)
    connectors: pd.DataFrame  # static connectors of those EVSEs
    unplaced: int = 0  # live EVSEs no static site CSV lists
    newest_confirmed_at: datetime | None = None
    problems: list[str] = field(default_factory=list)
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))


EVSE_COLUMNS = [
    "cpo_id",
    "evse_uid",
    "site_id",
    "site_name",
    "address",
    "suburb",
    "state",
    "latitude",
    "longitude",
    "program",
    "power_type",
    "max_power_kw",
    "connector_standards",
    "status",
    "category",
    "observed_at",
    "last_confirmed_at",
    "stale",
    "map_category",
]


def live_evses(status: pd.DataFrame | None, connectors: pd.DataFrame) -> LiveData:
    """Every statically listed EVSE with its live status (``UNKNOWN`` when none or stale)."""
    if connectors.empty:
        evses = pd.DataFrame({c: pd.Series(dtype="object") for c in EVSE_COLUMNS})
        unplaced = 0 if status is None else len(status)
        return LiveData(evses, connectors, unplaced)
    keys = ["cpo_id", "evse_uid"]
    grouped = connectors.groupby(keys, sort=False)
    evses = grouped.agg(
        site_id=("site_id", "first"),
        site_name=("site_name", "first"),
        address=("address", "first"),
        suburb=("suburb", "first"),
        state=("state", "first"),
        latitude=("latitude", "first"),
        longitude=("longitude", "first"),
        program=("program", "first"),
        max_power_kw=("max_power_kw", "max"),
    ).reset_index()
    # Vectorised: per-group Python lambdas cost seconds at 20,000 EVSEs.
    kinds = grouped["power_type"].agg(["first", "nunique"])
    evses["power_type"] = kinds["first"].where(kinds["nunique"] == 1, "mixed").to_numpy()
    standards = (
        connectors[[*keys, "connector_standard"]]
        .drop_duplicates()
        .sort_values([*keys, "connector_standard"])
        .groupby(keys, sort=False)["connector_standard"]
        .agg(", ".join)
    )
    evses["connector_standards"] = standards.reindex(
        pd.MultiIndex.from_frame(evses[keys])
    ).to_numpy()
    if status is None or status.empty:
        live = pd.DataFrame(
            columns=[*keys, "status", "category", "observed_at", "last_confirmed_at", "stale"]
        )
        unplaced = 0
    else:
        live = status.drop_duplicates(keys, keep="last")
        placed = live.set_index(keys).index.isin(evses.set_index(keys).index)
        unplaced = int((~placed).sum())
    evses = evses.merge(live, on=keys, how="left")
    evses["stale"] = evses["stale"].astype("boolean").fillna(False).astype(bool)
    category = evses["category"].astype("object").where(evses["category"].notna(), "UNKNOWN")
    evses["category"] = category
    evses["map_category"] = np.where(evses["stale"], "UNKNOWN", category)
    newest = None
    if status is not None and not status.empty and status["last_confirmed_at"].notna().any():
        newest = pd.Timestamp(status["last_confirmed_at"].max()).to_pydatetime()
    return LiveData(evses[EVSE_COLUMNS], connectors, unplaced, newest)


@dataclass(frozen=True)
class Filters:
    """What the user picked; empty means no restriction."""

    cpo_ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    power_types: tuple[str, ...] = ()
    min_kw: float = 0.0
    connector_standards: tuple[str, ...] = ()
    site_statuses: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()

    @property
    def connector_level(self) -> bool:
        """True when a filter needs connector attributes that group tables do not carry."""
        return bool(
            self.power_types or self.min_kw > 0 or self.connector_standards or self.programs
        )


def matching_evses(connectors: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """(cpo_id, evse_uid) of EVSEs with at least one connector passing the connector filters."""
    mask = pd.Series(True, index=connectors.index)
    if filters.cpo_ids:
        mask &= connectors["cpo_id"].isin(filters.cpo_ids)
    if filters.states:
        mask &= connectors["state"].isin(filters.states)
    if filters.power_types:
        mask &= connectors["power_type"].isin(filters.power_types)
    if filters.min_kw > 0:
        mask &= connectors["max_power_kw"] >= filters.min_kw
    if filters.connector_standards:
        mask &= connectors["connector_standard"].isin(filters.connector_standards)
    if filters.programs:
        mask &= connectors["program"].isin(filters.programs)
    return connectors.loc[mask, ["cpo_id", "evse_uid"]].drop_duplicates()


def filter_live(data: LiveData, filters: Filters) -> pd.DataFrame:
    """EVSEs of the live data that pass the filters (site status is applied to sites later)."""
    if data.evses.empty:
        return data.evses
    keep = matching_evses(data.connectors, filters)
    return data.evses.merge(keep, on=["cpo_id", "evse_uid"], how="inner")


def site_status(available: int, occupied: int, down: int, known: int) -> str:
    """The colour class of a site from the counts of its EVSEs with a known status."""
    if known == 0:
        return "unknown"
    if down == known:
        return "all_down"
    if down > 0:
        return "some_down"
    if occupied == known:
        return "all_in_use"
    if occupied > 0:
        return "some_in_use"
    return "all_available"


SITE_COLUMNS = [
    "cpo_id",
    "site_id",
    "site_name",
    "state",
    "latitude",
    "longitude",
    "evse_count",
    "available",
    "occupied",
    "down",
    "unknown",
    "max_power_kw",
    "last_confirmed_at",
    "site_status",
]


def live_sites(evses: pd.DataFrame, site_statuses: Sequence[str] = ()) -> pd.DataFrame:
    """One row per site with EVSE counts and its colour class.

    Counted over in-service EVSEs: ``NOT_IN_SERVICE`` ones are left out, stale ones are unknown.
    """
    if evses.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SITE_COLUMNS})
    category = evses["map_category"]
    frame = evses.assign(
        available=(category == "AVAILABLE").astype(int),
        occupied=category.isin(OCCUPIED).astype(int),
        down=category.isin(DOWN).astype(int),
        unknown=(category == "UNKNOWN").astype(int),
        in_service=(category != "NOT_IN_SERVICE").astype(int),
    )
    sites = (
        frame.groupby(["cpo_id", "site_id"], sort=True)
        .agg(
            site_name=("site_name", "first"),
            state=("state", "first"),
            latitude=("latitude", "first"),
            longitude=("longitude", "first"),
            evse_count=("in_service", "sum"),
            available=("available", "sum"),
            occupied=("occupied", "sum"),
            down=("down", "sum"),
            unknown=("unknown", "sum"),
            max_power_kw=("max_power_kw", "max"),
            last_confirmed_at=("last_confirmed_at", "max"),
        )
        .reset_index()
    )
    known = sites["available"] + sites["occupied"] + sites["down"]
    sites["site_status"] = np.select(
        [
            known == 0,
            sites["down"] == known,
            sites["down"] > 0,
            sites["occupied"] == known,
            sites["occupied"] > 0,
        ],
        ["unknown", "all_down", "some_down", "all_in_use", "some_in_use"],
        default="all_available",
    )
    if site_statuses:
        sites = sites[sites["site_status"].isin(site_statuses)].reset_index(drop=True)
    return sites[SITE_COLUMNS]


def status_counts(sites: pd.DataFrame) -> pd.DataFrame:
    """Sites per colour class, every class listed (zero included), in legend order."""
    counts = sites["site_status"].value_counts() if not sites.empty else pd.Series(dtype=int)
    return pd.DataFrame(
        {
            "site_status": [key for key, _, _ in SITE_STATUSES],
            "label": [label for _, label, _ in SITE_STATUSES],
            "sites": [int(counts.get(key, 0)) for key, _, _ in SITE_STATUSES],
        }
    )


def layer_style(status: str) -> dict[str, str]:
    """The style of a status's map layer; the class lets the page's tests find markers."""
    colour = SITE_STATUS_COLOURS[status]
    return {"color": colour, "fillColor": colour, "className": f"site-marker {status}"}


def site_layers(sites: pd.DataFrame) -> dict[str, dict]:
    """Sites as one GeoJSON FeatureCollection per colour class (every class present).

    A feature carries only its position and key: the colour is its layer's style, which keeps
    the national map's payload (and its parsing in the browser) small.
    """
    layers: dict[str, list[dict]] = {key: [] for key, _, _ in SITE_STATUSES}
    for cpo_id, site_id, lat, lon, status in zip(
        sites["cpo_id"].to_numpy(),
        sites["site_id"].to_numpy(),
        sites["latitude"].to_numpy(dtype=float).round(6),
        sites["longitude"].to_numpy(dtype=float).round(6),
        sites["site_status"].to_numpy(),
        strict=True,
    ):
        layers[status].append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                "properties": {"cpo_id": cpo_id, "site_id": site_id},
            }
        )
    return {key: {"type": "FeatureCollection", "features": f} for key, f in layers.items()}


@dataclass(frozen=True)
class LiveView:
    """What the live page shows for one set of filters: the sites and their map layers."""

    sites: pd.DataFrame
    layers: dict[str, dict]


def live_view(data: LiveData, filters: Filters) -> LiveView:
    sites = live_sites(filter_live(data, filters), filters.site_statuses)
    return LiveView(sites, site_layers(sites))


def _utc_text(instants: pd.Series) -> pd.Series:
    return pd.to_datetime(instants, utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC").fillna("never")


def site_details(data: LiveData, cpo_id: str, site_id: str) -> pd.DataFrame:
    """The EVSEs of one site with their connectors, power and last update."""
    evses = data.evses[(data.evses["cpo_id"] == cpo_id) & (data.evses["site_id"] == site_id)]
    conns = data.connectors[
        (data.connectors["cpo_id"] == cpo_id) & (data.connectors["site_id"] == site_id)
    ]
    per_evse = (
        conns.assign(
            connector=conns["connector_id"].astype(str)
            + ": "
            + conns["connector_standard"].astype(str)
            + " "
            + conns["power_type"].astype(str)
            + " "
            + conns["max_power_kw"].map(lambda kw: f"{kw:g} kW")
        )
        .groupby("evse_uid")["connector"]
        .agg("; ".join)
        .rename("connectors")
    )
    out = evses.merge(per_evse, left_on="evse_uid", right_index=True, how="left")
    out = out.assign(
        stale=out["stale"].map({True: "yes", False: "no"}),
        observed_at=_utc_text(out["observed_at"]),
        last_confirmed_at=_utc_text(out["last_confirmed_at"]),
    )
    columns = ["evse_uid", "status", "category", "stale", "connectors", "max_power_kw",
               "observed_at", "last_confirmed_at"]  # fmt: skip
    return out[columns].sort_values("evse_uid").reset_index(drop=True)


def data_age(newest: datetime | None, now: datetime) -> str:
    """How old the newest confirmation is, in words."""
    if newest is None:
        return "no status received yet"
    seconds = max(0.0, (now - newest).total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s old"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min old"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h old"
    return f"{seconds / 86400:.0f} days old"


# ---------------------------------------------------------------- monthly figures

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


def rounded(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Figures rounded for display and for the CSV that mirrors the display."""
    floats = frame.select_dtypes("float").columns
    return frame.assign(**{c: frame[c].round(digits) for c in floats})


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
