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

    @property
    def connector_level(self) -> bool:
        """True when a filter needs connector attributes that group tables do not carry."""
        return bool(
            self.power_types or self.min_kw > 0 or self.connector_standards or self.programs
        )


def matching_evses(connectors: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """(cpo_id, evse_uid) of EVSEs with at least one connector passing the connector filters."""
    mask = pd.Series(True, index=connectors.index)
    if filters.cpo_ids:
        mask &= connectors["cpo_id"].isin(filters.cpo_ids)
    if filters.states:
        mask &= connectors["state"].isin(filters.states)
    if filters.power_types:
        mask &= connectors["power_type"].isin(filters.power_types)
    if filters.min_kw > 0:
        mask &= connectors["max_power_kw"] >= filters.min_kw
    if filters.connector_standards:
        mask &= connectors["connector_standard"].isin(filters.connector_standards)
    if filters.programs:
        mask &= connectors["program"].isin(filters.programs)
    return connectors.loc[mask, ["cpo_id", "evse_uid"]].drop_duplicates()


def rounded(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Figures rounded for display and for the CSV that mirrors the display."""
    floats = frame.select_dtypes("float").columns
    return frame.assign(**{c: frame[c].round(digits) for c in floats})
