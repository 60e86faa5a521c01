"""Spec section 3, table-driven: observations (in the batches they arrive in) → the EVSE's timeline.

Times are minutes after 2026-10-01T00:00Z, max_gap is 15 minutes, and the timeline is read over
[0, 120). Every expected timeline was worked out by hand from the spec's rules.
"""

from datetime import UTC, datetime, timedelta

import pytest

from shared.timeline import Run, merge_runs, status_intervals

T0 = datetime(2026, 10, 1, tzinfo=UTC)
GAP = timedelta(minutes=15)
U = "UNKNOWN"


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def timeline_of(
    batches: list[list[tuple[float, str]]],
) -> tuple[list[tuple[float, float, str]], int]:
    runs: list[Run] = []
    duplicates = 0
    for batch in batches:
        merged = merge_runs(runs, [(at(m), s) for m, s in batch], GAP)
        runs, duplicates = merged.runs, duplicates + merged.duplicate
    pieces = status_intervals(runs, GAP, at(0), at(120))
    minutes = [
        ((a - T0) / timedelta(minutes=1), (b - T0) / timedelta(minutes=1), s) for a, b, s in pieces
    ]
    return minutes, duplicates


CASES = [
    (
        "one observation carries max_gap",
        [[(0, "AVAILABLE")]],
        [(0, 15, "AVAILABLE"), (15, 120, U)],
        0,
    ),
    (
        "re-confirmations keep it known",
        [[(0, "AVAILABLE"), (10, "AVAILABLE"), (20, "AVAILABLE")]],
        [(0, 35, "AVAILABLE"), (35, 120, U)],
        0,
    ),
    (
        "a gap longer than max_gap is unknown",
        [[(0, "AVAILABLE"), (20, "AVAILABLE")]],
        [(0, 15, "AVAILABLE"), (15, 20, U), (20, 35, "AVAILABLE"), (35, 120, U)],
        0,
    ),
    (
        "a gap of exactly max_gap stays known",
        [[(0, "AVAILABLE"), (15, "AVAILABLE")]],
        [(0, 30, "AVAILABLE"), (30, 120, U)],
        0,
    ),
    (
        "a change ends the previous status",
        [[(0, "AVAILABLE"), (10, "CHARGING")]],
        [(0, 10, "AVAILABLE"), (10, 25, "CHARGING"), (25, 120, U)],
        0,
    ),
    (
        "unknown before the first observation",
        [[(30, "FAULTED")]],
        [(0, 30, U), (30, 45, "FAULTED"), (45, 120, U)],
        0,
    ),
    (
        "exact duplicates add nothing",
        [[(0, "AVAILABLE"), (0, "AVAILABLE"), (10, "AVAILABLE")]],
        [(0, 25, "AVAILABLE"), (25, 120, U)],
        1,
    ),
    (
        "same instant: the one received last wins",
        [[(10, "AVAILABLE"), (10, "CHARGING")]],
        [(0, 10, U), (10, 25, "CHARGING"), (25, 120, U)],
        0,
    ),
    (
        "same instant across batches: the later batch wins",
        [[(10, "AVAILABLE")], [(10, "FAULTED")]],
        [(0, 10, U), (10, 25, "FAULTED"), (25, 120, U)],
        0,
    ),
    (
        "unsorted within a batch",
        [[(20, "AVAILABLE"), (0, "AVAILABLE"), (10, "CHARGING")]],
        [(0, 10, "AVAILABLE"), (10, 20, "CHARGING"), (20, 35, "AVAILABLE"), (35, 120, U)],
        0,
    ),
    (
        "late observation between runs, too far from both",
        [[(0, "AVAILABLE"), (40, "AVAILABLE")], [(20, "AVAILABLE")]],
        [
            (0, 15, "AVAILABLE"),
            (15, 20, U),
            (20, 35, "AVAILABLE"),
            (35, 40, U),
            (40, 55, "AVAILABLE"),
            (55, 120, U),
        ],
        0,
    ),
    (
        "late observation bridges two runs",
        [[(0, "AVAILABLE"), (20, "AVAILABLE")], [(10, "AVAILABLE")]],
        [(0, 35, "AVAILABLE"), (35, 120, U)],
        0,
    ),
    (
        "late different status between runs",
        [[(0, "AVAILABLE"), (40, "AVAILABLE")], [(10, "CHARGING")]],
        [
            (0, 10, "AVAILABLE"),
            (10, 25, "CHARGING"),
            (25, 40, U),
            (40, 55, "AVAILABLE"),
            (55, 120, U),
        ],
        0,
    ),
    (
        "late re-send of the same batch changes nothing",
        [
            [(0, "AVAILABLE"), (10, "CHARGING"), (20, "CHARGING")],
            [(0, "AVAILABLE"), (10, "CHARGING"), (20, "CHARGING")],
        ],
        [(0, 10, "AVAILABLE"), (10, 35, "CHARGING"), (35, 120, U)],
        3,
    ),
    (
        "late change right after a run's last confirmation",
        [[(0, "AVAILABLE"), (10, "AVAILABLE")], [(12, "FAULTED")]],
        [(0, 12, "AVAILABLE"), (12, 27, "FAULTED"), (27, 120, U)],
        0,
    ),
    (
        "a status before an existing run shortens nothing after it",
        [[(30, "CHARGING")], [(20, "AVAILABLE")]],
        [(0, 20, U), (20, 30, "AVAILABLE"), (30, 45, "CHARGING"), (45, 120, U)],
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "batches", "expected", "duplicates"), CASES, ids=[c[0] for c in CASES]
)
def test_timeline(name: str, batches, expected, duplicates) -> None:
    timeline, seen_duplicates = timeline_of(batches)
    assert timeline == expected
    assert seen_duplicates == duplicates


def test_each_case_is_the_same_whether_sent_in_one_batch_or_in_order() -> None:
    for name, batches, expected, _ in CASES:
        flat = [obs for batch in batches for obs in batch]
        assert timeline_of([flat])[0] == expected, name


def test_late_change_inside_a_run_is_exact() -> None:
    # Sent together the spec gives A[0,7) B[7,10) A[10,35); sent late, the same, because the
    # run kept its re-confirmation at 10 (spec section 3, exactness).
    stored = [(0, "AVAILABLE"), (5, "AVAILABLE"), (10, "AVAILABLE"), (15, "AVAILABLE")]
    stored.append((20, "AVAILABLE"))
    exact = [(0, 7, "AVAILABLE"), (7, 10, "CHARGING"), (10, 35, "AVAILABLE"), (35, 120, U)]
    together = sorted([*stored, (7, "CHARGING")])
    assert timeline_of([together])[0] == exact
    assert timeline_of([stored, [(7, "CHARGING")]])[0] == exact
    # One point at a time, newest first: still the same.
    assert timeline_of([[p] for p in reversed(together)])[0] == exact


def test_late_same_status_point_is_kept_for_later_splits() -> None:
    # The point at 12 changes nothing now, but when CHARGING at 11 arrives later, the old
    # status resumes at 12, not at 20.
    batches = [
        [(0, "AVAILABLE"), (10, "AVAILABLE"), (20, "AVAILABLE")],
        [(12, "AVAILABLE")],
        [(11, "CHARGING")],
    ]
    assert timeline_of(batches)[0] == [
        (0, 11, "AVAILABLE"),
        (11, 12, "CHARGING"),
        (12, 35, "AVAILABLE"),
        (35, 120, U),
    ]


def test_the_same_point_again_is_a_duplicate() -> None:
    runs = merge_runs([], [(at(0), "AVAILABLE"), (at(10), "AVAILABLE")], GAP).runs
    again = merge_runs(runs, [(at(10), "AVAILABLE"), (at(0), "AVAILABLE")], GAP)
    assert not again.changed and again.duplicate == 2


LIVE = None


def test_liveness_confirms_the_status_before_it_in_time_order() -> None:
    # Heartbeats at 10 and 20 confirm AVAILABLE; a late FAULTED at 5 makes them confirm FAULTED,
    # exactly as if it had arrived in order.
    in_order = [[(0, "AVAILABLE"), (5, "FAULTED"), (10, LIVE), (20, LIVE)]]
    late = [[(0, "AVAILABLE")], [(10, LIVE)], [(20, LIVE)], [(5, "FAULTED")]]
    expected = [(0, 5, "AVAILABLE"), (5, 35, "FAULTED"), (35, 120, U)]
    assert timeline_of(in_order)[0] == expected
    assert timeline_of(late)[0] == expected


def test_liveness_after_a_gap_starts_a_run_of_the_last_status() -> None:
    assert timeline_of([[(0, "CHARGING")], [(40, LIVE)]])[0] == [
        (0, 15, "CHARGING"),
        (15, 40, U),
        (40, 55, "CHARGING"),
        (55, 120, U),
    ]


def test_liveness_never_overrides_an_observation_at_its_instant() -> None:
    runs = merge_runs([], [(at(0), "AVAILABLE"), (at(10), "FAULTED")], GAP).runs
    again = merge_runs(runs, [(at(10), LIVE)], GAP)
    assert not again.changed and again.duplicate == 1


def test_liveness_before_any_observation_confirms_nothing() -> None:
    assert timeline_of([[(0, LIVE)], [(10, "AVAILABLE")]])[0] == [
        (0, 10, U),
        (10, 25, "AVAILABLE"),
        (25, 120, U),
    ]
