"""The worker against OCPI implementations written by other people, on loopback: extrawest-ocpi
as a CPO's Locations Sender, pyOCPI registering, pushing and polled for liveness, and the official
OCPI 2.2.1 example payloads byte for byte."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.feeds.ocpi_common import CanonicalEvses, token_header
from ingest_worker.feeds.ocpi_pull import OcpiPuller
from shared.blobstore import LocalBlobStore
from shared.db.tables import status_run
from tests.conftest import shared_data
from tests.ingest_worker.conftest import feed, query_rows, serve, stored_runs, wait_for
from tests.ingest_worker.ocpi_peers import peer_run, peer_server
from tests.ingest_worker.test_ocpi_pull import make_ingest, store_static_sites

# Generous time-outs (CI is a busy machine); no keep-alive across the tests' servers.
http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
CREDENTIALS = "/ocpi/2.2.1/credentials"
TOKEN_B = "token-b-the-cpo-issued"


def ocpi_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def location(index: int, party: str, at: datetime, status: str = "AVAILABLE") -> dict:
    """A complete OCPI 2.2.1 Location (every required field), ids in upper case."""
    stamp = ocpi_time(at)
    return {
        "country_code": "AU",
        "party_id": party,
        "id": f"LOC-{index}",
        "publish": True,
        "address": f"{index} Main Street",
        "city": "Goulburn",
        "postal_code": "2580",
        "country": "AUS",
        "coordinates": {"latitude": "-34.754", "longitude": "149.718"},
        "time_zone": "Australia/Sydney",
        "evses": [
            {
                "uid": f"{party}-E{index}",
                "status": status,
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 400,
                        "max_amperage": 32,
                        "last_updated": stamp,
                    }
                ],
                "last_updated": stamp,
            }
        ],
        "last_updated": stamp,
    }


def test_extrawest_sender_paged_with_a_cap_lower_case_ids_and_date_from(
    worker_settings, tmp_path: Path
) -> None:
    """extrawest-ocpi caps pages at 2, lower-cases every id, and on Python 3.11 writes next links
    that cannot work (https on an http server, ``VersionNumber.v_2_2_1`` in the path): the poll
    pages by offset, says so in feed health, maps the ids to the static CSV and goes on."""
    earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    data = tmp_path / "locations.json"
    data.write_text(json.dumps([location(i, "EXT", earlier) for i in range(5)]))
    store = LocalBlobStore(worker_settings.blob_dir)
    store_static_sites(store, "EXTRA", [f"EXT-E{i}" for i in range(5)])
    env = {"PROTOCOL": "http", "COUNTRY_CODE": "AU", "PARTY_ID": "EXT"}
    with peer_server("extrawest", "extrawest_cpo.py", [TOKEN_B, str(data), "2"], env) as url:
        pull = feed("EXTRA", "ocpi_pull", TOKEN_B, versions_url=f"{url}/ocpi/versions")
        ingest = make_ingest(worker_settings, [pull])
        canonical = CanonicalEvses(store)

        async def scenario():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(timeout=10) as client:
                puller = OcpiPuller(pull, ingest, client, page_limit=50, canonical=canonical)
                first = await puller.poll()
                changed = json.loads(data.read_text())
                changed[3] = location(
                    3, "EXT", datetime.now(UTC) + timedelta(seconds=1), "CHARGING"
                )
                data.write_text(json.dumps(changed))
                second = await puller.poll()
                return first, second

        first, second = asyncio.run(scenario())
        while ingest.drain_once():
            pass
    assert (first.locations, first.pages, first.total_count) == (5, 3, 5)
    assert second.locations == 1 and second.observations == 1  # date_from: only the change
    health = ingest.health["EXTRA/ocpi_pull"]
    assert health.last_success_at is not None
    assert "next link" in health.last_error and "paging by offset" in health.last_error
    runs = stored_runs(worker_settings)
    assert {r[1] for r in runs} == {f"EXT-E{i}" for i in range(5)}  # the CSV's spelling
    assert ("EXTRA", "EXT-E3", "CHARGING") in runs


def test_pyocpi_registers_pushes_and_its_sender_gives_liveness(
    worker_settings, tmp_path: Path
) -> None:
    """pyOCPI 0.3.1 writes https into every URL it serves over http; the worker notices, uses the
    server that answered, registers it, takes its pushes (lower-case ids mapped to the static CSV)
    and polls its Locations Sender with token B: each poll is a liveness signal."""
    earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    data = tmp_path / "locations.json"
    data.write_text(json.dumps([location(i, "PYO", earlier) for i in range(3)]))
    store = LocalBlobStore(worker_settings.blob_dir)
    store_static_sites(store, "PYO", [f"PYO-E{i}" for i in range(3)])
    push_feed = feed("PYO", "ocpi_push", "pyo-token-a", poll_seconds=1)
    app = create_app(worker_settings, [push_feed], WorkerOptions(snapshot_seconds=0.2), store)
    env = {"COUNTRY_CODE": "AU", "PARTY_ID": "PYO"}
    with (
        peer_server("pyocpi", "pyocpi_cpo.py", [TOKEN_B, str(data)], env) as cpo_url,
        serve(app) as url,
    ):
        token_a = {"Authorization": token_header("pyo-token-a")}
        details_url = http.get(f"{url}/ocpi/versions", headers=token_a).json()["data"][0]["url"]
        posted = http.post(
            f"{url}{CREDENTIALS}",
            headers=token_a,
            json={
                "token": TOKEN_B,
                "url": f"{cpo_url}/ocpi/versions",
                "roles": [
                    {
                        "role": "CPO",
                        "country_code": "AU",
                        "party_id": "PYO",
                        "business_details": {"name": "pyOCPI"},
                    }
                ],
            },
        )
        assert posted.json()["status_code"] == 1000, posted.text
        assert "hard-coded" in posted.json()["status_message"]
        token_c = posted.json()["data"]["token"]

        pushed = json.loads(
            peer_run(
                "pyocpi", "pyocpi_cpo.py", ["push", details_url, token_c, "LOC-1", str(data)], env
            )
        )
        # pyOCPI's own push reads version details as a list (data[0]): it fails on OCPI 2.2.1.
        assert pushed["push_object"]["ok"] is False and "KeyError" in pushed["push_object"]["error"]
        put = pushed["send_push_request"]
        assert put["url"].endswith("/ocpi/emsp/2.2.1/locations/AU/PYO/LOC-1")
        assert put["status"] == 200 and put["body"]["status_code"] == 1000, put

        stored = http.get(
            f"{url}/ocpi/emsp/2.2.1/locations/au/pyo/loc-1/pyo-e1",
            headers={"Authorization": token_header(token_c)},
        ).json()
        assert stored["status_code"] == 1000 and stored["data"]["status"] == "AVAILABLE"

        def confirmed_long_after_last_update():  # type: ignore[no-untyped-def]
            rows = query_rows(
                worker_settings,
                select(status_run.c.evse_uid, status_run.c.last_confirmed_at).where(
                    status_run.c.cpo_id == "PYO"
                ),
            )
            later = earlier.replace(tzinfo=None) + timedelta(minutes=2)
            return len(rows) == 3 and all(at > later for _, at in rows) and rows

        rows = wait_for(confirmed_long_after_last_update, timeout=60)
        assert {uid for uid, _ in rows} == {"PYO-E0", "PYO-E1", "PYO-E2"}
        health = {f["cpo_id"]: f for f in http.get(f"{url}/feeds").json()}["PYO"]
        assert health["last_success_at"] is not None and "hard-coded" in (
            health["last_error"] or ""
        )


def test_official_examples_byte_for_byte(worker) -> None:
    """Every official Location example is PUT as it is (one platform registers all their parties),
    read back with GET, then the official PUT/PATCH examples for EVSEs and Connectors."""
    url, settings = worker
    names = [
        "location_example.json",
        "location_example_parking_garage_opening_hours.json",
        "location_example_uc2_destination_charger.json",
        "location_example_uc4_limited_visibility.json",
        "location_example_uc5_home_charge_point.json",
    ]
    bodies = {name: shared_data("ocpi-2.2.1", "examples", name).read_bytes() for name in names}
    parties = sorted(
        {(json.loads(b)["country_code"], json.loads(b)["party_id"]) for b in bodies.values()}
    )
    posted = http.post(
        f"{url}{CREDENTIALS}",
        headers={"Authorization": token_header("other-token-a")},
        json={
            "token": TOKEN_B,
            "url": "http://127.0.0.1:9/ocpi/versions",
            "roles": [
                {"role": "CPO", "country_code": c, "party_id": p, "business_details": {"name": p}}
                for c, p in parties
            ],
        },
    )
    assert posted.json()["status_code"] == 1000, posted.text
    auth = {"Authorization": token_header(posted.json()["data"]["token"])}
    base = f"{url}/ocpi/emsp/2.2.1/locations"
    for name, body in bodies.items():
        doc = json.loads(body)
        target = f"{base}/{doc['country_code']}/{doc['party_id']}/{doc['id']}"
        answer = http.put(
            target, headers={**auth, "Content-Type": "application/json"}, content=body
        )
        assert answer.status_code == 200 and answer.json()["status_code"] == 1000, (
            name,
            answer.text,
        )
        assert http.get(target, headers=auth).json()["data"] == doc, name
    loc1 = f"{base}/BE/BEC/LOC1"
    steps = [
        (http.put, f"{loc1}/3256", "location_put_example_add_evse.json"),
        (http.patch, f"{loc1}/3256", "location_patch_example_status.json"),
        (http.patch, f"{loc1}/3257", "location_patch_example_remove_evse.json"),
        (http.patch, loc1, "location_patch_example_location.json"),
        (http.patch, f"{loc1}/3256/1", "location_patch_example_tariff.json"),
    ]
    for method, target, name in steps:
        body = shared_data("ocpi-2.2.1", "examples", name).read_bytes()
        answer = method(target, headers={**auth, "Content-Type": "application/json"}, content=body)
        assert answer.status_code == 200 and answer.json()["status_code"] == 1000, (
            name,
            answer.text,
        )
    evse = http.get(f"{loc1}/3256", headers=auth).json()["data"]
    assert evse["status"] == "CHARGING" and evse["evse_id"] == "BE*BEC*E041503003"
    connector = http.get(f"{loc1}/3256/1", headers=auth).json()["data"]
    assert (
        connector["tariff_ids"]
        == json.loads(
            shared_data("ocpi-2.2.1", "examples", "location_patch_example_tariff.json").read_bytes()
        )["tariff_ids"]
    )
    assert http.get(f"{loc1}/3257", headers=auth).json()["data"]["status"] == "REMOVED"
    name = json.loads(
        shared_data("ocpi-2.2.1", "examples", "location_patch_example_location.json").read_bytes()
    )
    assert http.get(loc1, headers=auth).json()["data"]["name"] == name["name"]
    missing = http.get(f"{loc1}/NOPE", headers=auth)
    assert missing.status_code == 404 and missing.json()["status_code"] == 2003
    wait_for(lambda: ("OTHER", "3256", "CHARGING") in stored_runs(settings), timeout=60)


@pytest.mark.parametrize("max_gap", [15, 6])
def test_push_liveness_polls_below_max_gap_by_default(max_gap: float) -> None:
    from ingest_worker.feeds.ocpi_push_poll import poll_interval

    assert poll_interval(feed("A", "ocpi_push", "s"), max_gap) == max_gap * 40
    assert poll_interval(feed("A", "ocpi_push", "s", max_gap_minutes=30), max_gap) == 1200
    assert poll_interval(feed("A", "ocpi_push", "s", poll_seconds=90), max_gap) == 90
