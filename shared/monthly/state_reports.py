"""Published reports per jurisdiction: the national report for analysts and one per state.

``reports/YYYY-MM/report.html`` (+ CSVs) covers every state; ``reports/YYYY-MM/<STATE>/`` holds
the same report and CSVs over that state's EVSEs only, its network (CPO) figures computed over
those EVSEs with the engine's formulas (``shared.monthly.rollup``).
"""

from __future__ import annotations

from shared import layout


def state_report_prefix(month: str, state: str) -> str:
    """``reports/YYYY-MM/<STATE>`` (no trailing slash)."""
    return f"{layout.report_prefix(month)}/{state}"
