"""The Function App zip: built by the packaging script, it imports in a clean virtual environment."""

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "scripts"))
from package_function import package  # noqa: E402


def test_zip_layout(tmp_path: Path) -> None:
    names = package(tmp_path / "app.zip")
    assert names[:3] == ["function_app.py", "host.json", "requirements.txt"]
    assert "shared/monthly/job.py" in names and "shared/metrics/sql/01_segments.sql" in names
    assert "shared/monthly/templates/report.html.j2" in names
    assert not [
        n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/")
    ]
    with zipfile.ZipFile(tmp_path / "app.zip") as archive:
        assert json.loads(archive.read("host.json"))["version"] == "2.0"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_function_app_imports_from_the_unpacked_zip_in_a_clean_venv(tmp_path: Path) -> None:
    zipped = tmp_path / "app.zip"
    package(zipped)
    unpacked = tmp_path / "wwwroot"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(unpacked)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", unpacked / "requirements.txt"],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    probe = (
        "import json, function_app; "
        "fs = function_app.app.get_functions(); "
        "print(json.dumps(sorted(f.get_function_name() for f in fs)))"
    )
    result = subprocess.run(
        [python, "-c", probe],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["monthly_rerun", "monthly_timer"]
