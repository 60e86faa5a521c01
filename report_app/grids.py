"""A data grid whose browser payload is built once for a table every session shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiny import render


class SharedGrid(render.DataGrid):
    """``render.DataGrid`` with its payload from ``payload(build)``, e.g. a month cache (or
    built afresh, as DataGrid does, when ``payload`` is None).

    Shiny serialises a grid cell by cell on every render: for a national site table (6,600
    rows) that was a tenth of a second of every month switch, the same bytes for every session.
    The frame must hold no HTML cells (their dependencies belong to one session).
    """

    def __init__(
        self,
        data: Any,  # noqa: ANN401 - whatever DataGrid takes
        payload: Callable[[Callable[[], Any]], Any] | None = None,
        **options: Any,  # noqa: ANN401 - DataGrid's own options
    ) -> None:
        super().__init__(data, **options)
        self._payload = payload

    def to_payload(self) -> Any:  # noqa: ANN401 - Shiny's FrameJson
        build = super().to_payload
        return build() if self._payload is None else self._payload(build)
