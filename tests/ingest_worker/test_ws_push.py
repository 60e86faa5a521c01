"""WebSocket push against a real worker: auth on upgrade, batches, pings, bad frames."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import websockets

from tests.ingest_worker.conftest import quarantined, stored_runs, wait_for


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws/v1/observations"


async def exchange(url: str, messages: list, token: str = "acme-ws-secret") -> list:
    answers = []
    async with websockets.connect(
        ws_url(url), additional_headers={"Authorization": f"Bearer {token}"}
    ) as socket:
        for message in messages:
            if callable(message):  # built at send time, so its timestamps follow earlier liveness
                message = message()
            await socket.send(message if isinstance(message, str | bytes) else json.dumps(message))
            answers.append(json.loads(await socket.recv()))
    return answers


def test_messages_and_batches(worker) -> None:
    url, settings = worker
    answers = asyncio.run(
        exchange(
            url,
            [
                lambda: {"evse_uid": "W1", "status": "AVAILABLE", "observed_at": ago(0)},
                lambda: {
                    "observations": [
                        {
                            "evse_uid": "W1",
                            "status": "PREPARING",
                            "observed_at": ago(0),
                        },
                        {"evse_uid": "W2", "status": "WAT", "observed_at": ago(30)},
                    ]
                },
                {"type": "ping"},
                "{not json",
                b"\x00\x01binary",
                {
                    "observations": [
                        {
                            "evse_uid": "W3",
                            "status": "AVAILABLE",
                            "observed_at": ago(30),
                            "cpo_id": "OTHER",
                        }
                    ]
                },
            ],
        )
    )
    assert answers[0] == {"accepted": 1, "rejected": []}
    assert answers[1]["accepted"] == 1 and answers[1]["rejected"][0]["index"] == 1
    assert answers[2] == {"type": "pong"}
    assert "not JSON" in answers[3]["error"]
    assert "binary frames are not accepted" in answers[4]["error"]
    assert "is not the CPO of this token" in answers[5]["rejected"][0]["error"]
    wait_for(
        lambda: stored_runs(settings) == [("ACME", "W1", "AVAILABLE"), ("ACME", "W1", "PREPARING")]
    )
    sources = {
        row[1]
        for row in wait_for(lambda: len(quarantined(settings)) >= 4 and quarantined(settings))
    }
    assert sources == {"ws_push"}


@pytest.mark.parametrize("token", ["", "wrong", "acme-rest-secret"])
def test_upgrade_needs_the_ws_token(worker, token: str) -> None:
    url, _ = worker
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(exchange(url, [{"type": "ping"}], token=token))
    assert refused.value.response.status_code == 403


def test_oversized_message_closes_the_socket(worker) -> None:
    url, settings = worker

    async def send_huge() -> int:
        async with websockets.connect(
            ws_url(url),
            additional_headers={"Authorization": "Bearer acme-ws-secret"},
            max_size=None,
        ) as socket:
            await socket.send("x" * (2 * 1024 * 1024))
            try:
                await socket.recv()
            except websockets.exceptions.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else -1
        return 0

    assert asyncio.run(send_huge()) == 1009  # message too big
    # The worker is still up and takes the next connection.
    assert asyncio.run(exchange(url, [{"type": "ping"}])) == [{"type": "pong"}]


def test_reconnect_keeps_going(worker) -> None:
    url, settings = worker
    for minute in range(3):
        asyncio.run(
            exchange(
                url,
                [
                    {
                        "evse_uid": "R1",
                        "status": "AVAILABLE",
                        "observed_at": ago(30 - minute),
                    }
                ],
            )
        )
    wait_for(lambda: stored_runs(settings) == [("ACME", "R1", "AVAILABLE")])


def test_a_flooding_connection_is_slowed_not_served(worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest_worker.feeds import ws_push

    monkeypatch.setattr(ws_push, "MESSAGES_PER_SECOND", 1.0)
    monkeypatch.setattr(ws_push, "BURST", 3.0)
    url, settings = worker
    ping = {"type": "ping"}
    answers = asyncio.run(exchange(url, [ping] * 6))
    assert answers[:3] == [{"type": "pong"}] * 3
    assert any("messages per second" in a.get("error", "") for a in answers[3:])
    # Other connections are not affected.
    assert asyncio.run(exchange(url, [ping])) == [{"type": "pong"}]


def test_one_token_holds_a_bounded_number_of_connections(worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest_worker.feeds import ws_push

    monkeypatch.setattr(ws_push, "MAX_CONNECTIONS_PER_TOKEN", 2)
    url, _ = worker
    headers = {"Authorization": "Bearer acme-ws-secret"}

    async def scenario() -> None:
        first = await websockets.connect(ws_url(url), additional_headers=headers)
        second = await websockets.connect(ws_url(url), additional_headers=headers)
        for socket in (first, second):  # both are served
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv()) == {"type": "pong"}
        third = await websockets.connect(ws_url(url), additional_headers=headers)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await third.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        await first.close()
        # a slot is free again once the server has seen the close: wait for it
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                again = await websockets.connect(ws_url(url), additional_headers=headers)
                await again.send(json.dumps({"type": "ping"}))
                assert json.loads(await again.recv()) == {"type": "pong"}
                break
            except (websockets.ConnectionClosed, websockets.InvalidStatus):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
        await again.close()
        await second.close()

    asyncio.run(scenario())
