"""Spec section 3, exactness: the same observations and liveness signals, in any arrival order
and any split into batches, give the same stored runs and the same timeline as a plain
in-order computation of the definition (written here independently of ``shared.timeline``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from shared.db.engine import make_engine, upgrade
from shared.db.observations import ObservationStore
from shared.db.tables import status_run
from shared.status import Observation
from shared.timeline import Run, merge_runs, status_intervals

T0 = datetime(2026, 10, 1, tzinfo=UTC)
GAP_MIN = 15
GAP = timedelta(minutes=GAP_MIN)
# Instants in whole seconds after T0, so the reference is exact integer arithmetic.
GAP_S = GAP_MIN * 60
END_S = 300 * 60
STATUSES = ["AVAILABLE", "CHARGING", "FAULTED", "UNKNOWN"]


def reference_timeline(
    points: list[tuple[int, str | None]],
) -> list[tuple[int, int, str]]:
    """The definition, in seconds over [0, END_S): points in the order received, None being
    a liveness signal (an observation of the last status before it in time order)."""
    at_instant: dict[int, tuple[int, str | None]] = {}
    for seq, (minute, status) in enumerate(points):
        held = at_instant.get(minute)
        if status is None:
            if held is None:
                at_instant[minute] = (seq, None)
        else:
            at_instant[minute] = (seq, status)  # received last wins
    timeline: list[tuple[int, int, str]] = []
    ordered = sorted(at_instant)
    last_status: str | None = None
    resolved: list[tuple[int, str]] = []
    for minute in ordered:
        status = at_instant[minute][1]
        if status is None:
            status = last_status
        if status is None:
            continue
        resolved.append((minute, status))
        last_status = status
    cursor = 0
    for index, (minute, status) in enumerate(resolved):
        nxt = resolved[index + 1][0] if index + 1 < len(resolved) else END_S
        until = min(nxt, minute + GAP_S, END_S)
        lo = max(minute, 0)
        if lo < until:
            if cursor < lo:
                timeline.append((cursor, lo, "UNKNOWN"))
            timeline.append((lo, until, status))
            cursor = until
    if cursor < END_S:
        timeline.append((cursor, END_S, "UNKNOWN"))
    joined: list[tuple[int, int, str]] = []
    for piece in timeline:
        if joined and joined[-1][2] == piece[2] and joined[-1][1] == piece[0]:
            joined[-1] = (joined[-1][0], piece[1], piece[2])
        else:
            joined.append(piece)
    return joined


def seconds(pieces: list[tuple[datetime, datetime, str]]) -> list[tuple[int, int, str]]:
    one = timedelta(seconds=1)
    return [((a - T0) // one, (b - T0) // one, s) for a, b, s in pieces]


def check_runs(runs: list[Run]) -> None:
    starts = [run.started_at for run in runs]
    assert len(set(starts)) == len(starts), "two runs share a start"
    for a, b in zip(runs, runs[1:], strict=False):
        assert a.last_confirmed_at < b.started_at, "runs overlap"


# A history: points on a coarse grid (so ties and re-confirmations are common) and a few with
# odd seconds; liveness signals among them.
point = st.tuples(
    st.one_of(
        st.integers(0, 60).map(lambda n: n * 300),
        st.integers(0, END_S),
    ),
    st.one_of(st.sampled_from(STATUSES), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(point, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_merge_is_exact_in_any_arrival_order(
    history: list[tuple[int, str | None]], rnd: random.Random
) -> None:
    # Ties at one instant are decided by arrival order, so shuffling keeps the relative order
    # of the points at each instant (the spec's "received last wins").
    keyed = list(enumerate(history))
    rnd.shuffle(keyed)
    by_instant: dict[int, list[int]] = {}
    for seq, (minute, _) in enumerate(history):
        by_instant.setdefault(minute, []).append(seq)
    slots = {m: iter(seqs) for m, seqs in by_instant.items()}
    # A liveness signal that arrives before any observation precedes it confirms nothing (the
    # store has no status to give it), so each history starts with an observation, sent first.
    arrival: list[tuple[int, str | None]] = [(0, "AVAILABLE")] + [
        history[next(slots[history[i][0]])] for i, _ in keyed
    ]
    # A liveness signal vouches for the status at its own time, whatever arrived before it, so
    # the in-order reference is the history sorted by instant, stable.
    expected = reference_timeline(sorted(arrival, key=lambda p: p[0]))

    runs: list[Run] = []
    index = 0
    while index < len(arrival):
        size = rnd.randint(1, 6)
        batch = arrival[index : index + size]
        index += size
        merged = merge_runs(runs, [(T0 + timedelta(seconds=m), s) for m, s in batch], GAP)
        runs = merged.runs
        check_runs(runs)
    got = seconds(status_intervals(runs, GAP, T0, T0 + timedelta(seconds=END_S)))
    assert got == expected


def _fresh_engine(path: str) -> Engine:
    upgrade(f"sqlite:///{path}")
    return make_engine(f"sqlite:///{path}")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.sampled_from(["E1", "E2"]), point), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_store_gives_the_same_runs_in_any_arrival_order(
    tmp_path_factory, history: list[tuple[str, tuple[int, str | None]]], rnd: random.Random
) -> None:
    """Through the SQL store (runs, marks, liveness context, carried chains): every arrival
    order and batch split of the same history stores the same runs, equal to the definition
    (each history starts with one observation per EVSE, sent first)."""
    engine = _fresh_engine(str(tmp_path_factory.mktemp("exact") / "db.sqlite"))
    try:
        store = ObservationStore(engine, GAP_MIN)
        outcomes = []
        for attempt in range(3):
            with engine.begin() as connection:
                connection.execute(delete(status_run))
            order = list(history)
            if attempt:
                # Shuffle, keeping the arrival order of points at the same instant of an EVSE.
                keys = [(evse, m) for evse, (m, _) in history]
                rnd.shuffle(order)
                queues: dict[tuple[str, int], list] = {}
                for item in history:
                    queues.setdefault((item[0], item[1][0]), []).append(item)
                order = [queues[(evse, m)].pop(0) for evse, (m, _) in order]
                assert sorted(keys) == sorted((e, m) for e, (m, _) in order)
            order = [("E1", (0, "AVAILABLE")), ("E2", (0, "CHARGING")), *order]
            index = 0
            while index < len(order):
                size = rnd.randint(1, 8)
                batch = order[index : index + size]
                index += size
                with engine.begin() as connection:
                    for evse, (minute, status) in batch:
                        instant = T0 + timedelta(seconds=minute)
                        if status is None:
                            store.confirm_in(connection, "ACME", instant, [evse])
                        else:
                            store.write_in(connection, [Observation("ACME", evse, status, instant)])
            with engine.connect() as connection:
                rows = connection.execute(
                    select(
                        status_run.c.evse_uid,
                        status_run.c.status,
                        status_run.c.started_at,
                        status_run.c.last_confirmed_at,
                        status_run.c.instants,
                        status_run.c.carried,
                    ).order_by(status_run.c.evse_uid, status_run.c.started_at)
                ).all()
            outcomes.append([tuple(r) for r in rows])
            for evse in ("E1", "E2"):
                runs = [
                    Run(s, a.replace(tzinfo=UTC), b.replace(tzinfo=UTC))
                    for e, s, a, b, _, _ in rows
                    if e == evse
                ]
                check_runs(runs)
                mine = [(m, s) for e, (m, s) in order if e == evse]
                expected = reference_timeline(sorted(mine, key=lambda p: p[0]))
                got = seconds(status_intervals(runs, GAP, T0, T0 + timedelta(seconds=END_S)))
                assert got == expected, evse
        assert outcomes[0] == outcomes[1] == outcomes[2]
    finally:
        engine.dispose()
