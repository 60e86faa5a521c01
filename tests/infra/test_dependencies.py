"""Dependencies per deployable part: each image or package installs only its own extra, and the
worker really runs without the dashboard's and the engine's libraries."""

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from shared.db.engine import make_engine
from shared.db.tables import status_run
from tests.conftest import free_port
from tests.ingest_worker.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "scripts"))
from package_function import requirements  # noqa: E402

DASHBOARD = ("shiny", "shinywidgets", "ipyleaflet", "plotly")
ENGINE = ("duckdb", "jinja2", "shapely", "adbc-driver-sqlite")
FEEDS = ("fastapi", "ocpp", "websockets", "cryptography", "azure-storage-queue")


def names(extra: str) -> set[str]:
    lines = [line for line in requirements(extra=extra).splitlines() if not line.startswith("#")]
    return {line.split(">")[0].split("<")[0].split("[")[0].split("=")[0] for line in lines}


def test_each_part_installs_only_what_it_runs() -> None:
    worker, app, function = names("worker"), names("app"), names("function")
    assert set(FEEDS) <= worker and "click" in worker
    assert not (set(DASHBOARD) | set(ENGINE) | {"azure-functions", "pyspark"}) & worker
    assert set(DASHBOARD) <= app and set(ENGINE) <= app
    assert not (set(FEEDS) | {"azure-functions", "pyspark"}) & app
    assert set(ENGINE) <= function and "azure-functions" in function
    assert not (set(FEEDS) | set(DASHBOARD[:3]) | {"click", "psutil", "pyspark"}) & function


def test_the_images_install_their_own_extra() -> None:
    for image, extra, part in (("worker", "worker", "ingest_worker"), ("app", "app", "report_app")):
        text = (ROOT / "infra" / "docker" / f"{image}.Dockerfile").read_text()
        assert f'pip install --no-cache-dir ".[{extra}]"' in text
        assert f"COPY {part} ./{part}" in text
        others = {"ingest_worker", "report_app", "function_app"} - {part}
        assert not [other for other in others if f"COPY {other} " in text], image


BLOCKING_MAIN = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = set(sys.argv.pop(1).split(","))

    class NotInThisImage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not installed)", name=name)
            return None

    sys.meta_path.insert(0, NotInThisImage())
    from chargeatlarge.cli import main
    main()
    """
)


def test_the_worker_runs_without_the_dashboard_and_engine_libraries(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n')
    env = {**os.environ, "CAL_DATA_DIR": str(tmp_path / "var"), "ACME_TOKEN": "deps-secret"}
    for name in ("CAL_DATABASE_URL", "CAL_BLOB_CONNECTION_STRING", "CAL_BLOB_ACCOUNT_URL"):
        env.pop(name, None)
    blocked = "shiny,shinywidgets,ipyleaflet,plotly,duckdb,jinja2,shapely,adbc_driver_sqlite"
    port = free_port()
    command = [sys.executable, "-c", BLOCKING_MAIN, blocked, "worker", "--feeds", str(feeds),
               "--port", str(port)]  # fmt: skip
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(port) or process.poll() is not None, timeout=90)
        assert process.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        body = {"observations": [
            {"evse_uid": f"D{i}", "status": "AVAILABLE", "observed_at": (t0 + timedelta(seconds=i)).isoformat()}
            for i in range(20)
        ]}  # fmt: skip
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/observations", json=body,
                              headers={"Authorization": "Bearer deps-secret"}, timeout=30)  # fmt: skip
        assert response.status_code == 202, response.text
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'chargeatlarge.db'}")

        def committed() -> bool:
            try:
                with engine.connect() as connection:
                    return (
                        connection.execute(select(func.count()).select_from(status_run)).scalar()
                        == 20
                    )
            except Exception:  # noqa: BLE001 - the worker may still be creating the database
                return False

        wait_for(committed, timeout=90)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
    text = (tmp_path / "worker.log").read_text()
    assert "not installed" not in text, text[-3000:]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
