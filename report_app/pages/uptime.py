"""Uptime & utilisation: monthly figures by level, charts, maps and a table whose CSV is what
is shown, all kept to the viewer's states.

Only registered for roles that may see government figures (``Viewer.sees_figures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TypeVar

import pandas as pd
import plotly
import plotly.graph_objects as go
from htmltools import HTMLDependency
from shiny import Inputs, Outputs, Session, module, reactive, render, req, ui
from shiny.module import resolve_id

from report_app import context, plots
from report_app.data import DataProblem, Filters, in_scope, rounded
from report_app.history import WINDOWS, history, last_months, network_history, selection_trend
from report_app.month_data import (
    DAILY_COLUMNS,
    LEVELS,
    daily_figures,
    daily_trend,
    evse_subset,
    hour_of_week_grid,
    level_rows,
)
from report_app.pages.live import filter_inputs, filters_from
from report_app.sources import available_months
from report_app.uptime_views import (
    TABLE_COLUMNS,
    breakdown_spec,
    display_rows,
    distribution_spec,
    figures_grid,
    map_spec,
    matched,
    month_choices,
    month_profiles,
    month_tables_for,
    read_ahead_months,
    read_month,
    site_choices_of,
    site_rows_of,
    unfiltered_distribution,
    unfiltered_grid,
    unfiltered_rows,
    unfiltered_site_choices,
    unfiltered_trend,
)
from shared.csv_safety import frame_csv
from shared.jurisdictions import ANALYST, Viewer
from shared.metrics import schema
from shared.monthly.labels import for_display
from shared.monthly.sections import funded_sites, outage_list, threshold_lookup
from shared.sites import STATES

T = TypeVar("T")
# Tabs drawn from the month's map, breakdown or site rows (read ahead only while one is open).
TABS_WITH_VIEWS = ("map", "breakdown", "funded")
LEVEL_LABELS = {"network": "Network (CPO)", "state": "State", "program": "Grant program",
                "lga": "Local government area", "site": "Site", "charger": "Charger",
                "connector": "Connector"}  # fmt: skip


def levels_present() -> dict[str, str]:
    """The levels whose tables the job writes (program and lga from contract version 2)."""
    return {level: LEVEL_LABELS[level] for level in LEVELS if level in schema.TABLES}


# Figures go out as JSON drawn by one copy of plotly.js per page: much lighter than a widget
# per figure. Each output sends a script that redraws its figure's fixed div with
# Plotly.react, which updates the existing plot in place (a fresh plot costs about three
# times as much in the browser).
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
PLOTLY_JS = HTMLDependency(
    "plotly",
    plotly.__version__,
    source={"package": "plotly", "subdir": "package_data"},
    script={"src": "plotly.min.js"},
)


def figure_html(spec: str, target: str) -> ui.TagList:
    """A script that draws the figure ``spec`` (plotly JSON) into the div ``target``, with
    plotly.js as its dependency.

    The dependency rides with the figure, so the live map page never downloads plotly.js.
    """
    # "<" only occurs inside JSON strings, where \u003c means the same: nothing in a site
    # name can end the script or open a comment in it.
    spec = spec.replace("<", "\\u003c")
    script = (
        f"(function(){{var f={spec};Plotly.react(document.getElementById({json.dumps(target)}),"
        f"f.data,f.layout,{json.dumps(PLOTLY_CONFIG)});}})();"
    )
    return ui.TagList(PLOTLY_JS, ui.tags.script(ui.HTML(script)))


def output_figure(id: str) -> ui.Tag:
    """The figure's div, and beside it the output whose script (re)draws it."""
    return ui.div(
        ui.div(id=resolve_id(f"{id}_plot"), style="min-height:340px"),
        ui.output_ui(id),
    )


@module.ui
def uptime_ui(states: tuple[str, ...] = STATES) -> ui.CardItem:
    return ui.layout_sidebar(
        ui.sidebar(
            ui.input_select("month", "Month", choices=[]),
            ui.input_select("level", "Level", choices=levels_present(), selected="site"),
            ui.input_select("window", "Trend", choices=WINDOWS, selected="1"),
            *filter_inputs(with_status=False, states=states),
            ui.input_selectize("programs", "Grant program", choices=[], multiple=True),
            ui.input_selectize("lga_codes", "Local government area", choices=[], multiple=True),
            width=280,
        ),
        ui.output_ui("problem"),
        ui.layout_columns(
            ui.card(output_figure("networks")),
            ui.card(output_figure("distribution")),
            col_widths=(6, 6),
        ),
        ui.layout_columns(
            ui.card(output_figure("trend")),
            ui.card(
                ui.input_selectize("heatmap_site", "Site for the hour-of-week heatmap", choices=[]),
                output_figure("heatmap"),
            ),
            col_widths=(6, 6),
        ),
        # One tab at a time: outputs of hidden tabs are not drawn, so a month switch redraws
        # the table and the charts above only, and the map when its tab is open.
        ui.navset_card_tab(
            ui.nav_panel(
                "Figures",
                ui.div(
                    ui.strong(ui.output_text("table_title", inline=True)),
                    ui.download_button(
                        "download", "Download CSV (all columns)", class_="btn-sm float-end"
                    ),
                    ui.input_radio_buttons(
                        "columns", None, TABLE_COLUMNS, selected="key", inline=True
                    ),
                    class_="mb-2",
                ),
                ui.output_ui("notes"),
                ui.output_data_frame("figures"),
                value="figures",
            ),
            ui.nav_panel(
                "Map by LGA and site",
                output_figure("map"),
                value="map",
            ),
            ui.nav_panel(
                "Where the port time went",
                output_figure("breakdown"),
                value="breakdown",
            ),
            ui.nav_panel(
                "Funded sites",
                ui.div(
                    ui.strong("Funded sites against their program's threshold, worst first"),
                    ui.download_button(
                        "download_funded", "Download CSV", class_="btn-sm float-end"
                    ),
                    class_="mb-2",
                ),
                ui.output_data_frame("funded"),
                value="funded",
            ),
            ui.nav_panel(
                "Outages",
                ui.div(
                    ui.strong("Outages, longest first"),
                    ui.download_button(
                        "download_outages", "Download CSV", class_="btn-sm float-end"
                    ),
                    class_="mb-2",
                ),
                ui.output_data_frame("outages"),
                value="outages",
            ),
            id="views",
        ),
    )


@module.server
def uptime_server(
    input: Inputs,
    output: Outputs,
    session: Session,
    shown_now: Callable[[], bool],
    viewer: Viewer = ANALYST,
) -> None:
    """``shown_now`` is true while the page is on screen: its pickers fill only then, so a
    session that opens on the live map is not slowed by this page's tables. Every table,
    choice, chart and download is kept to ``viewer``'s states."""
    scope = viewer.scope
    tz = context.settings.report_tz

    def draw(output: str, figure: go.Figure | str) -> ui.TagList:
        spec = figure if isinstance(figure, str) else plots.spec(figure)
        return figure_html(spec, session.ns(f"{output}_plot"))

    def months_now() -> tuple[str, ...]:
        return tuple(available_months(context.store))

    @reactive.poll(months_now, interval_secs=30)
    def months() -> tuple[str, ...]:
        return months_now()

    @reactive.effect
    def _month_choices() -> None:
        choices = list(months())
        with reactive.isolate():
            current = input.month()
        ui.update_select("month", choices=choices, selected=current if current in choices else None)

    @reactive.calc
    def connectors() -> pd.DataFrame:
        return context.scoped_connectors(context.live_data(), scope)

    @reactive.calc
    def filters() -> Filters:
        return filters_from(input, with_status=False, with_programs=True, scope=scope,
                            with_lgas=True)  # fmt: skip

    @reactive.calc
    def month_tables() -> dict[str, pd.DataFrame] | str:
        month = input.month()
        if not month:
            return "No months have been processed yet: run `chargeatlarge monthly` first."
        level = input.level()
        context.prefetcher.busy()
        try:
            tables = month_tables_for(context.monthly, month, level)
        except DataProblem as exc:
            return str(exc)
        # The months either side are the likeliest next picks: read them in the background,
        # once this month's outputs have gone out (the reading would slow their rendering).
        with reactive.isolate():
            available = months()
            views = input.views.is_set() and input.views() in TABS_WITH_VIEWS

        def read_ahead() -> None:
            held, capacity = context.monthly.cached_months(), context.monthly.months
            for other in read_ahead_months(available, month, held, capacity):

                def job(other: str = other) -> None:
                    pause = context.prefetcher.pause
                    read_month(context.monthly, other, level, scope, views, pause)

                context.prefetcher.submit((other, level, scope, views), job)

        session.on_flushed(read_ahead, once=True)
        return tables

    def tables_now() -> dict[str, pd.DataFrame]:
        """The month's tables; outputs that need them stay blank while there is a problem."""
        tables = month_tables()
        req(not isinstance(tables, str))
        assert not isinstance(tables, str)  # req stopped otherwise; this narrows the type
        return tables

    sent_filter_choices: dict[str, object] = {}

    @reactive.effect
    def _choices() -> None:
        # Choices come from the viewer's states only: no CPO, program or LGA of another state.
        req(shown_now())
        tables = month_tables()
        cpo_ids, programs = context.live_choices(context.live_data(), scope)
        lgas: dict[str, str] = {}
        if not isinstance(tables, str):
            month_cpo_ids, month_programs, lgas = month_choices(
                context.monthly, input.month(), scope
            )
            programs = sorted(set(programs) | set(month_programs))
            cpo_ids = sorted(set(cpo_ids) | set(month_cpo_ids))
        with reactive.isolate():
            now = {"cpo_ids": input.cpo_ids(), "programs": input.programs(),
                   "lga_codes": input.lga_codes()}  # fmt: skip
        # Sent only when a list changed (months usually share them): the LGA list is long.
        for name, choices in (("cpo_ids", cpo_ids), ("programs", programs), ("lga_codes", lgas)):
            if sent_filter_choices.get(name) != choices:
                sent_filter_choices[name] = choices
                ui.update_selectize(name, choices=choices, selected=list(now[name] or ()))

    @reactive.calc
    def unfiltered() -> bool:
        return filters() == Filters()

    @reactive.calc
    def rows() -> tuple[pd.DataFrame, tuple[str, ...]]:
        tables = tables_now()
        level = input.level()
        try:
            if unfiltered():
                return unfiltered_rows(context.monthly, input.month(), level), ()
            month, available = input.month(), months()

            def build() -> tuple[pd.DataFrame, tuple[str, ...]]:
                past = history(context.monthly, available, month)
                found = level_rows(level, tables, connectors(), filters(), past)
                return rounded(found.frame), found.notes

            # a viewer's states with no filter picked: the same rows for every such session
            return shared_view(f"rows-{level}", build)
        except DataProblem as exc:
            raise ValueError(str(exc)) from None

    @reactive.calc
    def shown() -> pd.DataFrame:
        return rows()[0]

    @reactive.calc
    def selected_evses() -> pd.DataFrame:
        """EVSEs of the month that pass every filter (for the daily trend)."""
        tables = tables_now()
        return matched(evse_subset(tables["evse"], connectors(), filters()))

    @render.ui
    def problem() -> ui.Tag | None:
        tables = month_tables()
        if isinstance(tables, str):
            return ui.div(tables, class_="alert alert-info", id="uptime-problem")
        return None

    @render.ui
    def notes() -> ui.Tag | None:
        found = rows()[1]
        if not found:
            return None
        return ui.div(*[ui.p(n, class_="small text-muted mb-1") for n in found], id="uptime-notes")

    def window() -> int:
        try:
            return max(1, int(input.window()))
        except (TypeError, ValueError):
            return 1

    @render.ui
    def networks() -> ui.TagList:
        month = input.month()
        req(month)
        span = last_months(months(), month, max(window(), 3) if window() > 1 else 12)

        def build() -> str:
            history = network_history(context.monthly, span, connectors(), filters())
            return plots.spec(plots.network_over_months(history))

        try:
            spec = shared_view(f"networks:{context.monthly.versions(span)}", build)
        except DataProblem as exc:
            return draw("networks", plots.empty_figure(str(exc)))
        return draw("networks", spec)

    @render.ui
    def distribution() -> ui.TagList:
        frame = shown()
        if unfiltered():
            spec = unfiltered_distribution(context.monthly, input.month(), input.level())
        else:
            level, month = input.level(), input.month()
            spec = shared_view(
                f"distribution-{level}", lambda: distribution_spec(frame, level, month)
            )
        return draw("distribution", spec)

    @render.ui
    def trend() -> ui.TagList:
        tables_now()  # blank while the month cannot be read
        if window() > 1:
            span, count = last_months(months(), input.month(), window()), window()

            def monthly() -> str:
                trend = selection_trend(context.monthly, span, connectors(), filters())
                return plots.spec(plots.monthly_trend(trend, count))

            try:
                key = f"monthly-trend-{count}:{context.monthly.versions(span)}"
                return draw("trend", shared_view(key, monthly))
            except DataProblem as exc:
                return draw("trend", plots.empty_figure(str(exc)))
        try:
            if unfiltered():
                return draw("trend", unfiltered_trend(context.monthly, input.month()))
            daily = context.monthly.derived(input.month(), "daily", daily_figures, DAILY_COLUMNS)
        except DataProblem as exc:
            return draw("trend", plots.empty_figure(str(exc)))
        month = input.month()
        spec = shared_view(
            "daily-trend",
            lambda: plots.spec(plots.daily_trend(daily_trend(daily, selected_evses()), month)),
        )
        return draw("trend", spec)

    @reactive.calc
    def site_choices() -> dict[str, str]:
        if unfiltered():
            req(not isinstance(month_tables(), str))
            return unfiltered_site_choices(context.monthly, input.month())
        return shared_view("site-choices", lambda: site_choices_of(selected_evses()))

    sent_choices: dict[str, dict[str, str]] = {}

    @reactive.effect
    def _site_choices() -> None:
        # Server-side selectize: thousands of sites stay on the server, the browser gets matches.
        # Sent only when the list changed (months usually share their sites), because every
        # update re-selects and would redraw the heatmap again.
        req(shown_now())
        choices = site_choices()
        if sent_choices.get("last") == choices:
            return
        sent_choices["last"] = choices
        with reactive.isolate():
            current = input.heatmap_site()
        selected = current if current in choices else next(iter(choices), None)
        ui.update_selectize("heatmap_site", choices=choices, selected=selected, server=True)

    @render.ui
    def heatmap() -> ui.TagList:
        key = input.heatmap_site()
        month = input.month()
        # Only a site of the viewer's choices: a hand-sent key of another state draws nothing.
        if not key or "/" not in key or not month or key not in site_choices():
            return draw("heatmap", plots.empty_figure("Pick a site."))
        cpo_id, site_id = key.split("/", 1)
        try:
            profile = month_profiles(context.monthly, month)
        except DataProblem as exc:
            return draw("heatmap", plots.empty_figure(str(exc)))

        def build() -> str:
            grid = hour_of_week_grid(profile, cpo_id, site_id)
            return plots.spec(plots.hour_of_week_heatmap(grid, f"{site_id} ({cpo_id})", month))

        # the same figure for every viewer allowed the site (checked above)
        return draw("heatmap", context.monthly.remember(month, f"heatmap:{key}", build))

    def shared_view(name: str, build: Callable[[], T]) -> T:
        """Built once per month and viewer's states for every session when no filter is picked."""
        if not filters().picked:
            return context.monthly.remember(input.month(), f"{name}:{scope}", build)
        return build()

    @reactive.calc
    def site_rows() -> pd.DataFrame:
        tables = tables_now()
        return shared_view("site_rows", lambda: site_rows_of(tables, connectors(), filters()))

    @render.ui
    def map() -> ui.TagList:  # the output id the UI names
        tables = tables_now()
        month = input.month()
        try:
            sites = site_rows()
            spec = shared_view(
                "map", lambda: map_spec(tables, connectors(), filters(), month, sites)
            )
        except DataProblem as exc:
            return draw("map", plots.empty_figure(str(exc)))
        return draw("map", spec)

    @render.ui
    def breakdown() -> ui.TagList:
        tables = tables_now()
        month = input.month()
        try:
            spec = shared_view(
                "breakdown", lambda: breakdown_spec(tables, connectors(), filters(), month)
            )
        except DataProblem as exc:
            return draw("breakdown", plots.empty_figure(str(exc)))
        return draw("breakdown", spec)

    @render.text
    def table_title() -> str:
        level = LEVEL_LABELS.get(input.level(), input.level())
        return f"{level} figures, {input.month() or 'no month'}"

    @render.data_frame
    def figures() -> render.DataGrid:
        columns, level, rows = input.columns(), input.level(), shown()  # shown() raises any problem
        if unfiltered():
            return unfiltered_grid(context.monthly, input.month(), level, columns)
        return figures_grid(
            shared_view(f"display-{level}-{columns}", lambda: display_rows(rows, columns))
        )

    def suffix() -> str:
        return f"-{'-'.join(scope)}" if scope else ""

    @render.download_button(filename=lambda: f"{input.level()}-{input.month()}{suffix()}.csv")
    def download() -> Iterator[str]:
        # The rows the table shows, in the order the user sorted it, with every column under
        # the spec's names.
        view = figures.data_view()
        yield frame_csv(shown().loc[view.index])

    @reactive.calc
    def funded_rows() -> pd.DataFrame:
        sites = site_rows()
        thresholds = threshold_lookup(
            context.settings.uptime_threshold_pct,
            getattr(context.settings, "program_thresholds", None),
        )
        return rounded(funded_sites(sites, thresholds))

    @render.data_frame
    def funded() -> render.DataGrid:
        return render.DataGrid(for_display(funded_rows(), tz), width="100%", height="320px")

    @render.download_button(filename=lambda: f"funded-sites-{input.month()}{suffix()}.csv")
    def download_funded() -> Iterator[str]:
        yield frame_csv(funded_rows())

    @reactive.calc
    def outage_rows() -> pd.DataFrame:
        tables_now()  # empty while the month cannot be read
        try:
            outages = context.monthly.get(input.month(), "outages")
        except DataProblem:
            return pd.DataFrame()
        kept = selected_evses()[["cpo_id", "evse_uid"]]
        outages = in_scope(outages, scope).merge(kept, on=["cpo_id", "evse_uid"])
        return rounded(outage_list(outages))

    @render.data_frame
    def outages() -> render.DataGrid:
        return render.DataGrid(for_display(outage_rows(), tz), width="100%", height="320px")

    @render.download_button(filename=lambda: f"outages-{input.month()}{suffix()}.csv")
    def download_outages() -> Iterator[str]:
        yield frame_csv(outage_rows())
