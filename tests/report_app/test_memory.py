"""The server keeps freed memory for its next read (``report_app.memory``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pytest

from tests.conftest import ROOT

SCRIPT = """
import json, pyarrow as pa
from report_app.memory import keep_freed_memory
done = keep_freed_memory()
print(json.dumps({"done": done, "pool": pa.default_memory_pool().backend_name}))
"""


def test_keep_freed_memory_switches_arrow_to_jemalloc_without_decay() -> None:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    # in a process of its own: the setting holds for the whole process
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pool"] == "jemalloc"
    assert "arrow: jemalloc, no decay" in report["done"]
    if sys.platform.startswith("linux"):
        assert "glibc: one heap, kept, mmap above 32 MiB" in report["done"]


def test_importing_the_app_leaves_the_memory_pool_alone() -> None:
    pool = "print(pa.default_memory_pool().backend_name)"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", f"import pyarrow as pa{imports}; {pool}"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()[-1]
        for imports in ("", ", report_app.app")
    ]  # fmt: skip
    assert outputs[1] == outputs[0]
