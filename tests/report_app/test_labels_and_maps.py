"""Tables for people (words with units, hours, local times) and the shared uptime map and
time breakdown, checked on hand-made rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from shared.metrics.formulas import PIECE_CATEGORIES
from shared.monthly import charts
from shared.monthly.labels import TIME_BREAKDOWN, for_display, local_time
from shared.monthly.sections import exclusions_in_scope, funded_sites, threshold_lookup


def test_for_display_words_hours_and_local_times() -> None:
    frame = pd.DataFrame(
        {
            "cpo_id": ["X"],
            "uptime_pct": [98.123456],
            "known_minutes": [90.0],  # 1.5 hours
            "longest_outage_minutes": [61.25],  # stays in minutes, as funding rules ask
            "started_at": [datetime(2026, 10, 3, 15, 59, 59, 123456, tzinfo=UTC)],
            "causes": ["UTILITY_INTERRUPTION,VANDALISM"],
        }
    )
    shown = for_display(frame, "Australia/Sydney")
    assert list(shown.columns) == ["Network (CPO)", "Uptime (%)", "Known (port-hours)",
                                   "Longest outage (min)", "Started (local time)",
                                   "Exclusion causes"]  # fmt: skip
    row = shown.iloc[0].tolist()
    # 15:59:59 UTC on 3 October is 01:59 on the 4th in Sydney, the first day of daylight time
    assert row == ["X", 98.12, 1.5, 61.2, "Sun 04 Oct 2026 01:59 AEST",
                   "utility interruption, vandalism"]  # fmt: skip
    assert local_time(datetime(2026, 10, 4, 16, 0, tzinfo=UTC), "Australia/Perth") == (
        "Mon 05 Oct 2026 00:00 AWST"
    )
    assert local_time(None, "Australia/Sydney") == "" and local_time(pd.NaT, "UTC") == ""


def square(x: float, y: float) -> np.ndarray:
    return np.array([[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]])


SHAPES = {
    "1": charts.LgaShape("1", "Alpha", "NSW", (square(150, -34),), (150.5, -33.5)),
    "2": charts.LgaShape("2", "Beta", "WA", (square(115, -32),), (115.5, -31.5)),
}


def test_the_map_draws_only_the_rows_it_is_given() -> None:
    lgas = pd.DataFrame({"lga_code": ["1"], "lga_name": ["Alpha"], "uptime_pct": [97.5]})
    sites = pd.DataFrame({"site_name": ["A", "B"], "cpo_id": ["X", "X"], "latitude": [-33.6, -33.7],
                          "longitude": [150.2, 150.3], "uptime_pct": [99.5, None]})  # fmt: skip
    figure = charts.uptime_map(lgas, sites, SHAPES, "t")
    spec = figure.to_json()
    assert "Beta" not in spec and "115" not in spec  # WA's shape is not drawn for NSW rows
    names = [trace.name for trace in figure.data]
    assert names == ["LGA 97 to 98 %", "LGA", "Sites 99 % or more", "Sites no figure"]
    assert list(figure.data[2].hovertext) == ["A (X): 99.5 % uptime"]
    assert list(figure.data[3].hovertext) == ["B (X): no uptime figure"]
    assert figure.data[0].fillcolor == "#fee08b"
    empty = charts.uptime_map(lgas.iloc[0:0], sites.iloc[0:0], SHAPES, "t")
    assert empty.layout.annotations[0].text == "No LGA or site figures for this selection."


def test_time_breakdown_shares_add_up_to_the_time_shown() -> None:
    rows = pd.DataFrame({"cpo_id": ["X"], "in_use_minutes": [60.0], "reserved_minutes": [0.0],
                         "available_minutes": [180.0], "out_of_order_minutes": [30.0],
                         "unavailable_minutes": [0.0], "unknown_reported_minutes": [6.0],
                         "no_data_minutes": [24.0], "closed_minutes": [300.0]})  # fmt: skip
    figure = charts.time_breakdown(rows, "cpo_id", "t")
    shares = {trace.name: trace.x[0] for trace in figure.data}
    assert shares == {"In use": 10.0, "Reserved": 0.0, "Available": 30.0, "Out of order": 5.0,
                      "Unavailable": 0.0, "Unknown (reported)": 1.0, "No data": 4.0,
                      "Closed": 50.0}  # fmt: skip


def test_funded_sites_against_their_programs_threshold_worst_first() -> None:
    site = pd.DataFrame({"cpo_id": ["X"] * 4, "site_id": ["a", "b", "c", "d"],
                         "program": ["P", "Q", None, "P"], "uptime_pct": [98.5, 98.5, 50.0, None]})  # fmt: skip
    funded = funded_sites(site, threshold_lookup(98.0, {"P": 99.0}))
    assert funded["site_id"].tolist() == ["a", "b", "d"]  # c has no program; d no figure, last
    assert funded["threshold_pct"].tolist() == [99.0, 98.0, 99.0]
    assert funded["below_threshold"].tolist() == [True, False, False]


def test_exclusions_follow_their_scope_into_a_state() -> None:
    evse = pd.DataFrame({"cpo_id": ["X", "X", "Y"], "evse_uid": ["E1", "E2", "E3"],
                         "charger_id": ["C1", "C2", "C3"], "site_id": ["S1", "S2", "S3"],
                         "state": ["NSW", "WA", "NSW"]})  # fmt: skip
    exclusions = pd.DataFrame({"cpo_id": ["X", "X", "X", "Y"], "scope": ["evse", "site", "charger", "site"],
                               "scope_id": ["E1", "S2", "C1", "S1"]})  # fmt: skip
    nsw = exclusions_in_scope(exclusions, evse, ("NSW",))
    # Y's S1 is not X's S1: scopes are per CPO
    assert nsw[["scope", "scope_id"]].values.tolist() == [["evse", "E1"], ["charger", "C1"]]
    assert exclusions_in_scope(exclusions, evse, ("WA",))["scope_id"].tolist() == ["S2"]
    assert len(exclusions_in_scope(exclusions, evse, None)) == 4


def test_the_time_breakdown_has_every_part_of_in_service_and_closed_time() -> None:
    """The breakdown's parts are the engine's piece categories (one list), less not in service."""
    engine = {f"{column[:-3]}_minutes" for column, _ in PIECE_CATEGORIES}
    parts = [column for column, _, _ in TIME_BREAKDOWN]
    assert len(parts) == len(set(parts))
    assert set(parts) == engine - {"not_in_service_minutes"}
