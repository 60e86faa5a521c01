"""Excluded downtime (spec 4.3): analysts review proposed exclusions (approve, or reject with a
reason); government viewers see the approved ones of their states, read-only; the public never.

Who may do what is decided in ``exclusion_access`` alone; the page's UI, its server and the
review action all ask it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Literal

import pandas as pd
from shiny import Inputs, Outputs, Session, module, reactive, render, ui
from sqlalchemy import Engine

from report_app import context
from report_app.sources import StaticSitesCache
from shared.exclusions import (
    Exclusion,
    ExclusionError,
    ExclusionNotFound,
    approve,
    list_exclusions,
    reject,
    table_rows,
)
from shared.jurisdictions import Viewer
from shared.settings import Settings

Access = Literal["review", "read", "none"]
NAME_HEADER = "x-ms-client-principal-name"
SHOWN_COLUMNS = ("exclusion_id", "cpo_id", "scope", "scope_id", "from_at", "to_at", "cause",
                 "note", "state", "proposed_by", "proposed_at", "reviewed_by", "reviewed_at",
                 "reason")  # fmt: skip
REFRESH_SECONDS = 30


def exclusion_access(viewer: Viewer) -> Access:
    """``review`` for analysts, ``read`` (approved ones of their states) for government viewers."""
    if viewer.kind == "analyst":
        return "review"
    if viewer.sees_figures:
        return "read"
    return "none"


def reviewer_name(headers: Mapping[str, str], settings: Settings) -> str:
    """Who reviews, for the audit trail: the signed-in user behind Azure auth, else the developer."""
    if settings.behind_azure_auth:
        lowered = {key.lower(): value for key, value in headers.items()}
        name = lowered.get(NAME_HEADER, "").strip()[:150]
        if name and name.isprintable():
            return f"dashboard:{name}"
        return "dashboard:unnamed user"
    return "dashboard:developer"


ScopeKey = tuple[str, str, str]


def scope_states(connectors: pd.DataFrame) -> dict[ScopeKey, str]:
    """(cpo_id, scope, scope_id) → the state of that EVSE, charger or site in the static CSVs."""
    states: dict[ScopeKey, str] = {}
    for scope, column in (("evse", "evse_uid"), ("charger", "charger_id"), ("site", "site_id")):
        pairs = connectors[["cpo_id", column, "state"]].drop_duplicates()
        for cpo_id, scope_id, state in pairs.itertuples(index=False):
            states[(str(cpo_id), scope, str(scope_id))] = str(state)
    return states


def visible(
    items: Iterable[Exclusion], viewer: Viewer, states: Mapping[ScopeKey, str]
) -> list[Exclusion]:
    """The exclusions ``viewer`` may see: every one for reviewers, else the approved ones whose
    EVSE, charger or site lies in one of the viewer's states."""
    access = exclusion_access(viewer)
    if access == "review":
        return list(items)
    if access == "none":
        return []
    return [
        item
        for item in items
        if item.state == "APPROVED"
        and viewer.allows(states.get((item.cpo_id, item.scope, item.scope_id)))
    ]


def review(
    engine: Engine,
    viewer: Viewer,
    exclusion_id: str,
    decision: Literal["APPROVED", "REJECTED"],
    reason: str,
    actor: str,
) -> tuple[bool, str]:
    """Approve or reject for a reviewer; (done, what to tell them). Others are refused here."""
    if exclusion_access(viewer) != "review":
        return False, "Only analysts review exclusions."
    if not exclusion_id:
        return False, "Choose a proposed exclusion first."
    try:
        if decision == "APPROVED":
            result = approve(engine, exclusion_id, actor, reason or None)
        else:
            result = reject(engine, exclusion_id, actor, reason)
    except (ExclusionError, ExclusionNotFound) as exc:
        return False, str(exc)
    return True, f"{result.exclusion_id} is now {result.state} (by {result.reviewed_by})."


def html_table(rows: list[dict[str, object]], table_id: str, empty: str) -> ui.Tag:
    if not rows:
        return ui.div(empty, class_="alert alert-info", id=f"{table_id}-empty")
    columns = [c for c in SHOWN_COLUMNS if any(row.get(c) for row in rows)]
    return ui.tags.table(
        ui.tags.thead(ui.tags.tr(*[ui.tags.th(c) for c in columns])),
        ui.tags.tbody(
            *[
                ui.tags.tr(
                    *[ui.tags.td("" if row.get(c) is None else str(row[c])) for c in columns]
                )
                for row in rows
            ]
        ),
        class_="table table-sm",
        id=table_id,
    )


_engine: Engine | None = None
_engine_lock = threading.Lock()
_static = StaticSitesCache()


def database() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            from shared.db.engine import make_engine

            _engine = make_engine(context.settings.database_url)
        return _engine


@module.ui
def exclusions_ui(review_controls: bool) -> ui.Tag:
    approved = ui.card(ui.card_header("Approved exclusions"), ui.output_ui("approved"))
    if not review_controls:
        return ui.div(
            ui.p("Downtime in these windows does not count against the operator"
                 " (uptime_excl_pct); analysts review what operators propose.", class_="text-muted"),
            approved,
        )  # fmt: skip
    controls = ui.card(
        ui.card_header("Review"),
        ui.input_select("chosen", "Proposed exclusion", choices=[]),
        ui.input_text_area("reason", "Reason (needed to reject)", rows=2),
        ui.div(
            ui.input_action_button("approve", "Approve", class_="btn-success me-2"),
            ui.input_action_button("reject", "Reject", class_="btn-danger"),
        ),
        ui.output_ui("outcome"),
    )
    return ui.div(
        ui.layout_columns(
            ui.card(ui.card_header("Proposed, awaiting review"), ui.output_ui("proposed")),
            controls,
            col_widths=(8, 4),
        ),
        approved,
        ui.card(ui.card_header("Rejected and withdrawn"), ui.output_ui("closed")),
    )


@module.server
def exclusions_server(
    input: Inputs, output: Outputs, session: Session, viewer: Viewer, actor: str
) -> None:
    access = exclusion_access(viewer)
    if access == "none":
        return
    changed = reactive.value(0)
    outcome_text = reactive.value(("", True))

    @reactive.calc
    def shown() -> tuple[list[Exclusion], str | None]:
        changed()
        reactive.invalidate_later(REFRESH_SECONDS)
        try:
            with database().connect() as connection:
                items = list_exclusions(connection)
            states = scope_states(_static.get(context.store).connectors) if access == "read" else {}
        except Exception as exc:  # noqa: BLE001 - shown as the page's empty state
            return [], f"The exclusions cannot be read ({type(exc).__name__}: {exc})."
        return visible(items, viewer, states), None

    def rows(state: str | tuple[str, ...]) -> list[dict[str, object]]:
        wanted = (state,) if isinstance(state, str) else state
        return table_rows(item for item in shown()[0] if item.state in wanted)

    @render.ui
    def approved() -> ui.TagChild:
        problem = shown()[1]
        if problem:
            return ui.div(problem, class_="alert alert-warning")
        return html_table(rows("APPROVED"), "exclusions-approved-table", "No approved exclusions.")

    if access != "review":
        return

    @render.ui
    def proposed() -> ui.TagChild:
        return html_table(rows("PROPOSED"), "exclusions-proposed-table", "Nothing awaits review.")

    @render.ui
    def closed() -> ui.TagChild:
        return html_table(
            rows(("REJECTED", "WITHDRAWN")),
            "exclusions-closed-table",
            "None rejected or withdrawn.",
        )

    @reactive.effect
    def _choices() -> None:
        waiting = rows("PROPOSED")
        choices = {
            str(r["exclusion_id"]): f"{r['exclusion_id']} · {r['cpo_id']} {r['scope']}"
            f" {r['scope_id']} · {r['cause']}"
            for r in waiting
        }
        ui.update_select("chosen", choices=choices)

    def decide(decision: Literal["APPROVED", "REJECTED"]) -> None:
        done, text = review(
            database(), viewer, input.chosen() or "", decision, input.reason() or "", actor
        )
        outcome_text.set((text, done))
        if done:
            ui.update_text_area("reason", value="")
            changed.set(changed() + 1)

    @reactive.effect
    @reactive.event(input.approve)
    def _approve() -> None:
        decide("APPROVED")

    @reactive.effect
    @reactive.event(input.reject)
    def _reject() -> None:
        decide("REJECTED")

    @render.ui
    def outcome() -> ui.TagChild:
        text, done = outcome_text()
        if not text:
            return None
        return ui.div(text, class_=f"alert alert-{'success' if done else 'danger'} mt-2",
                      id="exclusions-outcome-message")  # fmt: skip
