"""Spec section 3 across paths: the same observations pushed over REST in random batches and
arrival orders, and imported from a file, give the same stored runs (the monthly figures are a
function of the runs)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from shared.db.engine import make_engine
from shared.db.tables import status_run
from shared.observation_import import import_observations
from tests.ingest_worker.conftest import query_rows, wait_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def history(rng: random.Random) -> list[tuple[str, str, datetime]]:
    rows = []
    for evse in ("E1", "E2", "E3"):
        at, status = T0, "AVAILABLE"
        for _ in range(120):
            rows.append((evse, status, at))
            at += timedelta(seconds=rng.choice([60, 300, 600, 1200]))
            if rng.random() < 0.2:
                status = rng.choice(["AVAILABLE", "CHARGING", "FAULTED", "UNKNOWN"])
    return rows


def runs_of(settings, cpo: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return query_rows(
        settings,
        select(
            status_run.c.evse_uid,
            status_run.c.status,
            status_run.c.started_at,
            status_run.c.last_confirmed_at,
        )
        .where(status_run.c.cpo_id == cpo)
        .order_by(status_run.c.evse_uid, status_run.c.started_at),
    )


def test_rest_in_any_order_equals_the_import(worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, settings = worker
    rng = random.Random(11)
    rows = history(rng)
    log = tmp_path / "log.csv"
    log.write_text(
        "evse_uid,status,observed_at\n" + "".join(f"{e},{s},{a.isoformat()}\n" for e, s, a in rows)
    )
    engine = make_engine(settings.database_url)
    try:
        import_observations(engine, log, "OTHER", default_max_gap_minutes=15)
    finally:
        engine.dispose()
    shuffled = rows[:]
    rng.shuffle(shuffled)
    sent = 0
    while sent < len(shuffled):
        size = rng.randint(1, 40)
        batch = shuffled[sent : sent + size]
        sent += size
        response = httpx.post(
            f"{url}/api/v1/observations",
            json={
                "observations": [
                    {"evse_uid": e, "status": s, "observed_at": a.isoformat()} for e, s, a in batch
                ]
            },
            headers={"Authorization": "Bearer acme-rest-secret"},
            timeout=30,
        )
        assert response.status_code == 202 and response.json()["accepted"] == len(batch)
    expected = runs_of(settings, "OTHER")
    assert len(expected) > 20
    wait_for(lambda: runs_of(settings, "ACME") == expected, timeout=60)
