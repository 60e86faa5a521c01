"""The simulator runs every feed kind at once against a real worker on loopback; each kind's
statuses must arrive in the database and in the live snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from click.testing import CliRunner

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.simulator.commands import simulate as simulate_command
from ingest_worker.simulator.model import ModelParams
from ingest_worker.simulator.plan import simulated_evses, simulated_feeds
from ingest_worker.simulator.run import simulate
from ingest_worker.simulator.runtime import SimSettings
from shared import layout
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.observations import latest_statuses
from shared.settings import Settings
from shared.sites import COLUMNS, write_sites_csv
from tests.conftest import free_port
from tests.ingest_worker.conftest import serve, wait_for


def row(cpo: str, site: str, evse: str, cp: str | None = None, number: int | None = None) -> dict:
    return {
        "cpo_id": cpo,
        "site_id": site,
        "site_name": f"{cpo} {site}",
        "address": "1 Hume St",
        "suburb": "Goulburn",
        "state": "NSW",
        "postcode": "2580",
        "latitude": -34.754,
        "longitude": 149.718,
        "charger_id": f"{site}-C1",
        "evse_uid": evse,
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2_COMBO",
        "power_type": "DC",
        "max_power_kw": 50.0,
        "ocpp_charge_point_id": cp,
        "ocpp_evse_id": number,
    }


# One CPO per kind: AMPS→ocpi_pull, BOLT→ocpi_push, GRID→ocpp (mapped), HERTZ→rest_push, ION→ws_push
# (assign_kinds: the OCPP-mapped CPO takes ocpp, the others take the other kinds in turn).
ROWS = [
    row("AMPS", "S1", "AU*AMP*E1"),
    row("AMPS", "S1", "AU*AMP*E2"),
    row("AMPS", "S2", "AU*AMP*E3"),
    row("BOLT", "S1", "AU*BLT*E1"),
    row("BOLT", "S2", "AU*BLT*E2"),
    row("GRID", "S1", "AU*GRD*E1", "GRID-CP1", 1),  # charge point 0 → OCPP 1.6
    row("GRID", "S1", "AU*GRD*E2", "GRID-CP1", 2),
    row("GRID", "S2", "AU*GRD*E3", "GRID-CP2", 1),  # charge point 1 → OCPP 2.0.1
    row("HERTZ", "S1", "AU*HTZ*E1"),
    row("HERTZ", "S1", "AU*HTZ*E2"),
    row("ION", "S1", "AU*ION*E1"),
    row("ION", "S2", "AU*ION*E2"),
]

# Busy, faulty and flaky, so a few seconds at 2 h per second show every kind of change.
PARAMS = ModelParams(
    sessions_per_day=30,
    faults_per_day=2,
    repair_hours=1,
    maintenance_per_day=1,
    dropouts_per_day=6,
    dropout_minutes=20,
)


def test_every_feed_kind_reaches_the_database_and_the_live_snapshot(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    upgrade(settings.database_url)
    store = LocalBlobStore(settings.blob_dir)
    store.put("static/sites/sim.csv", write_sites_csv(ROWS))
    evses = simulated_evses(pd.DataFrame(ROWS, columns=list(COLUMNS)))
    sims = simulated_feeds(
        evses, seed=4, ocpi_base=f"http://127.0.0.1:{free_port()}", poll_seconds=1
    )
    assert {s.feed.cpo_id: s.feed.kind for s in sims} == {
        "AMPS": "ocpi_pull",
        "BOLT": "ocpi_push",
        "GRID": "ocpp",
        "HERTZ": "rest_push",
        "ION": "ws_push",
    }
    app = create_app(
        settings, [s.feed for s in sims], WorkerOptions(snapshot_seconds=0.2), store=store
    )
    with serve(app) as url:
        report = asyncio.run(
            simulate(
                sims,
                url,
                SimSettings(
                    seed=4, speed=7200, params=PARAMS, tick_seconds=0.1, heartbeat_seconds=1
                ),
                duration=5,
                linger=2.5,
            )
        )
        print(report.summary())
        expected = {
            (r.cpo_id, uid, status)
            for name, r in report.records.items()
            for uid, status in r.last.items()
        }
        for name, record in report.records.items():
            assert record.errors == [], name
            assert sum(record.sent.values()) >= len(record.last) > 0, name
        # every EVSE of every kind was reported
        kinds = {s.feed.cpo_id: s.feed.kind for s in sims}
        assert {(cpo, uid) for cpo, uid, _ in expected} == {
            (e.cpo_id, e.ocpp_uid if kinds[e.cpo_id] == "ocpp" else e.evse_uid) for e in evses
        }
        # more than the initial status, and drop-outs happened somewhere
        assert sum(sum(r.sent.values()) for r in report.records.values()) > 2 * len(evses)
        assert sum(r.dropouts for r in report.records.values()) > 0

        engine = make_engine(settings.database_url)

        def stored() -> set[tuple[str, str, str]]:
            with engine.connect() as connection:
                return {(r.cpo_id, r.evse_uid, r.status) for r in latest_statuses(connection)}

        try:
            with contextlib.suppress(AssertionError):
                wait_for(lambda: stored() == expected, timeout=20)
            assert sorted(stored() - expected) == sorted(expected - stored()) == []
        finally:
            engine.dispose()

        def snapshot() -> set[tuple[str, str, str]]:
            if store.info(layout.LIVE_STATUS) is None:
                return set()
            table = pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS)))
            return set(
                zip(
                    *(table.column(c).to_pylist() for c in ("cpo_id", "evse_uid", "status")),
                    strict=True,
                )
            )

        with contextlib.suppress(AssertionError):
            wait_for(lambda: snapshot() == expected, timeout=20)
        assert sorted(snapshot() - expected) == sorted(expected - snapshot()) == []


def test_simulate_command_writes_feeds_for_the_worker(tmp_path: Path) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_bytes(write_sites_csv(ROWS))
    target = tmp_path / "out" / "feeds.toml"
    result = CliRunner().invoke(
        simulate_command, ["--sites", str(sites), "--write-feeds", str(target), "--seed", "9"]
    )
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.count("[[feed]]") == 5
    assert 'versions_url = "http://127.0.0.1:8091/ocpi/cpo/AMPS/versions"' in text
    assert "sim-" not in text  # secrets only in the .env file
    assert target.with_suffix(".env").read_text().count("=sim-") == 5


def test_simulate_command_refuses_an_unknown_kind(tmp_path: Path) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_bytes(write_sites_csv(ROWS))
    result = CliRunner().invoke(simulate_command, ["--sites", str(sites), "--kinds", "ocpp,fax"])
    assert result.exit_code != 0
    assert "fax" in result.output
