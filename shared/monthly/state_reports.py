"""Published reports per jurisdiction: the national report for analysts and one per state.

``reports/YYYY-MM/report.html`` (+ CSVs) covers every state; ``reports/YYYY-MM/<STATE>/`` holds
the report and CSVs of that state's EVSEs only, its network (CPO) and program figures computed
over those EVSEs with the engine's formulas (``shared.monthly.rollup``), their twelve-month
figures from the stored months' EVSE rows. The monthly job calls ``build_reports`` once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared import layout
from shared.blobstore import BlobNotFound, BlobStore
from shared.metrics import schema
from shared.monthly import charts
from shared.monthly.report import CSV_LEVELS, ReportView, build_report
from shared.monthly.rollup import rollup, twelve_month
from shared.monthly.sections import exclusions_in_scope, threshold_lookup

log = logging.getLogger("chargeatlarge.monthly")
STATE_TABLES = ("lga", "site", "charger", "connector", "evse", "outages")  # rows carry ``state``


def state_report_prefix(month: str, state: str) -> str:
    """``reports/YYYY-MM/<STATE>`` (no trailing slash)."""
    return f"{layout.report_prefix(month)}/{state}"


def month_before(month: str, back: int = 1) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _stored_table(store: BlobStore, month: str, table: str) -> pd.DataFrame | None:
    """A processed month's table as the latest run wrote it; None when not processed."""
    if store.info(layout.monthly_manifest_blob(month)) is None:
        return None
    try:
        with store.open(layout.monthly_table_blob(month, table)) as blob:
            return pq.read_table(blob).to_pandas()
    except (BlobNotFound, pa.ArrowException, OSError) as exc:
        log.warning("%s: %s of %s cannot be read for the reports (%s)", month, table, month, exc)
        return None


def _empty(name: str) -> pd.DataFrame:
    table_schema = schema.TABLES.get(name)
    if table_schema is None:
        return pd.DataFrame()
    return table_schema.empty_table().to_pandas()


def _ordered(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns in the order of the stored table ``name`` (those the frame has)."""
    names = schema.TABLES[name].names if name in schema.TABLES else list(frame.columns)
    return frame[[c for c in names if c in frame.columns]]


def _with_change(networks: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None or previous.empty or networks.empty:
        return networks.assign(uptime_change_pp=float("nan"))
    before = previous[["cpo_id", "uptime_pct"]].rename(columns={"uptime_pct": "before"})
    joined = networks.merge(before, on="cpo_id", how="left")
    joined["uptime_change_pp"] = joined["uptime_pct"] - joined["before"]
    return joined.drop(columns=["before"])


def _rolled(
    evse: pd.DataFrame, history: Mapping[str, pd.DataFrame], keys: list[str], name: str
) -> pd.DataFrame:
    """Rows of level ``name`` over ``evse`` with twelve-month figures over ``history``."""
    if evse.empty or any(k not in evse.columns for k in keys):
        return _empty(name)
    rows = rollup(evse, keys)
    if rows.empty:
        return _empty(name)
    rows = rows.merge(twelve_month(history, keys), on=keys, how="left")
    return _ordered(rows, name)


def _overall(evse: pd.DataFrame) -> float | None:
    if evse.empty:
        return None
    whole = rollup(evse, [])
    value = whole["uptime_pct"].iloc[0] if not whole.empty else None
    return None if value is None or pd.isna(value) else float(value)


def state_view(
    state: str,
    month: str,
    frames: Mapping[str, pd.DataFrame],
    history: Mapping[str, pd.DataFrame],
    previous_evse: pd.DataFrame | None,
    base: dict,
) -> ReportView:
    """The report of one state: every row of its EVSEs, networks and programs over them only."""
    inside = {name: frames[name][frames[name]["state"] == state] for name in STATE_TABLES
              if name in frames}  # fmt: skip
    evse = inside["evse"]
    past = {m: e[e["state"] == state] for m, e in history.items()}
    networks = _rolled(evse, past, ["cpo_id"], "network")
    previous = None
    if previous_evse is not None:
        before = previous_evse[previous_evse["state"] == state]
        previous = rollup(before, ["cpo_id"]) if not before.empty else None
    programs = _rolled(evse[evse["program"].notna()], past, ["program"], "program")
    exclusions = exclusions_in_scope(frames.get("exclusions", _empty("exclusions")), frames["evse"],
                                     (state,))  # fmt: skip
    states = frames["state"][frames["state"]["state"] == state]
    csvs = {"network": networks, "state": states, "program": programs, **inside,
            "exclusions": exclusions}  # fmt: skip
    return ReportView(
        **base,
        jurisdiction=state,
        networks=_with_change(networks, previous),
        states=states,
        programs=programs,
        lgas=inside.get("lga", _empty("lga")),
        sites=inside["site"],
        outages=inside["outages"],
        exclusions=exclusions,
        csvs={name: csvs[name] for name in CSV_LEVELS if name in csvs},
        overall_uptime_pct=_overall(evse),
    )


def national_view(
    frames: Mapping[str, pd.DataFrame], previous_network: pd.DataFrame | None, base: dict,
    unmatched: int,
) -> ReportView:  # fmt: skip
    return ReportView(
        **base,
        jurisdiction=None,
        networks=_with_change(frames["network"], previous_network),
        states=frames["state"],
        programs=frames.get("program", _empty("program")),
        lgas=frames.get("lga", _empty("lga")),
        sites=frames["site"],
        outages=frames["outages"],
        exclusions=frames.get("exclusions", _empty("exclusions")),
        unmatched=unmatched,
        csvs={name: frames[name] for name in CSV_LEVELS if name in frames},
        overall_uptime_pct=_overall(frames["evse"]),
    )


def build_reports(
    store: BlobStore,
    month: str,
    tables: Mapping[str, pa.Table],
    manifest: dict,
    threshold_pct: float,
    *,
    program_thresholds: Mapping[str, float] | None = None,
    lga_boundaries: Path | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """The national report and one per state with EVSEs: their files by name under
    ``reports/YYYY-MM/``, and the states reported. Previous months are read from ``store``;
    program thresholds and the LGA boundary file default to the settings. The monthly job
    stores the files in one step, after the month's tables."""
    if program_thresholds is None or lga_boundaries is None:
        from shared.settings import get_settings

        settings = get_settings()
        if program_thresholds is None:
            program_thresholds = getattr(settings, "program_thresholds", None) or {}
        if lga_boundaries is None:
            lga_boundaries = getattr(settings, "lga_boundaries", None)
    frames = {name: table.to_pandas() for name, table in tables.items()}
    previous_month = month_before(month)
    previous_evse = _stored_table(store, previous_month, "evse")
    previous_network = _stored_table(store, previous_month, "network")
    history = {month: frames["evse"]}
    for back in range(1, 12):
        earlier = month_before(month, back)
        stored = previous_evse if back == 1 else _stored_table(store, earlier, "evse")
        if stored is not None:
            history[earlier] = stored
    base = {
        "month": month,
        "manifest": manifest,
        "threshold_pct": threshold_pct,
        "threshold_for": threshold_lookup(threshold_pct, program_thresholds),
        "previous_month": previous_month if previous_network is not None else None,
        "shapes": charts.lga_shapes(Path(lga_boundaries)) if lga_boundaries else {},
    }
    unmatched = int(tables["unmatched"].num_rows) if "unmatched" in tables else 0
    files = build_report(national_view(frames, previous_network, base, unmatched))
    evse = frames["evse"]
    states = sorted(evse.loc[evse["matched"].astype(bool), "state"].dropna().unique())
    for state in states:
        view = state_view(state, month, frames, history, previous_evse, base)
        files.update({f"{state}/{name}": data for name, data in build_report(view).items()})
    return files, states
