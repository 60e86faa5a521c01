"""The uptime page's filtered roll-ups are the engine's own figures: where a filter keeps a set
of EVSEs the engine also has a row for (a whole site, a whole network, a whole state, one
EVSE), the page's row equals the engine's value for value; ``any_up_pct`` is the engine's where
the filter keeps whole sites, and empty with a note saying why where it does not.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from chargeatlarge.synthetic import generate_history
from report_app import live_data, month_data
from report_app.data import Filters
from shared.metrics.period import Period
from tests.shared.metrics.helpers import compute, connector

MONTH = "2026-11"
STATIC = [
    # CPO A: S1 two DC ports (E1 with two connectors), S2 two AC ports open on weekdays only
    connector("A", "S1", "C1", "E1"),
    connector("A", "S1", "C1", "E1", connector_id="2", connector_standard="CHADEMO"),
    connector("A", "S1", "C1", "E2"),
    *[
        connector(
            "A",
            "S2",
            "C2",
            evse,
            connector_standard="IEC_62196_T2",
            power_type="AC_3_PHASE",
            max_power_kw=22.0,
            opening_hours="Mo-Fr 07:00-19:00",
        )
        for evse in ("E3", "E4")
    ],  # fmt: skip
    # CPO B, every port in program P1: S3 two AC ports in VIC, S4 one DC port in NSW
    *[
        connector(
            "B",
            "S3",
            "C3",
            evse,
            connector_standard="IEC_62196_T2",
            power_type="AC_1_PHASE",
            max_power_kw=7.0,
            state="VIC",
            postcode="3000",
            program="P1",
        )
        for evse in ("E5", "E6")
    ],  # fmt: skip
    connector("B", "S4", "C4", "E7", max_power_kw=50.0, program="P1"),
]
DC = {("A", "E1"), ("A", "E2"), ("B", "E7")}
FIGURES = [f for f in month_data.SHOWN_FIGURES if f != "months_in_12m"] + ["months_in_12m"]


@pytest.fixture(scope="module")
def month() -> dict[str, pd.DataFrame]:
    period = Period.for_month(MONTH, "Australia/Sydney")
    evses = sorted({(c["cpo_id"], c["evse_uid"]) for c in STATIC})
    rows = generate_history(evses, period.start, period.end, seed=7, dc_evses=DC)
    observations = [
        (r["cpo_id"], r["evse_uid"], datetime.fromisoformat(r["observed_at"]), r["status"])
        for r in rows
    ]
    exclusions = [
        ("X1", "A", "site", "S1", datetime(2026, 11, 1, tzinfo=UTC),
         datetime(2026, 11, 20, tzinfo=UTC), "VANDALISM"),
    ]  # fmt: skip
    tables = compute(MONTH, observations, STATIC, exclusions=exclusions)
    return {name: table.to_pandas() for name, table in tables.items()}


@pytest.fixture(scope="module")
def static() -> pd.DataFrame:
    return pd.DataFrame(STATIC)


def same(shown: pd.Series, engine: pd.Series, figures: list[str]) -> None:
    for figure in figures:
        a, b = shown[figure], engine[figure]
        if b is None or (isinstance(b, float) and math.isnan(b)):
            assert a is None or math.isnan(a), figure
        else:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-9), figure


def rolled(month: dict, static: pd.DataFrame, level: str, filters: Filters):
    return month_data.level_rows(level, month, static, filters, history={MONTH: month["evse"]})


@pytest.mark.parametrize(
    ("filters", "site_ids"),
    [
        (Filters(power_types=("DC",)), ["S1", "S4"]),
        (Filters(min_kw=100), ["S1"]),
        (Filters(connector_standards=("IEC_62196_T2",), states=("NSW",)), ["S2"]),
    ],
)
def test_whole_sites_under_a_connector_filter_are_the_engine_site_rows(
    month: dict, static: pd.DataFrame, filters: Filters, site_ids: list[str]
) -> None:
    found = rolled(month, static, "site", filters)
    assert found.frame["site_id"].tolist() == site_ids
    engine = month["site"].set_index("site_id")
    assert engine.loc[site_ids, "uptime_pct"].notna().all()  # the month has figures to compare
    for _, row in found.frame.iterrows():
        same(row, engine.loc[row["site_id"]], [*FIGURES, "any_up_pct", "evse_count"])
    assert not any("Any port up" in note for note in found.notes)


def test_part_of_a_site_is_its_ports_figures_and_any_up_is_explained(
    month: dict, static: pd.DataFrame
) -> None:
    found = rolled(month, static, "site", Filters(connector_standards=("CHADEMO",)))
    (row,) = found.frame.to_dict("records")
    assert (row["site_id"], row["evse_count"]) == ("S1", 1)
    engine = month["evse"].set_index("evse_uid").loc["E1"]
    twelve_month = ("uptime_12m_pct", "uptime_excl_12m_pct", "months_in_12m")
    same(pd.Series(row), engine, [f for f in FIGURES if f not in twelve_month])
    assert math.isnan(row["any_up_pct"])
    assert month_data.ANY_UP_NOTE.format(n=1) in found.notes


@pytest.mark.parametrize(
    ("level", "filters", "key", "value"),
    [
        ("network", Filters(programs=("P1",)), "cpo_id", "B"),
        ("network", Filters(power_types=("DC", "AC_3_PHASE"), cpo_ids=("A",)), "cpo_id", "A"),
        ("state", Filters(power_types=("AC_1_PHASE",)), "state", "VIC"),
        ("program", Filters(min_kw=5, scope=("NSW", "VIC")), "program", "P1"),
    ],
)
def test_whole_groups_under_a_filter_are_the_engine_rows(
    month: dict, static: pd.DataFrame, level: str, filters: Filters, key: str, value: str
) -> None:
    found = rolled(month, static, level, filters)
    (row,) = found.frame[found.frame[key] == value].to_dict("records")
    engine = month[level].set_index(key).loc[value]
    same(pd.Series(row), engine, [*FIGURES, "evse_count", "site_count"])


def test_live_evse_attributes_are_written_as_in_evse_parquet(
    month: dict, static: pd.DataFrame
) -> None:
    live = live_data.live_evses(None, static).evses.set_index(["cpo_id", "evse_uid"])
    engine = month["evse"].set_index(["cpo_id", "evse_uid"]).loc[live.index]
    assert live.loc[("A", "E1"), "connector_standards"] == "CHADEMO,IEC_62196_T2_COMBO"
    for column in ("connector_standards", "power_type", "max_power_kw", "site_id", "state"):
        assert live[column].tolist() == engine[column].tolist(), column
