"""Third-party OCPI implementations as real peers on loopback.

extrawest-ocpi and pyOCPI pin pydantic 1 (and pyOCPI an old FastAPI), so each runs from its own
virtual environment under ``var/peer-venvs/`` (made once from PyPI, then reused: a marker file
records what was installed) as a subprocess server started from one of the scripts beside this
file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

HERE = Path(__file__).parent
VENVS = ROOT / "var" / "peer-venvs"
PEERS = {
    "extrawest": ["extrawest-ocpi==2025.7.16", "uvicorn>=0.30,<1"],
    "pyocpi": ["py-ocpi==0.3.1", "uvicorn>=0.30,<1"],
}
# What pip says when it cannot reach the package index (the only reason to skip).
UNREACHABLE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Could not fetch URL",
    "ConnectTimeoutError",
)


def peer_python(name: str) -> Path:
    """The Python of the peer's virtual environment, created on first use (locked for
    concurrent runs); skips only when the package index cannot be reached."""
    requirements = PEERS[name]
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    venv = VENVS / f"{name}-{digest}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists():
        return python
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        result = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *requirements,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-3000:]
            if any(text in output for text in UNREACHABLE):
                pytest.skip(
                    f"PyPI is unreachable, so {requirements[0]} cannot be installed: {output[-300:]}"
                )
            raise RuntimeError(f"pip could not install {requirements}:\n{output}")
        marker.write_text("\n".join(requirements) + "\n")
    return python


@contextlib.contextmanager
def peer_server(name: str, script: str, args: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run ``script`` of this folder with the peer's Python; yields its base URL once it answers."""
    python = peer_python(name)
    port = free_port()
    log = VENVS / f"{name}-server.log"  # the last run's, for a failing test to show
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(python), str(HERE / script), str(port), *args],
            env={"PATH": os.environ.get("PATH", ""), "OCPI_HOST": f"127.0.0.1:{port}", **env},
            cwd=VENVS,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{script} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/ocpi/versions", timeout=2)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{script} did not answer within 60 s: {log.read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def peer_run(name: str, script: str, args: list[str], env: dict[str, str]) -> str:
    """Run ``script`` of this folder once with the peer's Python; returns what it printed."""
    result = subprocess.run(
        [str(peer_python(name)), str(HERE / script), *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=VENVS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} {args[:1]} failed:\n{result.stderr[-3000:]}")
    return result.stdout
