"""Plotly figure builders for the uptime page: DataFrames in, figures out, no Shiny."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shared.monthly.charts import empty_figure, threshold_lines
from shared.monthly.charts import uptime_distribution as distribution
from shared.monthly.labels import label
from shared.settings import Settings, get_settings

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TREND_STYLES = {
    "uptime_pct": {"color": "#1a9850"},
    "uptime_excl_pct": {"color": "#1a9850", "dash": "dash"},
    "coverage_pct": {"color": "#555555", "dash": "dot"},
    "utilisation_pct": {"color": "#2166ac"},
}
# The figures here look like plotly's "plotly_white" template, given to each as JSON when it is
# sent (``spec``): built with the template named, plotly deep-copies it into every figure (7 ms
# each, a fifth of a month's charts). Built on the default template, which costs nothing.
LAYOUT = {"margin": {"l": 50, "r": 20, "t": 50, "b": 40}}
TEMPLATE = "plotly_white"


@functools.cache
def _template() -> dict[str, object]:
    return json.loads(go.Figure(layout={"template": TEMPLATE}).to_json())["layout"]["template"]


def _white(figure: go.Figure) -> go.Figure:
    figure._white_look = True  # read by ``spec``  # type: ignore[attr-defined]
    return figure


def spec(figure: go.Figure) -> str:
    """The figure as plotly JSON for the page; a figure built here gets the white template
    (others, e.g. a blank figure of ``shared.monthly.charts``, are sent as they are)."""
    text = figure.to_json()
    if not getattr(figure, "_white_look", False):
        return text
    drawn = json.loads(text)
    drawn["layout"]["template"] = _template()
    return json.dumps(drawn, separators=(",", ":"))


@functools.cache
def _two_rows() -> dict[str, object]:
    """The layout of the per-network chart, made once: ``make_subplots`` costs more than the
    traces."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
        subplot_titles=("Uptime (%) solid, coverage (%) dotted", "Utilisation (%)"),
    )  # fmt: skip
    figure.update_xaxes(type="category")
    figure.update_layout(**{**LAYOUT, "margin": {"l": 50, "r": 20, "t": 40, "b": 40}}, height=420)
    layout = figure.layout.to_plotly_json()
    layout.pop("template", None)  # the default's: the figure gets its own
    return layout


def network_over_months(history: pd.DataFrame) -> go.Figure:
    """Uptime (solid) with coverage (dotted) and utilisation per network, one point per month."""
    if history.empty:
        return empty_figure("No processed months for this selection.")
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    traces: list[dict[str, object]] = []
    for index, (cpo_id, rows) in enumerate(history.groupby("cpo_id", sort=True)):
        colour = palette[index % len(palette)]
        rows = rows.sort_values("month")
        common = {"type": "scatter", "x": rows["month"], "legendgroup": cpo_id,
                  "line": {"color": colour}, "xaxis": "x", "yaxis": "y"}  # fmt: skip
        traces += [
            {**common, "y": rows["uptime_pct"], "name": f"{cpo_id}", "mode": "lines+markers"},
            {**common, "y": rows["coverage_pct"], "name": f"{cpo_id} coverage", "mode": "lines",
             "showlegend": False, "line": {"color": colour, "dash": "dot"}},
            {**common, "y": rows["utilisation_pct"], "name": f"{cpo_id} utilisation",
             "mode": "lines+markers", "showlegend": False, "xaxis": "x2", "yaxis": "y2"},
        ]  # fmt: skip
    return _white(go.Figure(data=traces, layout=_two_rows()))


def thresholds_in_force(settings: Settings | None = None) -> tuple[float, ...]:
    """The general uptime threshold and every program's (``CAL_UPTIME_THRESHOLD_PCT``,
    ``CAL_PROGRAM_THRESHOLDS``): where the distribution draws its lines."""
    settings = settings or get_settings()
    return threshold_lines(settings.uptime_threshold_pct, settings.program_thresholds.values())


def uptime_distribution(
    frame: pd.DataFrame,
    level: str,
    month: str,
    note: str,
    thresholds: Sequence[float] | None = None,
) -> go.Figure:
    """Histogram of ``uptime_pct`` across the shown rows with a line at each threshold
    (default: the thresholds in force)."""
    if thresholds is None:
        thresholds = thresholds_in_force()
    values = frame["uptime_pct"] if "uptime_pct" in frame else pd.Series(dtype=float)
    figure = distribution(
        values, thresholds, name=level, empty=f"No {level} has known time in {month}."
    )
    if not figure.data:
        return figure
    figure.update_layout(
        **{**LAYOUT, "margin": {"l": 50, "r": 20, "t": 90, "b": 40}},
        title=f"Uptime distribution, {level} level, {month}<br><sup>{note}</sup>",
        yaxis_title=f"{level}s",
        height=380,
    )
    return _white(figure)


def daily_trend(trend: pd.DataFrame, month: str) -> go.Figure:
    """Uptime, coverage and utilisation per day of the month over the selection."""
    if trend.empty:
        return empty_figure(f"No daily figures for this selection in {month}.")
    figure = go.Figure(layout=LAYOUT)
    for column, line in TREND_STYLES.items():
        if column in trend:
            figure.add_trace(
                go.Scatter(x=trend["date"], y=trend[column], name=label(column),
                           mode="lines+markers", line=line)
            )  # fmt: skip
    figure.update_layout(title=f"Daily trend, {month}", yaxis_title="%", height=340)
    return _white(figure)


def monthly_trend(trend: pd.DataFrame, months: int) -> go.Figure:
    """Uptime (also net of exclusions), coverage and utilisation of the selection per month."""
    if trend.empty:
        return empty_figure("No processed months for this selection.")
    figure = go.Figure(layout=LAYOUT)
    for column, line in TREND_STYLES.items():
        if column in trend and trend[column].notna().any():
            figure.add_trace(
                go.Scatter(x=trend["month"], y=trend[column], name=label(column),
                           mode="lines+markers", line=line)
            )  # fmt: skip
    figure.update_xaxes(type="category")
    figure.update_layout(
        title=f"Monthly trend, last {months} processed months", yaxis_title="%", height=340
    )
    return _white(figure)


def hour_of_week_heatmap(grid: pd.DataFrame, site_label: str, month: str) -> go.Figure:
    """Utilisation % by local day of week and hour for one site."""
    if grid.isna().all().all():
        return empty_figure(f"No hour-of-week profile for {site_label} in {month}.")
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(), x=list(range(24)), y=list(DAYS), colorscale="Blues",
            zmin=0, zmax=100, colorbar={"title": "Utilisation (%)"},
            hovertemplate="%{y} %{x}:00 — %{z:.1f} %<extra></extra>",
        ),
        layout=LAYOUT,
    )  # fmt: skip
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        title=f"Hour-of-week utilisation, {site_label}, {month}",
        xaxis_title="Local hour",
        height=340,
    )
    return _white(figure)
