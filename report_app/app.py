"""The dashboard's entry point: pages wired by role, and the role-checked report route.

``shiny run report_app/app.py`` or ``chargeatlarge app`` serve ``app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shiny import App, Inputs, Outputs, Session, ui
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from report_app import context
from report_app.auth import role_for, sees_figures
from report_app.data import DataProblem, Filters
from report_app.pages.live import live_server, live_ui
from report_app.pages.quality import quality_server, quality_ui
from report_app.pages.reports import ROUTE, reports_server, reports_ui
from report_app.pages.uptime import read_month, uptime_server, uptime_ui
from report_app.sources import available_months, report_blob
from shared.blobstore import BlobNotFound


def app_ui(request: Request) -> ui.Tag:
    role = role_for(request.headers, context.settings)
    panels = [ui.nav_panel("Live status", live_ui("live"), value="live")]
    if sees_figures(role):
        panels += [
            ui.nav_panel("Uptime & utilisation", uptime_ui("uptime"), value="uptime"),
            ui.nav_panel("Data quality", quality_ui("quality"), value="quality"),
            ui.nav_panel("Reports", reports_ui("reports"), value="reports"),
        ]
    return ui.page_navbar(
        *panels,
        ui.nav_spacer(),
        ui.nav_control(ui.span(f"role: {role}", class_="navbar-text small", id="role")),
        title="Charge@Large",
        id="page",
        fillable=False,
    )


def server(input: Inputs, output: Outputs, session: Session) -> None:
    live_server("live")
    # Pages with government figures get no server at all for other roles, so no output,
    # download or message of theirs can be reached from a public session.
    if sees_figures(role_for(session.http_conn.headers, context.settings)):
        uptime_server("uptime", shown_now=lambda: input.page() == "uptime")
        quality_server("quality")
        reports_server("reports")


async def published(request: Request) -> Response:
    """A published report file, only for roles that may see government figures."""
    if not sees_figures(role_for(request.headers, context.settings)):
        return PlainTextResponse("Reports are for signed-in analysts and government users.", 403)
    try:
        blob = report_blob(request.path_params["month"], request.path_params["name"])
        data = context.store.get(blob)
    except (DataProblem, BlobNotFound):
        return PlainTextResponse("No such report file.", 404)
    if blob.endswith(".html"):
        return Response(
            data,
            media_type="text/html; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    name = blob.rsplit("/", 1)[-1]
    month = request.path_params["month"]
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{month}-{name}"'},
    )


def warm_up() -> None:
    """Read, in the background, what the first visitors need: the live map, the newest month."""

    def live() -> None:
        context.shared_live_view(context.read_live(), Filters())

    def newest_month() -> None:
        months = available_months(context.store)
        if months:
            read_month(context.monthly, months[0])

    context.prefetcher.submit("live", live)
    context.prefetcher.submit("newest month", newest_month)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    warm_up()
    yield


shiny_app = App(app_ui, server)
app = Starlette(
    routes=[
        Route(f"/{ROUTE}/{{month}}/{{name}}", published),
        Mount("/", app=shiny_app),
    ],
    lifespan=lifespan,
)
