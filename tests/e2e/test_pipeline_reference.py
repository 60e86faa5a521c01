"""The whole monthly pipeline against an independent reading of the spec: static site CSV
through ``validate_sites_csv``/``store_sites``, observation logs (rows in arrival order, not in
time order, same-instant ties) through ``import_observations``, exclusions proposed and
approved through the exclusion store, then ``run_month`` writing Parquet — compared, EVSE by
EVSE and outage by outage, with the minute-by-minute reference of
``tests/shared/metrics/test_reference.py``, to 0.01 minutes.

The engine test compares the engine with the reference on runs built in the test; this one
also covers what stands between a CPO's file and the engine: the import's sort, the exact run
store, the job's reading of runs, sites and exclusions.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from shared.blobstore import LocalBlobStore
from shared.exclusions import Proposal, approve, propose
from shared.layout import monthly_table_blob
from shared.monthly.job import run_month
from shared.observation_import import import_observations
from shared.sites import COLUMNS, store_sites, validate_sites_csv
from tests.shared.metrics.test_reference import instant, reference, scenario


def sites_csv(connectors: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in connectors:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode()


def parquet(store: LocalBlobStore, month: str, table: str) -> list[dict]:
    return pq.read_table(io.BytesIO(store.get(monthly_table_blob(month, table)))).to_pylist()


@pytest.mark.parametrize(("seed", "month"), [(3, "2026-04"), (4, "2026-11"), (5, "2026-10")])
def test_import_to_parquet_equals_the_minute_reference(
    engine: Engine, blobstore: LocalBlobStore, tmp_path: Path, seed: int, month: str
) -> None:
    ps, pe, connectors, observations, gaps, plan, exclusions = scenario(seed, month)
    validated = validate_sites_csv(sites_csv(connectors), "sites.csv")
    assert not validated.problems, validated.problems[:3]
    store_sites(blobstore, validated)
    for cpo_id, gap in gaps.items():
        log = tmp_path / f"{cpo_id}.csv"
        with log.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["evse_uid", "status", "observed_at"])
            for cpo, evse, at, status in observations:  # arrival order: the later line wins ties
                if cpo == cpo_id:
                    writer.writerow([evse, status, at.isoformat()])
        result = import_observations(
            engine, log, cpo_id, default_max_gap_minutes=15, max_gap_minutes=float(gap)
        )
        assert result.rejected == 0
    ids = propose(
        engine,
        [
            Proposal(
                cpo_id=cpo,
                scope=scope,
                scope_id=sid,
                from_at=instant(f),
                to_at=instant(t),
                cause=cause,
            )  # fmt: skip
            for _, cpo, scope, sid, f, t, cause in exclusions
        ],
        actor="analyst:test",
    )
    for exclusion_id in ids:
        approve(engine, exclusion_id, actor="analyst:test")

    run_month(
        month,
        engine=engine,
        store=blobstore,
        tz="Australia/Sydney",
        default_max_gap_minutes=15,
        uptime_threshold_pct=98,
        now=instant(pe) + timedelta(days=2),
    )
    evse_rows = {(r["cpo_id"], r["evse_uid"]): r for r in parquet(blobstore, month, "evse")}
    outages = sorted(
        (r["cpo_id"], r["evse_uid"], r["category"], r["started_at"], r["ended_at"],
         r["minutes_in_period"], r["excluded_minutes_in_period"], r["causes"])
        for r in parquet(blobstore, month, "outages")
    )  # fmt: skip
    flat = [(x[1], x[2], x[3], x[4], x[5], x[6]) for x in exclusions]
    expected_outages = []
    for site, evse, charger, points, gap, service in plan:
        figures, rows = reference(site, evse, charger, points, gap, service, flat, ps, pe)
        got = evse_rows[(site.cpo, evse)]
        for name, value in figures.items():
            assert got[name] == pytest.approx(value, abs=0.01), (evse, name)
        assert got["period_minutes"] == pytest.approx(pe - ps)
        expected_outages += [(site.cpo, *r) for r in rows]
    assert len(evse_rows) == len(plan)
    assert len(outages) == len(expected_outages)
    for got_row, want in zip(outages, sorted(expected_outages), strict=True):
        assert got_row[:5] == want[:5]
        assert got_row[5:7] == pytest.approx(want[5:7], abs=0.01)
        assert got_row[7] == want[7]
