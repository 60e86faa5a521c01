"""Synthetic histories and site sets: deterministic, well-formed, realistic, streaming."""

from __future__ import annotations

import csv
import io
import itertools
import math
import tracemalloc
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from chargeatlarge.synthetic import (
    PARAMS,
    feed_dropouts,
    generate_history,
    write_observations_csv,
)
from ingest_worker.simulator.model import dropouts, status_events
from shared.observation_import import import_observations
from shared.status import STATUS_CATEGORY, Category, parse_instant

START = datetime(2026, 10, 1, tzinfo=UTC)
FIVE_MINUTES = 300
SYDNEY = ZoneInfo("Australia/Sydney")

EVSES = [("VOLTA", f"AU*VOL*E{1000 + n}*1") for n in range(6)] + [
    ("GUMTREE", f"AU*GUM*E{1000 + n}*1") for n in range(4)
]


def history(evses=EVSES, days: float = 30, seed: int = 1, **kwargs) -> list[dict[str, str]]:
    return list(generate_history(evses, START, START + timedelta(days=days), seed=seed, **kwargs))


def epoch(row: dict[str, str]) -> int:
    return int(parse_instant(row["observed_at"]).timestamp())


@pytest.fixture(scope="module")
def month() -> list[dict[str, str]]:
    return history()


def per_evse(rows: list[dict[str, str]]) -> dict[tuple[str, str], list[dict[str, str]]]:
    out: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        out[(row["cpo_id"], row["evse_uid"])].append(row)
    return out


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert history(days=5) == history(days=5)
    assert history(days=5) != history(days=5, seed=2)


def test_an_evse_history_does_not_depend_on_the_others(month: list[dict[str, str]]) -> None:
    alone = history(evses=[EVSES[2]])
    assert alone == [row for row in month if row["evse_uid"] == EVSES[2][1]]


def test_rows_are_well_formed_and_in_time_order(month: list[dict[str, str]]) -> None:
    assert set(month[0]) == {"cpo_id", "evse_uid", "status", "observed_at"}
    instants = [epoch(row) for row in month]
    assert instants == sorted(instants)
    assert instants[0] >= START.timestamp()
    assert instants[-1] < (START + timedelta(days=30)).timestamp()
    for row in month:
        assert row["observed_at"].endswith("+00:00")
        assert row["status"] in STATUS_CATEGORY
    for rows in per_evse(month).values():
        times = [epoch(row) for row in rows]
        assert all(a < b for a, b in itertools.pairwise(times))
    assert {(row["cpo_id"], row["evse_uid"]) for row in month} == set(EVSES)


def test_evse_order_groups_each_evse(month: list[dict[str, str]]) -> None:
    grouped = history(order="evse")
    assert (
        sorted(grouped, key=lambda r: (epoch(r), EVSES.index((r["cpo_id"], r["evse_uid"]))))
        == month
    )
    seen = [key for key, _ in itertools.groupby(grouped, key=lambda r: r["evse_uid"])]
    assert seen == [uid for _, uid in EVSES]


def test_every_kind_of_status_appears(month: list[dict[str, str]]) -> None:
    statuses = Counter(row["status"] for row in month)
    for status in ("AVAILABLE", "PREPARING", "CHARGING", "SUSPENDEDEV", "FINISHING"):
        assert statuses[status] > 0, status
    assert statuses["FAULTED"] + statuses["OUTOFORDER"] > 0
    assert statuses["UNAVAILABLE"] > 0
    # Mostly available; down (out of order or unavailable) only a small share of the time.
    down = sum(
        n
        for s, n in statuses.items()
        if STATUS_CATEGORY[s] in (Category.OUT_OF_ORDER, Category.UNAVAILABLE)
    )
    assert statuses["AVAILABLE"] > len(month) / 2
    assert 0.002 < down / len(month) < 0.15


def test_reconfirmation_cadence_and_dropouts(month: list[dict[str, str]]) -> None:
    end = (START + timedelta(days=30)).timestamp()
    windows = {cpo: feed_dropouts(cpo, START.timestamp(), end, 1) for cpo in ("VOLTA", "GUMTREE")}
    assert all(windows.values())  # drop-outs exist in a month of every feed
    for cpo, cpo_windows in windows.items():
        # the simulator's drop-out spells of the feed, to whole seconds
        spells = itertools.takewhile(
            lambda spell: spell[0].timestamp() < end, dropouts(1, cpo, START, PARAMS)
        )
        assert cpo_windows == [
            (math.ceil(a.timestamp()), math.ceil(b.timestamp())) for a, b in spells
        ]
        for begin, finish in cpo_windows:
            assert finish - begin >= 60  # the model's shortest drop-out is a minute
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(cpo_windows))
    long_gaps = 0
    for (cpo, _), rows in per_evse(month).items():
        for before, after in itertools.pairwise(rows):
            gap = epoch(after) - epoch(before)
            spanned = [w for w in windows[cpo] if epoch(before) < w[1] and w[0] <= epoch(after)]
            if spanned and gap > FIVE_MINUTES:
                # Silent through the drop-out, reported again the second the feed is back
                # (a drop-out between two re-confirmations hides nothing).
                assert epoch(after) == int(spanned[-1][1])
                long_gaps += 1
            elif before["status"] == after["status"]:
                assert gap == FIVE_MINUTES, (before, after)
            else:
                assert 0 < gap <= FIVE_MINUTES, (before, after)
        for row in rows:
            assert not any(b <= epoch(row) < f for b, f in windows[cpo])
    assert long_gaps > 0


def test_confirm_every_sets_the_cadence() -> None:
    rows = history(evses=EVSES[:2], days=3, confirm_every=timedelta(minutes=10))
    gaps = Counter(
        epoch(b) - epoch(a)
        for evse_rows in per_evse(rows).values()
        for a, b in itertools.pairwise(evse_rows)
        if a["status"] == b["status"]
    )
    assert gaps.most_common(1)[0][0] == 600


def session_starts(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    starts = []
    for evse_rows in per_evse(rows).values():
        for before, after in itertools.pairwise(evse_rows):
            if after["status"] == "PREPARING" and before["status"] != "PREPARING":
                starts.append(after)
    return starts


def test_daily_profile_and_dc_busier_than_ac() -> None:
    evses = [("KOALA", f"AU*KOA*E{1000 + n}*1") for n in range(40)]
    dc = set(evses[:20])
    rows = history(evses=evses, days=28, seed=5, dc_evses=dc, confirm_every=timedelta(hours=1))
    starts = session_starts(rows)
    by_hour = Counter(parse_instant(r["observed_at"]).astimezone(SYDNEY).hour for r in starts)
    peak = sum(by_hour[h] for h in (7, 8, 16, 17, 18)) / 5
    night = sum(by_hour[h] for h in (1, 2, 3, 4)) / 4
    assert peak > 4 * night
    dc_starts = sum(1 for r in starts if (r["cpo_id"], r["evse_uid"]) in dc)
    assert dc_starts > 1.5 * (len(starts) - dc_starts)


def test_the_history_is_the_simulator_status_model() -> None:
    """One status model for backfill and live feeds: every status change of a history is a
    status change of ``ingest_worker.simulator.model`` at that second, or the report of the
    current status when the feed is back from a drop-out."""
    evse = ("KOALA", "AU*KOA*E1*1")
    end = START + timedelta(days=10)
    rows = history(evses=[evse], days=10, seed=9, dc_evses={evse})
    events = itertools.takewhile(
        lambda e: e.at < end, status_events(9, "KOALA|AU*KOA*E1*1", START, PARAMS, SYDNEY, True)
    )
    model = {(round(e.at.timestamp()), e.status) for e in events}
    back = {int(b) for _, b in feed_dropouts("KOALA", START.timestamp(), end.timestamp(), 9)}
    changes = [(epoch(b), b["status"]) for a, b in itertools.pairwise(rows)
               if a["status"] != b["status"]]  # fmt: skip
    assert len(changes) > 100  # ten days of a DC port's sessions
    assert all(change in model or change[0] in back for change in changes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2026, 10, 1)}, "start: must be timezone-aware"),
        ({"end": datetime(2026, 10, 2)}, "end: must be timezone-aware"),
        ({"end": START - timedelta(seconds=1)}, "end: .* is before start"),
        ({"confirm_every": timedelta(0)}, "confirm_every: must be positive"),
        ({"order": "random"}, "order: 'random' is neither"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    arguments = {"start": START, "end": START + timedelta(days=1), **kwargs}
    with pytest.raises(ValueError, match=message):
        list(generate_history(EVSES, seed=1, **arguments))


def test_fractional_start_and_end_stay_inside_the_period() -> None:
    start = START + timedelta(seconds=0.6)
    end = START + timedelta(hours=6, seconds=0.4)
    rows = list(generate_history(EVSES[:3], start, end, seed=1))
    assert rows[0]["observed_at"] == "2026-10-01T00:00:01+00:00"
    assert all(start <= parse_instant(row["observed_at"]) < end for row in rows)


def test_empty_inputs_give_no_rows() -> None:
    assert list(generate_history([], START, START + timedelta(days=1), seed=1)) == []
    assert list(generate_history(EVSES, START, START, seed=1)) == []


def test_streaming_memory_stays_flat() -> None:
    evses = [("VOLTA", f"AU*VOL*E{1000 + n}*1") for n in range(20)]
    rows = generate_history(evses, START, START + timedelta(days=250), seed=3)
    tracemalloc.start()
    try:
        consumed = sum(1 for _ in itertools.islice(rows, 1_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert consumed == 1_000_000
    assert peak < 8 * 2**20  # 1M rows as dicts would take hundreds of MiB


def test_csv_writer_round_trips(tmp_path: Path) -> None:
    rows = history(evses=EVSES[:3], days=2)
    assert write_observations_csv(iter(rows), tmp_path / "h.csv") == len(rows)
    text = (tmp_path / "h.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "cpo_id,evse_uid,status,observed_at"
    assert list(csv.DictReader(io.StringIO(text))) == rows


def test_written_history_imports_cleanly(engine: Engine, tmp_path: Path) -> None:
    evses = [e for e in EVSES if e[0] == "VOLTA"][:3]
    path = tmp_path / "VOLTA.csv"
    count = write_observations_csv(
        generate_history(evses, START, START + timedelta(days=2), seed=1), path
    )
    result = import_observations(engine, path, "VOLTA", default_max_gap_minutes=15)
    assert result.rejected == 0
    assert result.accepted + result.duplicate == count
