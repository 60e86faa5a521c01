"""No dead code: vulture over the library, the parts and bench/ finds nothing new.

Its configuration is ``[tool.vulture]`` in pyproject.toml (paths, confidence, the decorators of
framework entry points); ``tests/vulture_whitelist.py`` names what frameworks call by name.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_vulture_finds_no_dead_code() -> None:
    found = subprocess.run(
        [sys.executable, "-m", "vulture"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert found.returncode == 0, (
        "vulture found code nothing uses: remove it, or name it in tests/vulture_whitelist.py"
        f" with why it is used\n{found.stdout}{found.stderr}"
    )
