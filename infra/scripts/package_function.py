"""Build the zip Azure Functions expects for the monthly job.

At the zip root: function_app.py, host.json, requirements.txt, and the shared/ package that
function_app.py imports. Caches and tests stay out. requirements.txt is generated from
pyproject.toml (the library's dependencies plus the ``function`` extra); ``--requirements``
rewrites function_app/requirements.txt, which a test keeps equal to the generated text.

    python infra/scripts/package_function.py [--out dist/function_app.zip] [--requirements]
"""

from __future__ import annotations

import argparse
import re
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOT_FILES = ("function_app.py", "host.json")
EXTRA = "function"
SELF_REFERENCE = re.compile(r"^chargeatlarge\[(?P<extras>[^\]]+)\]$")


def requirements(root: Path = ROOT, extra: str = EXTRA) -> str:
    """requirements.txt of the Function App: the library's dependencies and ``extra``'s, with the
    project's references to its own extras resolved, in pyproject.toml's order."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    lines: list[str] = []

    def add(requirement: str) -> None:
        own = SELF_REFERENCE.match(requirement)
        if own is None:
            if requirement not in lines:
                lines.append(requirement)
            return
        for name in own["extras"].split(","):
            for nested in extras[name.strip()]:
                add(nested)

    for requirement in [*project["dependencies"], *extras[extra]]:
        add(requirement)
    header = (
        "# Generated from pyproject.toml by infra/scripts/package_function.py --requirements:\n"
        f"# the library's dependencies and the '{extra}' extra. Do not edit by hand.\n"
    )
    return header + "".join(f"{line}\n" for line in lines)


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
        archive.writestr("requirements.txt", requirements(root))
        names.append("requirements.txt")
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
    parser.add_argument(
        "--requirements", action="store_true",
        help="only rewrite function_app/requirements.txt from pyproject.toml",
    )  # fmt: skip
    args = parser.parse_args()
    if args.requirements:
        target = ROOT / "function_app" / "requirements.txt"
        target.write_text(requirements())
        print(f"{target}: written")
        return
    names = package(args.out)
    print(f"{args.out}: {len(names)} files")


if __name__ == "__main__":
    main()
