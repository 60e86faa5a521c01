"""The local-folder backend: blob ``a/b.csv`` is file ``root/a/b.csv``."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from shared.blobstore.base import (
    BlobInfo,
    BlobNotFound,
    BlobSource,
    blocks,
    check_append,
    check_name,
)

COPY_BYTES = 1024 * 1024


def _write(path: Path, source: BlobSource) -> None:
    """``source`` into a new file ``path``, a piece at a time."""
    if isinstance(source, os.PathLike):
        shutil.copyfile(source, path)
        return
    with open(path, "wb") as file:
        for block in blocks(source, COPY_BYTES):
            file.write(block)


class LocalBlobStore:
    """Blob ``a/b.csv`` is file ``root/a/b.csv``."""

    VERSIONS = ".versions"

    def __init__(self, root: Path, grace_seconds: float = 300) -> None:
        self.root = Path(root)
        self.grace_seconds = grace_seconds
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def put(self, name: str, data: BlobSource) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            _write(tmp, data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, name: str) -> bytes:
        with self.open(name) as file:
            return file.read()

    def open(self, name: str) -> BinaryIO:
        """The file itself: a reader keeps the version it opened, even across ``replace_prefix``."""
        try:
            return open(self._path(name), "rb")  # the caller closes it
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(name) from None

    def append(self, name: str, data: bytes) -> None:
        """One ``write`` on a file opened ``O_APPEND``: concurrent appends, from threads or
        processes, land whole one after another and never interleave."""
        path = self.root / check_append(name, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            # A regular file takes the whole write unless the disk is full; say so if not.
            if written != len(data):
                raise OSError(f"append to {name!r}: wrote {written} of {len(data)} bytes")
        finally:
            os.close(fd)

    def info(self, name: str) -> BlobInfo | None:
        path = self._path(name)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return BlobInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def list(self, prefix: str = "") -> list[BlobInfo]:
        """Every blob whose name starts with ``prefix`` (which may end mid-name), walking only
        the folder the prefix names."""
        folder, _, rest = prefix.rpartition("/")
        start = self.root
        if folder:
            parts = folder.split("/")
            # No stored name has an empty, hidden ('.', '..', '.x') or NUL-bearing part.
            if any(not part or part.startswith(".") or "\x00" in part for part in parts):
                return []
            start = self.root.joinpath(*parts)
            if not start.is_dir():
                return []
        found: list[BlobInfo] = []
        for dirpath, dirnames, filenames in os.walk(start, followlinks=True):
            top = dirpath == str(start)
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and (not top or d.startswith(rest))
            )
            for filename in sorted(filenames):
                if filename.startswith(".") or (top and not filename.startswith(rest)):
                    continue
                path = Path(dirpath) / filename
                name = path.relative_to(self.root).as_posix()
                if name.startswith(prefix):
                    stat = path.stat()
                    found.append(
                        BlobInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
                    )
        return sorted(found, key=lambda blob: blob.name)

    def delete(self, name: str) -> None:
        path = self._path(name)
        if path.is_symlink() or path.is_file():
            path.unlink()

    def replace_prefix(self, prefix: str, files: Mapping[str, BlobSource]) -> None:
        """Make ``prefix/`` hold exactly ``files`` (names relative to it) in one atomic step.

        Replaced versions stay on disk for ``grace_seconds`` so that a reader in the middle of
        the old version can finish; later swaps remove them.
        """
        link = self._path(prefix.rstrip("/"))
        for relative in files:
            check_name(relative)
        versions = self.root / self.VERSIONS
        stem = prefix.strip("/").replace("/", "__") + "__"
        version = versions / f"{stem}{uuid.uuid4().hex}"
        for relative, data in files.items():
            target = version / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, data)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() and not link.is_symlink():
            shutil.rmtree(link)  # a plain folder from before versioning; nothing points into it
        pointer = link.parent / f".{link.name}.{uuid.uuid4().hex}.link"
        pointer.symlink_to(os.path.relpath(version, link.parent), target_is_directory=True)
        os.replace(pointer, link)
        cutoff = time.time() - self.grace_seconds
        for old in versions.iterdir():
            if old.name.startswith(stem) and old != version and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
