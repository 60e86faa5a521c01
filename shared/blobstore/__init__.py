"""Blob storage behind one small interface: a local folder, or Azure Blob Storage.

Blob names are POSIX-style paths (``processed/monthly/2026-10/evse.parquet``). Blobs are written
whole (``put``, from bytes or streamed from a file or an iterator), read whole (``get``) or
opened as a seekable file (``open``: pyarrow then reads only the columns it needs), and grown
by ``append`` (an Azure append blob; an append-only file locally).

``replace_prefix`` swaps a whole folder-like prefix so that a reader never sees half of a
re-run: the local backend writes a new version folder and repoints a symlink in one atomic
rename; Azure, which has no multi-blob transaction, writes every file first and the commit
marker (the last file given, the month's ``manifest.json``) last, and removes stale blobs after.
"""

from __future__ import annotations

from shared.blobstore.azure import AzureBlobStore
from shared.blobstore.base import (
    MAX_APPEND_BLOCKS,
    MAX_APPEND_BYTES,
    AppendBlobFull,
    AppendTooLarge,
    BlobChanged,
    BlobInfo,
    BlobNotFound,
    BlobSource,
    BlobStore,
    InvalidBlobName,
    NotAnAppendBlob,
    check_name,
)
from shared.blobstore.local import LocalBlobStore
from shared.settings import Settings

__all__ = [
    "MAX_APPEND_BLOCKS",
    "MAX_APPEND_BYTES",
    "AppendBlobFull",
    "AppendTooLarge",
    "AzureBlobStore",
    "BlobChanged",
    "BlobInfo",
    "BlobNotFound",
    "BlobSource",
    "BlobStore",
    "InvalidBlobName",
    "LocalBlobStore",
    "NotAnAppendBlob",
    "check_name",
    "open_blobstore",
]


def open_blobstore(settings: Settings) -> BlobStore:
    """The backend the settings choose: Azure when a connection string or account URL is set."""
    if settings.blob_connection_string or settings.blob_account_url:
        return AzureBlobStore.from_settings(settings)
    return LocalBlobStore(settings.blob_dir)
