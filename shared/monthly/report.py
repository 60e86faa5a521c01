"""The published report: one self-contained HTML file (plotly embedded, opens offline) and CSVs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import plotly.graph_objects as go
import pyarrow as pa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs

TEMPLATES = Path(__file__).parent / "templates"
CSV_LEVELS = ("network", "state", "site", "charger", "connector", "evse", "outages")
# The monthly tables build_report reads (daily and hour_of_week are too big to be needed here).
REPORT_TABLES = (*CSV_LEVELS, "unmatched")
REFERENCE_LINES = (97.0, 98.0, 99.0)
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


def csv_bytes(table: pa.Table) -> bytes:
    """A table as CSV; text that a spreadsheet would run as a formula is quoted harmless."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_cell(value) for value in row.values()])
    return buffer.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, float):
        return repr(round(value, 6))
    return value


def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _figure_html(figure: go.Figure) -> str:
    figure.update_layout(template="plotly_white", margin=dict(l=50, r=20, t=50, b=50), height=380)
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def uptime_distribution(site: pa.Table) -> go.Figure:
    values = [v for v in site.column("uptime_pct").to_pylist() if v is not None]
    figure = go.Figure(
        go.Histogram(x=values, xbins=dict(start=0, end=100.0001, size=1), name="sites")
    )
    for line in REFERENCE_LINES:
        figure.add_vline(
            x=line, line_dash="dash", line_color="#c0392b", annotation_text=f"{line:g} %"
        )
    figure.update_layout(title="Uptime of sites", xaxis_title="uptime_pct (%)", yaxis_title="sites")
    return figure


def network_uptime(network: pa.Table) -> go.Figure:
    rows = network.to_pylist()
    figure = go.Figure(
        [
            go.Bar(
                name="uptime_pct", x=[r["cpo_id"] for r in rows], y=[r["uptime_pct"] for r in rows]
            ),
            go.Bar(
                name="uptime_strict_pct",
                x=[r["cpo_id"] for r in rows],
                y=[r["uptime_strict_pct"] for r in rows],
            ),
            go.Bar(
                name="coverage_pct",
                x=[r["cpo_id"] for r in rows],
                y=[r["coverage_pct"] for r in rows],
            ),
        ]
    )
    figure.update_layout(title="Uptime and coverage by network", yaxis_title="%", barmode="group")
    return figure


def build_report(
    tables: dict[str, pa.Table], manifest: dict, threshold_pct: float
) -> dict[str, bytes]:
    """``report.html`` plus one CSV per level, for ``reports/YYYY-MM/``."""
    site = tables["site"]
    below = sorted(
        (
            r
            for r in site.to_pylist()
            if r["uptime_pct"] is not None and r["uptime_pct"] < threshold_pct
        ),
        key=lambda r: (r["uptime_pct"], r["cpo_id"], r["site_id"]),
    )
    unknown_uptime = sum(1 for r in site.to_pylist() if r["uptime_pct"] is None)
    html = _environment.get_template("report.html.j2").render(
        month=manifest["month"],
        manifest=manifest,
        threshold=threshold_pct,
        networks=tables["network"].to_pylist(),
        states=tables["state"].to_pylist(),
        below=below,
        unknown_uptime=unknown_uptime,
        unmatched=tables["unmatched"].num_rows,
        outages=tables["outages"].num_rows,
        fmt=_fmt,
        charts=[
            _figure_html(network_uptime(tables["network"])),
            _figure_html(uptime_distribution(site)),
        ],
        plotly_js=get_plotlyjs(),
        csv_levels=CSV_LEVELS,
    )
    files = {"report.html": html.encode("utf-8")}
    files.update({f"{level}.csv": csv_bytes(tables[level]) for level in CSV_LEVELS})
    return files
