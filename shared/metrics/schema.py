"""Column names and types of every table the monthly job writes (spec sections 4 and 6).

Writers check their output against these before writing; readers (the dashboard, the
report) rely on them. Figure names are exactly the spec's.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

MINUTE_FIGURES = (
    "period_minutes",
    "not_in_service_minutes",
    "closed_minutes",  # outside the site's opening hours (spec 4.1)
    "in_service_minutes",
    "available_minutes",
    "in_use_minutes",
    "reserved_minutes",
    "out_of_order_minutes",
    "unavailable_minutes",
    "unknown_minutes",
    "unknown_reported_minutes",  # spec 4.2: reported UNKNOWN ...
    "no_data_minutes",  # ... and time no observation covers
    "known_minutes",
    "excluded_minutes",  # down time inside approved exclusions (spec 4.3)
)
PCT_FIGURES = (
    "coverage_pct",
    "uptime_pct",
    "uptime_strict_pct",
    "utilisation_pct",
    "uptime_excl_pct",
)
COUNT_FIGURES = ("in_use_sessions", "outage_count")


def _fields(names: tuple[str, ...], kind: pa.DataType) -> list[pa.Field]:
    return [pa.field(name, kind) for name in names]


FIGURE_FIELDS = (
    _fields(MINUTE_FIGURES, pa.float64())
    + _fields(PCT_FIGURES, pa.float64())  # null where the denominator is zero
    + _fields(COUNT_FIGURES, pa.int64())
    + [pa.field("longest_outage_minutes", pa.float64())]
)

# Spec 4.5: over the twelve report months ending with this one, as processed.
TWELVE_MONTH_FIELDS = [
    pa.field("uptime_12m_pct", pa.float64()),
    pa.field("uptime_excl_12m_pct", pa.float64()),
    pa.field("months_in_12m", pa.int64()),
]

LGA_FIELDS = [pa.field("lga_code", pa.string()), pa.field("lga_name", pa.string())]

SITE_ATTRIBUTES = [
    pa.field("site_name", pa.string()),
    pa.field("address", pa.string()),
    pa.field("suburb", pa.string()),
    pa.field("postcode", pa.string()),
    pa.field("latitude", pa.float64()),
    pa.field("longitude", pa.float64()),
]

EVSE = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("charger_id", pa.string()),  # null for unmatched EVSEs
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        *SITE_ATTRIBUTES,
        *LGA_FIELDS,
        pa.field("program", pa.string()),
        pa.field("power_type", pa.string()),  # of its connectors; "mixed" when they differ
        pa.field("max_power_kw", pa.float64()),  # highest of its connectors
        pa.field("connector_standards", pa.string()),  # sorted, comma-separated
        pa.field("opening_hours", pa.string()),  # null: always open
        pa.field("matched", pa.bool_()),
        pa.field("max_gap_minutes", pa.float64()),
        *FIGURE_FIELDS,
        *TWELVE_MONTH_FIELDS,
    ]
)

CONNECTOR = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("connector_id", pa.string()),
        pa.field("charger_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        pa.field("program", pa.string()),
        pa.field("connector_standard", pa.string()),
        pa.field("power_type", pa.string()),
        pa.field("max_power_kw", pa.float64()),
        *FIGURE_FIELDS,
    ]
)

CHARGER = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("charger_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        pa.field("program", pa.string()),  # the one program of its EVSEs, else sorted comma list
        pa.field("max_power_kw", pa.float64()),
        pa.field("evse_count", pa.int64()),
        *FIGURE_FIELDS,
    ]
)

SITE = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        *SITE_ATTRIBUTES,
        *LGA_FIELDS,
        pa.field("program", pa.string()),
        pa.field("opening_hours", pa.string()),  # null: always open
        pa.field("time_zone", pa.string()),  # the zone its opening hours are in
        pa.field("max_power_kw", pa.float64()),
        pa.field("evse_count", pa.int64()),
        *FIGURE_FIELDS,
        pa.field("any_up_pct", pa.float64()),
        *TWELVE_MONTH_FIELDS,
    ]
)


def _group(*keys: pa.Field) -> pa.Schema:
    return pa.schema(
        [
            *keys,
            pa.field("site_count", pa.int64()),
            pa.field("evse_count", pa.int64()),
            *FIGURE_FIELDS,
            *TWELVE_MONTH_FIELDS,
        ]
    )


NETWORK = _group(pa.field("cpo_id", pa.string()))
STATE = _group(pa.field("state", pa.string()))
PROGRAM = _group(pa.field("program", pa.string()))  # spec 4.4: one row per program code
LGA = _group(pa.field("state", pa.string()), *LGA_FIELDS)

UNMATCHED = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("first_observed_at", TS),  # within the look-back + period
        pa.field("last_confirmed_at", TS),
        pa.field("known_minutes", pa.float64()),
    ]
)

OUTAGES = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("charger_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        pa.field("category", pa.string()),  # OUT_OF_ORDER or UNAVAILABLE
        pa.field("started_at", TS),  # may lie before the period
        pa.field("ended_at", TS),  # null when the run goes on past the period's end
        pa.field("minutes_in_period", pa.float64()),  # in-service time (spec 4.1)
        pa.field("excluded_minutes_in_period", pa.float64()),  # of it, inside approved exclusions
        pa.field("causes", pa.string()),  # of the exclusions that cover it: sorted, ','; '' if none
    ]
)

# The approved exclusions that overlap the period, as the month used them (spec 6).
EXCLUSIONS = pa.schema(
    [
        pa.field("exclusion_id", pa.string()),
        pa.field("cpo_id", pa.string()),
        pa.field("scope", pa.string()),  # evse | charger | site
        pa.field("scope_id", pa.string()),
        pa.field("from_at", TS),
        pa.field("to_at", TS),
        pa.field("cause", pa.string()),
        pa.field("note", pa.string()),
        pa.field("evse_count", pa.int64()),  # EVSEs of the static CSVs it covers
    ]
)

DAILY = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("charger_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        pa.field("date", pa.date32()),  # local calendar day in the report time zone
        *_fields(MINUTE_FIGURES, pa.float64()),
    ]
)

HOUR_OF_WEEK = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("site_id", pa.string()),
        pa.field("state", pa.string()),
        pa.field("hour_of_week", pa.int64()),  # 0 = Monday 00:00-01:00 local … 167 = Sunday 23:00
        pa.field("day_of_week", pa.int64()),  # 0 = Monday
        pa.field("hour", pa.int64()),
        pa.field("in_use_minutes", pa.float64()),
        pa.field("known_minutes", pa.float64()),
        pa.field("utilisation_pct", pa.float64()),  # 100 × in_use / known; null if known is 0
    ]
)

TABLES: dict[str, pa.Schema] = {
    "evse": EVSE,
    "connector": CONNECTOR,
    "charger": CHARGER,
    "site": SITE,
    "network": NETWORK,
    "state": STATE,
    "program": PROGRAM,
    "lga": LGA,
    "unmatched": UNMATCHED,
    "outages": OUTAGES,
    "exclusions": EXCLUSIONS,
    "daily": DAILY,
    "hour_of_week": HOUR_OF_WEEK,
}

# Levels with twelve-month figures, and the key of each (spec 4.5).
TWELVE_MONTH_KEYS: dict[str, tuple[str, ...]] = {
    "evse": ("cpo_id", "evse_uid"),
    "site": ("cpo_id", "site_id"),
    "network": ("cpo_id",),
    "state": ("state",),
    "program": ("program",),
    "lga": ("state", "lga_code", "lga_name"),
}

# The live snapshot the worker writes (spec section 6), joined by the dashboard with static sites.
LIVE_STATUS = pa.schema(
    [
        pa.field("cpo_id", pa.string()),
        pa.field("evse_uid", pa.string()),
        pa.field("status", pa.string()),
        pa.field("category", pa.string()),
        pa.field("observed_at", TS),
        pa.field("last_confirmed_at", TS),
        pa.field("stale", pa.bool_()),
    ]
)
