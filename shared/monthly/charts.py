"""Charts the dashboard and the published reports share: the LGA choropleth with the sites
coloured by uptime, and the breakdown of port time. Plotly figures drawn on plain axes (no tile
server, no map service), so a report opens offline and the dashboard needs no internet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
from shapely.geometry import shape

from shared.monthly.labels import TIME_BREAKDOWN

# Uptime bins of the maps: (lower bound, label, colour), best first; no figure is grey.
UPTIME_BINS: tuple[tuple[float, str, str], ...] = (
    (99.0, "99 % or more", "#1a9850"),
    (98.0, "98 to 99 %", "#91cf60"),
    (97.0, "97 to 98 %", "#fee08b"),
    (95.0, "95 to 97 %", "#fc8d59"),
    (float("-inf"), "below 95 %", "#d73027"),
)
NO_FIGURE = ("no figure", "#bdbdbd")
STATE_NAMES = {
    "New South Wales": "NSW", "Victoria": "VIC", "Queensland": "QLD", "South Australia": "SA",
    "Western Australia": "WA", "Tasmania": "TAS", "Northern Territory": "NT",
    "Australian Capital Territory": "ACT",
}  # fmt: skip
SIMPLIFY_DEGREES = 0.002  # about 200 m: plenty for a state-wide map, a fraction of the bytes
GAP = np.array([[np.nan, np.nan]])
# A white look set directly: a named template is copied into every figure, which costs seconds
# over the dozens of figures of a month's reports.
PLAIN = {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"}}
LAYOUT = {**PLAIN, "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}


@dataclass(frozen=True)
class LgaShape:
    code: str
    name: str
    state: str
    rings: tuple[np.ndarray, ...]  # exterior rings, (n, 2) lon/lat
    point: tuple[float, float]  # inside the area, for its hover label


_shapes: dict[Path, dict[str, LgaShape]] = {}
_shapes_lock = threading.Lock()


def lga_shapes(path: Path) -> dict[str, LgaShape]:
    """The LGA boundaries of ``path`` (ABS GeoJSON, properties ``LGA_code``, ``LGA_name``,
    ``STE_NAME21``) by code, simplified; empty when the file is missing. Read once."""
    with _shapes_lock:
        if path in _shapes:
            return _shapes[path]
    shapes: dict[str, LgaShape] = {}
    try:
        document = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        document = {"features": []}
    for feature in document.get("features", []):
        props = feature.get("properties") or {}
        code, name = str(props.get("LGA_code", "")), str(props.get("LGA_name", ""))
        if not code or not feature.get("geometry"):
            continue
        geometry = shape(feature["geometry"]).simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        polygons = getattr(geometry, "geoms", [geometry])
        rings = tuple(np.asarray(p.exterior.coords)[:, :2] for p in polygons if not p.is_empty)
        point = shapely.point_on_surface(geometry)
        state = STATE_NAMES.get(str(props.get("STE_NAME21", "")), "")
        shapes[code] = LgaShape(code, name, state, rings, (point.x, point.y))
    with _shapes_lock:
        _shapes[path] = shapes
    return shapes


def uptime_bin(value: float | None) -> tuple[str, str]:
    """(label, colour) of an uptime figure."""
    if value is None or pd.isna(value):
        return NO_FIGURE
    for lower, text, colour in UPTIME_BINS:
        if float(value) >= lower:
            return text, colour
    return NO_FIGURE


def _fmt_pct(value: float | None) -> str:
    return "no uptime figure" if value is None or pd.isna(value) else f"{float(value):.1f} % uptime"


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    figure = go.Figure(layout=LAYOUT)
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def threshold_lines(general_pct: float, program_pcts: Iterable[float] = ()) -> tuple[float, ...]:
    """The uptime thresholds in force (``CAL_UPTIME_THRESHOLD_PCT`` and the programs' of
    ``CAL_PROGRAM_THRESHOLDS``), sorted, each once: the lines of the distribution."""
    return tuple(sorted({float(general_pct), *(float(p) for p in program_pcts)}))


def uptime_distribution(
    values: pd.Series, thresholds: Sequence[float], *, name: str, empty: str
) -> go.Figure:
    """Histogram of uptime figures in 1 % bins with a dashed line at each threshold; a blank
    figure saying ``empty`` when there is no figure. Callers add the title and their look."""
    shown = pd.to_numeric(values, errors="coerce").dropna()
    if shown.empty:
        return empty_figure(empty)
    figure = go.Figure(
        go.Histogram(x=shown, xbins={"start": 0, "end": 100.0001, "size": 1}, name=name),
        layout=LAYOUT,
    )
    # Plain shapes and annotations: add_vline is slow and the lines are fixed.
    line = {"dash": "dash", "color": "#d62728"}
    for threshold in thresholds:
        figure.add_shape(
            type="line", x0=threshold, x1=threshold, y0=0, y1=1, yref="paper", line=line
        )
        figure.add_annotation(x=threshold, y=1, yref="paper", text=f"{threshold:g} %",
                              showarrow=False, xanchor="right", yanchor="bottom")  # fmt: skip
    figure.update_layout(xaxis_title="Uptime (%)")
    return figure


def uptime_map(
    lgas: pd.DataFrame,
    sites: pd.DataFrame,
    shapes: dict[str, LgaShape],
    title: str,
    webgl: bool = False,
) -> go.Figure:
    """LGAs filled by their uptime (``lgas``: ``lga_code``, ``lga_name``, ``uptime_pct``) and
    the sites on top, coloured by theirs (``sites``: ``site_name``, ``cpo_id``, ``latitude``,
    ``longitude``, ``uptime_pct``). Only the given rows are drawn, so a viewer's map holds
    nothing of another state."""
    if (lgas.empty or not shapes) and sites.empty:
        return empty_figure("No LGA or site figures for this selection.")
    figure = go.Figure(layout=LAYOUT)
    labels: list[tuple[float, float, str]] = []
    if not lgas.empty and shapes:
        groups: dict[tuple[str, str], list[np.ndarray]] = {}
        for row in lgas.itertuples(index=False):
            area = shapes.get(str(row.lga_code))
            if area is None:
                continue
            text, colour = uptime_bin(row.uptime_pct)
            parts = groups.setdefault((text, colour), [])
            for ring in area.rings:  # rings apart by a gap (NaN, sent as null)
                parts.extend([ring.round(4), GAP])
            labels.append((*area.point, f"{row.lga_name}: {_fmt_pct(row.uptime_pct)}"))
        order = [b[1] for b in UPTIME_BINS] + [NO_FIGURE[0]]
        for (text, colour), parts in sorted(groups.items(), key=lambda g: order.index(g[0][0])):
            # Arrays, not lists: plotly copies lists element by element.
            joined = np.concatenate(parts)
            figure.add_trace(
                go.Scatter(
                    x=joined[:, 0], y=joined[:, 1], fill="toself", fillcolor=colour, mode="lines",
                    line={"color": "#555555", "width": 0.6}, name=f"LGA {text}",
                    legendgroup="lga", hoverinfo="skip", opacity=0.75,
                )
            )  # fmt: skip
        if labels:
            figure.add_trace(
                go.Scatter(
                    x=np.array([p[0] for p in labels]), y=np.array([p[1] for p in labels]),
                    mode="markers", marker={"size": 6, "color": "rgba(0,0,0,0)"},
                    hovertext=np.array([p[2] for p in labels], dtype=object),
                    hoverinfo="text", showlegend=False, name="LGA",
                )
            )  # fmt: skip
    if not sites.empty:
        # One trace per uptime bin, one colour each: plotly checks a colour per point slowly.
        values = pd.to_numeric(sites["uptime_pct"], errors="coerce").to_numpy(dtype=float)
        words = np.array([_fmt_pct(v) for v in values], dtype=object)
        hover = (sites["site_name"].astype(str) + " (" + sites["cpo_id"].astype(str) + "): "
                 + words).to_numpy()  # fmt: skip
        taken = np.zeros(len(values), dtype=bool)
        bins: list[tuple[str, str, np.ndarray]] = []
        for lower, text, colour in UPTIME_BINS:
            inside = ~taken & ~np.isnan(values) & (values >= lower)
            taken |= inside
            bins.append((text, colour, inside))
        bins.append((NO_FIGURE[0], NO_FIGURE[1], ~taken))
        # Thousands of sites draw far faster with WebGL; a state's report stays plain SVG.
        points = go.Scattergl if webgl else go.Scatter
        longitude = sites["longitude"].to_numpy(dtype=float)
        latitude = sites["latitude"].to_numpy(dtype=float)
        for text, colour, inside in bins:
            if not inside.any():
                continue
            figure.add_trace(
                points(
                    x=longitude[inside], y=latitude[inside], mode="markers",
                    name=f"Sites {text}", legendgroup="sites", hovertext=hover[inside],
                    hoverinfo="text",
                    marker={"size": 7, "color": colour, "line": {"color": "#222222", "width": 0.5}},
                )
            )  # fmt: skip
    figure.update_xaxes(visible=False)
    # Equal degrees scaled by the latitude's cosine: close enough to a map for a state.
    middle = float(np.nanmean(sites["latitude"])) if not sites.empty else -30.0
    figure.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / np.cos(np.radians(middle)))
    legend = " · ".join(f"{text}" for _, text, _ in UPTIME_BINS)
    figure.update_layout(
        title=f"{title}<br><sup>Uptime bins: {legend}; grey: no figure</sup>",
        height=520, legend={"orientation": "h", "y": -0.02}, hovermode="closest",
    )  # fmt: skip
    return figure


def breakdown_columns(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The parts of ``TIME_BREAKDOWN`` the rows have; without the version 2 split, unknown."""
    parts = [p for p in TIME_BREAKDOWN if p[0] in frame.columns]
    if "unknown_reported_minutes" not in frame.columns and "unknown_minutes" in frame.columns:
        parts.append(("unknown_minutes", "Unknown", "#8c8c8c"))
    return parts


def time_breakdown(rows: pd.DataFrame, key: str, title: str) -> go.Figure:
    """Stacked shares of each row's port time (in use, reserved, available, out of order,
    unavailable, unknown reported, no data, closed), hours in the hover."""
    if rows.empty:
        return empty_figure("No figures for this selection.")
    parts = breakdown_columns(rows)
    total = rows[[p[0] for p in parts]].sum(axis=1).replace(0, np.nan)
    figure = go.Figure(layout=LAYOUT)
    names = rows[key].astype(str).tolist()
    for column, text, colour in parts:
        hours = rows[column] / 60
        figure.add_trace(
            go.Bar(
                y=names, x=100 * rows[column] / total, name=text, orientation="h",
                marker={"color": colour}, customdata=hours,
                hovertemplate=f"%{{y}} — {text}: %{{x:.1f}} %% "
                "(%{customdata:,.0f} port-hours)<extra></extra>",
            )
        )  # fmt: skip
    figure.update_layout(
        barmode="stack", title=f"{title}<br><sup>Share of each network's port time (%)</sup>",
        height=max(300, 150 + 34 * len(rows)),
        legend={"orientation": "h", "y": -0.2, "yanchor": "top", "x": 0},
        margin={"l": 90, "r": 20, "t": 50, "b": 120},
    )  # fmt: skip
    figure.update_yaxes(autorange="reversed")
    return figure
