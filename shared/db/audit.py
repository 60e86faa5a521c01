"""The audit trail of what the worker received: one ``ingest_batch`` row per stored feed record,
with what it held (accepted, duplicate) and when it was received and committed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from shared.db.observations import to_db_time
from shared.db.tables import ingest_batch


def audit_feed_record(
    connection: Connection,
    *,
    cpo_id: str,
    source: str,
    sender: str,
    received_at: datetime,
    accepted: int,
    duplicate: int,
    record: dict[str, object],
) -> bool:
    """Write the audit row of one feed record; ``record`` names it (``{"record": "w:seq"}`` in
    queue mode, ``{"spool_id": n}`` in spool mode). A record seen again (replayed after a crash
    between its commit and its removal, or redelivered by the queue) keeps its first row;
    returns whether a row was written."""
    received = to_db_time(received_at)
    detail = json.dumps(record)
    already = connection.execute(
        select(ingest_batch.c.batch_id).where(
            ingest_batch.c.cpo_id == cpo_id,
            ingest_batch.c.received_at == received,
            ingest_batch.c.detail == detail,
        )
    ).first()
    if already is not None:
        return False
    connection.execute(
        insert(ingest_batch).values(
            cpo_id=cpo_id,
            source=source,
            sender=sender,
            received_at=received,
            finished_at=to_db_time(datetime.now(UTC)),
            accepted=accepted,
            duplicate=duplicate,
            rejected=0,
            detail=detail,
        )
    )
    return True
