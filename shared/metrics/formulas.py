"""Spec section 4's formulas, once, as SQL over exact microsecond sums.

Every level (EVSE, charger, site, network, state, day) sums the same ``*_us`` columns and
derives its figures here, so the definitions cannot drift apart between levels.
"""

from __future__ import annotations

US_PER_MINUTE = 60_000_000
DURATION_SUMS = (
    "period_us",
    "not_in_service_us",
    "available_us",
    "in_use_us",
    "reserved_us",
    "out_of_order_us",
    "unavailable_us",
    "unknown_us",
)


def minutes(expression: str) -> str:
    return f"CAST({expression} AS DOUBLE) / {US_PER_MINUTE}"


def pct(numerator: str, denominator: str) -> str:
    # A zero denominator gives NULL, never 0 and never an error.
    return f"CASE WHEN ({denominator}) > 0 THEN 100.0 * CAST({numerator} AS DOUBLE) / CAST({denominator} AS DOUBLE) END"


def _derived(src: str) -> tuple[str, str, str]:
    """(column prefix, in-service expression, known expression) for the sums of ``src``."""
    p = f"{src}." if src else ""
    in_service = f"({p}period_us - {p}not_in_service_us)"
    return p, in_service, f"({in_service} - {p}unknown_us)"


def minute_columns(src: str = "") -> list[str]:
    """period … known minutes from the ``*_us`` columns of ``src`` (a table alias or '')."""
    p, in_service, known = _derived(src)
    return [
        f"{minutes(f'{p}period_us')} AS period_minutes",
        f"{minutes(f'{p}not_in_service_us')} AS not_in_service_minutes",
        f"{minutes(in_service)} AS in_service_minutes",
        f"{minutes(f'{p}available_us')} AS available_minutes",
        f"{minutes(f'{p}in_use_us')} AS in_use_minutes",
        f"{minutes(f'{p}reserved_us')} AS reserved_minutes",
        f"{minutes(f'{p}out_of_order_us')} AS out_of_order_minutes",
        f"{minutes(f'{p}unavailable_us')} AS unavailable_minutes",
        f"{minutes(f'{p}unknown_us')} AS unknown_minutes",
        f"{minutes(known)} AS known_minutes",
    ]


def figure_columns(src: str = "") -> list[str]:
    """Every figure of spec section 4 from ``*_us`` sums and the run counts of ``src``."""
    p, in_service, known = _derived(src)
    up = f"({p}available_us + {p}in_use_us + {p}reserved_us)"
    return [
        *minute_columns(src),
        f"{pct(known, in_service)} AS coverage_pct",
        f"{pct(up, known)} AS uptime_pct",
        f"{pct(up, in_service)} AS uptime_strict_pct",
        f"{pct(f'{p}in_use_us', known)} AS utilisation_pct",
        f"CAST({p}in_use_sessions AS BIGINT) AS in_use_sessions",
        f"CAST({p}outage_count AS BIGINT) AS outage_count",
        f"{minutes(f'{p}longest_outage_us')} AS longest_outage_minutes",
    ]


def summed(src: str = "") -> list[str]:
    """Aggregates that roll EVSE sums up to a group (port-weighted, spec section 4)."""
    p = f"{src}." if src else ""
    return [f"SUM({p}{column}) AS {column}" for column in DURATION_SUMS] + [
        f"SUM({p}in_use_sessions) AS in_use_sessions",
        f"SUM({p}outage_count) AS outage_count",
        f"MAX({p}longest_outage_us) AS longest_outage_us",
    ]
