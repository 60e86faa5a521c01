"""Words with units for the spec's column names, shared by the dashboard and the reports.

Tables people read show these headers; CSV files keep the spec's names.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

LABELS: dict[str, str] = {
    "cpo_id": "Network (CPO)",
    "state": "State",
    "program": "Grant program",
    "round": "Round",
    "lga_code": "LGA code",
    "lga_name": "Local government area",
    "site_id": "Site",
    "site_name": "Site name",
    "address": "Address",
    "suburb": "Suburb",
    "postcode": "Postcode",
    "charger_id": "Charger",
    "evse_uid": "Charging port (EVSE)",
    "connector_id": "Connector",
    "connector_standard": "Connector standard",
    "connector_standards": "Connector standards",
    "power_type": "Power type",
    "max_power_kw": "Max power (kW)",
    "site_count": "Sites",
    "evse_count": "Charging ports",
    "uptime_pct": "Uptime (%)",
    "uptime_excl_pct": "Uptime net of exclusions (%)",
    "uptime_12m_pct": "12-month uptime (%)",
    "uptime_excl_12m_pct": "12-month uptime net of exclusions (%)",
    "months_in_12m": "Months in 12-month figure",
    "uptime_strict_pct": "Strict uptime (%)",
    "any_up_pct": "Any port up (%)",
    "coverage_pct": "Coverage (%)",
    "utilisation_pct": "Utilisation (%)",
    "in_use_sessions": "Sessions",
    "outage_count": "Outages",
    "longest_outage_minutes": "Longest outage (min)",
    "period_minutes": "Period (port-hours)",
    "not_in_service_minutes": "Not in service (port-hours)",
    "closed_minutes": "Closed (port-hours)",
    "in_service_minutes": "In service (port-hours)",
    "available_minutes": "Available (port-hours)",
    "in_use_minutes": "In use (port-hours)",
    "reserved_minutes": "Reserved (port-hours)",
    "out_of_order_minutes": "Out of order (port-hours)",
    "unavailable_minutes": "Unavailable (port-hours)",
    "unknown_minutes": "Unknown (port-hours)",
    "unknown_reported_minutes": "Unknown, reported (port-hours)",
    "no_data_minutes": "No data (port-hours)",
    "known_minutes": "Known (port-hours)",
    "excluded_minutes": "Excluded downtime (port-hours)",
    "category": "Status category",
    "started_at": "Started (local time)",
    "ended_at": "Ended (local time)",
    "minutes_in_period": "Down in month (min)",
    "excluded_minutes_in_period": "Excluded (min)",
    "causes": "Exclusion causes",
    "month": "Month",
    "status": "Reported status",
    "stale": "Stale",
    "connectors": "Connectors",
    "observed_at": "Reported since (local time)",
    "first_observed_at": "First observed (local time)",
    "last_confirmed_at": "Last confirmed (local time)",
    "last_success_at": "Last success (local time)",
    "last_error_at": "Last error (local time)",
    "last_error": "Last error",
    "last_received_at": "Last received (local time)",
    "lag_seconds": "Lag (s)",
    "kind": "Feed kind",
    "source": "Source",
    "quarantined": "Quarantined inputs",
    "from_at": "From (local time)",
    "to_at": "To (local time)",
    "cause": "Cause",
    "note": "Note",
    "scope": "Scope",
    "scope_id": "Scope id",
    "exclusion_id": "Exclusion",
    "threshold_pct": "Threshold (%)",
    "below_threshold": "Below threshold",
}
# Columns shown in hours although stored in minutes (a month of port time reads better so).
HOUR_COLUMNS = frozenset(
    c for c in LABELS if c.endswith("_minutes") and c not in ("longest_outage_minutes",)
)

# The breakdown of in-service and other time, in the spec's words, in display order.
TIME_BREAKDOWN: tuple[tuple[str, str, str], ...] = (
    ("in_use_minutes", "In use", "#2166ac"),
    ("reserved_minutes", "Reserved", "#67a9cf"),
    ("available_minutes", "Available", "#1a9850"),
    ("out_of_order_minutes", "Out of order", "#d73027"),
    ("unavailable_minutes", "Unavailable", "#fc8d59"),
    ("unknown_reported_minutes", "Unknown (reported)", "#bdbdbd"),
    ("no_data_minutes", "No data", "#8c8c8c"),
    ("closed_minutes", "Closed", "#542788"),
)

INSTANT_COLUMNS = frozenset({"started_at", "ended_at", "first_observed_at", "last_confirmed_at",
                             "last_success_at", "last_error_at", "last_received_at", "from_at",
                             "to_at", "observed_at"})  # fmt: skip
CAUSE_WORDS = {
    "UTILITY_INTERRUPTION": "utility interruption",
    "VEHICLE_FAULT": "vehicle fault",
    "SCHEDULED_MAINTENANCE": "scheduled maintenance",
    "VANDALISM": "vandalism",
    "NATURAL_DISASTER": "natural disaster",
}


def label(column: str) -> str:
    return LABELS.get(column, column.replace("_", " ").capitalize())


def local_time(value: object, tz: str) -> str:
    """An instant as local wall time to the minute with its zone abbreviation; '' when empty."""
    if value is None or value == "" or (not isinstance(value, datetime | str) and pd.isna(value)):
        return ""
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        return str(value)
    if pd.isna(stamp):
        return ""
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    local = stamp.tz_convert(ZoneInfo(tz))
    return local.strftime("%a %d %b %Y %H:%M %Z")


def causes_text(causes: object) -> str:
    if not isinstance(causes, str) or not causes:
        return ""
    return ", ".join(CAUSE_WORDS.get(c, c.lower().replace("_", " ")) for c in causes.split(","))


def for_display(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """A table for people: minutes of port time as hours, instants as local time, word headers.

    ``longest_outage_minutes`` and the outage list's minutes stay in minutes (what funding
    rules ask for); every other ``*_minutes`` becomes hours with one decimal.
    """
    out = frame.copy()
    for column in out.columns:
        if column in HOUR_COLUMNS and pd.api.types.is_numeric_dtype(out[column]):
            out[column] = (out[column] / 60).round(1)
        elif column in INSTANT_COLUMNS:
            out[column] = [local_time(v, tz) for v in out[column]]
        elif column == "causes":
            out[column] = [causes_text(v) for v in out[column]]
        elif pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].round(2 if column.endswith("_pct") else 1)
    return out.rename(columns={c: label(c) for c in out.columns})
