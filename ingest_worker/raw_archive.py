"""The raw archive: every accepted payload as received, appended to one blob per CPO per hour
(``raw/{cpo_id}/YYYY/MM/DD/HH.jsonl.gz``; an Azure append blob, an append-only file locally).

Each append is one gzip member of JSON lines (a reader decompresses the blob whole: gzip reads
concatenated members as one stream). A line names its record (``record`` in queue mode,
``spool_id`` in spool mode), so a payload appended twice (a crash between the database commit and
the spool's removal, a redelivered queue message, a retried append) can be told and dropped.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from ingest_worker.records import ObservationBatch
from shared import layout
from shared.blobstore import MAX_APPEND_BYTES, AppendBlobFull, BlobStore


class RawArchive:
    def __init__(self, store: BlobStore) -> None:
        self.store = store
        # An Azure append blob takes 50,000 appends: a full one continues in the next part
        # (``HH.1.jsonl.gz``, …); this remembers the part in use per CPO and hour.
        self._part: dict[tuple[str, datetime], int] = {}

    def archive(self, records: Sequence[tuple[dict[str, object], ObservationBatch]]) -> None:
        """Append the raw payload of each (name, batch) to its CPO's blob of its hour."""
        by_hour: dict[tuple[str, datetime], list[str]] = defaultdict(list)
        for name, batch in records:
            payload = batch.raw_text()
            if payload is None:
                continue  # the later parts of a split batch: archived with the first
            line: dict[str, object] = {
                **name,
                "received_at": batch.received_at.isoformat(),
                "source": batch.source,
                "sender": batch.sender,
                "payload": payload,
            }
            if batch.connector_ids is not None:
                line["connectors"] = batch.connectors()
            hour = batch.received_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            by_hour[(batch.cpo, hour)].append(json.dumps(line))
        for (cpo_id, hour), lines in by_hour.items():
            for member in _members(lines):
                self._append(cpo_id, hour, member)
        if len(self._part) > 10_000:  # hours long past
            self._part = {key: part for key, part in self._part.items() if key in by_hour}

    def _append(self, cpo_id: str, hour: datetime, data: bytes) -> None:
        part = self._part.get((cpo_id, hour), 0)
        while True:
            try:
                self.store.append(layout.raw_archive_blob(cpo_id, hour, part), data)
                break
            except AppendBlobFull:
                part += 1
        self._part[(cpo_id, hour)] = part


def _members(lines: list[str]) -> list[bytes]:
    """The lines as gzip members of at most one append block each (split at line ends)."""
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), 6)
    if len(data) <= MAX_APPEND_BYTES or len(lines) == 1:
        return [data]  # a single line too big even alone is refused by the store, by name
    middle = len(lines) // 2
    return _members(lines[:middle]) + _members(lines[middle:])


def read_archive(store: BlobStore, name: str) -> list[dict[str, object]]:
    """The lines of one archive blob."""
    text = gzip.decompress(store.get(name)).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]
