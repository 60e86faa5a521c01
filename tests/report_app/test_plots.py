"""Figure builders: the right traces, threshold lines and empty-state messages."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go

from report_app import plots
from shared.settings import Settings


def test_uptime_distribution_has_a_line_at_each_threshold() -> None:
    frame = pd.DataFrame({"uptime_pct": [96.5, 98.2, 99.9, None], "coverage_pct": [90, 95, 99, 0]})
    figure = plots.uptime_distribution(
        frame, "site", "2026-10", "Coverage: median 92.5 %", thresholds=(97.0, 98.0)
    )
    assert sorted(shape.x0 for shape in figure.layout.shapes) == [97.0, 98.0]
    assert [a.text for a in figure.layout.annotations] == ["97 %", "98 %"]
    assert list(figure.data[0].x) == [96.5, 98.2, 99.9]
    assert "Coverage: median 92.5 %" in figure.layout.title.text


def test_the_lines_are_the_thresholds_in_force() -> None:
    assert plots.thresholds_in_force(Settings(uptime_threshold_pct=98, program_thresholds={})) == (
        98.0,
    )
    settings = Settings(uptime_threshold_pct=95, program_thresholds={"P": 97, "Q": 95})
    assert plots.thresholds_in_force(settings) == (95.0, 97.0)


def test_empty_inputs_give_a_figure_that_says_why() -> None:
    figure = plots.uptime_distribution(pd.DataFrame({"uptime_pct": [None]}), "site", "2026-10", "")
    assert figure.layout.annotations[0].text == "No site has known time in 2026-10."
    empty = pd.DataFrame(
        columns=["month", "cpo_id", "uptime_pct", "coverage_pct", "utilisation_pct"]
    )
    assert plots.network_over_months(empty).layout.annotations[0].text.startswith("No processed")


def test_network_over_months_pairs_uptime_with_coverage() -> None:
    history = pd.DataFrame(
        {
            "month": ["2026-09", "2026-10", "2026-09"],
            "cpo_id": ["X", "X", "Y"],
            "uptime_pct": [97.0, 98.0, 99.0],
            "coverage_pct": [90.0, 95.0, 99.0],
            "utilisation_pct": [10.0, 12.0, 5.0],
        }  # fmt: skip
    )
    figure = plots.network_over_months(history)
    names = [trace.name for trace in figure.data]
    assert names == ["X", "X coverage", "X utilisation", "Y", "Y coverage", "Y utilisation"]
    assert list(figure.data[1].y) == [90.0, 95.0]


def test_hour_of_week_heatmap_is_seven_by_twenty_four() -> None:
    grid = pd.DataFrame([[float(d * 24 + h) for h in range(24)] for d in range(7)])
    figure = plots.hour_of_week_heatmap(grid, "S1 (X)", "2026-10")
    assert len(figure.data[0].z) == 7 and len(figure.data[0].z[0]) == 24
    assert figure.data[0].z[6][23] == 167.0
    blank = plots.hour_of_week_heatmap(pd.DataFrame([[None] * 24] * 7), "S1 (X)", "2026-10")
    assert "No hour-of-week profile" in blank.layout.annotations[0].text


def test_a_figure_is_sent_with_the_white_template_plotly_would_give_it() -> None:
    history = pd.DataFrame({"month": ["2026-09", "2026-10"], "cpo_id": ["X", "X"],
                            "uptime_pct": [97.0, 98.0], "coverage_pct": [90.0, 95.0],
                            "utilisation_pct": [10.0, 12.0]})  # fmt: skip
    days = pd.DataFrame({"date": pd.date_range("2026-10-01", periods=3), "uptime_pct": 99.0,
                         "coverage_pct": 90.0, "utilisation_pct": 5.0})  # fmt: skip
    figures = [
        plots.network_over_months(history),
        plots.daily_trend(days, "2026-10"),
        plots.monthly_trend(history.drop(columns="cpo_id"), 3),
        plots.hour_of_week_heatmap(pd.DataFrame([[1.0] * 24] * 7), "S1 (X)", "2026-10"),
        plots.uptime_distribution(history, "site", "2026-10", "", thresholds=(97.0,)),
    ]
    for figure in figures:
        # plotly's own way: the template named on the figure, expanded by plotly
        expected = go.Figure(figure).update_layout(template="plotly_white").to_json()
        assert json.loads(plots.spec(figure)) == json.loads(expected)
        assert (
            json.loads(plots.spec(figure))["layout"]["template"]
            != json.loads(figure.to_json())["layout"]["template"]
        )
    # a blank figure of the shared charts keeps its own look
    blank = plots.daily_trend(days.iloc[0:0], "2026-10")
    assert json.loads(plots.spec(blank)) == json.loads(blank.to_json())
    # the subplots' axes: uptime and coverage above, utilisation below
    axes = [(t.xaxis, t.yaxis) for t in figures[0].data]
    assert axes == [("x", "y"), ("x", "y"), ("x2", "y2")]
