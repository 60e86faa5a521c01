"""The Azure Blob Storage backend (or Azurite), through azure-storage-blob.

Uploads stage one block at a time; ``open`` reads byte ranges on demand, so pyarrow fetches only
the footer and the column chunks it needs; ``append`` uses append blobs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, BinaryIO

from shared.blobstore.base import (
    MAX_APPEND_BLOCKS,
    AppendBlobFull,
    BlobChanged,
    BlobInfo,
    BlobNotFound,
    BlobSource,
    NotAnAppendBlob,
    blocks,
    check_append,
    check_name,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from azure.storage.blob import BlobClient, ContainerClient

UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024
READ_BUFFER_BYTES = 256 * 1024


class BlobRangeReader(io.RawIOBase):
    """A seekable raw file over one version of a blob: each read is one ranged GET, pinned to
    the ETag seen at open, so a blob replaced mid-read fails (``BlobChanged``) instead of mixing
    two versions."""

    def __init__(self, blob: BlobClient, name: str, size: int, etag: str) -> None:
        self._blob, self.name, self.size, self._etag = blob, name, size, etag
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"seek to {base + offset} in {self.name!r}: before the start")
        self._position = base + offset
        return self._position

    def _fetch(self, length: int) -> bytes:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            return self._blob.download_blob(
                offset=self._position,
                length=length,
                etag=self._etag,
                match_condition=MatchConditions.IfNotModified,
                max_concurrency=1,
            ).readall()
        except (ResourceModifiedError, ResourceNotFoundError):
            raise BlobChanged(
                f"blob {self.name!r} was replaced while open; open it again"
            ) from None

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        length = min(len(target), self.size - self._position)
        if length <= 0:
            return 0
        data = self._fetch(length)
        target[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        if self._position >= self.size:
            return b""
        data = self._fetch(self.size - self._position)
        self._position += len(data)
        return data


class AzureBlobStore:
    """Azure Blob Storage (or Azurite) through azure-storage-blob."""

    def __init__(
        self, container_client: ContainerClient, upload_block_bytes: int = UPLOAD_BLOCK_BYTES
    ) -> None:
        from azure.core.exceptions import ResourceExistsError

        self.container = container_client
        self.upload_block_bytes = upload_block_bytes
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureBlobStore:
        from azure.storage.blob import BlobServiceClient

        if settings.blob_connection_string:
            service = BlobServiceClient.from_connection_string(settings.blob_connection_string)
        elif settings.blob_account_url:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(
                settings.blob_account_url, credential=DefaultAzureCredential()
            )
        else:
            raise ValueError(
                "Azure blob storage needs CAL_BLOB_CONNECTION_STRING or CAL_BLOB_ACCOUNT_URL"
            )
        return cls(service.get_container_client(settings.blob_container))

    def put(self, name: str, data: BlobSource) -> None:
        """One request for a blob of one block; a bigger one is staged block by block (one
        block in memory at a time) and committed at the end, replacing the blob in one step."""
        blob = self.container.get_blob_client(check_name(name))
        if (
            isinstance(data, bytes | bytearray | memoryview)
            and len(data) <= self.upload_block_bytes
        ):
            blob.upload_blob(bytes(data), overwrite=True)
            return
        pieces = blocks(data, self.upload_block_bytes)
        first = next(pieces, b"")
        second = next(pieces, None)
        if second is None:
            blob.upload_blob(first, overwrite=True)
            return
        stem = uuid.uuid4().hex
        ids: list[str] = []
        for block in itertools.chain((first, second), pieces):
            block_id = base64.b64encode(f"{stem}-{len(ids):06d}".encode()).decode()
            blob.stage_block(block_id, block)
            ids.append(block_id)
        from azure.storage.blob import BlobBlock

        blob.commit_block_list([BlobBlock(block_id) for block_id in ids])

    def get(self, name: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(check_name(name)).readall()
        except ResourceNotFoundError:
            raise BlobNotFound(name) from None

    def open(self, name: str) -> BinaryIO:
        """Ranged reads behind a read buffer: seeking costs nothing, each read that misses the
        buffer one GET of at least ``READ_BUFFER_BYTES`` (or the rest of the blob)."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self.container.get_blob_client(check_name(name))
        try:
            props = blob.get_blob_properties()
        except ResourceNotFoundError:
            raise BlobNotFound(name) from None
        raw = BlobRangeReader(blob, name, props.size, props.etag)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER_BYTES)

    def append(self, name: str, data: bytes) -> None:
        """One append block (atomic: concurrent appends never interleave), creating the append
        blob if absent. Past 50,000 appends raises ``AppendBlobFull``: the caller continues in a
        new blob."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError

        blob = self.container.get_blob_client(check_append(name, data))
        if data:
            try:
                _append_block(name, blob, data)
                return
            except BlobNotFound:
                pass
        with contextlib.suppress(ResourceExistsError):
            blob.create_append_blob(match_condition=MatchConditions.IfMissing)
        if data:
            _append_block(name, blob, data)

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

    def replace_prefix(self, prefix: str, files: Mapping[str, BlobSource]) -> None:
        base = prefix.rstrip("/") + "/"
        for relative in files:
            check_name(relative)
        for relative, data in files.items():
            self.put(base + relative, data)
        keep = {base + relative for relative in files}
        for blob in self.list(base):
            if blob.name not in keep:
                self.delete(blob.name)


def _append_block(name: str, blob: BlobClient, data: bytes) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    try:
        blob.append_block(data)
    except ResourceNotFoundError:
        raise BlobNotFound(name) from None
    except HttpResponseError as exc:
        code = getattr(exc, "error_code", None)
        if code == "BlockCountExceedsLimit":
            raise AppendBlobFull(
                f"append blob {name!r} holds {MAX_APPEND_BLOCKS:,} appends, Azure's limit:"
                " continue in a new blob"
            ) from None
        if code == "InvalidBlobType":
            raise NotAnAppendBlob(
                f"blob {name!r} was written whole (put); it cannot be appended to"
            ) from None
        raise
