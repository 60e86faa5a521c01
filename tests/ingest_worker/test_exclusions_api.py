"""``/api/v1/exclusions`` on a real worker over loopback: a CPO proposes, lists and withdraws its
own exclusions with its rest_push token, never another CPO's; hostile input gets a clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.blobstore import LocalBlobStore
from shared.sites import REQUIRED_COLUMNS

ACME = {"Authorization": "Bearer acme-rest-secret"}
OTHER = {"Authorization": "Bearer other-rest-secret"}
URL = "/api/v1/exclusions"


def site_line(cpo: str, site: str, charger: str, evse: str) -> str:
    return (
        f"{cpo},{site},Site,1 Main St,Goulburn,NSW,2580,-34.75,149.72,{charger},{evse},1,"
        "IEC_62196_T2,AC_3_PHASE,22"
    )


@pytest.fixture
def api(worker) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    url, settings = worker
    csv = "\n".join(
        [
            ",".join(REQUIRED_COLUMNS),
            site_line("ACME", "S1", "C1", "E1"),
            site_line("ACME", "S1", "C1", "E2"),
            site_line("OTHER", "S9", "C9", "E9"),
        ]
    )
    LocalBlobStore(settings.blob_dir).put("static/sites/sites.csv", (csv + "\n").encode())
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def body(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "scope": "evse",
        "scope_id": "E1",
        "from": at(-2),
        "to": at(-1),
        "cause": "UTILITY_INTERRUPTION",
        "note": "feeder 7 down",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def test_propose_list_get_withdraw(api: httpx.Client) -> None:
    created = api.post(URL, json=body(), headers=ACME)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["exclusion_id"].startswith("ex-")
    assert (item["cpo_id"], item["scope"], item["scope_id"], item["state"]) == (
        "ACME",
        "evse",
        "E1",
        "PROPOSED",
    )
    assert item["cause"] == "UTILITY_INTERRUPTION" and item["note"] == "feeder 7 down"
    assert datetime.fromisoformat(item["from"]) < datetime.fromisoformat(item["to"])
    charger = api.post(
        URL, json=body(scope="charger", scope_id="C1", cause="VANDALISM"), headers=ACME
    )
    assert charger.status_code == 201, charger.text

    listed = api.get(URL, headers=ACME).json()["exclusions"]
    assert {x["exclusion_id"] for x in listed} == {
        item["exclusion_id"],
        charger.json()["exclusion_id"],
    }
    one = api.get(f"{URL}/{item['exclusion_id']}", headers=ACME)
    assert one.status_code == 200 and one.json() == item

    gone = api.post(
        f"{URL}/{item['exclusion_id']}/withdraw", json={"reason": "wrong day"}, headers=ACME
    )
    assert gone.status_code == 200, gone.text
    assert (gone.json()["state"], gone.json()["reason"]) == ("WITHDRAWN", "wrong day")
    again = api.post(f"{URL}/{item['exclusion_id']}/withdraw", headers=ACME)
    assert again.status_code == 409 and "is WITHDRAWN" in again.json()["error"]
    withdrawn = api.get(URL, params={"state": "WITHDRAWN"}, headers=ACME).json()["exclusions"]
    assert [x["exclusion_id"] for x in withdrawn] == [item["exclusion_id"]]
    bad_state = api.get(URL, params={"state": "GONE"}, headers=ACME)
    assert bad_state.status_code == 422 and "state: 'GONE'" in bad_state.json()["error"]


def test_one_cpo_never_reaches_another_cpos_exclusions(api: httpx.Client) -> None:
    mine = api.post(URL, json=body(), headers=ACME).json()
    eid = mine["exclusion_id"]
    assert api.get(URL, headers=OTHER).json() == {"exclusions": []}
    assert api.get(f"{URL}/{eid}", headers=OTHER).status_code == 404
    stolen = api.post(f"{URL}/{eid}/withdraw", headers=OTHER)
    assert stolen.status_code == 404 and "of OTHER" in stolen.json()["error"]
    # Proposing for ACME's EVSE: the scope is looked up among OTHER's own sites only.
    foreign = api.post(URL, json=body(), headers=OTHER)
    assert foreign.status_code == 422
    assert "evse 'E1' is not in OTHER's static site CSV" in foreign.json()["error"]
    claimed = api.post(URL, json=body(cpo_id="ACME"), headers=OTHER)
    assert claimed.status_code == 403 and "not the CPO of this token" in claimed.json()["error"]
    theirs = api.post(URL, json=body(scope="site", scope_id="S9"), headers=OTHER)
    assert theirs.status_code == 201 and theirs.json()["cpo_id"] == "OTHER"
    assert api.get(f"{URL}/{theirs.json()['exclusion_id']}", headers=ACME).status_code == 404
    assert [x["exclusion_id"] for x in api.get(URL, headers=ACME).json()["exclusions"]] == [eid]
    assert api.get(f"{URL}/{eid}", headers=ACME).json()["state"] == "PROPOSED"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer acme-ws-secret"},  # a ws_push token is not a rest_push token
        {"Authorization": "Basic YWNtZTphY21l"},
    ],
)
def test_unknown_tokens_are_refused(api: httpx.Client, headers: dict[str, str]) -> None:
    for response in (
        api.post(URL, json=body(), headers=headers),
        api.get(URL, headers=headers),
        api.post(f"{URL}/ex-0000000000000000/withdraw", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"error": "missing or unknown bearer token"}


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (b"", 400, "empty body"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (b'{"a":' * 50_00 + b"1" + b"}" * 50_00, 413, "body larger than"),
        (b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
        (b"\xff\xfe{}", 400, "not JSON"),
        (b'{"scope": "evse"}', 422, "scope_id: Field required"),
        (b"x" * 20_000, 413, "body larger than 16384 bytes"),
    ],
)
def test_malformed_bodies(api: httpx.Client, content: bytes, status: int, message: str) -> None:
    response = api.post(URL, content=content, headers={**ACME, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_chunked_oversized_body_is_cut_off(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"note": "'
        for _ in range(64):
            yield b"y" * 1024

    response = api.post(URL, content=chunks(), headers=ACME)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cause": "SOLAR_FLARE"}, "cause: Input should be 'UTILITY_INTERRUPTION'"),
        ({"scope": "plug"}, "scope: Input should be 'evse', 'charger' or 'site'"),
        ({"scope_id": "E" * 65}, "scope_id: String should have at most 64 characters"),
        ({"from": at(-1), "to": at(-2)}, "is not after from"),
        ({"from": at(-400), "to": at(-1)}, "longer than a year"),
        ({"from": at(91), "to": at(92)}, "more than 90 days in the future"),
        ({"from": "2026-11-01T08:00:00"}, "from: timestamp 2026-11-01T08:00:00 has no UTC offset"),
        ({"to": 5}, "to: Input should be a valid string"),
        ({"note": "a\x00b"}, "note: contains control characters"),
        ({"note": "n" * 2001}, "note: String should have at most 2000 characters"),
        ({"scope_id": "E7"}, "evse 'E7' is not in ACME's static site CSV"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_rule_breaking_proposals_are_422_with_the_field(
    api: httpx.Client, changes: dict, message: str
) -> None:
    response = api.post(URL, json=body(**changes), headers=ACME)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]
    assert api.get(URL, headers=ACME).json() == {"exclusions": []}


def test_the_same_window_twice_is_a_conflict(api: httpx.Client) -> None:
    proposal = body()
    first = api.post(URL, json=proposal, headers=ACME)
    second = api.post(URL, json=proposal, headers=ACME)
    assert second.status_code == 409
    assert f"already proposed as {first.json()['exclusion_id']}" in second.json()["error"]


def test_withdraw_body_is_checked_and_ids_are_bounded(api: httpx.Client) -> None:
    eid = api.post(URL, json=body(), headers=ACME).json()["exclusion_id"]
    extra = api.post(f"{URL}/{eid}/withdraw", json={"why": "x"}, headers=ACME)
    assert (
        extra.status_code == 422 and "why: Extra inputs are not permitted" in extra.json()["error"]
    )
    assert api.get(f"{URL}/{'x' * 100}", headers=ACME).status_code == 422
    assert api.get(f"{URL}/ex-ffffffffffffffff", headers=ACME).status_code == 404
    assert api.get(f"{URL}/{eid}", headers=ACME).json()["state"] == "PROPOSED"


def test_openapi_documents_the_routes(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/exclusions"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert {"scope", "scope_id", "from", "to", "cause"} <= set(schema["required"])
    assert set(schema["properties"]["cause"]["enum"]) == {
        "UTILITY_INTERRUPTION",
        "VEHICLE_FAULT",
        "SCHEDULED_MAINTENANCE",
        "VANDALISM",
        "NATURAL_DISASTER",
    }
    assert {"201", "401", "409", "413", "422"} <= set(post["responses"])
    assert "get" in spec["paths"]["/api/v1/exclusions"]
    assert "post" in spec["paths"]["/api/v1/exclusions/{exclusion_id}/withdraw"]
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    assert "ExclusionOut" in spec["components"]["schemas"]
