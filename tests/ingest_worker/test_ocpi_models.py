"""OCPI 2.2.1 objects as pydantic models and the pure functions over them (no HTTP): the
official examples are read, stored exactly as received and give their statuses; a pushed body is
checked against its URL by field; a bad EVSE of a Location is reported by its index; the
worker's OpenAPI schema describes the bodies the handlers accept."""

from __future__ import annotations

import json

import httpx
import pytest

from ingest_worker.feeds.ocpi_locations import (
    OcpiBodyError,
    observations_from_location,
    observations_from_pushed,
    parse_location,
    parse_pushed,
)
from ingest_worker.feeds.ocpi_models import (
    Connector,
    ConnectorPatch,
    Credentials,
    Evse,
    EvsePatch,
    Location,
    LocationPatch,
    Version,
    VersionDetails,
)
from tests.conftest import shared_data

T = "2026-11-20T00:00:00Z"
BEC = ("BE", "BEC")


def example(name: str) -> object:
    return json.loads(shared_data("ocpi-2.2.1", "examples", name).read_text())


@pytest.mark.parametrize(
    ("name", "statuses"),
    [
        ("location_example.json", [("3256", "AVAILABLE"), ("3257", "RESERVED")]),
        (
            "location_example_uc2_destination_charger.json",
            [("fd855359-bc81-47bb-bb89-849ae3dac89e", "AVAILABLE")],
        ),
        (
            "location_example_uc5_home_charge_point.json",
            [("4534ad5f-45be-428b-bfd0-fa489dda932d", "AVAILABLE")],
        ),
        (
            "location_example_parking_garage_opening_hours.json",
            [("eccb8dd9-4189-433e-b100-cc0945dd17dc", "AVAILABLE")],
        ),
        ("location_energymix_example_complete.json", []),
    ],
)
def test_official_locations_are_stored_as_received(name: str, statuses: list) -> None:
    document = example(name)
    location = parse_location(document)
    assert location.stored() == document  # nothing added, dropped or re-spelled
    observations, problems = observations_from_location("EXA", location)
    assert problems == []
    assert [(o.evse_uid, o.status) for o in observations] == statuses


@pytest.mark.parametrize(
    ("name", "method", "ids", "model", "status"),
    [
        ("location_put_example_add_evse.json", "PUT", ("LOC1", "3256", None), Evse, "AVAILABLE"),
        (
            "location_patch_example_status.json",
            "PATCH",
            ("LOC1", "3255", None),
            EvsePatch,
            "CHARGING",
        ),
        (
            "location_patch_example_remove_evse.json",
            "PATCH",
            ("LOC1", "3255", None),
            EvsePatch,
            "REMOVED",
        ),
        (
            "location_patch_example_location.json",
            "PATCH",
            ("LOC1", None, None),
            LocationPatch,
            None,
        ),
        (
            "location_patch_example_tariff.json",
            "PATCH",
            ("LOC1", "3255", "1"),
            ConnectorPatch,
            None,
        ),
    ],
)
def test_official_put_and_patch_bodies(
    name: str, method: str, ids: tuple, model: type, status: str | None
) -> None:
    document = example(name)
    pushed = parse_pushed(method, BEC, ids, document)  # type: ignore[arg-type]
    assert type(pushed) is model and pushed.stored() == document
    observations, problems = observations_from_pushed("EXA", pushed, ids)
    assert problems == []
    assert [(o.evse_uid, o.status) for o in observations] == ([(ids[1], status)] if status else [])


@pytest.mark.parametrize(
    ("method", "ids", "body", "message"),
    [
        ("PATCH", ("L1", "E1", None), {"status": "AVAILABLE"}, "last_updated: required"),
        ("PATCH", ("L1", None, None), {"name": "x"}, "last_updated: required"),
        ("PATCH", ("L1", "E1", "1"), {"max_amperage": 16}, "last_updated: required"),
        ("PUT", ("L1", "E1", None), {"uid": "E2"}, "uid: 'E2' differs from the URL's 'E1'"),
        ("PUT", ("L1", "E1", "1"), {"id": "2"}, "id: '2' differs from the URL's '1'"),
        ("PUT", ("L1", None, None), {"id": "L2"}, "id: 'L2' differs from the URL's 'L1'"),
        ("PUT", ("L1", None, None), {"party_id": 7}, "party_id: 7 differs from the URL's 'BEC'"),
        (
            "PATCH",
            ("L1", None, None),
            {"country_code": "NL", "last_updated": T},
            "country_code: 'NL' differs",
        ),
        ("PUT", ("L1", None, None), ["not", "an", "object"], "body: expected a JSON object"),
        (
            "PUT",
            ("L1", None, None),
            {"evses": {"uid": "E1"}},
            "evses: Input should be a valid list",
        ),
        ("PUT", ("L1", "E1", "1"), {"id": 1}, "id: 1 differs from the URL's '1'"),
        ("PUT", ("L1", "E1", None), {"status": 7}, "status: Input should be a valid string"),
    ],
)
def test_a_body_is_checked_against_its_url_by_field(
    method: str, ids: tuple, body: object, message: str
) -> None:
    with pytest.raises(OcpiBodyError) as refused:
        parse_pushed(method, BEC, ids, body)  # type: ignore[arg-type]
    assert str(refused.value).startswith(message), str(refused.value)


def test_ids_compare_case_insensitively_and_a_patch_may_omit_the_location_id() -> None:
    pushed = parse_pushed("PUT", BEC, ("loc1", None, None), {"id": "LOC1", "party_id": "bec"})
    assert isinstance(pushed, Location)
    assert parse_pushed("PATCH", BEC, ("L1", None, None), {"id": "other", "last_updated": T})
    pushed = parse_pushed("PUT", BEC, ("L1", "e1", None), {"uid": "E1", "status": "CHARGING"})
    assert isinstance(pushed, Evse) and pushed.uid == "E1"
    connector = parse_pushed("PUT", BEC, ("L1", "E1", "1"), {"id": "1", "standard": "CHADEMO"})
    assert type(connector) is Connector and connector.stored() == {"id": "1", "standard": "CHADEMO"}


def test_an_evse_put_without_a_time_is_refused_by_field() -> None:
    pushed = parse_pushed("PUT", BEC, ("L1", "E1", None), {"status": "CHARGING"})
    with pytest.raises(ValueError, match=r"evse\.last_updated: required"):
        observations_from_pushed("EXA", pushed, ("L1", "E1", None))


def test_bad_evses_of_a_location_keep_their_index_and_the_rest_is_kept() -> None:
    document = {
        "id": "L1",
        "last_updated": T,
        "evses": [
            {"uid": "G1", "status": "AVAILABLE"},  # the Location's last_updated applies
            {"status": "AVAILABLE", "last_updated": T},
            {"uid": "B2", "status": "EXPLODED", "last_updated": T},
            "not an EVSE",
            {"uid": "G4", "status": "CHARGING", "last_updated": "2026-11-20T00:01:00Z"},
            {"uid": "B5", "status": "AVAILABLE", "last_updated": "yesterday"},
            {"uid": "B" * 37, "status": "AVAILABLE", "last_updated": T},
        ],
    }
    location = parse_location(document)
    assert location.stored() == document  # the bad EVSEs are kept for GET as they came
    observations, problems = observations_from_location("EXA", location)
    assert [(o.evse_uid, o.status) for o in observations] == [
        ("G1", "AVAILABLE"),
        ("G4", "CHARGING"),
    ]
    assert [p.split(":")[0] for p in problems] == [
        "location.evses[1].uid",
        "location.evses[2].status",
        "location.evses[3]",
        "location.evses[5].last_updated",
        "location.evses[6].uid",
    ]
    assert "EXPLODED" in problems[1] and "required" in problems[0]


def test_versions_and_version_details_of_the_spec_and_of_peers() -> None:
    versions = [Version.model_validate(v) for v in example("versions_info_example.json")]  # type: ignore[union-attr]
    assert [(v.version, v.url) for v in versions][1] == (
        "2.2.1",
        "https://www.server.com/ocpi/2.2.1",
    )
    details = VersionDetails.model_validate(example("version_details_example.json"))
    assert [(e.identifier, e.role) for e in details.usable_endpoints()] == [
        ("credentials", "SENDER"),
        ("locations", "SENDER"),
    ]
    # Peers: a number for a version, a lower-case or missing role, an endpoint without a URL.
    peer = VersionDetails.model_validate(
        {
            "version": 2.2,
            "endpoints": [
                {"identifier": "locations", "role": "sender", "url": "http://a/l"},
                {"identifier": "tariffs", "url": "http://a/t"},
                {"identifier": "tokens", "role": "RECEIVER"},
                "junk",
            ],
        }
    )
    assert peer.version == "2.2"
    assert [(e.identifier, e.role) for e in peer.usable_endpoints()] == [
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
    ]
    credentials = Credentials.model_validate(example("credentials_example2.json"))
    assert credentials.cpo_parties == [("NL", "EXA")]


def test_the_openapi_schema_describes_what_the_ocpi_handlers_accept(worker) -> None:
    url, _ = worker
    spec = httpx.get(f"{url}/openapi.json", timeout=60).json()
    base = "/ocpi/emsp/2.2.1/locations/{country_code}/{party_id}/{location_id}"

    def body(path: str, method: str) -> dict:
        return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    put_location = body(base, "put")
    assert put_location["properties"]["evses"]["anyOf"][0]["items"]["required"] == ["uid"]
    assert "required" not in put_location  # a Location's ids come from the URL
    assert body(base + "/{evse_uid}", "patch")["required"] == ["last_updated"]
    assert body(base + "/{evse_uid}/{connector_id}", "patch")["required"] == ["last_updated"]
    assert set(body("/ocpi/2.2.1/credentials", "post")["required"]) == {"token", "url", "roles"}
    assert "requestBody" not in spec["paths"][base]["get"]
    # OCPI routes name the Authorization header they read (Token <base64>).
    parameters = spec["paths"]["/ocpi/versions"]["get"].get("security") or []
    assert parameters, spec["paths"]["/ocpi/versions"]["get"]
