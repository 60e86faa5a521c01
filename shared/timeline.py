"""Spec section 3 in storage form: merging observations into status runs of one EVSE.

A run is a stretch of one raw status whose instants followed each other within ``max_gap``,
so the status is known from ``started_at`` to ``last_confirmed_at`` and carries forward
``max_gap`` beyond it (never past the next run's start).

Merging is exact whatever the arrival order, because a run keeps every distinct instant it
was observed at (``marks``): an observation, or a liveness signal, which observes "the
unchanged last status" and so takes the status of the instant before it in time order. A late
observation that lands inside a stored run therefore splits it exactly: the liveness instants
after it now confirm the late status, and the old status resumes at the next observation of
it. At one instant the point received last wins; a liveness signal adds nothing at an instant
that is already observed. A liveness signal with no observation before it confirms nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(instant: datetime) -> int:
    """An instant as integer microseconds since the epoch (naive datetimes are UTC)."""
    return (instant - (_EPOCH if instant.tzinfo is None else _EPOCH_UTC)) // _US


def from_us(value: int, aware: bool) -> datetime:
    instant = _EPOCH + timedelta(microseconds=int(value))
    return instant.replace(tzinfo=UTC) if aware else instant


def encode_marks(marks: Sequence[int]) -> bytes | None:
    """A run's marks (``instant_us * 2 + is_liveness``, ascending) as stored bytes.

    None for the common run that is nothing but observations at its first and last instant,
    which is also how runs stored before marks existed read back.
    """
    if len(marks) <= 2 and not any(m & 1 for m in marks):
        return None
    values = np.asarray(marks, dtype=np.int64)
    codes = np.empty_like(values)
    codes[0] = values[0] & 1
    # Deltas of instants, each doubled with its liveness bit: small, repetitive, compressible.
    codes[1:] = ((values[1:] >> 1) - (values[:-1] >> 1)) * 2 + (values[1:] & 1)
    return zlib.compress(codes.astype("<i8").tobytes(), 1)


def decode_marks(data: bytes | None, started_us: int, last_us: int) -> list[int]:
    if data is None:
        return [started_us * 2] if started_us == last_us else [started_us * 2, last_us * 2]
    codes = np.frombuffer(zlib.decompress(data), dtype="<i8").astype(np.int64)
    instants = started_us + np.cumsum(codes >> 1) - (codes[0] >> 1)
    return (instants * 2 + (codes & 1)).tolist()


@dataclass(slots=True)
class Run:
    status: str
    started_at: datetime
    last_confirmed_at: datetime
    run_id: int | None = None
    # instant_us * 2 + 1 for a liveness signal, + 0 for an observation; None: observed at
    # started_at and last_confirmed_at only.
    marks: list[int] | None = None

    def all_marks(self) -> list[int]:
        if self.marks is not None:
            return self.marks
        return decode_marks(None, to_us(self.started_at), to_us(self.last_confirmed_at))

    @property
    def carried(self) -> bool:
        """The run starts with a liveness signal: its status follows the instant before it."""
        return bool(self.all_marks()[0] & 1)


@dataclass(slots=True)
class MergeResult:
    runs: list[Run]
    duplicate: int
    changed: bool
    # The status at the last instant changed: carried runs right after may change too.
    tail_changed: bool = False
    # Where the duplicates were: their positions among the points, in the order given.
    duplicate_at: list[int] = field(default_factory=list)


def merge_runs(
    existing: Sequence[Run],
    points: Iterable[tuple[datetime | int, str | None]],
    max_gap: timedelta,
    before: str | None = None,
) -> MergeResult:
    """Merge ``points`` (observed_at as a datetime or as microseconds since the epoch, status;
    None for a liveness signal), in the order received, into one EVSE's stored runs.

    ``existing`` must be sorted, non-overlapping runs of the same EVSE that hold every run
    which can touch the points (every run within ``max_gap`` of one). A point that adds
    nothing (the same observation again, a liveness signal at an instant already held)
    counts as a duplicate. ``before`` is the status of the run just before ``existing`` (the
    status a liveness signal confirms when nothing in ``existing`` precedes it).
    """
    gap_us = max_gap // _US
    aware = next(
        (run.started_at.tzinfo is not None for run in existing),
        None,
    )
    # instant → (status, is_liveness). A stored liveness instant keeps its resolved status as
    # the fallback for when nothing before it is in the window (nothing before it changed).
    events: dict[int, tuple[str | None, bool]] = {}
    old_tail: str | None = None
    for run in existing:
        for mark in run.all_marks():
            events[mark >> 1] = (run.status, bool(mark & 1))
        old_tail = run.status
    duplicate_at: list[int] = []
    for index, (at, status) in enumerate(points):
        if isinstance(at, int):
            t = at
        else:
            if aware is None:
                aware = at.tzinfo is not None
            t = to_us(at)
        held = events.get(t)
        if status is None:
            if held is not None:
                duplicate_at.append(index)
            else:
                events[t] = (None, True)
        elif held is not None and held == (status, False):
            duplicate_at.append(index)
        else:
            events[t] = (status, False)

    runs: list[Run] = []
    current: str | None = None
    marks: list[int] = []
    last_t = 0
    previous = before
    for t in sorted(events):
        stored, live = events[t]
        if live:
            status = previous if previous is not None else stored
            if status is None:
                continue  # a liveness signal before any observation confirms nothing
        else:
            status = stored
        assert status is not None
        if current is not None and status == current and t - last_t <= gap_us:
            marks.append(t * 2 + live)
        else:
            if current is not None:
                runs.append(_run(current, marks, bool(aware)))
            current, marks = status, [t * 2 + live]
        previous, last_t = status, t
    if current is not None:
        runs.append(_run(current, marks, bool(aware)))

    changed = len(runs) != len(existing) or any(
        (a.status, a.started_at, a.last_confirmed_at, a.all_marks())
        != (b.status, b.started_at, b.last_confirmed_at, b.all_marks())
        for a, b in zip(runs, existing, strict=False)
    )
    if changed:
        # Keep the ids of runs that did not change, so the store rewrites only what did.
        kept = {(r.status, to_us(r.started_at), tuple(r.all_marks())): r.run_id for r in existing}
        for run in runs:
            run.run_id = kept.get((run.status, to_us(run.started_at), tuple(run.all_marks())))
    tail = runs[-1].status if runs else None
    return MergeResult(runs, len(duplicate_at), changed, changed and tail != old_tail, duplicate_at)


def _run(status: str, marks: list[int], aware: bool) -> Run:
    simple = len(marks) <= 2 and not any(m & 1 for m in marks)
    return Run(
        status,
        from_us(marks[0] >> 1, aware),
        from_us(marks[-1] >> 1, aware),
        None,
        None if simple else marks,
    )


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
