"""Blob storage behind one small interface: a local folder, or Azure Blob Storage.

Blob names are POSIX-style paths (``processed/monthly/2026-10/evse.parquet``). ``replace_prefix``
swaps a whole folder-like prefix so that a reader never sees half of a re-run: the local backend
writes a new version folder and repoints a symlink in one atomic rename; Azure, which has no
multi-blob transaction, writes every file first and the commit marker (the last file given,
the month's ``manifest.json``) last, and removes stale blobs after it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from shared.settings import Settings


class BlobNotFound(FileNotFoundError):
    """The named blob does not exist."""


class InvalidBlobName(ValueError):
    """A blob name that could escape the store or is not a plain relative path."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    name: str
    size: int
    last_modified: datetime


def check_name(name: str) -> str:
    """Reject names that are absolute, climb out (``..``), or carry odd characters."""
    if not name or len(name) > 1024 or "\\" in name or "\x00" in name or name.startswith("/"):
        raise InvalidBlobName(f"invalid blob name {name[:80]!r}")
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):
        raise InvalidBlobName(f"invalid blob name {name[:80]!r}: no '.', '..' or hidden parts")
    return name


class BlobStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes: ...
    def info(self, name: str) -> BlobInfo | None: ...
    def list(self, prefix: str = "") -> list[BlobInfo]: ...
    def delete(self, name: str) -> None: ...
    def replace_prefix(self, prefix: str, files: Mapping[str, bytes]) -> None: ...


class LocalBlobStore:
    """Blob ``a/b.csv`` is file ``root/a/b.csv``."""

    VERSIONS = ".versions"

    def __init__(self, root: Path, grace_seconds: float = 300) -> None:
        self.root = Path(root)
        self.grace_seconds = grace_seconds
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(name) from None

    def info(self, name: str) -> BlobInfo | None:
        try:
            stat = self._path(name).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not self._path(name).is_file():
            return None
        return BlobInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def list(self, prefix: str = "") -> list[BlobInfo]:
        found: list[BlobInfo] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
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

    def replace_prefix(self, prefix: str, files: Mapping[str, bytes]) -> None:
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
            target.write_bytes(data)
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


class AzureBlobStore:
    """Azure Blob Storage (or Azurite) through azure-storage-blob."""

    def __init__(self, container_client) -> None:  # azure.storage.blob.ContainerClient
        from azure.core.exceptions import ResourceExistsError

        self.container = container_client
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureBlobStore:
        from azure.storage.blob import BlobServiceClient

        if settings.blob_connection_string:
            service = BlobServiceClient.from_connection_string(settings.blob_connection_string)
        else:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(
                settings.blob_account_url, credential=DefaultAzureCredential()
            )
        return cls(service.get_container_client(settings.blob_container))

    def put(self, name: str, data: bytes) -> None:
        self.container.upload_blob(check_name(name), data, overwrite=True)

    def get(self, name: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(check_name(name)).readall()
        except ResourceNotFoundError:
            raise BlobNotFound(name) from None

    def info(self, name: str) -> BlobInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = self.container.get_blob_client(check_name(name)).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return BlobInfo(name, props.size, props.last_modified)

    def list(self, prefix: str = "") -> list[BlobInfo]:
        return [
            BlobInfo(blob.name, blob.size, blob.last_modified)
            for blob in self.container.list_blobs(name_starts_with=prefix or None)
        ]

    def delete(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(check_name(name))

    def replace_prefix(self, prefix: str, files: Mapping[str, bytes]) -> None:
        base = prefix.rstrip("/") + "/"
        for relative in files:
            check_name(relative)
        for relative, data in files.items():
            self.put(base + relative, data)
        keep = {base + relative for relative in files}
        for blob in self.list(base):
            if blob.name not in keep:
                self.delete(blob.name)


def open_blobstore(settings: Settings) -> BlobStore:
    """The backend the settings choose: Azure when a connection string or account URL is set."""
    if settings.blob_connection_string or settings.blob_account_url:
        return AzureBlobStore.from_settings(settings)
    return LocalBlobStore(settings.blob_dir)
