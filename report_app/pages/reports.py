"""Published monthly reports: links to the role-checked route that serves them."""

from __future__ import annotations

from shiny import module, reactive, render, ui

from report_app import context
from report_app.sources import published_reports

ROUTE = "published"  # /published/YYYY-MM/<file>, served by report_app.app.published


def report_url(month: str, name: str) -> str:
    return f"{ROUTE}/{month}/{name}"


@module.ui
def reports_ui() -> ui.Tag:
    return ui.card(ui.card_header("Published monthly reports"), ui.output_ui("listing"))


@module.server
def reports_server(input, output, session) -> None:  # noqa: ANN001
    @render.ui
    def listing():
        reactive.invalidate_later(60)
        reports = published_reports(context.store)
        if not reports:
            return ui.div(
                "No report has been published yet: the monthly job writes them to reports/YYYY-MM/.",
                class_="alert alert-info",
            )
        rows = []
        for report in reports:
            links = [ui.a("Open report", href=report_url(report.month, "report.html"),
                          target="_blank", class_="me-3")]  # fmt: skip
            links += [
                ui.a(name, href=report_url(report.month, name), download=name, class_="me-2")
                for name in report.files[1:]
            ]
            rows.append(ui.tags.tr(ui.tags.td(report.month), ui.tags.td(*links)))
        return ui.tags.table(
            ui.tags.thead(ui.tags.tr(ui.tags.th("Month"), ui.tags.th("Files"))),
            ui.tags.tbody(*rows),
            class_="table",
            id="reports-table",
        )
