"""Quarantine of rejected input, kept with its reason so that nothing sent to us is lost."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select

from shared.db.observations import IN_CHUNK
from shared.db.tables import quarantine

MAX_PAYLOAD_CHARS = 1_000_000


def payload_text(payload: bytes | str) -> str:
    """Payload as stored: text as is (bytes decoded with replacement), capped in size."""
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    if len(text) > MAX_PAYLOAD_CHARS:
        return text[:MAX_PAYLOAD_CHARS] + f"\n[truncated: {len(text)} characters in all]"
    return text


def quarantine_rows(
    connection: Connection,
    *,
    source: str,
    received_at: datetime,
    items: Sequence[tuple[str | None, str, str, bytes | str]],
    batch_id: int | None = None,
) -> int:
    """Quarantine ``items`` of (cpo_id, location, reason, payload); returns how many were new.

    An item already quarantined with the same payload at the same location (a re-sent file or
    request) is not stored twice.
    """
    rows = []
    hashes: set[str] = set()
    for cpo_id, location, reason, payload in items:
        text = payload_text(payload)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        hashes.add(digest)
        rows.append(
            {
                "batch_id": batch_id,
                "cpo_id": cpo_id,
                "source": source,
                "received_at": received_at,
                "location": location[:200],
                "reason": reason,
                "payload": text,
                "payload_sha256": digest,
            }
        )
    if not rows:
        return 0
    query = select(quarantine.c.payload_sha256, quarantine.c.location).where(
        quarantine.c.source == source,
        quarantine.c.payload_sha256.in_(bindparam("hashes", expanding=True)),
    )
    known: set[tuple[str, str]] = set()
    ordered = sorted(hashes)
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = {"hashes": ordered[start : start + IN_CHUNK]}
        known.update((digest, location) for digest, location in connection.execute(query, chunk))
    fresh = [row for row in rows if (row["payload_sha256"], row["location"]) not in known]
    if fresh:
        connection.execute(insert(quarantine), fresh)
    return len(fresh)
