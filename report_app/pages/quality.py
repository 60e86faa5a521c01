"""Data quality: coverage per CPO and feed, unmatched EVSEs, quarantined inputs, feed health.

A government viewer sees coverage computed over their states' EVSEs and the feeds of the CPOs
with EVSEs there; unmatched EVSEs, quarantined inputs and static list problems belong to no
state, so only analysts see them.
"""

from __future__ import annotations

import pandas as pd
from shiny import Inputs, Outputs, Session, module, reactive, render, ui

from report_app import context
from report_app.data import DataProblem, in_scope, rounded
from report_app.month_data import aggregate
from report_app.sources import available_months, quarantine_counts, read_feed_health
from shared.jurisdictions import ANALYST, Viewer
from shared.monthly.labels import for_display

COVERAGE_COLUMNS = ["cpo_id", "evse_count", "coverage_pct", "known_minutes", "unknown_minutes",
                    "unknown_reported_minutes", "no_data_minutes"]  # fmt: skip
ANALYSTS_ONLY = "{what} belong to no state's figures, so only analysts see them."


def coverage_with_feeds(network: pd.DataFrame, feeds: pd.DataFrame | None) -> pd.DataFrame:
    """Coverage per CPO for the month beside each of its feeds' health (one row per feed)."""
    coverage = network[[c for c in COVERAGE_COLUMNS if c in network.columns]]
    if feeds is None or feeds.empty:
        return rounded(coverage)
    joined = coverage.merge(feeds, on="cpo_id", how="outer").sort_values(["cpo_id", "kind"])
    text = ["kind", "last_success_at", "last_error_at", "last_error"]
    joined[text] = joined[text].astype("object").where(joined[text].notna(), "")
    joined.loc[joined["kind"] == "", "kind"] = "no feed reported"
    return rounded(joined)


def message(text: str) -> ui.Tag:
    return ui.div(text, class_="alert alert-info")


@module.ui
def quality_ui() -> ui.CardItem:
    return ui.layout_sidebar(
        ui.sidebar(ui.input_select("month", "Month", choices=[]), width=220),
        ui.card(
            ui.card_header("Coverage per CPO and feed health"),
            ui.output_ui("feeds_note"),
            ui.output_data_frame("coverage"),
        ),  # fmt: skip
        ui.layout_columns(
            ui.card(
                ui.card_header("Unmatched EVSEs (in no static site list)"),
                ui.output_ui("unmatched_note"),
                ui.output_data_frame("unmatched"),
            ),  # fmt: skip
            ui.card(
                ui.card_header("Quarantined inputs"),
                ui.output_ui("quarantine_note"),
                ui.output_data_frame("quarantine"),
            ),  # fmt: skip
            col_widths=(6, 6),
        ),
        ui.card(ui.card_header("Static site list problems"), ui.output_ui("static_problems")),
    )


@module.server
def quality_server(
    input: Inputs, output: Outputs, session: Session, viewer: Viewer = ANALYST
) -> None:
    scope = viewer.scope

    @reactive.effect
    def _months() -> None:
        reactive.invalidate_later(30)
        choices = available_months(context.store)
        with reactive.isolate():
            current = input.month()
        ui.update_select("month", choices=choices, selected=current if current in choices else None)

    @reactive.calc
    def feeds() -> pd.DataFrame | str:
        reactive.invalidate_later(30)
        try:
            health = read_feed_health(context.store)
        except DataProblem as exc:
            return str(exc)
        if scope is None:
            return health
        cpos = set(in_scope(context.live_data().connectors, scope)["cpo_id"])
        return health[health["cpo_id"].isin(cpos)].reset_index(drop=True)

    @reactive.calc
    def network() -> pd.DataFrame | str:
        if not input.month():
            return "No months have been processed yet, so there is no coverage to show."
        try:
            if scope is None:
                return context.monthly.get(input.month(), "network")
            evse = in_scope(context.monthly.get(input.month(), "evse"), scope)
            return aggregate(evse, ["cpo_id"])
        except DataProblem as exc:
            return str(exc)

    @render.ui
    def feeds_note() -> ui.TagChild:
        notes = [n for n in (feeds(), network()) if isinstance(n, str)]
        return ui.TagList(*[message(n) for n in notes]) if notes else None

    @render.data_frame
    def coverage() -> pd.DataFrame | None:
        net, health = network(), feeds()
        if isinstance(net, str):
            if isinstance(health, str):
                return None
            return for_display(health, context.settings.report_tz)
        table = coverage_with_feeds(net, None if isinstance(health, str) else health)
        return for_display(table, context.settings.report_tz)

    @reactive.calc
    def unmatched_table() -> pd.DataFrame | str:
        if scope is not None:
            return ANALYSTS_ONLY.format(what="Observed EVSEs that no static list names")
        if not input.month():
            return "No months have been processed yet."
        try:
            return context.monthly.get(input.month(), "unmatched")
        except DataProblem as exc:
            return str(exc)

    @render.ui
    def unmatched_note() -> ui.TagChild:
        table = unmatched_table()
        if isinstance(table, str):
            return message(table)
        return ui.p(f"{len(table)} EVSEs observed in {input.month()} that no static CSV lists.")

    @render.data_frame
    def unmatched() -> pd.DataFrame | None:
        table = unmatched_table()
        return (
            None
            if isinstance(table, str)
            else for_display(rounded(table), context.settings.report_tz)
        )

    @reactive.calc
    def quarantined() -> pd.DataFrame | str:
        reactive.invalidate_later(60)
        if scope is not None:
            return ANALYSTS_ONLY.format(what="Quarantined inputs")
        try:
            return quarantine_counts(context.settings.database_url)
        except DataProblem as exc:
            return str(exc)

    @render.ui
    def quarantine_note() -> ui.TagChild:
        table = quarantined()
        if isinstance(table, str):
            return message(table)
        return ui.p(f"{int(table['quarantined'].sum())} inputs quarantined in all.")

    @render.data_frame
    def quarantine() -> pd.DataFrame | None:
        table = quarantined()
        return None if isinstance(table, str) else for_display(table, context.settings.report_tz)

    @render.ui
    def static_problems() -> ui.TagChild:
        if scope is not None:
            return ui.p(ANALYSTS_ONLY.format(what="Problems of the static site lists"))
        problems = [p for p in context.live_data().problems if p.startswith("Static sites:")]
        if not problems:
            return ui.p("No problems in the static site lists.")
        return ui.tags.ul(*[ui.tags.li(p) for p in problems])
