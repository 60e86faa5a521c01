"""Review findings on the metrics engine (issue 3 review, 2026-11-23).

Hand-computed cases; strict xfails documenting deviations, so they fail (and the mark gets
removed) once fixed.
"""

from datetime import date, timedelta

import pytest

from tests.shared.metrics.helpers import compute, connector, local, row


def every(evse: str, start: str, step: int, count: int, status: str) -> list:
    t0 = local(start)
    return [("A", evse, t0 + timedelta(minutes=step * i), status) for i in range(count)]


@pytest.mark.parametrize(
    ("name", "observations"),
    [
        # 23:40, 23:45, 23:50 CHARGING; 23:55, 00:00, 00:05 SUSPENDEDEV, carried to 00:20.
        # One IN_USE run (by category) under way when the EVSE is commissioned at 00:00.
        (
            "one raw status",
            every("E1", "2026-11-10 23:40", 5, 6, "CHARGING"),
        ),
        pytest.param(
            "two raw statuses, one IN_USE run",
            every("E1", "2026-11-10 23:40", 5, 3, "CHARGING")
            + every("E1", "2026-11-10 23:55", 5, 3, "SUSPENDEDEV"),
        ),
    ],
)
def test_commissioning_mid_session_counts_the_category_run(name: str, observations) -> None:
    """The engine counts a session under way at commissioning (its documented choice), but only
    when the segment that *starts* the run spans commissioning: 05_evse_us.sql tests
    ``r.t > u.svc_f`` on the first segment, not on the whole category run."""
    static = [connector("A", "S1", "C1", "E1", commissioned_on=date(2026, 11, 11))]
    evse = row(compute("2026-11", observations, static)["evse"], evse_uid="E1")
    # In service from 11 Nov 00:00; IN_USE until 00:20 → 20 minutes, one session either way.
    assert evse["in_use_minutes"] == 20.0
    assert evse["in_use_sessions"] == 1


def test_max_gap_column_of_a_cpo_without_runs() -> None:
    """CPO B is configured with max_gap 30 but sent nothing this month: its EVSE row should
    still say 30 (evse.max_gap_minutes), not the default 15."""
    static = [connector("B", "S9", "C9", "E9")]
    evse = row(compute("2026-11", [], static, max_gap={"B": 30})["evse"], evse_uid="E9")
    assert evse["unknown_minutes"] == 30 * 1440
    assert evse["max_gap_minutes"] == 30
