"""Backfill: stream a CPO's historical status log (CSV or JSON Lines) into the observation store.

A backfill file is a set of observations, not a stream (spec section 3), so the import reads
the whole file first, validating every row, into a temporary on-disk sort (SQLite), and only
then writes the valid rows in time order (ties at one instant in line order, so the later line
wins), in chunks: memory stays flat for files of millions of rows, and a file that turns out to
be unreadable half-way (invalid UTF-8, say) is refused before anything is written. Each chunk
is one transaction; the audit row says after every chunk what is committed, so an interrupted
import is reported truthfully, and re-running it completes it (imports are idempotent).
The source may be a path, ``-`` for standard input, and gzip-compressed (``.gz``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, insert, update

from shared.db.observations import ObservationStore, ensure_cpo, to_db_time
from shared.db.quarantine import quarantine_rows
from shared.db.tables import ingest_batch
from shared.status import MAX_IMPORT_FUTURE, InvalidObservation, Observation, check_not_future
from shared.timeline import to_us

CHUNK_ROWS = 50_000
MAX_LINE_BYTES = 64 * 1024
REQUIRED_FIELDS = ("evse_uid", "status", "observed_at")


class ImportRefused(ValueError):
    """The file cannot be imported at all (unknown format, no header, wrong columns)."""


@dataclass(slots=True)
class ImportResult:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batch_id: int | None = None


@dataclass(slots=True)
class RawRow:
    line: int
    fields: dict[str, object] | None
    raw: str
    error: str | None = None


def _csv_rows(handle: IO[str], source: str) -> Iterator[RawRow]:
    # The csv module's field limit is process-wide: set it for this file only.
    previous = csv.field_size_limit(MAX_LINE_BYTES)
    try:
        yield from _csv_rows_limited(handle, source)
    finally:
        csv.field_size_limit(previous)


def _csv_rows_limited(handle: IO[str], source: str) -> Iterator[RawRow]:
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(f"{source}: empty file, expected a header row") from None
    except csv.Error as exc:
        raise ImportRefused(f"{source}:1: not a CSV header ({exc})") from None
    names = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if missing:
        raise ImportRefused(
            f"{source}:1: missing column(s) {', '.join(missing)}; "
            "expected evse_uid, status, observed_at (optional cpo_id, connector_id)"
        )
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(reader.line_num, None, "", f"not valid CSV ({exc})")
            continue
        line = reader.line_num
        raw = ",".join(values)
        if not values or values == [""]:
            continue
        if len(values) != len(names):
            yield RawRow(line, None, raw, f"expected {len(names)} fields, got {len(values)}")
            continue
        yield RawRow(line, dict(zip(names, values, strict=True)), raw)


def _jsonl_rows(handle: IO[str], source: str) -> Iterator[RawRow]:
    for line_number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        if len(text) > MAX_LINE_BYTES:
            yield RawRow(line_number, None, text[:4096], f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(line_number, None, text, f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield RawRow(line_number, None, text[:4096], "not JSON we accept: nested too deeply")
            continue
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            yield RawRow(line_number, None, text[:4096], f"not JSON we accept: {str(exc)[:120]}")
            continue
        if not isinstance(value, dict):
            yield RawRow(line_number, None, text, "expected a JSON object per line")
            continue
        yield RawRow(line_number, value, text)


STDIN = "-"


def detect_format(name: str, head: bytes) -> str:
    """csv or jsonl, from the name (``.gz`` aside) or else from the first bytes."""
    suffix = Path(name.removesuffix(".gz")).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


@contextmanager
def open_source(source: Path | str) -> Iterator[io.BufferedReader[Any]]:
    """The bytes of a path, of ``-`` (standard input), gunzipped when they are gzip."""
    name = str(source)
    with sys.stdin.buffer if name == STDIN else open(source, "rb") as raw:
        # a file opened "rb" is buffered already; standard input may be a bare binary stream
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]  # BinaryIO is not typed a RawIOBase
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=buffered) as unzipped:
                yield io.BufferedReader(unzipped)
        else:
            yield buffered


def read_rows(
    handle: io.BufferedReader[Any], source: str, fmt: str | None = None
) -> Iterator[RawRow]:
    """Rows of CSV or JSON Lines bytes, lazily; refuses non-text input up front."""
    try:
        head = handle.peek(65536)[:65536]
    except (OSError, EOFError) as exc:
        raise ImportRefused(f"{source}: cannot be read ({exc})") from None
    if b"\x00" in head:
        raise ImportRefused(f"{source}: binary file, expected CSV or JSON Lines text")
    fmt = fmt or detect_format(source, head)
    if fmt not in ("csv", "jsonl"):
        raise ImportRefused(f"{source}: unknown format {fmt!r}; use csv or jsonl")
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="")
    rows = _csv_rows(text, source) if fmt == "csv" else _jsonl_rows(text, source)
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"{source}: not UTF-8 ({exc.reason}); save the file as UTF-8. Nothing was imported"
        ) from None
    except (OSError, EOFError) as exc:  # e.g. a truncated gzip file
        raise ImportRefused(f"{source}: cannot be read ({exc}). Nothing was imported") from None


def parse_row(row: RawRow, cpo_id: str, now: datetime | None = None) -> Observation:
    """A raw row → Observation for ``cpo_id``; raises InvalidObservation naming the field.
    ``now`` (default: the clock) is what "in the future" is measured from."""
    fields = row.fields or {}
    given_cpo = fields.get("cpo_id")
    if given_cpo not in (None, "") and str(given_cpo).strip() != cpo_id:
        raise InvalidObservation(
            f"cpo_id: {str(given_cpo)[:64]!r} is not the imported CPO {cpo_id!r}"
        )
    for name in REQUIRED_FIELDS:
        if fields.get(name) in (None, ""):
            raise InvalidObservation(f"{name}: required, missing or empty")
    observation = Observation.parse(
        cpo_id=cpo_id,
        evse_uid=fields["evse_uid"],
        status=fields["status"],
        observed_at=fields["observed_at"],
        connector_id=fields.get("connector_id"),
    )
    check_not_future(observation.observed_at, now=now, skew=MAX_IMPORT_FUTURE)
    return observation


class _Sorter:
    """Valid rows and rejects of one file in a temporary SQLite database on disk, read back
    in (observed_at, line) order: an external sort with flat memory. Rows are stored as
    integers (EVSE and status by a number), which SQLite stores and sorts fastest; rows go in
    in line order, so the rowid breaks ties at one instant."""

    def __init__(self, folder: str) -> None:
        self.db = sqlite3.connect(Path(folder) / "sort.db", isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;"
            "CREATE TABLE obs (t INTEGER, evse INTEGER, status INTEGER);"
            "CREATE TABLE rej (line INTEGER, location TEXT, reason TEXT, raw TEXT);"
            "BEGIN"
        )
        self.evses: dict[str, int] = {}
        self.statuses: dict[str, int] = {}

    def add(self, rows: list[tuple[int, str, str]], rejects: list[tuple]) -> None:
        evses, statuses = self.evses, self.statuses
        self.db.executemany(
            "INSERT INTO obs VALUES (?, ?, ?)",
            (
                (t, evses.setdefault(evse, len(evses)), statuses.setdefault(status, len(statuses)))
                for t, evse, status in rows
            ),
        )
        self.db.executemany("INSERT INTO rej VALUES (?, ?, ?, ?)", rejects)

    def points(self, chunk_rows: int) -> Iterator[tuple[int, dict[str, list]]]:
        """(rows, points per EVSE) of ``chunk_rows`` rows at a time, in time order."""
        self.db.execute("COMMIT")
        evse_names = list(self.evses)
        status_names = list(self.statuses)
        cursor = self.db.execute("SELECT t, evse, status FROM obs ORDER BY t, rowid")
        while rows := cursor.fetchmany(chunk_rows):
            by_evse: dict[str, list] = defaultdict(list)
            for t, evse, status in rows:
                by_evse[evse_names[evse]].append((t, status_names[status]))
            yield len(rows), by_evse

    def rejects(self, cpo_id: str, chunk_rows: int) -> Iterator[list[tuple[str, str, str, str]]]:
        cursor = self.db.execute("SELECT location, reason, raw FROM rej ORDER BY line")
        while rows := cursor.fetchmany(chunk_rows):
            yield [(cpo_id, location, reason, raw) for location, reason, raw in rows]

    def close(self) -> None:
        self.db.close()


def import_observations(
    engine: Engine,
    path: Path | str,
    cpo_id: str,
    *,
    default_max_gap_minutes: float,
    max_gap_minutes: float | None = None,
    fmt: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``path`` (a file, ``-`` for standard input, plain or gzip) for ``cpo_id``:
    accepted / duplicate / rejected counts, rejects quarantined with file:line and reason."""
    store = ObservationStore(engine, default_max_gap_minutes)
    result = ImportResult()
    started = datetime.now(UTC)
    received = to_db_time(started)
    name = "stdin" if str(path) == STDIN else Path(path).name
    label = name[:150]
    with tempfile.TemporaryDirectory(prefix="chargeatlarge-import-") as folder:
        sorter = _Sorter(folder)
        try:
            with open_source(path) as handle:
                rows: list[tuple[int, str, str]] = []
                rejects: list[tuple] = []
                for row in read_rows(handle, "stdin" if str(path) == STDIN else str(path), fmt):
                    try:
                        if row.error is not None:
                            raise InvalidObservation(row.error)
                        o = parse_row(row, cpo_id, started)
                        rows.append((to_us(o.observed_at), o.evse_uid, o.status))
                    except InvalidObservation as exc:
                        rejects.append((row.line, f"{label}:{row.line}", str(exc), row.raw))
                    if len(rows) + len(rejects) >= chunk_rows:
                        sorter.add(rows, rejects)
                        rows, rejects = [], []
                sorter.add(rows, rejects)
            _write_sorted(engine, store, sorter, cpo_id, name, received, result, chunk_rows,
                          max_gap_minutes, progress)  # fmt: skip
        finally:
            sorter.close()
    return result


def _write_sorted(
    engine: Engine,
    store: ObservationStore,
    sorter: _Sorter,
    cpo_id: str,
    name: str,
    received: datetime,
    result: ImportResult,
    chunk_rows: int,
    max_gap_minutes: float | None,
    progress: Callable[[ImportResult], None] | None,
) -> None:
    with engine.begin() as connection:
        ensure_cpo(connection, cpo_id, max_gap_minutes)
        result.batch_id = connection.execute(  # type: ignore[index]  # an INSERT has its key
            insert(ingest_batch).values(
                cpo_id=cpo_id,
                source="import",
                sender=name[:200],
                received_at=received,
                accepted=0,
                duplicate=0,
                rejected=0,
                detail=json.dumps({"source": name, "state": "writing"}),
            )
        ).inserted_primary_key[0]

    def audit(connection: Connection, state: str) -> None:
        connection.execute(
            update(ingest_batch)
            .where(ingest_batch.c.batch_id == result.batch_id)
            .values(
                accepted=result.accepted,
                duplicate=result.duplicate,
                rejected=result.rejected,
                finished_at=to_db_time(datetime.now(UTC)) if state == "done" else None,
                detail=json.dumps({"source": name, "state": state}),
            )
        )

    for rejects in sorter.rejects(cpo_id, chunk_rows):
        with engine.begin() as connection:
            quarantine_rows(
                connection,
                source="import",
                received_at=received,
                items=rejects,
                batch_id=result.batch_id,
            )
            result.rejected += len(rejects)
            audit(connection, "writing")
    for _, by_evse in sorter.points(chunk_rows):
        with engine.begin() as connection:
            written = store.write_points(connection, cpo_id, by_evse)
            result.accepted += written.accepted
            result.duplicate += written.duplicate
            audit(connection, "writing")
        if progress is not None:
            progress(result)
    with engine.begin() as connection:
        audit(connection, "done")
