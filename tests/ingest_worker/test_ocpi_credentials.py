"""OCPI 2.2.1 credentials module of the worker: registration with a call back to the CPO, token A
retired at registration, token C rotation, unregistration, several parties, secrets at rest, and a
second POST of credentials refused (405)."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import select

from ingest_worker.app import WorkerOptions, create_app
from ingest_worker.feeds.ocpi_common import token_header
from ingest_worker.feeds.ocpi_parties import Parties
from ingest_worker.feeds.ocpi_tokens import TokenCipher, cipher_for
from shared.db.engine import make_engine, upgrade
from shared.db.tables import ocpi_party, ocpi_party_role, quarantine
from shared.settings import Settings
from tests.conftest import free_port, shared_data
from tests.ingest_worker.conftest import feed, query_rows, serve, stored_runs, wait_for
from tests.ingest_worker.test_ocpi_pull import FakeCpo
from tests.ingest_worker.test_ocpi_push import handshake

# Generous time-outs (CI is a busy machine); no keep-alive across the tests' servers.
http = httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
CREDENTIALS = "/ocpi/2.2.1/credentials"
LOCATIONS = "/ocpi/emsp/2.2.1/locations"
TOKEN_B = "cpo-issued-token"  # the token FakeCpo accepts


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token_header(token)}


def credentials(versions_url: str, *parties: tuple[str, str], token: str = TOKEN_B) -> dict:
    return {
        "token": token,
        "url": versions_url,
        "roles": [
            {
                "role": "CPO",
                "country_code": country,
                "party_id": party,
                "business_details": {"name": f"{country}/{party}"},
            }
            for country, party in parties
        ],
    }


def status_put(url: str, token: str, party: str, location: str = "L1") -> httpx.Response:
    return http.patch(
        f"{url}{LOCATIONS}/{party}/{location}/E1",
        headers=auth(token),
        json={"status": "AVAILABLE", "last_updated": "2026-11-20T00:00:00Z"},
    )


def test_registration_calls_the_cpo_back_and_retires_token_a(worker_settings) -> None:
    cpo = FakeCpo(locations=1)
    public = "https://ingest.chargeatlarge.example"
    feeds = [feed("ACME", "ocpi_push", "acme-token-a", country_code="AU", party_id="ACM")]
    app = create_app(worker_settings, feeds, WorkerOptions(snapshot_seconds=0.2, public_url=public))
    with serve(cpo.app) as cpo_url, serve(app) as url:
        # The Host header is the caller's choice: URLs we hand out use the configured public URL.
        versions = http.get(
            f"{url}/ocpi/versions", headers={**auth("acme-token-a"), "Host": "evil.example"}
        )
        assert versions.json()["data"] == [{"version": "2.2.1", "url": f"{public}/ocpi/2.2.1"}]
        ours = http.get(f"{url}{CREDENTIALS}", headers=auth("acme-token-a")).json()["data"]
        assert ours["url"] == f"{public}/ocpi/versions" and ours["roles"][0]["role"] == "EMSP"
        assert (
            http.put(f"{url}{CREDENTIALS}", headers=auth("acme-token-a"), json={}).status_code
            == 405
        )
        assert http.delete(f"{url}{CREDENTIALS}", headers=auth("acme-token-a")).status_code == 405

        posted = http.post(
            f"{url}{CREDENTIALS}",
            headers={**auth("acme-token-a"), "X-Request-ID": "req-1", "X-Correlation-ID": "cor-1"},
            json=credentials(f"{cpo_url}/ocpi/versions", ("au", "acm")),
        )
        assert posted.status_code == 200 and posted.json()["status_code"] == 1000, posted.text
        assert (posted.headers["x-request-id"], posted.headers["x-correlation-id"]) == (
            "req-1",
            "cor-1",
        )
        token_c = posted.json()["data"]["token"]
        assert posted.json()["data"]["url"] == f"{public}/ocpi/versions"
        # We called the CPO back with its token B: versions, then the 2.2.1 details.
        assert [h["authorization"] for h in cpo.headers[:2]] == [token_header(TOKEN_B)] * 2
        assert all(h.get("x-request-id") and h.get("x-correlation-id") for h in cpo.headers)

        # Token A no longer works for anything, token C does.
        for method, path in (
            ("GET", "/ocpi/versions"),
            ("POST", CREDENTIALS),
            ("PUT", CREDENTIALS),
        ):
            answer = http.request(
                method,
                f"{url}{path}",
                headers=auth("acme-token-a"),
                json=credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM"), token="stolen"),
            )
            assert answer.status_code == 401, (method, path, answer.text)
        assert status_put(url, token_c, "AU/ACM").json()["status_code"] == 1000
        assert (
            http.get(f"{url}{CREDENTIALS}", headers=auth(token_c)).json()["data"]["token"]
            == token_c
        )
        assert (
            http.post(
                f"{url}{CREDENTIALS}",
                headers=auth(token_c),
                json=credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM")),
            ).status_code
            == 405
        )

        # PUT rotates token C and fetches the CPO's endpoints again.
        calls = len(cpo.headers)
        rotated = http.put(
            f"{url}{CREDENTIALS}",
            headers=auth(token_c),
            json=credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM")),
        )
        assert rotated.json()["status_code"] == 1000
        new_c = rotated.json()["data"]["token"]
        assert new_c != token_c and len(cpo.headers) >= calls + 2
        assert status_put(url, token_c, "AU/ACM").status_code == 401
        assert status_put(url, new_c, "AU/ACM").json()["status_code"] == 1000

        # DELETE unregisters: token C is gone, and token A may register again.
        assert http.delete(f"{url}{CREDENTIALS}", headers=auth(new_c)).json()["status_code"] == 1000
        assert status_put(url, new_c, "AU/ACM").status_code == 401
        assert http.delete(f"{url}{CREDENTIALS}", headers=auth("acme-token-a")).status_code == 405
    assert query_rows(worker_settings, select(ocpi_party.c.cpo_id)) == []


def test_every_cpo_role_registers_its_party_and_a_party_has_one_owner(worker_settings) -> None:
    """credentials_example4.json: one platform, three CPOs. Roles are the official bytes; only
    token and url are ours (the example's URL is not a server we may call)."""
    example = json.loads(
        shared_data("ocpi-2.2.1", "examples", "credentials_example4.json").read_bytes()
    )
    cpo = FakeCpo(locations=1)
    feeds = [feed("PLATFORM", "ocpi_push", "platform-a"), feed("RIVAL", "ocpi_push", "rival-a")]
    app = create_app(worker_settings, feeds, WorkerOptions(snapshot_seconds=0.2))
    with serve(cpo.app) as cpo_url, serve(app) as url:
        body = {**example, "token": TOKEN_B, "url": f"{cpo_url}/ocpi/versions"}
        posted = http.post(f"{url}{CREDENTIALS}", headers=auth("platform-a"), json=body)
        assert posted.json()["status_code"] == 1000, posted.text
        token_c = posted.json()["data"]["token"]
        for party in ("NL/EXO", "nl/pfc", "NL/CGP"):
            assert status_put(url, token_c, party).json()["status_code"] == 1000, party
        assert status_put(url, token_c, "NL/XXX").status_code == 403
        # Another CPO whose feed names no party cannot take one that is registered.
        rival = http.post(
            f"{url}{CREDENTIALS}",
            headers=auth("rival-a"),
            json=credentials(f"{cpo_url}/ocpi/versions", ("NL", "PFC")),
        )
        assert (
            rival.status_code == 403
            and "registered by another CPO" in rival.json()["status_message"]
        )
    roles = query_rows(
        worker_settings, select(ocpi_party_role).order_by(ocpi_party_role.c.party_id)
    )
    assert roles == [
        ("NL", "CGP", "PLATFORM"),
        ("NL", "EXO", "PLATFORM"),
        ("NL", "PFC", "PLATFORM"),
    ]


def test_token_b_is_encrypted_at_rest_and_never_quarantined(worker_settings) -> None:
    cpo = FakeCpo(locations=1)
    feeds = [feed("ACME", "ocpi_push", "acme-token-a")]
    app = create_app(worker_settings, feeds, WorkerOptions(snapshot_seconds=0.2))
    secret_b = "very-secret-token-b"
    with serve(cpo.app) as cpo_url, serve(app) as url:
        refused = [
            {
                **credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM"), token=secret_b),
                "url": "not a url",
            },
            {**credentials("http://[::1/versions", ("AU", "ACM"), token=secret_b)},
            {**credentials("javascript:alert(1)", ("AU", "ACM"), token=secret_b)},
            {**credentials(f"{cpo_url}/{'x' * 300}", ("AU", "ACM"), token=secret_b)},
            {**credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM"), token=secret_b), "roles": []},
            {
                "token": secret_b,
                "url": f"{cpo_url}/ocpi/versions",
                "roles": [{"role": "EMSP", "country_code": "AU", "party_id": "ACM"}],
            },
        ]
        for body in refused:
            answer = http.post(f"{url}{CREDENTIALS}", headers=auth("acme-token-a"), json=body)
            assert answer.status_code == 400 and answer.json()["status_code"] == 2001, answer.text
            assert secret_b not in answer.text
        not_json = http.post(
            f"{url}{CREDENTIALS}", headers=auth("acme-token-a"), content=f'{{"token": "{secret_b}"'
        )
        assert not_json.status_code == 400
        posted = http.post(
            f"{url}{CREDENTIALS}",
            headers=auth("acme-token-a"),
            json=credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM"), token=TOKEN_B),
        )
        assert posted.json()["status_code"] == 1000
        wait_for(
            lambda: (
                len(query_rows(worker_settings, select(quarantine.c.payload))) == len(refused) + 1
            ),
            timeout=60,
        )
    payloads = [r[0] for r in query_rows(worker_settings, select(quarantine.c.payload))]
    assert all(secret_b not in p for p in payloads) and "[redacted]" in payloads[0]
    (stored,) = query_rows(worker_settings, select(ocpi_party.c.token_b))
    assert TOKEN_B not in stored[0] and TokenCipher.is_ciphertext(stored[0])
    assert cipher_for(worker_settings).decrypt(stored[0]) == TOKEN_B
    logs = "".join(p.read_text(errors="replace") for p in worker_settings.data_dir.rglob("*.log"))
    assert secret_b not in logs


def test_registration_goes_on_when_the_cpo_cannot_be_called_back(worker) -> None:
    url, _ = worker
    posted = http.post(
        f"{url}{CREDENTIALS}",
        headers=auth("other-token-a"),
        json=credentials(f"http://127.0.0.1:{free_port()}/ocpi/versions", ("AU", "OTH")),
    )
    assert posted.json()["status_code"] == 1000
    assert "could not use the CPO's versions endpoint" in posted.json()["status_message"]
    health = {f["cpo_id"] + "/" + f["kind"]: f for f in http.get(f"{url}/feeds").json()}
    assert "ConnectError" in health["OTHER/ocpi_push"]["last_error"]


def test_ocpi_errors_are_envelopes_with_request_ids(worker) -> None:
    url, _ = worker
    missing = http.get(f"{url}/ocpi/2.2.1/tariffs", headers={"X-Request-ID": "abc"})
    assert missing.status_code == 404 and missing.json()["status_code"] == 2000
    assert missing.headers["x-request-id"] == "abc" and missing.headers["x-correlation-id"]
    wrong_method = http.delete(f"{url}{LOCATIONS}/AU/ACM/L1")
    assert wrong_method.status_code == 405 and wrong_method.json()["status_code"] == 2000
    assert set(wrong_method.json()) == {"status_code", "status_message", "timestamp"}
    # Outside /ocpi the usual answers stay.
    assert http.get(f"{url}/nope").json() == {"detail": "Not Found"}


def test_registrations_load_when_the_database_comes_back(tmp_path) -> None:
    """A worker started while the database is unreachable answers 503 (retry), not 401, and
    serves the registered CPO once the database is back, without a restart."""
    home = tmp_path / "db"
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "var", database_url=f"sqlite:///{home / 'cal.db'}"
    )
    upgrade(settings.database_url)
    ocpi_feed = feed("ACME", "ocpi_push", "acme-token-a")
    engine = make_engine(settings.database_url)
    _, token_c = Parties(engine, cipher_for(settings)).register(
        ocpi_feed, [("AU", "ACM")], "token-b", "http://127.0.0.1:9/ocpi/versions"
    )
    engine.dispose()
    database = home / "cal.db"
    original = database.read_bytes()
    database.write_bytes(b"this is not a database " * 200)  # every query fails until restored
    app = create_app(settings, [ocpi_feed], WorkerOptions(snapshot_seconds=0.2))
    with serve(app) as url:
        down = status_put(url, token_c, "AU/ACM")
        assert down.status_code == 503 and down.json()["status_code"] == 3000
        assert down.headers["retry-after"]
        # Swapped in whole: a connection opened while the file is being rewritten would see an
        # empty database and give it a WAL of its own.
        restored = home / "restored.db"
        restored.write_bytes(original)
        os.replace(restored, database)
        answers: list[httpx.Response] = []

        def served():  # type: ignore[no-untyped-def]
            answers.append(status_put(url, token_c, "AU/ACM"))
            return answers[-1].status_code == 200 and answers[-1]

        try:
            answer = wait_for(served, timeout=120)
        except AssertionError:
            raise AssertionError(f"still {answers[-1].status_code}: {answers[-1].text}") from None
        assert answer.json()["status_code"] == 1000


def test_a_worker_started_before_its_database_exists_serves_registered_cpos_once_it_does(
    tmp_path,
) -> None:
    """The database file cannot be opened at start (its path is a folder); every OCPI caller,
    token A, token C or a guess, hears 503 "party registry not loaded yet" (never 401, which
    would tell a registered CPO its token is wrong). Once the real database is in place the
    registered CPO is served and its push is stored, and token A of the registered CPO is
    refused, all without a restart."""
    database = tmp_path / "db" / "cal.db"
    prepared = tmp_path / "prepared" / "cal.db"
    upgrade(f"sqlite:///{prepared}")
    ocpi_feed = feed("ACME", "ocpi_push", "acme-token-a")
    engine = make_engine(f"sqlite:///{prepared}")
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "var", database_url=f"sqlite:///{database}"
    )
    _, token_c = Parties(engine, cipher_for(settings)).register(
        ocpi_feed, [("AU", "ACM")], "token-b", "http://127.0.0.1:9/ocpi/versions"
    )
    engine.dispose()
    database.mkdir(parents=True)  # SQLite cannot open a folder: every query fails
    app = create_app(settings, [ocpi_feed], WorkerOptions(snapshot_seconds=0.2))
    with serve(app) as url:
        for token in (token_c, "acme-token-a", "a-guess"):
            down = status_put(url, token, "AU/ACM")
            assert down.status_code == 503, down.text
            assert down.json()["status_code"] == 3000 and down.headers["retry-after"]
            assert "party registry not loaded yet" in down.json()["status_message"]
        versions = http.get(f"{url}/ocpi/versions", headers=auth("acme-token-a"))
        assert versions.status_code == 503
        database.rmdir()
        os.replace(prepared, database)
        answers: list[httpx.Response] = []

        def served():  # type: ignore[no-untyped-def]
            answers.append(status_put(url, token_c, "AU/ACM"))
            return answers[-1].status_code == 200 and answers[-1]

        try:
            answer = wait_for(served, timeout=120)
        except AssertionError:
            raise AssertionError(f"still {answers[-1].status_code}: {answers[-1].text}") from None
        assert answer.json()["status_code"] == 1000
        refused = status_put(url, "acme-token-a", "AU/ACM")
        assert refused.status_code == 401 and refused.json()["status_code"] == 2000
        wait_for(lambda: stored_runs(settings) == [("ACME", "E1", "AVAILABLE")], timeout=120)


def test_a_cpo_without_a_locations_sender_is_told_what_it_gets(worker_settings) -> None:
    sender_less = FastAPI()

    @sender_less.get("/ocpi/versions")
    async def versions(request: Request) -> dict:
        return {
            "status_code": 1000,
            "timestamp": "2026-12-01T00:00:00Z",
            "data": [{"version": "2.2.1", "url": f"{request.base_url}ocpi/2.2.1"}],
        }

    @sender_less.get("/ocpi/2.2.1")
    async def details(request: Request) -> dict:
        credentials_url = f"{request.base_url}ocpi/2.2.1/credentials"
        return {
            "status_code": 1000,
            "timestamp": "2026-12-01T00:00:00Z",
            "data": {
                "version": "2.2.1",
                "endpoints": [
                    {"identifier": "credentials", "role": "RECEIVER", "url": credentials_url}
                ],
            },
        }

    feeds = [feed("ACME", "ocpi_push", "acme-token-a", poll_seconds=1)]
    app = create_app(worker_settings, feeds, WorkerOptions(snapshot_seconds=0.2))
    with serve(sender_less) as cpo_url, serve(app) as url:
        posted = http.post(
            f"{url}{CREDENTIALS}",
            headers=auth("acme-token-a"),
            json=credentials(f"{cpo_url}/ocpi/versions", ("AU", "ACM")),
        )
        assert posted.json()["status_code"] == 1000
        assert "no Locations SENDER endpoint" in posted.json()["status_message"]

        def told():  # type: ignore[no-untyped-def]
            health = {f["cpo_id"]: f for f in http.get(f"{url}/feeds").json()}["ACME"]
            return "has no Locations Sender" in (health["last_error"] or "") and health

        assert "confirmed only by its pushes" in wait_for(told, timeout=30)["last_error"]
        assert (
            status_put(url, posted.json()["data"]["token"], "AU/ACM").json()["status_code"] == 1000
        )


def test_tokens_b_stored_before_encryption_are_encrypted_on_load(engine, settings) -> None:
    from datetime import datetime

    from cryptography.fernet import Fernet
    from sqlalchemy import insert

    from shared.db.tables import ocpi_party as party_table

    now = datetime(2026, 12, 1)
    with engine.begin() as connection:
        connection.execute(
            insert(party_table).values(
                cpo_id="OLD",
                country_code="au",
                party_id="old",
                token_b="plain-token-b",
                token_c_sha256="0" * 64,
                versions_url="http://127.0.0.1:9/ocpi/versions",
                registered_at=now,
                updated_at=now,
            )
        )
    parties = Parties(engine, cipher_for(settings))
    parties.load()
    assert parties.by_cpo["OLD"].token_b == "plain-token-b"
    assert parties.by_cpo["OLD"].parties == {("AU", "OLD")}
    with engine.connect() as connection:
        (stored,) = connection.execute(select(party_table.c.token_b)).one()
    assert TokenCipher.is_ciphertext(stored) and "plain-token-b" not in stored
    # With another key the registration stays (token C works) but token B is unreadable.
    other = Parties(engine, TokenCipher(Fernet.generate_key()))
    other.load()
    assert other.by_cpo["OLD"].token_b is None and other.by_cpo["OLD"].token_c_sha256 == "0" * 64


def test_stored_locations_outlive_the_cache(tmp_path) -> None:
    import asyncio

    from ingest_worker.feeds.ocpi_locations import LocationStore, apply_push
    from shared.blobstore import LocalBlobStore

    store = LocationStore(LocalBlobStore(tmp_path / "blobs"), cached=2)
    party = ("AU", "ACM")

    async def scenario() -> list:  # type: ignore[type-arg]
        for index in range(5):
            key = store.key("ACME", party, f"L{index}")
            await store.change(
                key,
                lambda s, i=index: apply_push(
                    s, "PUT", (f"L{i}", None, None), {"name": f"n{i}"}, party
                ),
            )
        return [await store.get(store.key("ACME", party, f"l{i}")) for i in range(5)]

    read = asyncio.run(scenario())
    assert [r["name"] for r in read] == [f"n{i}" for i in range(5)]
    assert len(store._cache) == 2


def test_a_registration_made_by_one_replica_is_honoured_by_another(worker_settings) -> None:
    feeds = [feed("ACME", "ocpi_push", "acme-token-a")]
    first = create_app(worker_settings, feeds, WorkerOptions(snapshot_seconds=0.2))
    second = create_app(
        worker_settings,
        feeds,
        WorkerOptions(snapshot_seconds=0.2, spool_path=worker_settings.data_dir / "second.db"),
    )
    with serve(first) as url_a, serve(second) as url_b:
        token_c = http.post(
            f"{url_a}{CREDENTIALS}",
            headers=auth("acme-token-a"),
            json=credentials("http://127.0.0.1:9/ocpi/versions", ("AU", "ACM")),
        ).json()["data"]["token"]
        # The second replica has not re-read the registrations yet, but token A cannot take over.
        stolen = http.post(
            f"{url_b}{CREDENTIALS}",
            headers=auth("acme-token-a"),
            json=credentials("http://127.0.0.1:9/ocpi/versions", ("AU", "ACM"), token="thief-b"),
        )
        assert stolen.status_code in (401, 405), stolen.text
        answer = wait_for(
            lambda: (r := status_put(url_b, token_c, "AU/ACM")).status_code != 401 and r,
            timeout=60,
        )
        assert answer.json()["status_code"] == 1000
        # Token A, retired on the first replica, is retired on the second as well.
        assert http.get(f"{url_b}/ocpi/versions", headers=auth("acme-token-a")).status_code == 401
    (stored,) = query_rows(worker_settings, select(ocpi_party.c.token_b))
    assert cipher_for(worker_settings).decrypt(stored[0]) == TOKEN_B


def test_second_credentials_post_is_405(worker) -> None:
    """A registered party updates its credentials with PUT; a second POST is 405 (OCPI 2.2.1)."""
    url, _ = worker
    token_c = handshake(url, "acme-token-a")
    again = httpx.post(
        f"{url}/ocpi/2.2.1/credentials",
        headers={"Authorization": token_header(token_c)},
        json={
            "token": "another-token-b",
            "url": "https://cpo.example/ocpi/versions",
            "roles": [{"role": "CPO", "party_id": "ACM", "country_code": "AU"}],
        },
    )
    assert again.status_code == 405


def test_requests_that_miss_cannot_hammer_a_database_that_is_down(tmp_path) -> None:
    """``reload_if_due``: one attempt per interval however many callers miss, and the attempt
    that finds the database back loads the registry."""
    from sqlalchemy import event

    database = tmp_path / "cal.db"
    database.mkdir()  # SQLite cannot open a folder
    engine = make_engine(f"sqlite:///{database}")
    attempts: list[int] = []
    event.listen(engine, "do_connect", lambda *args: attempts.append(1))
    parties = Parties(engine, TokenCipher(fernet_key()))

    async def scenario() -> None:
        assert await parties.reload_if_due(0) is False  # tried, the database is down
        tried = len(attempts)
        assert tried >= 1 and not parties.loaded
        results = await asyncio.gather(*(parties.reload_if_due(3600) for _ in range(50)))
        assert results == [False] * 50 and len(attempts) == tried  # within the interval: none
        database.rmdir()
        upgrade(f"sqlite:///{database}")
        assert await parties.reload_if_due(0) is True and parties.loaded

    asyncio.run(scenario())
    engine.dispose()


def fernet_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()
