"""OCPI 2.2.1 eMSP receiver: the credentials handshake, then PUT/PATCH of Locations and EVSEs."""

import json
from pathlib import Path

import httpx
import pytest

from ingest_worker.feeds.ocpi_common import token_header
from ingest_worker.feeds.ocpi_locations import (
    observation_from_evse,
    observations_from_location,
    parse_location,
)
from ingest_worker.feeds.ocpi_models import Evse, EvsePatch
from shared.status import InvalidObservation
from tests.conftest import shared_data
from tests.ingest_worker.conftest import quarantined, stored_runs, wait_for

# Generous time-outs (CI is a busy machine); no keep-alive across the tests' servers.
http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "location_two_evses.json"


# Nothing listens on the discard port of loopback: the worker's call back fails at once.
NO_CPO_VERSIONS = "http://127.0.0.1:9/ocpi/versions"


def handshake(
    url: str,
    token_a: str,
    country: str = "AU",
    party: str = "ACM",
    versions_url: str = NO_CPO_VERSIONS,
    token_b: str = "token-b-of-the-cpo",
) -> str:
    """The CPO's side of the credentials handshake; returns token C."""
    versions = http.get(f"{url}/ocpi/versions", headers={"Authorization": token_header(token_a)})
    assert versions.status_code == 200 and versions.json()["status_code"] == 1000
    details_url = versions.json()["data"][0]["url"]
    details = http.get(details_url, headers={"Authorization": token_header(token_a)}).json()["data"]
    credentials_url = next(
        e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
    )
    response = http.post(
        credentials_url,
        headers={"Authorization": token_header(token_a)},
        json={
            "token": token_b,
            "url": versions_url,
            "roles": [
                {
                    "role": "CPO",
                    "party_id": party,
                    "country_code": country,
                    "business_details": {"name": "Acme"},
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status_code"] == 1000 and body["data"]["roles"][0]["role"] == "EMSP"
    return body["data"]["token"]


def test_handshake_then_push(worker) -> None:
    url, settings = worker
    token_c = handshake(url, "acme-token-a")
    auth = {"Authorization": token_header(token_c)}
    base = f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/LOC-GOULBURN-1"
    put = http.put(base, headers=auth, content=FIXTURE.read_bytes())
    assert put.status_code == 200 and put.json()["status_code"] == 1000
    patch = http.patch(
        f"{base}/AU*ACM*E1",
        headers=auth,
        json={"status": "OUTOFORDER", "last_updated": "2026-11-20T00:05:00Z"},
    )
    assert patch.json()["status_code"] == 1000
    connector = http.patch(
        f"{base}/AU*ACM*E1/1",
        headers=auth,
        json={"max_amperage": 100, "last_updated": "2026-11-20T00:06:00Z"},
    )
    assert connector.json()["status_code"] == 1000
    wait_for(lambda: len(stored_runs(settings)) == 3, timeout=60)
    assert stored_runs(settings) == [
        ("ACME", "AU*ACM*E1", "AVAILABLE"),
        ("ACME", "AU*ACM*E1", "OUTOFORDER"),
        ("ACME", "AU*ACM*E2", "CHARGING"),
    ]
    # Token A is not valid for the Locations module once the party uses token C.
    assert (
        http.put(
            base,
            headers={"Authorization": token_header("acme-token-a")},
            content=FIXTURE.read_bytes(),
        ).status_code
        == 401
    )
    # Raw (not Base64) tokens of OCPI 2.1.1 implementations are understood too.
    assert (
        http.patch(
            f"{base}/AU*ACM*E2",
            headers={"Authorization": f"Token {token_c}"},
            json={"status": "AVAILABLE", "last_updated": "2026-11-20T00:07:00Z"},
        ).json()["status_code"]
        == 1000
    )


def test_party_binding_and_bad_input(worker) -> None:
    url, settings = worker
    token_c = handshake(url, "acme-token-a")
    other_c = handshake(url, "other-token-a", "AU", "OTH")
    auth = {"Authorization": token_header(token_c)}
    # ACME's token cannot write under OTHER's party, and OTHER's token cannot write under ACME's.
    crossed = http.patch(
        f"{url}/ocpi/emsp/2.2.1/locations/AU/OTH/L1/E1",
        headers=auth,
        json={"status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
    )
    assert crossed.status_code == 403 and crossed.json()["status_code"] == 2001
    crossed = http.patch(
        f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/L1/E1",
        headers={"Authorization": token_header(other_c)},
        json={"status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
    )
    assert crossed.status_code == 403
    base = f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/L1"
    cases = [
        (http.patch, f"{base}/E1", {"status": "AVAILABLE"}, 2002, "last_updated: required"),
        (
            http.patch,
            f"{base}/E1",
            {"status": "EXPLODED", "last_updated": "2026-11-20T00:00:00Z"},
            2001,
            "unknown raw status",
        ),
        (
            http.put,
            f"{base}/E1",
            {"uid": "E2", "status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
            2001,
            "differs from the URL",
        ),
        (http.put, base, {"id": "L2", "evses": []}, 2001, "differs from the URL"),
        (http.put, base, ["not", "an", "object"], 2001, "expected a JSON object"),
    ]
    for method, target, body, code, message in cases:
        response = method(target, headers=auth, json=body)
        assert response.status_code == 400 and response.json()["status_code"] == code, (
            target,
            response.text,
        )
        assert message in response.json()["status_message"]
    too_long = http.patch(
        f"{base}/{'E' * 40}",
        headers=auth,
        json={"status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
    )
    assert too_long.json()["status_code"] == 2001
    assert http.put(base, headers=auth, content=b"{broken").json()["status_code"] == 2001
    assert http.put(base, headers=auth, content=b"[" * 200_000).status_code == 400
    assert http.put(base, headers=auth, content=b" " * (2 * 1024 * 1024)).status_code == 413
    # A Location with one bad EVSE keeps the good one and says what was wrong.
    mixed = {
        "id": "L1",
        "last_updated": "2026-11-20T00:00:00Z",
        "evses": [
            {"uid": "G1", "status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
            {"uid": "B1", "status": "NOPE", "last_updated": "2026-11-20T00:00:00Z"},
        ],
    }
    partial = http.put(base, headers=auth, json=mixed)
    assert partial.json()["status_code"] == 2001 and "NOPE" in partial.json()["status_message"]
    wait_for(lambda: stored_runs(settings) == [("ACME", "G1", "AVAILABLE")], timeout=60)
    reasons = " | ".join(
        r[3]
        for r in wait_for(
            lambda: len(quarantined(settings)) >= 8 and quarantined(settings), timeout=60
        )
    )
    assert "EXPLODED" in reasons and "NOPE" in reasons and "not this token's party" in reasons


def test_credentials_refused(worker) -> None:
    url, _ = worker
    assert http.get(f"{url}/ocpi/versions").status_code == 401
    assert (
        http.get(
            f"{url}/ocpi/versions", headers={"Authorization": token_header("guess")}
        ).status_code
        == 401
    )
    bad = http.post(
        f"{url}/ocpi/2.2.1/credentials",
        headers={"Authorization": token_header("acme-token-a")},
        json={"token": "b"},
    )
    assert bad.status_code == 400 and bad.json()["status_code"] == 2001
    wrong_party = http.post(
        f"{url}/ocpi/2.2.1/credentials",
        headers={"Authorization": token_header("acme-token-a")},
        json={
            "token": "b",
            "url": NO_CPO_VERSIONS,
            "roles": [{"role": "CPO", "party_id": "XYZ", "country_code": "AU"}],
        },
    )
    assert wrong_party.status_code == 403


def test_own_fixture_parses() -> None:
    location = parse_location(json.loads(FIXTURE.read_text()))
    observations, problems = observations_from_location("ACME", location)
    assert problems == [] and [(o.evse_uid, o.status) for o in observations] == [
        ("AU*ACM*E1", "AVAILABLE"),
        ("AU*ACM*E2", "CHARGING"),
    ]
    with pytest.raises(InvalidObservation, match="evse.uid: required"):
        observation_from_evse(
            "ACME",
            Evse.model_validate({"status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"}),
            "evse",
        )


@pytest.mark.parametrize(
    "name",
    [
        "location_example.json",
        "location_example_uc2_destination_charger.json",
        "location_example_uc4_limited_visibility.json",
        "location_example_uc5_home_charge_point.json",
        "location_example_parking_garage_opening_hours.json",
        "location_energymix_example_complete.json",
        "location_put_example_add_evse.json",
    ],
)
def test_official_location_examples_parse(name: str) -> None:
    document = json.loads(shared_data("ocpi-2.2.1", "examples", name).read_text())
    location = document.get("data", document) if isinstance(document, dict) else document
    observations, problems = observations_from_location("EXA", parse_location(location))
    assert problems == []
    assert all(o.cpo_id == "EXA" and o.observed_at.tzinfo is not None for o in observations)
    assert len(observations) == len([e for e in location.get("evses", []) if "status" in e])


def test_official_patch_examples_parse() -> None:
    status = json.loads(
        shared_data("ocpi-2.2.1", "examples", "location_patch_example_status.json").read_text()
    )
    observation = observation_from_evse("EXA", EvsePatch.model_validate({**status, "uid": "3256"}))
    assert observation is not None and observation.status == "CHARGING"
    credentials = json.loads(
        shared_data("ocpi-2.2.1", "examples", "credentials_example.json").read_text()
    )
    assert (
        credentials["roles"][0]["role"] == "CPO" and len(credentials["roles"][0]["party_id"]) == 3
    )


def test_ids_are_case_insensitive_and_the_receiver_answers_get(worker) -> None:
    """CiStrings: the URL's party and ids match the body's in any case, pushed EVSE uids are
    stored as the static CSV spells them, and GET returns what was pushed."""
    from shared.blobstore import LocalBlobStore
    from tests.ingest_worker.test_ocpi_pull import store_static_sites

    url, settings = worker
    store_static_sites(LocalBlobStore(settings.blob_dir), "ACME", ["AU*ACM*E1", "AU*ACM*E2"])
    token_c = handshake(url, "acme-token-a")
    auth = {"Authorization": token_header(token_c)}
    document = json.loads(FIXTURE.read_text())
    document["party_id"], document["id"] = "acm", "loc-goulburn-1"
    for evse in document["evses"]:
        evse["uid"] = evse["uid"].lower()
    base = f"{url}/ocpi/emsp/2.2.1/locations/au/Acm/LOC-GOULBURN-1"
    assert http.put(base, headers=auth, json=document).json()["status_code"] == 1000
    patch = http.patch(
        f"{base}/au*acm*E1",
        headers=auth,
        json={"status": "OUTOFORDER", "last_updated": "2026-11-20T00:05:00Z"},
    )
    assert patch.json()["status_code"] == 1000
    wait_for(lambda: len(stored_runs(settings)) == 3, timeout=60)
    assert stored_runs(settings) == [
        ("ACME", "AU*ACM*E1", "AVAILABLE"),
        ("ACME", "AU*ACM*E1", "OUTOFORDER"),
        ("ACME", "AU*ACM*E2", "CHARGING"),
    ]
    read = f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/Loc-Goulburn-1"
    location = http.get(read, headers=auth).json()["data"]
    assert location["name"] == "Goulburn Highway Stop" and len(location["evses"]) == 2
    evse = http.get(f"{read}/AU*ACM*E1", headers=auth).json()["data"]
    assert evse["status"] == "OUTOFORDER" and evse["last_updated"] == "2026-11-20T00:05:00Z"
    connector = http.get(f"{read}/au*acm*e2/1", headers=auth).json()["data"]
    assert connector["standard"] == "CHADEMO"
    for missing in (
        f"{read}/AU*ACM*E9",
        f"{read}/AU*ACM*E1/7",
        f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/L9",
    ):
        answer = http.get(missing, headers=auth)
        assert answer.status_code == 404 and answer.json()["status_code"] == 2003, missing
    # Token A and another CPO's token read nothing.
    assert (
        http.get(read, headers={"Authorization": token_header("acme-token-a")}).status_code == 401
    )


def test_the_body_party_must_be_the_urls(worker) -> None:
    url, settings = worker
    token_c = handshake(url, "acme-token-a")
    auth = {"Authorization": token_header(token_c)}
    base = f"{url}/ocpi/emsp/2.2.1/locations/AU/ACM/LOC-GOULBURN-1"
    for field, value in (("country_code", "BE"), ("party_id", "BEC"), ("party_id", 7)):
        document = {**json.loads(FIXTURE.read_text()), field: value}
        answer = http.put(base, headers=auth, json=document)
        assert answer.status_code == 400 and answer.json()["status_code"] == 2001, answer.text
        assert field in answer.json()["status_message"]
    assert (
        http.patch(
            base, headers=auth, json={"party_id": "BEC", "last_updated": "2026-11-20T00:00:00Z"}
        ).status_code
        == 400
    )
    reasons = [
        r[3]
        for r in wait_for(
            lambda: len(quarantined(settings)) >= 4 and quarantined(settings), timeout=60
        )
    ]
    assert sum("differs from the URL" in r for r in reasons) == 4
    assert stored_runs(settings) == []
