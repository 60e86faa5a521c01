"""Building engine inputs from hand-written observations, the way storage would."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from shared.metrics.engine import MonthInputs, compute_month
from shared.metrics.period import Period
from shared.sites import COLUMNS
from shared.status import STATUS_CATEGORY

SYDNEY = ZoneInfo("Australia/Sydney")


def local(text: str) -> datetime:
    """'2026-11-01 00:00' in Sydney time → aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SYDNEY).astimezone(UTC)


def build_runs(
    points: list[tuple[datetime, str]], gap: timedelta
) -> list[tuple[str, datetime, datetime]]:
    """One EVSE's observations (arrival order) → (status, started_at, last_confirmed_at) runs:
    the timeline in observed_at order, the last arrival winning a tie, one run per stretch of
    one raw status re-confirmed within max_gap (a longer silence starts a new run)."""
    latest: dict[datetime, str] = {}
    for at, status in points:
        latest[at] = status  # same instant: the one received last wins
    runs: list[list] = []
    for at in sorted(latest):
        status = latest[at]
        if runs and runs[-1][0] == status and at - runs[-1][2] <= gap:
            runs[-1][2] = at
        else:
            runs.append([status, at, at])
    return [(status, first, last) for status, first, last in runs]


def runs_table(
    observations: list[tuple[str, str, datetime, str]],
    max_gap: dict[str, float] | None = None,
    default_gap: float = 15,
) -> pa.Table:
    """(cpo_id, evse_uid, observed_at, status) in arrival order → status runs as stored."""
    by_evse: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for cpo_id, evse_uid, at, status in observations:
        by_evse[(cpo_id, evse_uid)].append((at, status))
    rows: dict[str, list] = {
        k: []
        for k in ("cpo_id", "evse_uid", "status", "category", "started_at", "last_confirmed_at")
    }
    for (cpo_id, evse_uid), points in sorted(by_evse.items()):
        gap = timedelta(minutes=(max_gap or {}).get(cpo_id) or default_gap)
        for status, started_at, last_confirmed_at in build_runs(points, gap):
            rows["cpo_id"].append(cpo_id)
            rows["evse_uid"].append(evse_uid)
            rows["status"].append(status)
            rows["category"].append(STATUS_CATEGORY[status.upper()].value)
            rows["started_at"].append(started_at)
            rows["last_confirmed_at"].append(last_confirmed_at)
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "cpo_id": pa.array(rows["cpo_id"], pa.string()),
            "evse_uid": pa.array(rows["evse_uid"], pa.string()),
            "status": pa.array(rows["status"], pa.string()),
            "category": pa.array(rows["category"], pa.string()),
            "started_at": pa.array(rows["started_at"], ts),
            "last_confirmed_at": pa.array(rows["last_confirmed_at"], ts),
        }
    )


def exclusions_table(rows: list[tuple]) -> pa.Table:
    """(exclusion_id, cpo_id, scope, scope_id, from_at, to_at, cause) → the reader's table."""
    ts = pa.timestamp("us", tz="UTC")
    names = ("exclusion_id", "cpo_id", "scope", "scope_id", "from_at", "to_at", "cause")
    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    return pa.table(
        {
            **{
                n: pa.array(columns[n], pa.string()) for n in names if n not in ("from_at", "to_at")
            },
            "from_at": pa.array(columns["from_at"], ts),
            "to_at": pa.array(columns["to_at"], ts),
            "note": pa.array([""] * len(rows), pa.string()),
        }
    )


def connector(
    cpo_id: str, site_id: str, charger_id: str, evse_uid: str, connector_id: str = "1", **extra
) -> dict:
    row = {
        "cpo_id": cpo_id,
        "site_id": site_id,
        "site_name": f"Site {site_id}",
        "address": "1 Test St",
        "suburb": "Goulburn",
        "state": "NSW",
        "postcode": "2580",
        "latitude": -34.75,
        "longitude": 149.72,
        "charger_id": charger_id,
        "evse_uid": evse_uid,
        "connector_id": connector_id,
        "connector_standard": "IEC_62196_T2_COMBO",
        "power_type": "DC",
        "max_power_kw": 150.0,
        "ocpp_charge_point_id": None,
        "ocpp_evse_id": None,
        "program": None,
        "commissioned_on": None,
        "decommissioned_on": None,
        "attribution": None,
        "lga_code": None,
        "lga_name": None,
        "opening_hours": None,
        "time_zone": None,
    }
    row.update(extra)
    return row


def month_inputs(
    month: str,
    observations: list[tuple[str, str, datetime, str]],
    connectors: list[dict],
    max_gap: dict[str, float] | None = None,
    tz: str = "Australia/Sydney",
    exclusions: list[tuple] | None = None,
    programs: pa.Table | None = None,
    history: dict[str, pa.Table] | None = None,
) -> MonthInputs:
    frame = (
        pd.DataFrame(connectors, columns=list(COLUMNS))
        if connectors
        else pd.DataFrame(columns=list(COLUMNS))
    )
    return MonthInputs(
        period=Period.for_month(month, tz),
        runs=runs_table(observations, max_gap),
        connectors=frame.astype({"latitude": float, "longitude": float, "max_power_kw": float}),
        default_max_gap_minutes=15,
        max_gap_minutes=max_gap or {},
        exclusions=exclusions_table(exclusions) if exclusions is not None else None,
        programs=programs,
        history=history or {},
    )


def compute(*args, **kwargs) -> dict[str, pa.Table]:
    """Every table of the month of ``month_inputs(*args, **kwargs)``."""
    return compute_month(month_inputs(*args, **kwargs))


def row(table: pa.Table, **keys) -> dict:
    """The one row of ``table`` whose columns equal ``keys``."""
    rows = [r for r in table.to_pylist() if all(r[k] == v for k, v in keys.items())]
    assert len(rows) == 1, f"{len(rows)} rows match {keys}"
    return rows[0]
