"""What every page's data preparation shares: the filters a user picks, the error shown when
data cannot be read, and rounding for display.

No I/O and no Shiny here; ``report_app.sources`` reads the blobs, the database and the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


class DataProblem(Exception):
    """A blob the page needs is missing or unreadable; the message is shown to the user."""


@dataclass(frozen=True)
class Filters:
    """What the user picked; empty means no restriction."""

    cpo_ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    power_types: tuple[str, ...] = ()
    min_kw: float = 0.0
    connector_standards: tuple[str, ...] = ()
    site_statuses: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    lga_codes: tuple[str, ...] = ()
    # The viewer's states (``Viewer.scope``): None for analysts. Set by the server from the
    # role, never from an input, so no hand-made input can widen it.
    scope: tuple[str, ...] | None = None

    @property
    def connector_level(self) -> bool:
        """True when a filter needs connector attributes that group tables do not carry."""
        return bool(self.power_types or self.min_kw > 0 or self.connector_standards)

    @property
    def picked(self) -> bool:
        """Whether the user picked any filter (the viewer's scope is not a pick)."""
        return self != Filters(scope=self.scope)


def matching_evses(connectors: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """(cpo_id, evse_uid) of EVSEs with at least one connector passing the connector filters."""
    mask = state_mask(connectors, filters)
    if filters.cpo_ids:
        mask &= connectors["cpo_id"].isin(filters.cpo_ids)
    if filters.power_types:
        mask &= connectors["power_type"].isin(filters.power_types)
    if filters.min_kw > 0:
        mask &= connectors["max_power_kw"] >= filters.min_kw
    if filters.connector_standards:
        mask &= connectors["connector_standard"].isin(filters.connector_standards)
    if filters.programs:
        mask &= connectors["program"].isin(filters.programs)
    if filters.lga_codes:
        mask &= (
            connectors["lga_code"].isin(filters.lga_codes) if "lga_code" in connectors else False
        )
    return connectors.loc[mask, ["cpo_id", "evse_uid"]].drop_duplicates()


def state_mask(frame: pd.DataFrame, filters: Filters) -> pd.Series:
    """Rows whose ``state`` the viewer's scope and the state filter keep (all rows when neither
    applies; none when the frame has no state column and a scope applies)."""
    mask = pd.Series(True, index=frame.index)
    if filters.scope is not None:
        if "state" not in frame:
            return ~mask
        mask &= frame["state"].isin(filters.scope)
    if filters.states and "state" in frame:
        mask &= frame["state"].isin(filters.states)
    return mask


def in_scope(frame: pd.DataFrame, scope: tuple[str, ...] | None) -> pd.DataFrame:
    """The rows of ``frame`` in the viewer's states (all for ``None``; none without ``state``)."""
    return frame[state_mask(frame, Filters(scope=scope))]


def rounded(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Figures rounded for display and for the CSV that mirrors the display."""
    floats = frame.select_dtypes("float").columns
    return frame.assign(**{c: frame[c].round(digits) for c in floats})
