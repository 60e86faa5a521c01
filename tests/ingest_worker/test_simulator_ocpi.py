"""The simulator's OCPI 2.2.1 Sender on loopback: discovery, pagination, date_from, tokens,
bad queries and drop-outs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from ingest_worker.feeds.config import FeedConfig
from ingest_worker.simulator.ocpi_cpo import CpoState, sender_app
from ingest_worker.simulator.plan import SimEvse, SimFeed
from ingest_worker.simulator.runtime import FeedRecord
from tests.ingest_worker.conftest import serve

SECRET = "volta-pull-secret"
T1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)


def evse(site: int, n: int) -> SimEvse:
    return SimEvse(
        cpo_id="VOLTA",
        evse_uid=f"AU*VOL*E{site}{n}",
        site_id=f"S{site}",
        site={
            "site_name": f"Site {site}",
            "address": "1 Main St",
            "suburb": "Goulburn",
            "state": "NSW",
            "postcode": "2580",
            "latitude": -34.75,
            "longitude": 149.7,
        },
        connectors=(
            {
                "id": "1",
                "standard": "IEC_62196_T2",
                "power_type": "AC_3_PHASE",
                "max_power_kw": 22.0,
            },
        ),
        dc=False,
        charge_point_id=f"S{site}-C1",
        number=n,
        mapped=False,
    )


@pytest.fixture
def sender() -> Iterator[tuple[str, CpoState]]:
    feed = FeedConfig(
        cpo_id="VOLTA",
        kind="ocpi_pull",
        token_env="VOLTA_PULL",
        secret=SECRET,
        versions_url="http://127.0.0.1/ocpi/cpo/VOLTA/versions",
    )
    evses = [evse(site, n) for site in range(1, 6) for n in (1, 2)]  # 5 Locations, 10 EVSEs
    state = CpoState(SimFeed(feed, evses), FeedRecord("VOLTA", "ocpi_pull"))
    for e in evses:
        state.statuses[e.evse_uid] = ("AVAILABLE", T1)
    state.statuses["AU*VOL*E41"] = ("CHARGING", T2)  # Location S4 changed later
    with serve(sender_app({"VOLTA": state})) as url:
        yield url, state


def token(secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(secret.encode()).decode()}


def test_discovery_and_pagination_with_link_and_total_count(sender) -> None:  # type: ignore[no-untyped-def]
    url, state = sender
    versions = httpx.get(f"{url}/ocpi/cpo/VOLTA/versions", headers=token()).json()
    assert versions["status_code"] == 1000
    details = httpx.get(versions["data"][0]["url"], headers=token()).json()["data"]
    (endpoint,) = details["endpoints"]
    assert (endpoint["identifier"], endpoint["role"]) == ("locations", "SENDER")
    pages, next_url = [], endpoint["url"] + "?limit=2"
    while next_url:
        response = httpx.get(next_url, headers=token())
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Limit"] == "2"
        pages.append([location["id"] for location in response.json()["data"]])
        next_url = response.links.get("next", {}).get("url")
    assert pages == [["S1", "S2"], ["S3", "S4"], ["S5"]]
    assert state.record.last["AU*VOL*E41"] == "CHARGING"


def test_date_from_returns_only_locations_changed_since(sender) -> None:  # type: ignore[no-untyped-def]
    url, _ = sender
    response = httpx.get(
        f"{url}/ocpi/cpo/VOLTA/2.2.1/locations",
        params={"date_from": "2026-03-01T11:00:00Z"},
        headers=token(),
    )
    data = response.json()["data"]
    assert [location["id"] for location in data] == ["S4"]
    assert response.headers["X-Total-Count"] == "1"
    assert [(e["uid"], e["status"]) for e in data[0]["evses"]] == [
        ("AU*VOL*E41", "CHARGING"),
        ("AU*VOL*E42", "AVAILABLE"),
    ]
    assert data[0]["last_updated"] == "2026-03-01T11:30:00.000Z"


@pytest.mark.parametrize(
    ("path", "headers", "status", "ocpi_status"),
    [
        ("/ocpi/cpo/VOLTA/versions", {}, 401, 2000),
        ("/ocpi/cpo/VOLTA/versions", token("wrong"), 401, 2000),
        ("/ocpi/cpo/VOLTA/versions", {"Authorization": "Bearer " + SECRET}, 401, 2000),
        ("/ocpi/cpo/NOBODY/versions", token(), 404, 2003),
        ("/ocpi/cpo/VOLTA/2.2.1/locations?offset=abc", token(), 400, 2001),
        ("/ocpi/cpo/VOLTA/2.2.1/locations?date_from=yesterday", token(), 400, 2001),
    ],
)
def test_refusals(sender, path, headers, status, ocpi_status) -> None:  # type: ignore[no-untyped-def]
    url, _ = sender
    response = httpx.get(url + path, headers=headers)
    assert response.status_code == status
    assert response.json()["status_code"] == ocpi_status


def test_a_raw_token_and_limits_beyond_the_maximum(sender) -> None:  # type: ignore[no-untyped-def]
    url, _ = sender
    response = httpx.get(
        f"{url}/ocpi/cpo/VOLTA/2.2.1/locations?limit=100000&offset=-4",
        headers={"Authorization": f"Token {SECRET}"},  # OCPI 2.1.1 style, not Base64
    )
    assert response.status_code == 200
    assert response.headers["X-Limit"] == "100"
    assert len(response.json()["data"]) == 5
    assert "Link" not in response.headers


def test_a_drop_out_answers_503(sender) -> None:  # type: ignore[no-untyped-def]
    url, state = sender
    state.silent = True
    response = httpx.get(f"{url}/ocpi/cpo/VOLTA/versions", headers=token())
    assert response.status_code == 503
