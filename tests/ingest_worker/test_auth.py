"""Auth as FastAPI dependencies (ingest_worker/auth.py), one per protocol, each through a real
app on loopback: bearer → CPO feed (HTTP and WebSocket), OCPP HTTP Basic → charge point, and
the plain functions they stand on."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
import websockets
from fastapi import Depends, FastAPI, WebSocket
from websockets.exceptions import InvalidStatus

from ingest_worker.auth import (
    ChargePoint,
    OcppRefused,
    basic_credentials,
    bearer_feed,
    bearer_token,
    charge_point_feed,
    install_auth_errors,
    ocpp_charge_point,
    ws_bearer_feed,
)
from ingest_worker.feeds.config import FeedConfig
from tests.ingest_worker.conftest import feed, serve

http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
FEEDS = [
    feed("ACME", "rest_push", "acme-rest"),
    feed("ACME", "ws_push", "acme-ws"),
    feed("BETA", "rest_push", "beta-rest"),
    feed("ACME", "ocpp", "acme-ocpp"),
    FeedConfig(
        cpo_id="BETA",
        kind="ocpp",
        token_env="BETA_OCPP",
        secret="beta-ocpp",
        options={"charge_point_secret_envs": {"CP7": "BETA_CP7"}},
        charge_point_secrets={"CP7": "cp7-own"},
    ),
]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def app() -> FastAPI:
    api = FastAPI()
    rest = Depends(bearer_feed(FEEDS, "rest_push"))
    ws = Depends(ws_bearer_feed(FEEDS, "ws_push"))
    ocpp = Depends(ocpp_charge_point(FEEDS))

    @api.get("/whoami")
    async def whoami(feed: FeedConfig = rest) -> dict[str, str]:
        return {"cpo_id": feed.cpo_id, "kind": feed.kind}

    @api.websocket("/ws")
    async def stream(websocket: WebSocket, feed: FeedConfig = ws) -> None:
        await websocket.accept()
        await websocket.send_text(feed.name)
        await websocket.close()

    @api.websocket("/ocpp/{charge_point_id}")
    async def charge_point(websocket: WebSocket, who: ChargePoint = ocpp) -> None:
        await websocket.accept()
        await websocket.send_text(f"{who.charge_point_id}@{who.feed.cpo_id}")
        await websocket.close()

    install_auth_errors(api)
    return api


def test_bearer_dependency_gives_the_tokens_feed_or_401() -> None:
    with serve(app()) as url:
        acme = http.get(f"{url}/whoami", headers={"Authorization": "Bearer acme-rest"})
        assert acme.json() == {"cpo_id": "ACME", "kind": "rest_push"}
        assert http.get(f"{url}/whoami", headers={"Authorization": "bearer beta-rest"}).json() == {
            "cpo_id": "BETA",
            "kind": "rest_push",
        }
        for header in ({}, {"Authorization": "Bearer acme-ws"}, {"Authorization": "acme-rest"}):
            refused = http.get(f"{url}/whoami", headers=header)
            assert refused.status_code == 401, header
            assert refused.json() == {"error": "missing or unknown bearer token"}
            assert refused.headers["www-authenticate"] == "Bearer"
        schemes = http.get(f"{url}/openapi.json").json()["components"]["securitySchemes"]
        assert [s["scheme"] for s in schemes.values()] == ["bearer"]


def test_websocket_bearer_and_ocpp_basic_dependencies() -> None:
    async def scenario(url: str) -> None:
        ws_url = url.replace("http://", "ws://")
        async with websockets.connect(
            f"{ws_url}/ws", additional_headers={"Authorization": "Bearer acme-ws"}
        ) as socket:
            assert await socket.recv() == "ACME/ws_push"
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                f"{ws_url}/ws", additional_headers={"Authorization": "Bearer acme-rest"}
            ):
                pass
        assert refused.value.response.status_code == 403
        for cp, password, who in (("CP1", "acme-ocpp", "CP1@ACME"), ("CP7", "cp7-own", "CP7@BETA")):
            async with websockets.connect(
                f"{ws_url}/ocpp/{cp}", additional_headers={"Authorization": basic(cp, password)}
            ) as socket:
                assert await socket.recv() == who
        # CP7 has its own secret: BETA's feed secret no longer opens it; user must be the id.
        for cp, header in (
            ("CP7", basic("CP7", "beta-ocpp")),
            ("CP1", basic("CP2", "acme-ocpp")),
            ("CP1", "Bearer acme-ocpp"),
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with websockets.connect(
                    f"{ws_url}/ocpp/{cp}", additional_headers={"Authorization": header}
                ):
                    pass
            response = refused.value.response
            assert response.status_code == 401, (cp, header)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Charge@Large OCPP"'
            assert f"/ocpp/{cp}" in response.body.decode()

    with serve(app()) as url:
        asyncio.run(scenario(url))


@pytest.mark.parametrize(
    ("charge_point_id", "header", "expected"),
    [
        ("CP1", basic("CP1", "acme-ocpp"), ("CP1", "ACME")),
        ("CP8", basic("CP8", "beta-ocpp"), ("CP8", "BETA")),
        ("CP7", basic("CP7", "cp7-own"), ("CP7", "BETA")),
        ("CP7", basic("CP7", "beta-ocpp"), "wrong password for charge point CP7"),
        ("CP1", basic("CP1", "acme-rest"), "wrong password"),  # a REST secret is no OCPP one
        ("CP1", basic("CP2", "acme-ocpp"), "user = the charge point id"),
        ("CP1", None, "HTTP Basic auth required"),
        ("CP1", "Basic !!!", "HTTP Basic auth required"),
    ],
)
def test_charge_point_feed(charge_point_id: str, header: str | None, expected: object) -> None:
    if isinstance(expected, tuple):
        found = charge_point_feed(FEEDS, charge_point_id, header)
        assert (found.charge_point_id, found.feed.cpo_id) == expected
        return
    with pytest.raises(OcppRefused, match=str(expected)) as refused:
        charge_point_feed(FEEDS, charge_point_id, header)
    assert refused.value.status == 401


def test_header_parsing() -> None:
    assert bearer_token("Bearer  abc ") == "abc"
    assert bearer_token("Token abc") is None and bearer_token(None) is None
    assert basic_credentials(basic("CP1", "p:w")) == ("CP1", "p:w")
    assert basic_credentials(basic("CP1", "")) is None
    assert basic_credentials("Basic " + "A" * 2000) is None
