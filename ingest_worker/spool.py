"""A durable local queue between the feeds and the database.

Every accepted message is written here first (SQLite in WAL mode with full sync: it survives a
crash of the process or of the machine), so a feed is answered only once its data is safe, and
nothing is lost while the database is unreachable. The writer drains it in order and deletes what
it has committed.

A row is a record's kind beside its JSON body (``ingest_worker/records.py``), the form every version
wrote, so a spool left by an older worker replays after an upgrade.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ingest_worker.records import Record, Unreadable, body_json, read_record


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    id: int
    record: Record | Unreadable
    spooled_at: float
    ref: str | None = None  # queue mode: the record's worker:sequence, stable across replays

    @property
    def kind(self) -> str:
        return self.record.kind


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged message survives a power loss too, not only a killed process.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, body TEXT NOT NULL, spooled_at REAL NOT NULL)"
        )

    def append(self, record: Record, spooled_at: float) -> int:
        text = body_json(record)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO spool (kind, body, spooled_at) VALUES (?, ?, ?)",
                (record.kind, text, spooled_at),
            )
            return int(cursor.lastrowid or 0)

    def head(self, limit: int) -> list[SpoolRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, body, spooled_at FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [SpoolRecord(i, read_record(k, b), t) for i, k, b, t in rows]

    def remove_through(self, last_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,))

    def backlog(self) -> tuple[int, float | None]:
        """(records waiting, spooled_at of the oldest)."""
        with self._lock:
            count, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(spooled_at) FROM spool"
            ).fetchone()
        return int(count), oldest

    def close(self) -> None:
        with self._lock:
            self._db.close()
