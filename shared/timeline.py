"""Spec section 3 in storage form: merging observations into status runs of one EVSE.

A run is a stretch of one raw status whose observations followed each other within
``max_gap``, so the status is known from ``started_at`` to ``last_confirmed_at`` and carries
forward ``max_gap`` beyond it (never past the next run's start). Merging is exact for
observations that arrive in time order, late observations that fall between runs, and any
order inside one merge call. One case cannot be exact without keeping every re-confirmation:
a late observation of a *different* status that lands strictly inside a stored run. There the
stored run is split and resumes at ``min(t + max_gap, last_confirmed_at)``, the latest instant
its next re-confirmation can have had; the error is bounded by ``max_gap``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(slots=True)
class Run:
    status: str
    started_at: datetime
    last_confirmed_at: datetime
    run_id: int | None = None


@dataclass(slots=True)
class MergeResult:
    runs: list[Run]
    duplicate: int
    changed: bool


def merge_runs(
    existing: Sequence[Run],
    points: Iterable[tuple[datetime, str]],
    max_gap: timedelta,
) -> MergeResult:
    """Merge ``points`` (observed_at, status), in the order received, into one EVSE's runs.

    ``existing`` must be sorted, non-overlapping runs of the same EVSE. Points received later
    win ties at the same instant over earlier points and over stored runs. A point that adds
    nothing (same status, already inside a run) counts as a duplicate.
    """
    items: list[tuple[datetime, int, int, Run | None, str]] = [
        (run.started_at, 0, i, run, run.status) for i, run in enumerate(existing)
    ]
    items.extend((at, 1, seq, None, status) for seq, (at, status) in enumerate(points))
    heapq.heapify(items)
    tails = len(items)

    out: list[Run] = []
    cur: Run | None = None
    duplicate = 0

    def close(run: Run) -> None:
        if (
            out
            and out[-1].status == run.status
            and run.started_at - out[-1].last_confirmed_at <= max_gap
        ):
            out[-1].last_confirmed_at = max(out[-1].last_confirmed_at, run.last_confirmed_at)
        else:
            out.append(run)

    while items:
        at, _, _, stored, status = heapq.heappop(items)
        if stored is not None:
            if cur is not None and status == cur.status and at - cur.last_confirmed_at <= max_gap:
                cur.last_confirmed_at = max(cur.last_confirmed_at, stored.last_confirmed_at)
            else:
                if cur is not None:
                    close(cur)
                cur = replace(stored)
            continue
        if cur is None:
            cur = Run(status, at, at)
        elif at > cur.last_confirmed_at:
            if status == cur.status and at - cur.last_confirmed_at <= max_gap:
                cur.last_confirmed_at = at
            else:
                close(cur)
                cur = Run(status, at, at)
        elif status == cur.status:
            duplicate += 1
        elif at == cur.started_at == cur.last_confirmed_at:
            # Same instant, received later: the new status replaces the old one outright.
            cur = Run(status, at, at)
            if out and out[-1].status == status and at - out[-1].last_confirmed_at <= max_gap:
                cur = out.pop()
                cur.last_confirmed_at = max(cur.last_confirmed_at, at)
        elif at == cur.last_confirmed_at:
            close(cur)
            cur = Run(status, at, at)
        else:
            # A different status strictly inside a stored run: split it (see module docstring).
            if at > cur.started_at:
                close(Run(cur.status, cur.started_at, at, cur.run_id))
            resume = min(at + max_gap, cur.last_confirmed_at)
            tails += 1
            heapq.heappush(
                items,
                (resume, 0, tails, Run(cur.status, resume, cur.last_confirmed_at), cur.status),
            )
            cur = Run(status, at, at)
    if cur is not None:
        close(cur)

    changed = len(out) != len(existing) or any(
        (a.status, a.started_at, a.last_confirmed_at)
        != (b.status, b.started_at, b.last_confirmed_at)
        for a, b in zip(out, existing, strict=False)
    )
    return MergeResult(out, duplicate, changed)


def status_intervals(
    runs: Sequence[Run], max_gap: timedelta, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """The timeline of one EVSE over ``[start, end)`` as (from, to, raw status or "UNKNOWN").

    Each run holds its status from ``started_at`` until ``last_confirmed_at + max_gap`` or the next
    run's start, whichever is first; everything else is UNKNOWN. Adjacent pieces with the same
    status are joined.
    """
    pieces: list[tuple[datetime, datetime, str]] = []
    ordered = sorted(runs, key=lambda run: run.started_at)
    for index, run in enumerate(ordered):
        until = run.last_confirmed_at + max_gap
        if index + 1 < len(ordered):
            until = min(until, ordered[index + 1].started_at)
        lo, hi = max(run.started_at, start), min(until, end)
        if lo < hi:
            pieces.append((lo, hi, run.status))
    timeline: list[tuple[datetime, datetime, str]] = []
    cursor = start
    for lo, hi, status in pieces:
        if cursor < lo:
            timeline.append((cursor, lo, "UNKNOWN"))
        timeline.append((lo, hi, status))
        cursor = hi
    if cursor < end:
        timeline.append((cursor, end, "UNKNOWN"))
    joined: list[tuple[datetime, datetime, str]] = []
    for piece in timeline:
        if joined and joined[-1][2] == piece[2] and joined[-1][1] == piece[0]:
            joined[-1] = (joined[-1][0], piece[1], piece[2])
        else:
            joined.append(piece)
    return joined
