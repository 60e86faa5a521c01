"""The Azure Function's triggers, read and called the way the Functions host would, without it."""

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import azure.functions as func
import pytest

from shared.settings import get_settings

FUNCTION_APP = Path(__file__).resolve().parents[2] / "function_app" / "function_app.py"


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAL_BLOB_CONNECTION_STRING", raising=False)
    get_settings.cache_clear()
    from shared.db.engine import upgrade

    upgrade(get_settings().database_url)
    spec = importlib.util.spec_from_file_location("function_app_under_test", FUNCTION_APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    get_settings.cache_clear()


def functions(module) -> dict:
    return {f.get_function_name(): f for f in module.app.get_functions()}


def test_trigger_metadata(app_module) -> None:
    registered = functions(app_module)
    assert set(registered) == {"monthly_timer", "monthly_rerun"}
    timer = json.loads(registered["monthly_timer"].get_function_json())["bindings"][0]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%MONTHLY_SCHEDULE%"
    assert timer["runOnStartup"] is False
    http = json.loads(registered["monthly_rerun"].get_function_json())["bindings"]
    trigger = next(b for b in http if b["type"] == "httpTrigger")
    assert trigger["authLevel"] == "FUNCTION"
    assert trigger["route"] == "monthly"


def test_http_rerun(app_module) -> None:
    rerun = functions(app_module)["monthly_rerun"].get_user_function()
    response = rerun(
        func.HttpRequest("POST", "/api/monthly", params={"month": "2026-10"}, body=b"")
    )
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert body["processed"] == "processed/monthly/2026-10"
    assert body["row_counts"]["evse"] == 0
    assert any("no static site CSV" in w for w in body["warnings"])
    assert (Path(get_settings().blob_dir) / "reports/2026-10/report.html").exists()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("", "expected YYYY-MM"),
        ("2026-13", "expected YYYY-MM"),
        ("Oct 2026", "expected YYYY-MM"),
        ("2999-01", "has not started yet"),
    ],
)
def test_http_rerun_refuses_bad_months(app_module, month: str, message: str) -> None:
    rerun = functions(app_module)["monthly_rerun"].get_user_function()
    response = rerun(func.HttpRequest("GET", "/api/monthly", params={"month": month}, body=b""))
    assert response.status_code == 400
    assert message in json.loads(response.get_body())["error"]


@pytest.mark.parametrize("month", ["2026-10\n", "0000-01", "9999-12", "٢٠٢٦-10"])
def test_http_rerun_refuses_hostile_months(app_module, month: str) -> None:
    """A trailing newline, a year ``datetime`` cannot hold, or digits of another script, is a 400
    with clear JSON, and no blob folder is written for it."""
    rerun = functions(app_module)["monthly_rerun"].get_user_function()
    response = rerun(func.HttpRequest("GET", "/api/monthly", params={"month": month}, body=b""))
    assert response.status_code == 400
    assert "expected YYYY-MM" in json.loads(response.get_body())["error"]
    blobs = Path(app_module.get_settings().blob_dir)
    assert not list(blobs.glob("processed/monthly/*/manifest.json"))


def test_timer_runs_the_previous_month(app_module, caplog: pytest.LogCaptureFixture) -> None:
    timer = functions(app_module)["monthly_timer"].get_user_function()
    timer(SimpleNamespace(past_due=True))
    assert "past due" in caplog.text
    now = datetime.now(UTC).astimezone(get_settings().tz)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    assert (
        Path(get_settings().blob_dir) / f"processed/monthly/{year:04d}-{month:02d}/manifest.json"
    ).exists()


def test_deploy_files_exist() -> None:
    folder = FUNCTION_APP.parent
    host = json.loads((folder / "host.json").read_text())
    assert host["version"] == "2.0"
    settings = json.loads((folder / "local.settings.json.example").read_text())["Values"]
    assert (
        settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
        and settings["MONTHLY_SCHEDULE"] == "0 0 3 2 * *"
    )
    requirements = (folder / "requirements.txt").read_text()
    assert "azure-functions" in requirements and "duckdb" in requirements
