"""Live status: every site on the map, coloured by the state of its EVSEs.

One GeoJSON vector layer per colour class (the colour is the layer's style, so a site is sent as
its position and key alone). The map widget is rendered once; filter changes and new snapshots
replace the layers' data in place, which keeps tens of thousands of EVSEs fluid.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from ipyleaflet import GeoJSON, LegendControl, Map
from shiny import Inputs, Outputs, Session, module, reactive, render, ui
from shinywidgets import output_widget, render_widget

from report_app import context
from report_app.data import Filters, in_scope
from report_app.live_data import (
    SITE_STATUS_LABELS,
    SITE_STATUSES,
    LiveView,
    data_age,
    layer_style,
    site_details,
    status_counts,
)
from shared.jurisdictions import PUBLIC, Viewer
from shared.monthly.labels import for_display
from shared.sites import CONNECTOR_STANDARDS, POWER_TYPES, STATES

AUSTRALIA = (-27.5, 134.0)
# Layers are stacked in this order, so sites with EVSEs down are drawn on top of the rest.
DRAW_ORDER = ("unknown", "all_available", "some_in_use", "all_in_use", "some_down", "all_down")
POINT_STYLE = {"radius": 5, "weight": 1, "opacity": 0.9, "fillOpacity": 0.8}


def filter_inputs(with_status: bool, states: tuple[str, ...] = STATES) -> list:
    """The filter controls both pages share (ids are the same words on both); ``states`` are
    the viewer's."""
    inputs = [
        ui.input_selectize("cpo_ids", "Network (CPO)", choices=[], multiple=True),
        ui.input_selectize("states", "State", choices=list(states), multiple=True),
        ui.input_selectize("power_types", "Power type", choices=list(POWER_TYPES), multiple=True),
        ui.input_numeric("min_kw", "Minimum kW", value=0, min=0, step=7),
        ui.input_selectize(
            "connector_standards",
            "Connector standard",
            choices=list(CONNECTOR_STANDARDS),
            multiple=True,
        ),  # fmt: skip
    ]
    if with_status:
        inputs.append(
            ui.input_checkbox_group(
                "site_statuses", "Status", choices={k: label for k, label, _ in SITE_STATUSES}
            )
        )
    return inputs


def filters_from(
    input: Inputs,
    with_status: bool,
    with_programs: bool = False,
    scope: tuple[str, ...] | None = None,
    with_lgas: bool = False,
) -> Filters:
    """The ``Filters`` the inputs describe, kept to the viewer's ``scope``; a blank or negative
    minimum kW means none."""
    min_kw = input.min_kw()
    return Filters(
        scope=scope,
        lga_codes=tuple(input.lga_codes() or ()) if with_lgas else (),
        cpo_ids=tuple(input.cpo_ids() or ()),
        states=tuple(input.states() or ()),
        power_types=tuple(input.power_types() or ()),
        min_kw=float(min_kw) if isinstance(min_kw, int | float) and min_kw > 0 else 0.0,
        connector_standards=tuple(input.connector_standards() or ()),
        site_statuses=tuple(input.site_statuses() or ()) if with_status else (),
        programs=tuple(input.programs() or ()) if with_programs else (),
    )


def legend_row(key: str, label: str, colour: str, count: int) -> ui.Tag:
    swatch = ui.span(
        style=f"display:inline-block;width:12px;height:12px;border-radius:6px;background:{colour};"
        "margin-right:6px"
    )
    return ui.tags.tr(
        ui.tags.td(swatch, label), ui.tags.td(str(count), class_="text-end", id=f"count-{key}")
    )


@module.ui
def live_ui(states: tuple[str, ...] = STATES) -> ui.CardItem:
    return ui.layout_sidebar(
        ui.sidebar(*filter_inputs(with_status=True, states=states), width=280),
        ui.layout_columns(
            ui.card(
                ui.card_header("Sites by live status"),
                output_widget("map", height="560px"),
                full_screen=True,
            ),
            ui.card(
                ui.card_header("Status counts"),
                ui.output_ui("age"),
                ui.output_ui("counts"),
                ui.output_ui("notes"),
            ),
            col_widths=(9, 3),
        ),
        ui.card(
            ui.card_header("Selected site"), ui.output_ui("site"), ui.output_data_frame("evses")
        ),
    )


@module.server
def live_server(input: Inputs, output: Outputs, session: Session, viewer: Viewer = PUBLIC) -> None:
    """Everyone sees the live map; a government viewer sees their states' sites only."""
    scope = viewer.scope if viewer.sees_figures else None
    selected: reactive.Value[tuple[str, str] | None] = reactive.value(None)

    def on_click(**event: object) -> None:
        properties = event.get("properties") or {}
        if isinstance(properties, dict) and "cpo_id" in properties and "site_id" in properties:
            selected.set((str(properties["cpo_id"]), str(properties["site_id"])))

    # The colour goes in point_style: ipyleaflet copies a ``style`` into every feature.
    layers = {
        key: GeoJSON(
            data={"type": "FeatureCollection", "features": []},
            point_style={**POINT_STYLE, **layer_style(key)},
            hover_style={"weight": 3, "radius": 8},
            name=SITE_STATUS_LABELS[key],
        )
        for key in DRAW_ORDER
    }
    for layer in layers.values():
        layer.on_click(on_click)

    @reactive.effect
    def _cpo_choices() -> None:
        evses = in_scope(context.live_data().evses, scope)
        cpo_ids = sorted(evses["cpo_id"].dropna().unique()) if not evses.empty else []
        with reactive.isolate():
            current = input.cpo_ids()
        ui.update_selectize("cpo_ids", choices=cpo_ids, selected=list(current or ()))

    @reactive.calc
    def filters() -> Filters:
        return filters_from(input, with_status=True, scope=scope)

    @reactive.calc
    def view() -> LiveView:
        return context.shared_live_view(context.live_data(), filters())

    @render_widget
    def map() -> Map:  # the output id the UI names
        # Built once: tiles that cannot load (offline) leave the plain grey background,
        # and the vector layers still show every site.
        leaflet = Map(center=AUSTRALIA, zoom=4, scroll_wheel_zoom=True)
        leaflet.layout.height = "540px"
        for key in DRAW_ORDER:
            leaflet.add(layers[key])
        legend = {label: colour for _, label, colour in SITE_STATUSES}
        leaflet.add(LegendControl(legend, title="Site status", position="bottomright"))
        return leaflet

    @reactive.effect
    def _draw() -> None:
        data = view().layers
        for key, layer in layers.items():
            layer.data = data[key]

    @render.ui
    def age() -> ui.Tag:
        reactive.invalidate_later(10)
        data = context.live_data()
        return ui.p(
            ui.strong("Data age: "),
            ui.span(data_age(data.newest_confirmed_at, datetime.now(UTC)), id="data-age"),
        )

    @render.ui
    def counts() -> ui.TagList:
        shown = view().sites
        rows = [
            legend_row(key, label, colour, count)
            for (key, label, colour), count in zip(
                SITE_STATUSES, status_counts(shown)["sites"], strict=True
            )
        ]
        evse_total = int(shown["evse_count"].sum()) if not shown.empty else 0
        return ui.TagList(
            ui.tags.table(ui.tags.tbody(*rows), class_="table table-sm"),
            ui.p(f"{len(shown)} sites, {evse_total} EVSEs in service shown", id="shown-total"),
        )

    @render.ui
    def notes() -> ui.Tag | None:
        data = context.live_data()
        static = [p for p in data.problems if p.startswith("Static sites:")]
        notes = [p for p in data.problems if not p.startswith("Static sites:")]
        # Problems of the static lists and unplaced EVSEs belong to no viewer's state.
        if static and scope is None:
            notes.append(f"{len(static)} problems in the static site lists (see Data quality).")
        if data.unplaced and scope is None:
            notes.append(
                f"{data.unplaced} live EVSEs are in no static site list, so not on the map."
            )
        if not notes:
            return None
        return ui.div(*[ui.p(n, class_="text-muted small") for n in notes], id="live-notes")

    @reactive.calc
    def details() -> pd.DataFrame | None:
        key = selected()
        if key is None:
            return None
        data = context.live_data()
        details = site_details(data, *key)
        site = data.evses[(data.evses["cpo_id"] == key[0]) & (data.evses["site_id"] == key[1])]
        if scope is not None and not site["state"].isin(scope).all():
            return details.iloc[0:0]  # a forged click on a site of another state
        return details

    @render.ui
    def site() -> ui.Tag:
        key = selected()
        if key is None:
            return ui.p("Click a site on the map to see its EVSEs.", class_="text-muted")
        everything = context.shared_live_view(context.live_data(), Filters(scope=scope)).sites
        row = everything[(everything["cpo_id"] == key[0]) & (everything["site_id"] == key[1])]
        if row.empty:
            return ui.p(f"Site {key[1]} of {key[0]} is no longer listed.")
        site = row.iloc[0]
        return ui.p(
            ui.strong(f"{site['site_name']}", id="site-name"),
            f" — {key[0]} / {key[1]}, {site['state']}: "
            f"{SITE_STATUS_LABELS[site['site_status']]}, up to {site['max_power_kw']:g} kW",
        )

    @render.data_frame
    def evses() -> render.DataGrid | None:
        frame = details()
        if frame is None:
            return None
        return render.DataGrid(for_display(frame, context.settings.report_tz), width="100%")
