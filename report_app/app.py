"""The dashboard's entry point: pages wired by role, and the role-checked report route.

``shiny run report_app/app.py`` or ``chargeatlarge app`` serve ``app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shiny import App, Inputs, Outputs, Session, ui
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from report_app import context, shiny_speed
from report_app.auth import viewer_for
from report_app.data import DataProblem, Filters
from report_app.memory import keep_freed_memory
from report_app.pages.exclusions import (
    database,
    exclusion_access,
    exclusions_server,
    exclusions_ui,
    reviewer_name,
)
from report_app.pages.live import live_server, live_ui
from report_app.pages.quality import quality_server, quality_ui
from report_app.pages.reports import ROUTE, reports_server, reports_ui
from report_app.pages.uptime import read_month, uptime_server, uptime_ui
from report_app.sources import available_months, report_blob, report_download_name
from shared.blobstore import BlobNotFound
from shared.sites import STATES

shiny_speed.install()  # before any session makes its reactive values
# The server starts serving once the warm-up is done, or after this long (a slow store must
# not keep it from starting; the pages then read what they need themselves).
WARM_UP_SECONDS = 30.0


def app_ui(request: Request) -> ui.Tag:
    viewer = viewer_for(request.headers, context.settings)
    # Choice lists name the viewer's states only (every state for analysts and the public map).
    states = viewer.states if viewer.sees_figures else STATES
    panels = [ui.nav_panel("Live status", live_ui("live", states=states), value="live")]
    if viewer.sees_figures:
        panels += [
            ui.nav_panel(
                "Uptime & utilisation", uptime_ui("uptime", states=states), value="uptime"
            ),
            ui.nav_panel("Data quality", quality_ui("quality"), value="quality"),
            ui.nav_panel("Reports", reports_ui("reports"), value="reports"),
        ]
    if exclusion_access(viewer) != "none":
        review = exclusion_access(viewer) == "review"
        panels.append(
            ui.nav_panel("Exclusions", exclusions_ui("exclusions", review), value="exclusions")
        )
    return ui.page_navbar(
        *panels,
        ui.nav_spacer(),
        ui.nav_control(ui.span(f"role: {viewer.label}", class_="navbar-text small", id="role")),
        title="Charge@Large",
        id="page",
        fillable=False,
    )


def server(input: Inputs, output: Outputs, session: Session) -> None:
    # The viewer is fixed for the session from the request that opened it; every page keeps
    # its data, choices and downloads to the viewer's states.
    headers = session.http_conn.headers  # type: ignore[attr-defined]  # AppSession's, untyped
    viewer = viewer_for(headers, context.settings)
    # Whatever a session has just sent, its browser draws now: read-aheads hold off meanwhile.
    session.on_flushed(context.prefetcher.busy, once=False)
    live_server("live", viewer=viewer)
    # Pages with government figures get no server at all for other roles, so no output,
    # download or message of theirs can be reached from a public session.
    if viewer.sees_figures:
        uptime_server("uptime", viewer=viewer, shown_now=lambda: input.page() == "uptime")
        quality_server("quality", viewer=viewer)
        reports_server("reports", viewer=viewer)
    exclusions_server(
        "exclusions",
        viewer=viewer,
        actor=reviewer_name(headers, context.settings),
    )


async def published(request: Request) -> Response:
    """A published report file: the national one for analysts, a state's for its viewers.

    Anything the viewer may not see answers 404, as a file that does not exist does, so a
    hand-made URL cannot even tell which reports exist.
    """
    viewer = viewer_for(request.headers, context.settings)
    if not viewer.sees_figures:
        return PlainTextResponse("Reports are for signed-in analysts and government users.", 403)
    month = request.path_params["month"]
    state = request.path_params.get("state")
    name = request.path_params["name"]
    if (state is None and not viewer.national) or (state is not None and not viewer.allows(state)):
        return PlainTextResponse("No such report file.", 404)
    try:
        blob = report_blob(month, name, state)
        data = context.store.get(blob)
    except (DataProblem, BlobNotFound):
        return PlainTextResponse("No such report file.", 404)
    if blob.endswith(".html"):
        return Response(
            data,
            media_type="text/html; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    download = report_download_name(month, name, state)
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{download}"'},
    )


def warm_up() -> None:
    """Read, in the background, what the first visitors need: the live map and the newest
    months, as many as the month cache holds (the uptime page opens on the newest; a switch
    between them reads nothing).

    Started before the server accepts visitors and waited for (``lifespan``): reading a month
    while the first maps are drawn slowed them by seconds, the threads contending for the GIL.
    """

    def live() -> None:
        context.shared_live_view(context.read_live(), Filters())  # the public map

    def newest_month() -> None:
        months = available_months(context.store)
        for month in months[: context.monthly.months]:
            read_month(context.monthly, month)

    context.prefetcher.submit("live", live)
    context.prefetcher.submit("database", database)  # the exclusions page's engine, imported
    context.prefetcher.submit("newest month", newest_month)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    keep_freed_memory()  # for the serving process only, so not on import
    warm_up()
    await asyncio.to_thread(context.prefetcher.wait_idle, WARM_UP_SECONDS)
    yield


shiny_app = App(app_ui, server)
app = Starlette(
    routes=[
        Route(f"/{ROUTE}/{{month}}/{{name}}", published),
        Route(f"/{ROUTE}/{{month}}/{{state}}/{{name}}", published),
        Mount("/", app=shiny_app),
    ],
    lifespan=lifespan,
)
