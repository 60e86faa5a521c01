"""Fixtures shared by every test: settings on temporary folders, a migrated SQLite database,
the local blob store, and a real Azurite emulator on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shared.blobstore import AzureBlobStore, LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "var")


class MssqlCompileCheck:
    """Compiles every Core statement run on an engine for SQL Server (Azure SQL's dialect).

    Azure SQL cannot run here, so T-SQL breakage (LIMIT, booleans, parameter limits, …)
    shows up as a compile failure of the very statements the code issued on SQLite.
    """

    MAX_PARAMETERS = 2100

    def __init__(self) -> None:
        from sqlalchemy.dialects.mssql import pyodbc

        self.dialect = pyodbc.dialect()
        self.failures: list[str] = []
        self.compiled = 0

    def __call__(self, conn, clauseelement, multiparams, params, execution_options) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy.sql import ClauseElement

        if not isinstance(clauseelement, ClauseElement):
            return
        try:
            compiled = clauseelement.compile(dialect=self.dialect)
        except Exception as exc:  # noqa: BLE001 - every compile error is a finding
            self.failures.append(f"{type(exc).__name__}: {exc}\n  statement: {clauseelement}")
            return
        self.compiled += 1
        values = multiparams[0] if multiparams and isinstance(multiparams[0], dict) else params
        count = sum(len(v) if isinstance(v, list | tuple) else 1 for v in (values or {}).values())
        if count > self.MAX_PARAMETERS:
            self.failures.append(
                f"{count} parameters, SQL Server takes {self.MAX_PARAMETERS}: {compiled}"
            )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A migrated SQLite database; every statement run on it must also compile for mssql."""
    from sqlalchemy import event

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    check = MssqlCompileCheck()
    event.listen(engine, "before_execute", check)
    yield engine
    engine.dispose()
    assert not check.failures, "statements that do not compile for SQL Server:\n" + "\n".join(
        check.failures
    )


@pytest.fixture
def blobstore(settings: Settings) -> LocalBlobStore:
    return LocalBlobStore(settings.blob_dir)


def azurite_binary(service: str = "blob") -> str | None:
    local = ROOT / "node_modules" / ".bin" / f"azurite-{service}"
    if local.exists():
        return str(local)
    return shutil.which(f"azurite-{service}")


def _start_azurite(service: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    """One Azurite service (blob or queue) on a free loopback port, once it accepts connections."""
    binary = azurite_binary(service)
    if binary is None:
        pytest.fail("Azurite is not installed: run `make test` (it runs `npm ci`) or `npm install`")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--{service}Host",
            "127.0.0.1",
            f"--{service}Port",
            str(port),
            "--location",
            str(workdir),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited: {process.stderr.read().decode()[:2000]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    return process, port


@pytest.fixture(scope="session")
def azurite_connection_string(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Real Azurite blob and queue services (``make test`` installs them from npm into
    node_modules); the connection string names both endpoints."""
    workdir = tmp_path_factory.mktemp("azurite")
    process, port = _start_azurite("blob", workdir)
    queue_process, queue_port = _start_azurite("queue", workdir)
    account_key = (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    )
    yield (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={account_key};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/devstoreaccount1;"
    )
    for running in (process, queue_process):
        running.terminate()
        running.wait(timeout=10)


@pytest.fixture
def azure_blobstore(
    azurite_connection_string: str, request: pytest.FixtureRequest
) -> AzureBlobStore:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    container = "t" + format(abs(hash(request.node.nodeid)), "x")[:20]
    return AzureBlobStore(service.get_container_client(container))


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data, or skip saying why (a fresh clone has no ../shared)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared/data is only beside the steering checkout")
    return path


# ---- after the whole suite: no configured secret in what the platform wrote ----------------

# Files that hold secrets by design: the simulator's secrets file beside its feeds file, and
# the Fernet key file that encrypts stored OCPI tokens.
SECRET_HOLDERS = (".env", "secret.key")


def _test_secrets() -> set[str]:
    from tests.ingest_worker.conftest import FEEDS

    return {secret for feed in FEEDS for secret in _secrets_of(feed)}


def _secrets_of(feed) -> list[str]:  # type: ignore[no-untyped-def]
    import os

    values = [getattr(feed, "secret", None)]
    env = getattr(feed, "token_env", None)
    if env:
        values.append(os.environ.get(env))
    return [v for v in values if isinstance(v, str) and len(v) >= 8]


def _readable(path: Path) -> bytes:
    import gzip

    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except OSError:
            return data
    return data


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Scan every file the tests made (logs, SQLite databases and their quarantine rows, spools,
    blobs, raw archives) for the workers' configured secrets; a hit fails the run."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or exitstatus not in (0, 1):
        return
    try:
        base = factory.getbasetemp()
        secrets = _test_secrets()
    except Exception:  # noqa: BLE001 - nothing ran that made files
        return
    hits: list[str] = []
    for path in base.rglob("*"):
        if not path.is_file() or path.name.endswith(SECRET_HOLDERS):
            continue
        try:
            if path.stat().st_size > 64 * 1024 * 1024:
                continue
            data = _readable(path)
        except OSError:
            continue
        hits.extend(
            f"{path.relative_to(base)}: {secret[:4]}…"
            for secret in secrets
            if secret.encode() in data
        )
    if hits:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("configured secrets found in files the platform wrote:", red=True)
            for hit in hits[:50]:
                reporter.write_line(f"  {hit}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
