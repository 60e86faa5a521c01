"""The dashboard as a real server on loopback, behind (simulated) Azure authentication, and the
headers the platform sets for each role the tests use."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, free_port

ROLES = ("analyst", "government:NSW", "government:WA,SA", "public")
# Generated site i is in generate.CITIES[i % 8]: NSW, VIC, QLD, WA, SA, TAS, ACT, NT.
STATE_ORDER = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
ROLE_STATES = {
    "analyst": STATE_ORDER,
    "government:NSW": ("NSW",),
    "government:WA,SA": ("WA", "SA"),
    "public": STATE_ORDER,  # the live map is public
}


def principal(*roles: str) -> str:
    claims = {"auth_typ": "aad", "claims": [{"typ": "roles", "val": r} for r in roles]}
    return base64.b64encode(json.dumps(claims).encode()).decode()


def headers_for(role: str) -> dict[str, str]:
    """What Container Apps authentication sends for a signed-in user with ``role`` (none for
    the public). ``government:WA,SA`` is sent as two app roles, as Entra ID assigns them."""
    if role == "public":
        return {}
    roles = [f"government:{s}" for s in role.split(":", 1)[1].split(",")] if ":" in role else [role]
    return {"X-MS-CLIENT-PRINCIPAL": principal(*roles), "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


def start_app(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """uvicorn on a free port behind (simulated) Azure auth, reading ``data_dir``."""
    port = free_port()
    env = {
        **os.environ,
        "CAL_DATA_DIR": str(data_dir),
        "CAL_BEHIND_AZURE_AUTH": "true",
        "CAL_DEV_ROLE": "analyst",  # must be ignored behind Azure auth
    }
    for name in ("CAL_DATABASE_URL", "CAL_BLOB_CONNECTION_STRING", "CAL_BLOB_DIR"):
        env.pop(name, None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "report_app.app:app", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert process.poll() is None, (data_dir / "server.log").read_text()
        assert time.monotonic() < deadline, "the app did not start in 60 s"
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}/"


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)
