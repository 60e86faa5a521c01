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


def azurite_binary() -> str | None:
    local = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="session")
def azurite_connection_string(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Azurite blob service (``make test`` installs it from npm into node_modules)."""
    binary = azurite_binary()
    if binary is None:
        pytest.fail("Azurite is not installed: run `make test` (it runs `npm ci`) or `npm install`")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [
            binary,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
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
    account_key = (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    )
    yield (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={account_key};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    process.terminate()
    process.wait(timeout=10)


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
