"""Published monthly reports: links, to the role-checked route, to the viewer's reports only
(the national report for analysts, one per state of a government viewer)."""

from __future__ import annotations

from shiny import Inputs, Outputs, Session, module, reactive, render, ui

from report_app import context
from report_app.sources import published_reports, report_download_name
from shared.jurisdictions import ANALYST, Viewer

ROUTE = "published"  # /published/YYYY-MM/[STATE/]<file>, served by report_app.app.published


def report_url(month: str, name: str, state: str | None = None) -> str:
    return f"{ROUTE}/{month}/{state}/{name}" if state else f"{ROUTE}/{month}/{name}"


@module.ui
def reports_ui() -> ui.Tag:
    return ui.card(ui.card_header("Published monthly reports"), ui.output_ui("listing"))


@module.server
def reports_server(
    input: Inputs, output: Outputs, session: Session, viewer: Viewer = ANALYST
) -> None:
    @render.ui
    def listing() -> ui.TagChild:
        reactive.invalidate_later(60)
        reports = published_reports(context.store, viewer)
        if not reports:
            return ui.div(
                "No report has been published yet for your jurisdictions: the monthly job"
                " writes them to reports/YYYY-MM/.",
                class_="alert alert-info",
            )
        rows = []
        for report in reports:
            state = report.jurisdiction
            links = [ui.a("Open report", href=report_url(report.month, "report.html", state),
                          target="_blank", class_="me-3")]  # fmt: skip
            links += [
                ui.a(name, href=report_url(report.month, name, state),
                     download=report_download_name(report.month, name, state), class_="me-2")
                for name in report.files[1:]
            ]  # fmt: skip
            rows.append(
                ui.tags.tr(
                    ui.tags.td(report.month),
                    ui.tags.td(state or "National (every state)"),
                    ui.tags.td(*links),
                )
            )
        return ui.tags.table(
            ui.tags.thead(
                ui.tags.tr(ui.tags.th("Month"), ui.tags.th("Jurisdiction"), ui.tags.th("Files"))
            ),
            ui.tags.tbody(*rows),
            class_="table",
            id="reports-table",
        )
