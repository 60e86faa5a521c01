"""Build the zip Azure Functions expects for the monthly job.

At the zip root: function_app.py, host.json, requirements.txt (from function_app/), and the
shared/ package that function_app.py imports. Caches and tests stay out.

    python infra/scripts/package_function.py [--out dist/function_app.zip]
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOT_FILES = ("function_app.py", "host.json", "requirements.txt")
SKIP_PARTS = {"__pycache__", ".pytest_cache", "tests"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def package(out: Path, root: Path = ROOT) -> list[str]:
    """Write the zip to ``out``; returns the names it holds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ROOT_FILES:
            archive.write(root / "function_app" / name, name)
            names.append(name)
        for path in sorted((root / "shared").rglob("*")):
            relative = path.relative_to(root)
            if path.is_dir() or SKIP_PARTS & set(relative.parts) or path.suffix in SKIP_SUFFIXES:
                continue
            archive.write(path, relative.as_posix())
            names.append(relative.as_posix())
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "function_app.zip")
    args = parser.parse_args()
    names = package(args.out)
    print(f"{args.out}: {len(names)} files")


if __name__ == "__main__":
    main()
