"""REST push against a real worker on loopback: auth, cross-CPO, malformed and oversized input,
and a status dated far ahead."""

import io
from datetime import UTC, datetime, timedelta

import httpx
import pyarrow.parquet as pq

from shared import layout
from shared.blobstore import LocalBlobStore
from shared.db.engine import make_engine
from shared.db.observations import latest_statuses
from tests.ingest_worker.conftest import quarantined, stored_runs, wait_for

ACME = {"Authorization": "Bearer acme-rest-secret"}


def post(url: str, body, headers=ACME, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    if isinstance(body, bytes | str):
        return httpx.post(
            f"{url}/api/v1/observations",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
            **kwargs,
        )
    return httpx.post(f"{url}/api/v1/observations", json=body, headers=headers, **kwargs)


def test_batch_is_accepted_and_stored(worker) -> None:
    url, settings = worker
    response = post(
        url,
        {
            "observations": [
                {
                    "evse_uid": "E1",
                    "status": "AVAILABLE",
                    "observed_at": "2026-11-20T10:00:00+11:00",
                },
                {
                    "evse_uid": "E1",
                    "status": "charging",
                    "observed_at": "2026-11-20T10:05:00+11:00",
                    "connector_id": "1",
                },
                {
                    "evse_uid": "E2",
                    "status": "EXPLODING",
                    "observed_at": "2026-11-20T10:00:00+11:00",
                },
                {"evse_uid": "E3", "status": "AVAILABLE"},
                {
                    "evse_uid": "E4",
                    "status": "AVAILABLE",
                    "observed_at": "2026-11-20T10:00:00+11:00",
                    "cpo_id": "OTHER",
                },
                "not an object",
            ]
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [2, 3, 4, 5]
    assert "unknown raw status 'EXPLODING'" in body["rejected"][0]["error"]
    assert (
        body["rejected"][1]["error"] == "observed_at: not an ISO 8601 timestamp: None"
        or "observed_at" in body["rejected"][1]["error"]
    )
    assert "is not the CPO of this token" in body["rejected"][2]["error"]
    wait_for(lambda: len(stored_runs(settings)) == 2)
    assert stored_runs(settings) == [("ACME", "E1", "AVAILABLE"), ("ACME", "E1", "CHARGING")]
    rows = wait_for(lambda: quarantined(settings))
    assert rows[0][:3] == ("ACME", "rest_push", "observations[2,3,4,5]")
    store = LocalBlobStore(settings.blob_dir)
    assert wait_for(lambda: store.list("raw/ACME/"))
    snapshot = wait_for(
        lambda: (
            store.info(layout.LIVE_STATUS)
            and pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS)))
        )
    )
    wait_for(lambda: pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS))).num_rows == 1)
    snapshot = pq.read_table(io.BytesIO(store.get(layout.LIVE_STATUS))).to_pylist()
    assert [(r["evse_uid"], r["status"], r["category"], r["stale"]) for r in snapshot] == [
        ("E1", "CHARGING", "IN_USE", True)
    ]


def test_authentication(worker) -> None:
    url, _ = worker
    good = {
        "observations": [
            {"evse_uid": "E1", "status": "AVAILABLE", "observed_at": "2026-11-20T10:00:00Z"}
        ]
    }
    assert post(url, good, headers={}).status_code == 401
    assert post(url, good, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert post(url, good, headers={"Authorization": "Basic acme-rest-secret"}).status_code == 401
    # The WebSocket token of the same CPO is not a REST token.
    assert post(url, good, headers={"Authorization": "Bearer acme-ws-secret"}).status_code == 401
    assert post(url, good).status_code == 202


def test_a_cpo_cannot_write_another_cpos_data(worker) -> None:
    url, settings = worker
    response = post(
        url,
        {
            "cpo_id": "ACME",
            "observations": [
                {"evse_uid": "E9", "status": "FAULTED", "observed_at": "2026-11-20T10:00:00Z"}
            ],
        },
        headers={"Authorization": "Bearer other-rest-secret"},
    )
    assert response.status_code == 400 and "not the CPO of this token" in response.json()["error"]
    response = post(
        url,
        {
            "observations": [
                {"evse_uid": "E9", "status": "FAULTED", "observed_at": "2026-11-20T10:00:00Z"}
            ]
        },
        headers={"Authorization": "Bearer other-rest-secret"},
    )
    assert response.status_code == 202
    wait_for(lambda: stored_runs(settings))
    assert stored_runs(settings) == [("OTHER", "E9", "FAULTED")]


def test_malformed_and_hostile_bodies(worker) -> None:
    url, settings = worker
    cases = [
        (b"{not json", 400, "not JSON"),
        (b"[]", 400, "expected an object"),
        (b'{"observations": "E1"}', 400, "observations: expected a list"),
        (
            b'{"observations": ['
            + b'{"evse_uid":"E","status":"AVAILABLE","observed_at":"2026-11-20T10:00:00Z"},'
            * 10_000
            + b"{}]}",
            400,
            "at most 10000",
        ),
        (b"\xff\xfe\x00\x00", 400, "not JSON"),
        (b'{"observations": [{"evse_uid": "' + b"A" * 2_000_000 + b'"}]}', 413, "larger than"),
    ]
    for body, status, message in cases:
        response = post(url, body)
        assert response.status_code == status, body[:40]
        assert message in response.json()["error"]
    deep = b'{"observations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert post(url, deep).status_code == 400
    reasons = [
        r[3] for r in wait_for(lambda: len(quarantined(settings)) >= 6 and quarantined(settings))
    ]
    assert any("not JSON" in r for r in reasons) and any("too large" in r for r in reasons)
    injected = post(
        url,
        {
            "observations": [
                {
                    "evse_uid": "E1'; DROP TABLE status_run;--",
                    "status": "AVAILABLE",
                    "observed_at": "2026-11-20T10:00:00Z",
                }
            ]
        },
    )
    assert injected.status_code == 202 and injected.json()["accepted"] == 1
    wait_for(lambda: stored_runs(settings))
    assert stored_runs(settings) == [("ACME", "E1'; DROP TABLE status_run;--", "AVAILABLE")]


def test_openapi_and_health(worker) -> None:
    url, _ = worker
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "/api/v1/observations" in spec["paths"]
    operation = spec["paths"]["/api/v1/observations"]["post"]
    assert "202" in operation["responses"] and "401" in operation["responses"]
    health = httpx.get(f"{url}/healthz").json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert {(f["cpo_id"], f["kind"]) for f in httpx.get(f"{url}/feeds").json()} >= {
        ("ACME", "rest_push"),
        ("ACME", "ws_push"),
    }


def test_a_status_dated_far_in_the_future_does_not_become_the_live_status(worker) -> None:
    """A status dated a year ahead is not the EVSE's latest: the present one is."""
    url, settings = worker
    auth = {"Authorization": "Bearer acme-rest-secret"}
    now = datetime.now(UTC)
    ahead = {"evse_uid": "E1", "status": "FAULTED", "observed_at": (now + timedelta(days=365))}
    present = {"evse_uid": "E1", "status": "AVAILABLE", "observed_at": now - timedelta(minutes=1)}
    for item in (ahead, present):
        body = {"observations": [{**item, "observed_at": item["observed_at"].isoformat()}]}
        assert httpx.post(f"{url}/api/v1/observations", headers=auth, json=body).status_code == 202
    wait_for(lambda: ("ACME", "E1", "AVAILABLE") in stored_runs(settings))
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        latest = {r.evse_uid: r.status for r in latest_statuses(connection, cpo_id="ACME")}
    engine.dispose()
    assert latest == {"E1": "AVAILABLE"}
