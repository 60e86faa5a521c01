"""Data preparation for the live status map: the snapshot joined to static sites, site colour
classes, map layers, a site's details. Plain typed transforms, DataFrames in and out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from report_app.data import Filters, matching_evses
from shared.status import DOWN, UP, Category

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

# The map's counts use the spec's up and down sets (``shared.status``); an up EVSE that is not
# available is occupied (in use or reserved).
DOWN_CATEGORIES = sorted(c.value for c in DOWN)
OCCUPIED_CATEGORIES = sorted(c.value for c in UP - {Category.AVAILABLE})
# How an EVSE's connector standards are written, here and in ``evse.parquet`` (the engine's
# ``string_agg(DISTINCT connector_standard, ',' ORDER BY connector_standard)``): sorted, distinct,
# joined with a comma.
STANDARDS_SEPARATOR = ","


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
        .agg(STANDARDS_SEPARATOR.join)
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
    category = (
        evses["category"].astype("object").where(evses["category"].notna(), Category.UNKNOWN.value)
    )
    evses["category"] = category
    evses["map_category"] = np.where(evses["stale"], Category.UNKNOWN.value, category)
    newest = None
    if status is not None and not status.empty and status["last_confirmed_at"].notna().any():
        newest = pd.Timestamp(status["last_confirmed_at"].max()).to_pydatetime()
    return LiveData(evses[EVSE_COLUMNS], connectors, unplaced, newest)


def filter_live(data: LiveData, filters: Filters) -> pd.DataFrame:
    """EVSEs of the live data that pass the filters (site status is applied to sites later)."""
    if data.evses.empty:
        return data.evses
    keep = matching_evses(data.connectors, filters)
    return data.evses.merge(keep, on=["cpo_id", "evse_uid"], how="inner")


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
        available=(category == Category.AVAILABLE.value).astype(int),
        occupied=category.isin(OCCUPIED_CATEGORIES).astype(int),
        down=category.isin(DOWN_CATEGORIES).astype(int),
        unknown=(category == Category.UNKNOWN.value).astype(int),
        in_service=(category != Category.NOT_IN_SERVICE.value).astype(int),
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
    out = out.assign(stale=out["stale"].map({True: "yes", False: "no"}))
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
