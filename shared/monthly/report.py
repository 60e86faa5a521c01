"""The published report: one self-contained HTML file (plotly embedded, opens offline) and CSVs.

``build_report`` renders one jurisdiction's ``ReportView`` (the nation, or one state: see
``shared.monthly.state_reports``, which prepares the views and writes them). Tables show words
with units; the CSVs keep the spec's column names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs

from shared.csv_safety import escape_formula_arrow
from shared.metrics import schema
from shared.monthly import charts
from shared.monthly.labels import CAUSE_WORDS, TIME_BREAKDOWN, causes_text, label, local_time
from shared.monthly.sections import below_threshold, funded_sites, outage_list

TEMPLATES = Path(__file__).parent / "templates"
CSV_LEVELS = tuple(
    name
    for name in (
        "network",
        "state",
        "program",
        "lga",
        "site",
        "charger",
        "connector",
        "evse",
        "outages",
        "exclusions",
    )  # fmt: skip
    if name in schema.TABLES
)
# The monthly tables the reports read (daily and hour_of_week are too big to be needed here).
REPORT_TABLES = (*CSV_LEVELS, "unmatched")
OUTAGES_LISTED = 200
SITES_LISTED = 300  # longer lists stay whole in the CSVs; a report names the worst
STATE_NAMES = {
    "ACT": "Australian Capital Territory", "NSW": "New South Wales", "NT": "Northern Territory",
    "QLD": "Queensland", "SA": "South Australia", "TAS": "Tasmania", "VIC": "Victoria",
    "WA": "Western Australia",
}  # fmt: skip
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


def csv_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    """A table as CSV (Arrow's writer: a national month's tables in a fraction of a second).

    Figures to 6 decimals; instants as ``YYYY-MM-DDTHH:MM:SSZ``; empty for null; text that a
    spreadsheet would run as a formula is quoted harmless with a leading ``'``.
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_floating(kind):
            column = pc.round(column, 6)
        elif pa.types.is_timestamp(kind):
            utc = column.cast(pa.timestamp("s", tz="UTC"), safe=False)
            column = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ")
        elif (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or (pa.types.is_dictionary(kind))
        ):
            column = column.cast(pa.string())
            column = escape_formula_arrow(column)
        columns.append(column)
    header = io.StringIO(newline="")
    csv.writer(header, lineterminator="\n").writerow(table.column_names)
    buffer = io.BytesIO(header.getvalue().encode("utf-8"))
    buffer.seek(0, io.SEEK_END)
    pa_csv.write_csv(
        pa.table(columns, names=table.column_names),
        buffer,
        pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return buffer.getvalue()


@dataclass
class ReportView:
    """What one report shows: the month's rows of one jurisdiction, as DataFrames."""

    month: str
    jurisdiction: str | None  # a state code, or None for the national report
    manifest: dict
    threshold_pct: float
    threshold_for: Callable[[str | None], float]
    networks: pd.DataFrame  # per CPO, with uptime_change_pp where the previous month exists
    states: pd.DataFrame
    programs: pd.DataFrame
    lgas: pd.DataFrame
    sites: pd.DataFrame
    outages: pd.DataFrame
    exclusions: pd.DataFrame
    previous_month: str | None = None
    unmatched: int = 0
    shapes: dict = field(default_factory=dict)
    csvs: dict[str, pd.DataFrame] = field(default_factory=dict)  # file stem → rows (spec names)
    overall_uptime_pct: float | None = None  # of every port of the jurisdiction

    @property
    def title(self) -> str:
        return STATE_NAMES.get(self.jurisdiction or "", "Australia")


# Columns of each table in the report: (column, kind); kind picks the format and alignment.
NETWORK_COLUMNS = [("cpo_id", "text"), ("site_count", "int"), ("evse_count", "int"),
                   ("uptime_pct", "pct"), ("uptime_change_pp", "delta"),
                   ("uptime_excl_pct", "pct"), ("uptime_12m_pct", "pct"),
                   ("utilisation_pct", "pct"), ("coverage_pct", "pct"), ("outage_count", "int"),
                   ("longest_outage_minutes", "min")]  # fmt: skip
STATE_COLUMNS = [("state", "text"), ("site_count", "int"), ("evse_count", "int"),
                 ("uptime_pct", "pct"), ("uptime_excl_pct", "pct"), ("uptime_12m_pct", "pct"),
                 ("utilisation_pct", "pct"), ("coverage_pct", "pct"),
                 ("outage_count", "int")]  # fmt: skip
LGA_COLUMNS = [("lga_name", "text"), ("state", "text"), ("site_count", "int"),
               ("evse_count", "int"), ("uptime_pct", "pct"), ("uptime_excl_pct", "pct"),
               ("uptime_12m_pct", "pct"), ("utilisation_pct", "pct"), ("coverage_pct", "pct"),
               ("outage_count", "int")]  # fmt: skip
PROGRAM_COLUMNS = [("program", "text"), ("site_count", "int"), ("evse_count", "int"),
                   ("uptime_pct", "pct"), ("uptime_excl_pct", "pct"), ("uptime_12m_pct", "pct"),
                   ("months_in_12m", "int"), ("utilisation_pct", "pct"),
                   ("coverage_pct", "pct")]  # fmt: skip
FUNDED_COLUMNS = [("program", "text"), ("cpo_id", "text"), ("site_name", "text"),
                  ("suburb", "text"), ("state", "text"), ("uptime_pct", "pct"),
                  ("uptime_12m_pct", "pct"), ("threshold_pct", "pct"),
                  ("below_threshold", "yesno"), ("outage_count", "int"),
                  ("longest_outage_minutes", "min"), ("excluded_minutes", "hours")]  # fmt: skip
BELOW_COLUMNS = [("cpo_id", "text"), ("site_id", "text"), ("site_name", "text"),
                 ("suburb", "text"), ("state", "text"), ("lga_name", "text"),
                 ("evse_count", "int"), ("uptime_pct", "pct"), ("uptime_excl_pct", "pct"),
                 ("uptime_12m_pct", "pct"), ("coverage_pct", "pct"), ("outage_count", "int"),
                 ("longest_outage_minutes", "min")]  # fmt: skip
OUTAGE_COLUMNS = [("cpo_id", "text"), ("site_id", "text"), ("evse_uid", "text"),
                  ("category", "status"), ("started_at", "time"), ("ended_at", "time"),
                  ("minutes_in_period", "min"), ("excluded_minutes_in_period", "min"),
                  ("causes", "causes")]  # fmt: skip
EXCLUSION_COLUMNS = [("cpo_id", "text"), ("scope", "text"), ("scope_id", "text"),
                     ("from_at", "time"), ("to_at", "time"), ("cause", "cause"),
                     ("note", "text"), ("evse_count", "int")]  # fmt: skip
EXTRA_LABELS = {"uptime_change_pp": "Change in uptime from last month (points)"}


def _format(value: Any, kind: str, tz: str) -> str:  # noqa: ANN401 - any cell of a table
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return "—" if kind not in ("text", "causes", "status") else ""
    if kind == "pct":
        return f"{float(value):.2f}"
    if kind == "delta":
        return f"{float(value):+.1f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "min":
        return f"{float(value):,.0f}"
    if kind == "hours":
        return f"{float(value) / 60:,.1f}"
    if kind == "time":
        return local_time(value, tz) or "still down at month end"
    if kind == "yesno":
        return "yes" if bool(value) else "no"
    if kind == "causes":
        return causes_text(value)
    if kind == "cause":
        return CAUSE_WORDS.get(str(value), str(value))
    if kind == "status":
        return str(value).replace("_", " ").lower()
    return str(value)


def html_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]], tz: str) -> dict:
    """Headers in words with units and formatted cells of the columns ``frame`` has."""
    present = [(c, k) for c, k in columns if c in frame.columns]
    rows = [
        [_format(value, kind, tz) for value, (_, kind) in zip(row, present, strict=True)]
        for row in frame[[c for c, _ in present]].itertuples(index=False)
    ]
    return {
        "headers": [EXTRA_LABELS.get(c, label(c)) for c, _ in present],
        "classes": [
            "text" if k in ("text", "causes", "status", "cause", "time") else "" for _, k in present
        ],
        "rows": rows,
    }


def _figure_html(figure: go.Figure, height: int = 380) -> str:
    figure.update_layout(**charts.PLAIN, height=height)
    figure.update_xaxes(gridcolor="#ebf0f8", zerolinecolor="#ebf0f8")
    figure.update_yaxes(gridcolor="#ebf0f8", zerolinecolor="#ebf0f8")
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def thresholds_in_force(view: ReportView) -> tuple[float, ...]:
    """The report's uptime threshold and that of each program its sites are in."""
    programs = {p for text in view.sites.get("program", pd.Series(dtype=object)).dropna()
                for p in str(text).split(",") if p}  # fmt: skip
    return charts.threshold_lines(
        view.threshold_pct, (view.threshold_for(p) for p in sorted(programs))
    )


def uptime_distribution(view: ReportView) -> go.Figure:
    """The sites' uptime with a line at each threshold in force."""
    figure = charts.uptime_distribution(
        view.sites.get("uptime_pct", pd.Series(dtype=float)), thresholds_in_force(view),
        name="sites",
        empty="No site has an uptime figure this month.",
    )  # fmt: skip
    figure.update_layout(title="Uptime of sites", yaxis_title="Sites",
                         margin=dict(l=50, r=20, t=50, b=50))  # fmt: skip
    return figure


def network_uptime(network: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        [
            go.Bar(name=label(column), x=network["cpo_id"], y=network[column])
            for column in ("uptime_pct", "uptime_excl_pct", "uptime_12m_pct", "coverage_pct")
            if column in network
        ]
    )
    figure.update_layout(title="Uptime and coverage by network", yaxis_title="%", barmode="group",
                         margin=dict(l=50, r=20, t=50, b=50))  # fmt: skip
    return figure


def breakdown_table(networks: pd.DataFrame, tz: str) -> dict:
    """Port-hours per network in each part of the time breakdown, with each part's share."""
    parts = charts.breakdown_columns(networks)
    rows = []
    for _, row in networks.iterrows():
        total = sum(float(row[c]) for c, _, _ in parts) or float("nan")
        cells = [str(row["cpo_id"])]
        for column, _, _ in parts:
            value = float(row[column])
            share = 100 * value / total if total == total else float("nan")
            cells.append(f"{value / 60:,.0f} h ({share:.1f} %)" if share == share else "—")
        rows.append(cells)
    return {
        "headers": ["Network (CPO)", *[f"{text} (port-hours, share)" for _, text, _ in parts]],
        "classes": ["text", *[""] * len(parts)],
        "rows": rows,
    }


def build_report(view: ReportView) -> dict[str, bytes]:
    """``report.html`` plus one CSV per table of the view's jurisdiction."""
    tz = view.manifest.get("report_tz", "Australia/Sydney")
    below = below_threshold(view.sites, view.threshold_pct)
    funded = funded_sites(view.sites, view.threshold_for)
    outages = outage_list(view.outages)
    lga_sites = view.sites
    charts_html = {
        "networks": _figure_html(network_uptime(view.networks)),
        "breakdown": _figure_html(
            charts.time_breakdown(view.networks, "cpo_id", "Where the port time went, by network"),
            height=max(300, 120 + 40 * len(view.networks)),
        ),
        "map": _figure_html(
            charts.uptime_map(
                view.lgas,
                lga_sites,
                view.shapes,
                f"Uptime by local government area and site, {view.month}",
            ),
            height=620,
        ),  # fmt: skip
        "distribution": _figure_html(uptime_distribution(view)),
    }
    warnings = view.manifest.get("warnings", [])
    if view.jurisdiction is not None:
        # Warnings name files, lines and unmatched EVSEs of every state: kept to analysts.
        warnings = [w for w in warnings if "not over yet" in w or w.startswith("no observations")]
    html = _environment.get_template("report.html.j2").render(
        view=view,
        month=view.month,
        title=view.title,
        manifest=view.manifest,
        period=(
            local_time(view.manifest.get("period_start"), tz),
            local_time(view.manifest.get("period_end"), tz),
        ),
        run_at=local_time(view.manifest.get("run_at"), tz),
        tz=tz,
        threshold=view.threshold_pct,
        distribution_lines=" and ".join(f"{t:g} %" for t in thresholds_in_force(view)),
        networks=html_table(view.networks, NETWORK_COLUMNS, tz),
        states=html_table(view.states, STATE_COLUMNS, tz),
        lgas=html_table(view.lgas.sort_values("uptime_pct", na_position="last"), LGA_COLUMNS, tz)
        if not view.lgas.empty
        else None,
        programs=html_table(view.programs, PROGRAM_COLUMNS, tz),
        funded=html_table(funded.head(SITES_LISTED), FUNDED_COLUMNS, tz),
        funded_count=len(funded),
        funded_below=int(funded["below_threshold"].sum()) if not funded.empty else 0,
        below=html_table(below.head(SITES_LISTED), BELOW_COLUMNS, tz),
        below_count=len(below),
        outages=html_table(outages.head(OUTAGES_LISTED), OUTAGE_COLUMNS, tz),
        outage_count=len(outages),
        outage_minutes=float(outages["minutes_in_period"].sum()) if not outages.empty else 0.0,
        excluded_outage_minutes=float(outages["excluded_minutes_in_period"].sum())
        if "excluded_minutes_in_period" in outages and not outages.empty
        else 0.0,
        exclusions=html_table(view.exclusions, EXCLUSION_COLUMNS, tz),
        breakdown=breakdown_table(view.networks, tz),
        breakdown_parts=[text for _, text, _ in TIME_BREAKDOWN],
        unknown_uptime=int(view.sites["uptime_pct"].isna().sum()) if not view.sites.empty else 0,
        warnings=warnings,
        charts=charts_html,
        plotly_js=get_plotlyjs(),
        csv_files=sorted(view.csvs),
        version_two="unknown_reported_minutes" in view.networks.columns,
        ports=int(view.networks["evse_count"].sum()) if not view.networks.empty else 0,
        site_total=int(view.networks["site_count"].sum()) if not view.networks.empty else 0,
        overall=view.overall_uptime_pct,
    )
    files = {"report.html": html.encode("utf-8")}
    files.update({f"{name}.csv": csv_bytes(frame) for name, frame in view.csvs.items()})
    return files
