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
from package_function import package, requirements  # noqa: E402


def test_requirements_file_is_the_generated_one() -> None:
    committed = (ROOT / "function_app" / "requirements.txt").read_text()
    assert committed == requirements(), (
        "function_app/requirements.txt differs from pyproject.toml: run "
        "python infra/scripts/package_function.py --requirements"
    )
    lines = [line for line in committed.splitlines() if not line.startswith("#")]
    assert "azure-functions>=1.21" in lines and any(line.startswith("duckdb") for line in lines)
    # the Function runs neither the dashboard, the feeds nor the command line
    for absent in ("shiny", "ipyleaflet", "fastapi", "ocpp", "click", "psutil", "pyspark"):
        assert not [line for line in lines if line.startswith(absent)], absent
    assert not [line for line in lines if line.startswith("chargeatlarge")]


def test_zip_layout(tmp_path: Path) -> None:
    names = package(tmp_path / "app.zip")
    assert names[:3] == ["function_app.py", "host.json", "requirements.txt"]
    assert "shared/monthly/job.py" in names and "shared/metrics/sql/01_segments.sql" in names
    assert "shared/monthly/templates/report.html.j2" in names
    assert not [
        n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/")
    ]
    # no demo, simulator, command line or sample data in the Function package
    assert not [n for n in names if n.split("/")[0] not in {"shared", *names[:3]}]
    assert not [n for n in names if "sample_data" in n or "demo" in n or "simulator" in n]
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
