"""Nothing anonymous reveals a CPO's data: the operations pages need the operator token (or,
with none configured, a request from the machine itself); /healthz is aggregate only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest_worker.app import WorkerOptions, create_app
from shared.db.engine import upgrade
from shared.settings import Settings
from tests.ingest_worker.conftest import FEEDS

OPERATIONS = ["/feeds", "/metrics/latency", "/docs", "/redoc", "/openapi.json"]


def client(tmp_path: Path, **extra) -> TestClient:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", **extra)
    upgrade(settings.database_url)
    # TestClient's peer is "testclient", never loopback: it stands for a caller from outside.
    return TestClient(create_app(settings, FEEDS, WorkerOptions(snapshot_seconds=60)))


@pytest.mark.parametrize("path", OPERATIONS)
def test_outside_callers_without_the_token_are_refused(tmp_path: Path, path: str) -> None:
    with client(tmp_path) as api:
        response = api.get(path)
    assert response.status_code == 401
    assert "ACME" not in response.text and "rest_push" not in response.text


@pytest.mark.parametrize("path", OPERATIONS)
def test_the_operator_token_opens_them(tmp_path: Path, path: str) -> None:
    with client(tmp_path, operator_token="op-secret") as api:
        assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api.get(path, headers={"Authorization": "Bearer op-secret"}).status_code == 200


def test_healthz_names_no_cpo(tmp_path: Path) -> None:
    with client(tmp_path) as api:
        response = api.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and "feeds" not in body
    assert "ACME" not in response.text and "OTHER" not in response.text
