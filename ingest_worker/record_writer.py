"""Records into SQL: observations merged into status runs, liveness signals, rejects to
quarantine, one audit row per feed record, then the raw payloads to the archive.

Only transient failures are raised (and retried by the caller); a record that cannot be stored
for any other reason goes to quarantine with its reason, whole, and the rest commit. If not even
quarantine takes it, it goes to the dead letter (queue mode: the poison queue; spool mode: a
``dead-letter.jsonl`` beside the spool): no record can block the writer, none is dropped.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from ingest_worker.feeds.config import FeedConfig
from ingest_worker.raw_archive import RawArchive
from ingest_worker.records import (
    LivenessSignal,
    ObservationBatch,
    Rejection,
    Unreadable,
    body_dict,
)
from ingest_worker.retry import is_transient, public_error
from ingest_worker.spool import SpoolRecord
from shared.db.audit import audit_feed_record
from shared.db.observations import ObservationStore, ensure_cpo, to_db_time
from shared.db.quarantine import quarantine_rows

log = logging.getLogger("chargeatlarge.worker")


class UnreadableRecord(ValueError):
    """A stored record that does not validate: it cannot be stored, only quarantined."""


@dataclass(slots=True)
class WriterState:
    db_ok: bool = True
    last_error: str | None = None
    committed_records: int = 0
    poisoned_records: int = 0
    schema_ready: bool = False
    # monotonic time the current database write began (None when idle): a write held up by a
    # lock shows in health at once, not only when it times out
    writing_since: float | None = None
    changes: int = 0  # bumped whenever stored statuses may have changed
    commit_latencies: list[float] = field(default_factory=list)


class RecordWriter:
    def __init__(
        self,
        feeds: list[FeedConfig],
        engine: Engine,
        archive: RawArchive,
        default_max_gap_minutes: float,
        dead_letter_file: Path | None = None,
    ) -> None:
        self.feeds = feeds
        self.engine = engine
        self.archive = archive
        self.observations = ObservationStore(engine, default_max_gap_minutes)
        self.state = WriterState()
        self.migrate = True  # bring the schema to head once the database answers
        # Where a record goes that not even quarantine takes (queue mode: the poison queue).
        self.dead_letter: Callable[[str, str], None] | None = None
        self.dead_letter_file = dead_letter_file
        self._registered: set[str] = set()

    def ensure_schema(self) -> None:
        """The schema at head, once the database answers (the worker starts without it)."""
        if self.state.schema_ready:
            return
        if self.migrate:
            from shared.db.engine import upgrade

            upgrade(self.engine.url.render_as_string(hide_password=False))
        self.state.schema_ready = True

    def store_records(self, records: list[SpoolRecord]) -> None:
        """Commit records in the order given (quarantining those that cannot be stored);
        raises only for transient failures, when nothing of the batch may be taken as done."""
        self.state.writing_since = time.monotonic()
        try:
            self._store_records(records)
        finally:
            self.state.writing_since = None

    def _store_records(self, records: list[SpoolRecord]) -> None:
        self.ensure_schema()
        try:
            self._commit(records)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("a batch of %d records failed (%s); storing them one by one",
                        len(records), public_error(exc))  # fmt: skip
            for record in records:
                try:
                    self._commit([record])
                except Exception as single:
                    if is_transient(single):
                        raise
                    self._poison(record, single)
        now = time.time()
        self.state.commit_latencies.extend(now - r.spooled_at for r in records if r.kind == "obs")
        del self.state.commit_latencies[:-10_000]
        self.state.committed_records += len(records)
        self.state.changes += 1

    def _commit(self, records: list[SpoolRecord]) -> None:
        registered: set[str] = set()
        with self.engine.begin() as connection:
            cpos = {
                r.record.cpo
                for r in records
                if not isinstance(r.record, Unreadable) and r.record.cpo is not None
            }
            for cpo_id in cpos - self._registered:
                gaps = (f.max_gap_minutes for f in self.feeds if f.cpo_id == cpo_id)
                feed_gap = next((gap for gap in gaps if gap), None)
                ensure_cpo(connection, cpo_id, feed_gap)
                registered.add(cpo_id)
            pending: list[tuple[SpoolRecord, ObservationBatch]] = []
            for record in records:
                item = record.record
                if isinstance(item, ObservationBatch):
                    pending.append((record, item))
                    continue
                self._write_observations(connection, pending)
                pending = []
                if isinstance(item, Unreadable):
                    raise UnreadableRecord(item.error)
                if isinstance(item, LivenessSignal):
                    self.observations.confirm_in(connection, item.cpo, item.at, item.evses)
                elif isinstance(item, Rejection):
                    quarantine_rows(
                        connection,
                        source=item.source,
                        received_at=to_db_time(item.received_at),
                        items=[(item.cpo, item.location, item.reason, item.payload)],
                    )
            self._write_observations(connection, pending)
        self._registered |= registered  # only once the transaction that registered them committed
        # Archived after the commit, so retries during an outage archive nothing; a crash
        # between the two replays the records, which commits nothing new and archives them then.
        self.archive.archive(
            [(_name(r), r.record) for r in records if isinstance(r.record, ObservationBatch)]
        )

    def _write_observations(
        self, connection: Connection, pending: Sequence[tuple[SpoolRecord, ObservationBatch]]
    ) -> None:
        """One merge for the observations of consecutive records, each audited with its own
        accepted and duplicate counts."""
        if not pending:
            return
        results = self.observations.write_groups_in(
            connection, [batch.observations() for _, batch in pending]
        )
        for (record, batch), result in zip(pending, results, strict=True):
            audit_feed_record(
                connection,
                cpo_id=batch.cpo,
                source=batch.source,
                sender=batch.sender,
                received_at=batch.received_at,
                accepted=result.accepted,
                duplicate=result.duplicate,
                record=_name(record),
            )

    def _poison(self, record: SpoolRecord, exc: Exception) -> None:
        """Quarantine a record that cannot be stored, with its reason (the raw payload kept)."""
        item = record.record
        if isinstance(item, Unreadable):
            body = item.body if isinstance(item.body, dict) else {"body": item.body}
            source = body.get("source")
            cpo = body.get("cpo")
        else:
            body = body_dict(item)
            source, cpo = getattr(item, "source", None), item.cpo
        payload = json.dumps({**body, "kind": record.kind}, default=str)
        reason = f"could not be stored ({_reason(exc)}); kept here instead"
        name = f"record {record.ref}" if record.ref else f"spool record {record.id}"
        log.error("%s quarantined: %s", name, f"{exc}"[:2000])
        self.state.poisoned_records += 1
        try:
            with self.engine.begin() as connection:
                quarantine_rows(
                    connection,
                    source=(source if isinstance(source, str) else f"spool:{record.kind}")[:32],
                    received_at=to_db_time(datetime.now(UTC)),
                    items=[(cpo[:64] if isinstance(cpo, str) else None, name, reason, payload)],
                )
        except Exception as again:
            if is_transient(again):
                raise
            # Not even quarantine takes it: keep it elsewhere, never drop it.
            if self.dead_letter is not None:
                self.dead_letter(reason, payload)
                return
            if self.dead_letter_file is None:
                raise
            with self.dead_letter_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"reason": reason, "record": payload}) + "\n")
            log.error("record %s written to %s (%s)", name, self.dead_letter_file, again)


def _name(record: SpoolRecord) -> dict[str, object]:
    """How the audit and the archive name a record: stable across replays and redeliveries."""
    return {"record": record.ref} if record.ref else {"spool_id": record.id}


def _reason(exc: Exception) -> str:
    # A record's own validation error names the field, never SQL text or values of others.
    return str(exc)[:500] if isinstance(exc, UnreadableRecord) else public_error(exc)
