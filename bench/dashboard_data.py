"""Generated dashboard inputs: static sites, a live snapshot, monthly tables and reports.

Every table is built to match ``shared.metrics.schema`` exactly (``schema_checked`` refuses
anything else), so the dashboard is tested against the contract, not against the job's code.
Also used by ``bench/app.py`` for the national-scale run.
"""

from __future__ import annotations

import io
import json
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared import layout
from shared.blobstore import BlobStore
from shared.lga import STATE_CODES
from shared.metrics import schema
from shared.monthly.rollup import percentages, rollup
from shared.sites import write_sites_csv

LGA_FILE = (
    Path(__file__).resolve().parents[2] / "shared/data/abs-lga/lga_2022_charging_areas.geojson"
)
CITIES = (  # (state, latitude, longitude) of a capital; sites scatter around them
    ("NSW", -33.87, 151.21),
    ("VIC", -37.81, 144.96),
    ("QLD", -27.47, 153.03),
    ("WA", -31.95, 115.86),
    ("SA", -34.93, 138.60),
    ("TAS", -42.88, 147.33),
    ("ACT", -35.28, 149.13),
    ("NT", -12.46, 130.84),
)
LIVE_CATEGORIES = {  # category → raw status
    "AVAILABLE": "AVAILABLE",
    "IN_USE": "CHARGING",
    "OUT_OF_ORDER": "OUTOFORDER",
    "UNAVAILABLE": "INOPERATIVE",
    "UNKNOWN": "UNKNOWN",
}
KINDS = (  # (power_type, max_power_kw, connector standards)
    ("AC_3_PHASE", 22.0, ("IEC_62196_T2",)),
    ("AC_1_PHASE", 7.0, ("IEC_62196_T2",)),
    ("DC", 50.0, ("IEC_62196_T2_COMBO", "CHADEMO")),
    ("DC", 150.0, ("IEC_62196_T2_COMBO",)),
)


def schema_checked(table: pa.Table, expected: pa.Schema) -> pa.Table:
    """Exactly the schema's columns, order and types (extra working columns dropped), or an
    error."""
    missing = set(expected.names) - set(table.column_names)
    if missing:
        raise AssertionError(f"columns missing: {sorted(missing)}")
    checked = table.select(expected.names).cast(expected)
    assert checked.schema.equals(expected)
    return checked


def parquet(frame: pd.DataFrame, expected: pa.Schema) -> bytes:
    table = schema_checked(pa.Table.from_pandas(frame, preserve_index=False), expected)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@dataclass
class Network:
    connectors: pd.DataFrame  # the static site rows (spec section 5 columns)
    evses: pd.DataFrame  # one row per EVSE with its static attributes


def shipped_lgas() -> dict[str, list[tuple[str, str]]]:
    """Two (code, name) LGAs per state from the boundary file the project ships."""
    document = json.loads(LGA_FILE.read_text())
    found: dict[str, list[tuple[str, str]]] = {}
    for feature in document["features"]:
        props = feature["properties"]
        state = STATE_CODES[props["STE_NAME21"]]
        if len(found.setdefault(state, [])) < 2:
            found[state].append((str(props["LGA_code"]), str(props["LGA_name"])))
    return found


def make_network(
    sites: int, seed: int = 1, cpos: tuple[str, ...] = ("CPA", "CPB", "CPC")
) -> Network:
    """``sites`` sites of 1–6 EVSEs (mean ≈ 3.3), each EVSE with one or two connectors; site i
    is in state ``CITIES[i % 8]`` and in the first or second shipped LGA of it (i // 8 even/odd).
    """
    rng = np.random.default_rng(seed)
    rows = []
    evse_rows = []
    lgas = shipped_lgas()
    for index in range(sites):
        cpo_id = cpos[index % len(cpos)]
        state, lat, lon = CITIES[index % len(CITIES)]
        choices = lgas[state]
        lga_code, lga_name = choices[(index // len(CITIES)) % len(choices)]
        site_id = f"S{index:05d}"
        latitude = round(float(np.clip(lat + rng.normal(0, 0.6), -43.5, -10.0)), 5)
        longitude = round(float(np.clip(lon + rng.normal(0, 0.6), 113.5, 153.5)), 5)
        program = "BBF" if index % 4 == 0 else None
        power_type, kw, standards = KINDS[index % len(KINDS)]
        for charger in range(int(rng.integers(1, 4))):
            charger_id = f"{site_id}-C{charger}"
            for port in range(int(rng.integers(1, 3))):
                evse_uid = f"{charger_id}-E{port}"
                evse_rows.append(
                    {"cpo_id": cpo_id, "evse_uid": evse_uid, "charger_id": charger_id,
                     "site_id": site_id, "state": state, "site_name": f"Site {index}",
                     "address": f"{index} Main St", "suburb": "Town", "postcode": "2000",
                     "latitude": latitude, "longitude": longitude, "program": program,
                     "power_type": power_type, "max_power_kw": kw,
                     "connector_standards": ",".join(sorted(standards)),
                     "lga_code": lga_code, "lga_name": lga_name}
                )  # fmt: skip
                for number, standard in enumerate(standards, start=1):
                    rows.append(
                        {"cpo_id": cpo_id, "site_id": site_id, "site_name": f"Site {index}",
                         "address": f"{index} Main St", "suburb": "Town", "state": state,
                         "postcode": "2000", "latitude": latitude, "longitude": longitude,
                         "charger_id": charger_id, "evse_uid": evse_uid,
                         "connector_id": str(number), "connector_standard": standard,
                         "power_type": power_type, "max_power_kw": kw, "program": program,
                         "lga_code": lga_code, "lga_name": lga_name}
                    )  # fmt: skip
    return Network(pd.DataFrame(rows), pd.DataFrame(evse_rows))


def write_static_sites(store: BlobStore, network: Network, name: str = "generated.csv") -> None:
    store.put(
        layout.static_sites_blob(name), write_sites_csv(network.connectors.to_dict("records"))
    )


def live_status(network: Network, now: datetime, seed: int = 2) -> pd.DataFrame:
    """One live row per EVSE; every 10th is stale, categories drawn at fixed odds."""
    rng = np.random.default_rng(seed)
    n = len(network.evses)
    categories = rng.choice(list(LIVE_CATEGORIES), size=n, p=[0.55, 0.25, 0.08, 0.04, 0.08])
    stale = np.arange(n) % 10 == 9
    confirmed = [now - timedelta(minutes=40 if s else 2) for s in stale]
    return pd.DataFrame(
        {
            "cpo_id": network.evses["cpo_id"],
            "evse_uid": network.evses["evse_uid"],
            "status": [LIVE_CATEGORIES[c] for c in categories],
            "category": categories,
            "observed_at": [c - timedelta(hours=1) for c in confirmed],
            "last_confirmed_at": confirmed,
            "stale": stale,
        }
    )


def write_live(store: BlobStore, status: pd.DataFrame) -> None:
    store.put(layout.LIVE_STATUS, parquet(status, schema.LIVE_STATUS))


def _one_month(frame: pd.DataFrame) -> pd.DataFrame:
    """Twelve-month figures of rows whose history is this one month (spec 4.5)."""
    return frame.assign(
        uptime_12m_pct=frame["uptime_pct"],
        uptime_excl_12m_pct=frame["uptime_excl_pct"],
        months_in_12m=1,
    )


def _figures(frame: pd.DataFrame) -> pd.DataFrame:
    """EVSE rows with every percentage of the engine's formulas, from their minutes."""
    return _one_month(percentages(frame))


def _roll_up(evse: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Group rows with the engine's own sums and formulas (``shared.monthly.rollup``)."""
    return _one_month(rollup(evse, keys))


def month_tables(network: Network, month: str, seed: int) -> dict[str, pd.DataFrame]:
    """Every monthly table for ``month`` with plausible, internally consistent figures."""
    rng = np.random.default_rng(seed)
    year, number = int(month[:4]), int(month[5:])
    days = monthrange(year, number)[1]
    evse = network.evses.copy()
    n = len(evse)
    period = np.full(n, days * 1440.0)
    unknown = np.round(period * rng.uniform(0, 0.08, n), 3)
    down = np.round(period * rng.choice([0, 0, 0.005, 0.02, 0.08], n), 3)
    in_use = np.round((period - unknown - down) * rng.uniform(0.02, 0.35, n), 3)
    reported = np.round(unknown / 4, 3)
    excluded = np.where(np.arange(n) % 5 == 0, np.round(down / 2, 3), 0.0)
    evse = evse.assign(
        matched=True, max_gap_minutes=15.0, period_minutes=period, not_in_service_minutes=0.0,
        closed_minutes=0.0, opening_hours=None,
        in_service_minutes=period, in_use_minutes=in_use, reserved_minutes=0.0,
        out_of_order_minutes=down, unavailable_minutes=0.0, unknown_minutes=unknown,
        unknown_reported_minutes=reported, no_data_minutes=unknown - reported,
        excluded_minutes=excluded, known_minutes=period - unknown,
        available_minutes=period - unknown - down - in_use,
        in_use_sessions=rng.integers(0, 200, n), outage_count=(down > 0).astype(int),
        longest_outage_minutes=down,
    )  # fmt: skip
    evse = _figures(evse)
    site = _roll_up(evse, ["cpo_id", "site_id"])
    attrs = evse.groupby(["cpo_id", "site_id"]).first().reset_index()
    site = site.merge(
        attrs[["cpo_id", "site_id", "state", "site_name", "address", "suburb", "postcode",
               "latitude", "longitude", "program", "lga_code", "lga_name", "opening_hours"]],
        on=["cpo_id", "site_id"])  # fmt: skip
    site["time_zone"] = None
    site = site.assign(max_power_kw=attrs["max_power_kw"].to_numpy(), any_up_pct=site["uptime_pct"])
    charger = _roll_up(evse, ["cpo_id", "charger_id"])
    charger = charger.merge(
        evse.groupby(["cpo_id", "charger_id"])[["site_id", "state", "program", "max_power_kw"]]
        .first().reset_index(), on=["cpo_id", "charger_id"])  # fmt: skip
    conns = network.connectors[["cpo_id", "evse_uid", "connector_id", "connector_standard"]]
    connector = conns.merge(evse.drop(columns=["connector_standards"]), on=["cpo_id", "evse_uid"])
    dates = [date(year, number, d + 1) for d in range(days)]
    daily = evse[["cpo_id", "evse_uid", "charger_id", "site_id", "state"]].loc[
        np.repeat(evse.index, days)].reset_index(drop=True)  # fmt: skip
    share = 1440.0 / (days * 1440.0)
    daily["date"] = dates * n
    for column in schema.MINUTE_FIGURES:
        daily[column] = np.repeat(evse[column].to_numpy() * share, days)
    sites = site[["cpo_id", "site_id", "state"]]
    how = sites.loc[np.repeat(sites.index, 168)].reset_index(drop=True)
    hours = np.tile(np.arange(168), len(sites))
    how["hour_of_week"] = hours
    how["day_of_week"] = hours // 24
    how["hour"] = hours % 24
    how["known_minutes"] = 60.0 * days / 7
    how["utilisation_pct"] = np.round(rng.uniform(0, 60, len(how)), 2)
    how["in_use_minutes"] = how["known_minutes"] * how["utilisation_pct"] / 100
    start = datetime(year, number, 1, tzinfo=UTC)
    unmatched = pd.DataFrame(
        {"cpo_id": ["CPA"], "evse_uid": ["GHOST-1"], "first_observed_at": [start],
         "last_confirmed_at": [start + timedelta(days=2)], "known_minutes": [2880.0]}
    )  # fmt: skip
    outages = pd.DataFrame(
        {"cpo_id": evse["cpo_id"][:2], "evse_uid": evse["evse_uid"][:2],
         "charger_id": evse["charger_id"][:2], "site_id": evse["site_id"][:2],
         "state": evse["state"][:2], "category": ["OUT_OF_ORDER", "UNAVAILABLE"],
         "started_at": [start, start], "ended_at": [start + timedelta(hours=1), None],
         "minutes_in_period": [60.0, 120.0], "excluded_minutes_in_period": [30.0, 0.0],
         "causes": ["UTILITY_INTERRUPTION", ""]}
    )  # fmt: skip
    exclusions = pd.DataFrame(
        {"exclusion_id": ["X1"], "cpo_id": evse["cpo_id"][:1], "scope": ["evse"],
         "scope_id": evse["evse_uid"][:1], "from_at": [start],
         "to_at": [start + timedelta(minutes=30)],
         "cause": ["UTILITY_INTERRUPTION"], "note": ["grid outage"], "evse_count": [1]}
    )  # fmt: skip
    return {
        "evse": evse, "connector": connector, "charger": charger, "site": site,
        "network": _roll_up(evse, ["cpo_id"]), "state": _roll_up(evse, ["state"]),
        "unmatched": unmatched, "outages": outages, "daily": daily, "hour_of_week": how,
        "program": _roll_up(evse[evse["program"].notna()], ["program"]),
        "lga": _roll_up(evse, ["state", "lga_code", "lga_name"]), "exclusions": exclusions,
    }  # fmt: skip


def write_month(store: BlobStore, month: str, tables: dict[str, pd.DataFrame]) -> None:
    files = {
        f"{name}.parquet": parquet(frame, schema.TABLES[name])
        for name, frame in tables.items()
        if name in schema.TABLES  # tables of contract version 2 once the schema has them
    }
    manifest = {"month": month, "row_counts": {k: len(v) for k, v in tables.items()}}
    files["manifest.json"] = json.dumps(manifest).encode()
    store.replace_prefix(layout.monthly_prefix(month), files)


def write_report(store: BlobStore, month: str, site: pd.DataFrame) -> None:
    """A national report and one per state (reports/M/<STATE>/), each with its site.csv."""
    prefix = layout.report_prefix(month)
    columns = ["cpo_id", "site_id", "state", "uptime_pct"]
    store.put(
        f"{prefix}/report.html", f"<html><body><h1>Report {month}</h1></body></html>".encode()
    )
    store.put(f"{prefix}/site.csv", site[columns].to_csv(index=False).encode())
    for state in sorted(site["state"].unique()):
        html = f"<html><body><h1>Report {month} {state}</h1></body></html>"
        store.put(f"{prefix}/{state}/report.html", html.encode())
        rows = site[site["state"] == state][columns]
        store.put(f"{prefix}/{state}/site.csv", rows.to_csv(index=False).encode())


def write_feeds(store: BlobStore, now: datetime) -> None:
    feeds = [
        {"cpo_id": "CPA", "kind": "ocpi_pull", "last_success_at": now.isoformat(),
         "last_error_at": None, "last_error": None, "lag_seconds": 12},
        {"cpo_id": "CPB", "kind": "ocpp", "last_success_at": (now - timedelta(hours=2)).isoformat(),
         "last_error_at": now.isoformat(), "last_error": "connection refused", "lag_seconds": 7200},
    ]  # fmt: skip
    store.put(layout.FEED_HEALTH, json.dumps({"feeds": feeds}).encode())


def populate(store: BlobStore, sites: int, months: tuple[str, ...], now: datetime) -> Network:
    """Everything the dashboard reads, for ``sites`` sites and the given months."""
    network = make_network(sites)
    write_static_sites(store, network)
    write_live(store, live_status(network, now))
    write_feeds(store, now)
    for index, month in enumerate(months):
        tables = month_tables(network, month, seed=10 + index)
        write_month(store, month, tables)
        write_report(store, month, tables["site"])
    return network
