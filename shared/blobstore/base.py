"""What every blob backend shares: names, errors, the ``BlobStore`` interface, and sources.

A *source* is what a blob can be written from without holding it whole: bytes, a file path,
an open binary file, or an iterable of byte strings (``blocks`` cuts any of them into pieces of
one size, so an upload holds one block at a time).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, BinaryIO, Protocol

BlobSource = bytes | bytearray | memoryview | os.PathLike[str] | IO[bytes] | Iterable[bytes]

# One append is one block of an Azure append blob: 4 MiB is the limit every service version
# accepts (newer ones take 100 MiB), and the local store holds appends to it too, so code
# developed locally does not fail on Azure. A blob takes at most 50,000 appends on Azure.
MAX_APPEND_BYTES = 4 * 1024 * 1024
MAX_APPEND_BLOCKS = 50_000


class BlobNotFound(FileNotFoundError):
    """The named blob does not exist."""


class InvalidBlobName(ValueError):
    """A blob name that could escape the store or is not a plain relative path."""


class AppendTooLarge(ValueError):
    """One ``append`` of more than ``MAX_APPEND_BYTES``: split the data at record boundaries."""


class AppendBlobFull(OSError):
    """The append blob holds ``MAX_APPEND_BLOCKS`` appends (Azure): continue in a new blob."""


class NotAnAppendBlob(OSError):
    """``append`` to a blob that ``put`` wrote (an Azure block blob)."""


class BlobChanged(OSError):
    """The blob was replaced while it was open for reading; open it again."""


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


def check_append(name: str, data: bytes) -> str:
    """The name checked, and ``data`` no bigger than one append block."""
    check_name(name)
    if len(data) > MAX_APPEND_BYTES:
        raise AppendTooLarge(
            f"append of {len(data):,} bytes to {name[:80]!r}: at most {MAX_APPEND_BYTES:,} bytes"
            " per append (one append blob block); split the data at record boundaries"
        )
    return name


class BlobStore(Protocol):
    def put(self, name: str, data: BlobSource) -> None:
        """Write (or replace) the blob from bytes or any streaming ``BlobSource``."""
        ...

    def get(self, name: str) -> bytes: ...

    def open(self, name: str) -> BinaryIO:
        """The blob as a seekable binary file (close it, or use ``with``)."""
        ...

    def append(self, name: str, data: bytes) -> None:
        """Add ``data`` at the end of the blob in one write, creating it if absent."""
        ...

    def info(self, name: str) -> BlobInfo | None: ...
    def list(self, prefix: str = "") -> list[BlobInfo]: ...
    def delete(self, name: str) -> None: ...
    def replace_prefix(self, prefix: str, files: Mapping[str, BlobSource]) -> None: ...


def blocks(source: BlobSource, size: int) -> Iterator[bytes]:
    """``source`` as consecutive byte strings of exactly ``size`` bytes (the last may be
    shorter; nothing at all for an empty source)."""
    if isinstance(source, str):
        raise TypeError("blob data is bytes, a path (pathlib.Path), a binary file or byte strings")
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    if isinstance(source, os.PathLike):
        with open(source, "rb") as file:
            yield from _file_blocks(file, size)
        return
    if hasattr(source, "read"):
        yield from _file_blocks(source, size)  # type: ignore[arg-type]  # hasattr does not narrow
        return
    pending = bytearray()
    for piece in source:
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


def _file_blocks(file: IO[bytes], size: int) -> Iterator[bytes]:
    pending = bytearray()
    while True:
        piece = file.read(size - len(pending))
        if not piece:
            break
        pending += piece
        if len(pending) == size:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)
