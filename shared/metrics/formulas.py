"""Spec section 4's formulas, once, as SQL over exact microsecond sums.

Every level (EVSE, charger, site, network, state, program, lga, day) sums the same ``*_us``
columns and derives its figures here, so the definitions cannot drift apart between levels.
The per-category sums and category sets of the SQL steps are generated here too, from
``shared.status.Category`` (spec section 2) and the engine's own two categories.
"""

from __future__ import annotations

from shared.status import DOWN, Category
from shared.status import UP as UP_CATEGORIES

US_PER_MINUTE = 60_000_000
# The engine's own piece categories besides spec section 2's (shared.status.Category): time
# outside opening hours (spec 4.1) and time no observation covers (spec 4.2).
ENGINE_ONLY_CATEGORIES = ("CLOSED", "NO_DATA")
NOT_KNOWN_CATEGORIES = (Category.UNKNOWN.value, "NO_DATA", Category.NOT_IN_SERVICE.value, "CLOSED")
DOWN_CATEGORIES = tuple(c.value for c in Category if c in DOWN)


def _sum_column(category: str) -> str:
    # Reported UNKNOWN is one of the two parts of unknown time (spec 4.2).
    return "unknown_reported_us" if category == Category.UNKNOWN else f"{category.lower()}_us"


# Each instant of an EVSE's period is exactly one of these (spec 4.1, 4.2), in this order: not in
# service, else closed, else its timeline category (the enum's, in its order), else no data;
# with the sum column each one feeds. Generated from the enum, so a category cannot be missed.
PIECE_CATEGORIES: tuple[tuple[str, str], ...] = tuple(
    (_sum_column(category), category)
    for category in (
        Category.NOT_IN_SERVICE.value,
        "CLOSED",
        *(c.value for c in Category if c not in (Category.NOT_IN_SERVICE, Category.UNKNOWN)),
        Category.UNKNOWN.value,
        "NO_DATA",
    )
)
UP = tuple(_sum_column(c.value) for c in Category if c in UP_CATEGORIES)
DURATION_SUMS = ("period_us", *(column for column, _ in PIECE_CATEGORIES), "excluded_us")


def category_literal(category: str) -> str:
    """A category as the SQL steps compare it: a value of their ``category`` ENUM. (DuckDB
    compares an ENUM with plain text by casting the ENUM to text, row by row.)"""
    return f"CAST('{category}' AS category)"


def category_list(name: str) -> str:
    """A category set of the SQL steps (``{{categories:down}}``, ``not_known``)."""
    categories = {"down": DOWN_CATEGORIES, "not_known": NOT_KNOWN_CATEGORIES}[name]
    return ", ".join(category_literal(c) for c in categories)


def category_sums(us: str) -> str:
    """``SUM(...) AS x_us`` for each piece category, of the duration expression ``us``."""
    return ",\n    ".join(
        f"SUM(CASE WHEN category = {category_literal(category)} THEN {us} ELSE 0 END) AS {column}"
        for column, category in PIECE_CATEGORIES
    )


def bigint_columns(src: str) -> str:
    """Every ``*_us`` sum column of ``src`` (DURATION_SUMS) cast to BIGINT, under its own name:
    for sums taken as DOUBLE (``{{bigint_sums:src}}``)."""
    return ", ".join(f"CAST({src}.{column} AS BIGINT) AS {column}" for column in DURATION_SUMS)


def minutes(expression: str) -> str:
    return f"CAST({expression} AS DOUBLE) / {US_PER_MINUTE}"


def pct(numerator: str, denominator: str) -> str:
    # A zero denominator gives NULL, never 0 and never an error.
    share = f"100.0 * CAST({numerator} AS DOUBLE) / CAST({denominator} AS DOUBLE)"
    return f"CASE WHEN ({denominator}) > 0 THEN {share} END"


def _p(src: str) -> str:
    return f"{src}." if src else ""


def in_service_us(src: str = "") -> str:
    p = _p(src)
    return f"({p}period_us - {p}not_in_service_us - {p}closed_us)"


def unknown_us(src: str = "") -> str:
    p = _p(src)
    return f"({p}unknown_reported_us + {p}no_data_us)"


def known_us(src: str = "") -> str:
    return f"({in_service_us(src)} - {unknown_us(src)})"


def up_us(src: str = "") -> str:
    p = _p(src)
    return "(" + " + ".join(f"{p}{column}" for column in UP) + ")"


def minute_columns(src: str = "") -> list[str]:
    """period … excluded minutes from the ``*_us`` columns of ``src`` (a table alias or '')."""
    p = _p(src)
    return [
        f"{minutes(f'{p}period_us')} AS period_minutes",
        f"{minutes(f'{p}not_in_service_us')} AS not_in_service_minutes",
        f"{minutes(f'{p}closed_us')} AS closed_minutes",
        f"{minutes(in_service_us(src))} AS in_service_minutes",
        f"{minutes(f'{p}available_us')} AS available_minutes",
        f"{minutes(f'{p}in_use_us')} AS in_use_minutes",
        f"{minutes(f'{p}reserved_us')} AS reserved_minutes",
        f"{minutes(f'{p}out_of_order_us')} AS out_of_order_minutes",
        f"{minutes(f'{p}unavailable_us')} AS unavailable_minutes",
        f"{minutes(unknown_us(src))} AS unknown_minutes",
        f"{minutes(f'{p}unknown_reported_us')} AS unknown_reported_minutes",
        f"{minutes(f'{p}no_data_us')} AS no_data_minutes",
        f"{minutes(known_us(src))} AS known_minutes",
        f"{minutes(f'{p}excluded_us')} AS excluded_minutes",
    ]


def figure_columns(src: str = "") -> list[str]:
    """Every figure of spec section 4 from ``*_us`` sums and the run counts of ``src``."""
    p = _p(src)
    in_service, known, up = in_service_us(src), known_us(src), up_us(src)
    return [
        *minute_columns(src),
        f"{pct(known, in_service)} AS coverage_pct",
        f"{pct(up, known)} AS uptime_pct",
        f"{pct(up, in_service)} AS uptime_strict_pct",
        f"{pct(f'{p}in_use_us', known)} AS utilisation_pct",
        f"{pct(f'({up} + {p}excluded_us)', known)} AS uptime_excl_pct",
        f"CAST({p}in_use_sessions AS BIGINT) AS in_use_sessions",
        f"CAST({p}outage_count AS BIGINT) AS outage_count",
        f"{minutes(f'{p}longest_outage_us')} AS longest_outage_minutes",
    ]


def twelve_month_columns(src: str, history: str) -> list[str]:
    """Spec 4.5: the uptime formulas over this month's sums of ``src`` plus ``history``'s.

    ``history`` (joined on the row's key, possibly absent) holds ``up_us``, ``excluded_us``,
    ``known_us`` and ``months`` summed over the previous eleven processed months.
    """
    h = f"{history}."
    up = f"({up_us(src)} + COALESCE({h}up_us, 0))"
    excluded = f"({_p(src)}excluded_us + COALESCE({h}excluded_us, 0))"
    known = f"({known_us(src)} + COALESCE({h}known_us, 0))"
    return [
        f"{pct(up, known)} AS uptime_12m_pct",
        f"{pct(f'({up} + {excluded})', known)} AS uptime_excl_12m_pct",
        f"CAST(1 + COALESCE({h}months, 0) AS BIGINT) AS months_in_12m",
    ]


def summed(src: str = "") -> list[str]:
    """Aggregates that roll EVSE sums up to a group (port-weighted, spec section 4)."""
    p = _p(src)
    return [f"SUM({p}{column}) AS {column}" for column in DURATION_SUMS] + [
        f"SUM({p}in_use_sessions) AS in_use_sessions",
        f"SUM({p}outage_count) AS outage_count",
        f"MAX({p}longest_outage_us) AS longest_outage_us",
    ]
