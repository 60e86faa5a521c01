"""The lists a report to a department is made of, shared by the published reports and the
dashboard: funded sites against their program's threshold, sites below the threshold, the
outage list, and the exclusions of a viewer's states. DataFrames in and out, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

FUNDED_COLUMNS = ["program", "cpo_id", "site_id", "site_name", "suburb", "state", "lga_name",
                  "evse_count", "uptime_pct", "uptime_excl_pct", "uptime_12m_pct",
                  "uptime_excl_12m_pct", "threshold_pct", "below_threshold", "coverage_pct",
                  "outage_count", "longest_outage_minutes", "excluded_minutes"]  # fmt: skip
BELOW_COLUMNS = ["cpo_id", "site_id", "site_name", "suburb", "state", "lga_name", "evse_count",
                 "uptime_pct", "uptime_excl_pct", "uptime_12m_pct", "coverage_pct",
                 "outage_count", "longest_outage_minutes"]  # fmt: skip
OUTAGE_COLUMNS = ["cpo_id", "site_id", "evse_uid", "state", "category", "started_at", "ended_at",
                  "minutes_in_period", "excluded_minutes_in_period", "causes"]  # fmt: skip


def threshold_lookup(
    general_pct: float, program_pcts: Mapping[str, float] | None = None
) -> Callable[[str | None], float]:
    """The uptime (%) a program's funded sites are held to; programs not named: the general."""
    program_pcts = dict(program_pcts or {})
    return lambda program: program_pcts.get(program or "", general_pct)


def _present(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]]


def funded_sites(site: pd.DataFrame, threshold_for: Callable[[str | None], float]) -> pd.DataFrame:
    """Each site with a program, its month (and twelve-month) uptime against its program's
    threshold, worst first (sites with no uptime figure last)."""
    if "program" not in site.columns:
        return pd.DataFrame(columns=FUNDED_COLUMNS)
    funded = site[site["program"].notna() & (site["program"].astype(str) != "")].copy()
    funded["threshold_pct"] = [float(threshold_for(p)) for p in funded["program"]]
    funded["below_threshold"] = funded["uptime_pct"].lt(funded["threshold_pct"])
    funded = funded.sort_values(
        ["uptime_pct", "program", "cpo_id", "site_id"], na_position="last"
    ).reset_index(drop=True)
    return _present(funded, FUNDED_COLUMNS)


def below_threshold(site: pd.DataFrame, threshold_pct: float) -> pd.DataFrame:
    """Sites whose month uptime is below ``threshold_pct``, worst first."""
    below = site[site["uptime_pct"].notna() & (site["uptime_pct"] < threshold_pct)]
    below = below.sort_values(["uptime_pct", "cpo_id", "site_id"]).reset_index(drop=True)
    return _present(below, BELOW_COLUMNS)


def outage_list(outages: pd.DataFrame) -> pd.DataFrame:
    """The outages, longest in the month first."""
    ordered = outages.sort_values(
        ["minutes_in_period", "cpo_id", "evse_uid"], ascending=[False, True, True]
    ).reset_index(drop=True)
    return _present(ordered, OUTAGE_COLUMNS)


def exclusions_in_scope(
    exclusions: pd.DataFrame, evse: pd.DataFrame, scope: tuple[str, ...] | None
) -> pd.DataFrame:
    """The exclusions whose EVSE, charger or site lies in ``scope``'s states (all for None).

    Exclusions carry no state: it comes from the scope's EVSEs in the month's EVSE rows.
    """
    if scope is None or exclusions.empty:
        return exclusions
    inside = evse[evse["state"].isin(scope)]
    keys = set()
    for scope_kind, column in (
        ("evse", "evse_uid"),
        ("charger", "charger_id"),
        ("site", "site_id"),
    ):
        pairs = zip(inside["cpo_id"].tolist(), inside[column].tolist(), strict=True)
        keys |= {(scope_kind, c, i) for c, i in pairs}
    kept = [
        (kind, cpo, scope_id) in keys
        for kind, cpo, scope_id in zip(
            exclusions["scope"], exclusions["cpo_id"], exclusions["scope_id"], strict=True
        )
    ]
    return exclusions[kept].reset_index(drop=True)
