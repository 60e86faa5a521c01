"""Issue 8 end to end: the demo stack from the CLI, every feed kind flowing into SQL and the live
snapshot, and the dashboard and the published report in real Chromium."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from chargeatlarge.sample_data import DEFAULT_SITES_CSV
from shared import layout
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine
from shared.db.tables import status_run
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
SITES_PER_CPO = 2


def small_site_set(target: Path) -> tuple[int, set[str]]:
    """The shipped site set cut to a few sites per CPO, so CI backfills in seconds."""
    rows = list(csv.DictReader(io.StringIO(DEFAULT_SITES_CSV.read_text(encoding="utf-8"))))
    keep: dict[str, list[str]] = {}
    for row in rows:
        sites = keep.setdefault(row["cpo_id"], [])
        if row["site_id"] not in sites and len(sites) < SITES_PER_CPO:
            sites.append(row["site_id"])
    chosen = [r for r in rows if r["site_id"] in keep[r["cpo_id"]]]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return len({(r["cpo_id"], r["site_id"]) for r in chosen}), set(keep)


def test_demo_stack(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    sites_csv = tmp_path / "sites.csv"
    site_count, cpos = small_site_set(sites_csv)
    data_dir = tmp_path / "var"
    app_port, worker_port = free_port(), free_port()
    env = {**os.environ, "CAL_DATA_DIR": str(data_dir), "CAL_DEV_ROLE": "analyst"}
    for name in (
        "CAL_DATABASE_URL",
        "CAL_BLOB_CONNECTION_STRING",
        "CAL_BLOB_DIR",
        "CAL_BEHIND_AZURE_AUTH",
    ):
        env.pop(name, None)
    started = datetime.now(UTC)
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-c", "from chargeatlarge.cli import main; main()", "demo", "--sites", str(sites_csv),
         "--months", "2", "--app-port", str(app_port), "--worker-port", str(worker_port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while "Charge@Large is running" not in (tmp_path / "demo.log").read_text():
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo was not ready in 10 minutes"
            time.sleep(1)
        output = (tmp_path / "demo.log").read_text()
        months = sorted(
            {
                line.split("monthly job for ")[1].strip()
                for line in output.splitlines()
                if "monthly job for " in line
            }
        )
        assert len(months) == 2

        kinds = {
            f["cpo_id"]: f["kind"]
            for f in tomllib.loads((data_dir / "demo" / "feeds.toml").read_text())["feed"]
        }
        assert set(kinds.values()) == {"ocpi_pull", "ocpi_push", "ocpp", "rest_push", "ws_push"}
        assert set(kinds) == cpos
        engine = make_engine(f"sqlite:///{data_dir / 'chargeatlarge.db'}")
        naive_start = started.replace(tzinfo=None)

        def fresh_by_cpo() -> dict[str, int]:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(status_run.c.cpo_id, func.count())
                    .where(status_run.c.last_confirmed_at >= naive_start)
                    .group_by(status_run.c.cpo_id)
                ).all()
            return dict(rows)

        deadline = time.monotonic() + 180
        while set(fresh_by_cpo()) != cpos:
            assert time.monotonic() < deadline, (
                f"live statuses arrived only from {sorted(fresh_by_cpo())} of {kinds}"
            )
            time.sleep(2)
        store = LocalBlobStore(data_dir / "blobs")

        def snapshot_cpos() -> set[str]:
            if store.info(layout.LIVE_STATUS) is None:
                return set()
            table = pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS))).to_pylist()
            return {r["cpo_id"] for r in table if r["last_confirmed_at"] >= started}

        deadline = time.monotonic() + 60
        while snapshot_cpos() != cpos:
            assert time.monotonic() < deadline, (
                f"live snapshot has fresh rows only for {sorted(snapshot_cpos())}"
            )
            time.sleep(1)

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{app_port}/")
            page.wait_for_function(
                "() => window.Shiny && Shiny.shinyapp && Shiny.shinyapp.isConnected()"
            )
            markers = ".leaflet-container path.leaflet-interactive"
            page.wait_for_function(
                f"() => document.querySelectorAll('{markers}').length === {site_count}",
                timeout=60_000,
            )
            page.screenshot(path=tmp_path / "demo-live.png", full_page=True)
            page.locator("a.nav-link", has_text="Uptime").click()
            for month in months:
                page.wait_for_selector(
                    f"#uptime-month option[value='{month}']", state="attached", timeout=30_000
                )
            page.get_by_text(f"Uptime distribution, site level, {months[-1]}").wait_for(
                timeout=30_000
            )
            page.screenshot(path=tmp_path / "demo-uptime.png", full_page=True)
            report = data_dir / "blobs" / "reports" / months[-1] / "report.html"
            page.goto(report.as_uri())
            page.get_by_text(f"Public EV charging reliability — {months[-1]}").wait_for(
                timeout=30_000
            )
            page.wait_for_selector(
                ".plotly-graph-div .main-svg", timeout=30_000
            )  # charts drew offline
            browser.close()
    finally:
        if demo.poll() is None:
            # kill -TERM, as a closed terminal or a process manager does: every part must stop.
            os.kill(demo.pid, signal.SIGTERM)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
        log.close()
    assert "stopping" in (tmp_path / "demo.log").read_text()
    from chargeatlarge.demo import port_in_use

    deadline = time.monotonic() + 60
    while (port_in_use("127.0.0.1", worker_port) or port_in_use("127.0.0.1", app_port)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert port_in_use("127.0.0.1", worker_port) is None, "the worker outlived the demo"
    assert port_in_use("127.0.0.1", app_port) is None, "the dashboard outlived the demo"
