"""The push format's models: ``observations_from_push`` called directly (no HTTP), and the
OpenAPI schema a live worker serves checked against what the handler really accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest_worker.feeds.push_common import (
    MAX_ITEMS,
    BadPayload,
    is_ping,
    observations_from_push,
)
from shared.status import Observation

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
GOOD = {"evse_uid": "AU*ACM*E1", "status": "charging", "observed_at": "2026-11-23T10:15:00+11:00"}


def body(*items: object, **envelope: object) -> bytes:
    return json.dumps({"observations": list(items), **envelope}).encode()


def test_good_items_become_observations_in_the_spec_form() -> None:
    batch = observations_from_push(
        body(GOOD, {**GOOD, "evse_uid": " AU*ACM*E2 ", "connector_id": 2, "cpo_id": "ACME"}),
        "ACME",
        NOW,
    )
    assert batch.rejected == []
    assert batch.observations == [
        Observation("ACME", "AU*ACM*E1", "CHARGING", datetime(2026, 11, 22, 23, 15, tzinfo=UTC)),
        Observation(
            "ACME", "AU*ACM*E2", "CHARGING", datetime(2026, 11, 22, 23, 15, tzinfo=UTC), "2"
        ),
    ]
    assert batch.result().model_dump() == {"accepted": 2, "rejected": []}


# (item, words the error must contain); each is item 1 of a batch whose item 0 is good
BAD_ITEMS: list[tuple[object, str]] = [
    ({**GOOD, "status": "EXPLODED"}, "status: unknown raw status 'EXPLODED'"),
    ({**GOOD, "status": None}, "status: expected a string, got NoneType"),
    ({k: v for k, v in GOOD.items() if k != "status"}, "status: Field required"),
    ({**GOOD, "observed_at": "1999-12-31T23:59:59Z"}, "is before 2000-01-01"),
    ({**GOOD, "observed_at": "2026-11-23T00:05:01+00:00"}, "more than 5 minutes in the future"),
    ({**GOOD, "observed_at": "2026-11-01T00:00:00"}, "has no UTC offset"),
    ({**GOOD, "observed_at": 1700000000}, "observed_at: expected an ISO 8601 string, got int"),
    ({**GOOD, "evse_uid": "E" * 65}, "evse_uid: longer than 64 characters"),
    ({**GOOD, "evse_uid": "bad\x00id"}, "evse_uid: contains control characters"),
    ({**GOOD, "evse_uid": 12345}, "evse_uid: expected a string, got int"),
    ({**GOOD, "connector_id": True}, "connector_id: expected a string or an integer, got bool"),
    ({**GOOD, "cpo_id": "OTHER"}, "cpo_id: 'OTHER' is not the CPO of this token"),
    ("a string", "expected an object, got str"),
    ([GOOD], "expected an object, got list"),
]


@pytest.mark.parametrize(("item", "words"), BAD_ITEMS, ids=[w for _, w in BAD_ITEMS])
def test_a_bad_item_is_rejected_by_its_index_and_the_rest_is_taken(
    item: object, words: str
) -> None:
    batch = observations_from_push(body(GOOD, item, GOOD), "ACME", NOW)
    assert [r.index for r in batch.rejected] == [1]
    assert words in batch.rejected[0].error
    assert len(batch.observations) == 2
    location, reason, payload = batch.quarantine_entry()
    assert location == "observations[1]" and reason.startswith("[1] ")
    assert json.loads(payload) == [item]


def test_the_future_bound_counts_from_the_given_instant() -> None:
    at = "2026-11-23T00:05:00+00:00"  # exactly 5 minutes ahead of NOW: still taken
    assert observations_from_push(body({**GOOD, "observed_at": at}), "ACME", NOW).rejected == []
    later = NOW - timedelta(minutes=1)
    assert observations_from_push(body({**GOOD, "observed_at": at}), "ACME", later).rejected


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"{nope", "not JSON"),
        (b"[]", "expected an object"),
        (b'{"observations": "E1"}', "observations: expected a list"),
        (body(GOOD, cpo_id="OTHER"), "is not the CPO of this token"),
        (body(*[GOOD] * (MAX_ITEMS + 1)), f"at most {MAX_ITEMS}"),
        (json.dumps(GOOD).encode(), "expected an object"),  # one item alone: WebSocket only
    ],
)
def test_an_unusable_body_is_refused_whole(payload: bytes, words: str) -> None:
    with pytest.raises(BadPayload, match=words):
        observations_from_push(payload, "ACME", NOW)


def test_the_websocket_takes_one_item_alone_and_knows_a_ping() -> None:
    batch = observations_from_push(json.dumps(GOOD), "ACME", NOW, single_allowed=True)
    assert [o.evse_uid for o in batch.observations] == ["AU*ACM*E1"]
    assert is_ping('{"type": "ping"}') and is_ping('{"type":"ping"}')
    assert not is_ping('{"type": "ping", "x": 1}') and not is_ping('{"type": "pong"}')
    assert not is_ping("{nope") and not is_ping(json.dumps(GOOD))


def test_the_openapi_schema_is_what_the_handler_accepts(worker) -> None:  # type: ignore[no-untyped-def]
    """Every property of the served item schema: leaving it out is refused exactly when the
    schema says it is required; the documented bounds are the handler's."""
    url, _ = worker
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    text = json.dumps(spec)
    assert '"#/$defs/' not in text  # every reference resolves inside the OpenAPI document
    operation = spec["paths"]["/api/v1/observations"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    # the bearer token is the auth dependency's scheme, and the route refuses without it
    (scheme,) = operation["security"][0]
    assert spec["components"]["securitySchemes"][scheme]["scheme"] == "bearer"
    assert schema["required"] == ["observations"]
    assert schema["properties"]["observations"]["maxItems"] == MAX_ITEMS
    items = schema["properties"]["observations"]["items"]
    assert set(items["required"]) == {"evse_uid", "status", "observed_at"}
    full = {**GOOD, "connector_id": "1", "cpo_id": "ACME"}
    assert set(items["properties"]) == set(full)
    now = datetime.now(UTC)
    full["observed_at"] = now.isoformat()
    for name in items["properties"]:
        without = {k: v for k, v in full.items() if k != name}
        batch = observations_from_push(body(without), "ACME", now)
        assert bool(batch.rejected) == (name in items["required"]), name
    # and over HTTP, the same item schema: a required field missing is rejected by its index
    response = httpx.post(
        f"{url}/api/v1/observations",
        json={"observations": [full, {k: v for k, v in full.items() if k != "status"}]},
        headers={"Authorization": "Bearer acme-rest-secret"},
        timeout=30,
    )
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "rejected": [{"index": 1, "error": "status: Field required"}],
    }
    longest = items["properties"]["evse_uid"]["maxLength"]
    for length, refused in ((longest, False), (longest + 1, True)):
        item = {**full, "evse_uid": "E" * length}
        assert bool(observations_from_push(body(item), "ACME", now).rejected) == refused
    assert items["properties"]["observed_at"]["format"] == "date-time"
    answer = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert answer["$ref"] == "#/components/schemas/PushResult"
    assert set(spec["components"]["schemas"]["PushResult"]["properties"]) == {
        "accepted",
        "rejected",
    }
