"""Backfill: stream a CPO's historical status log (CSV or JSON Lines) into the observation store.

Rows are read lazily and written in chunks, so memory stays flat for files of millions of rows.
Each chunk is one transaction holding its status runs and its quarantined rows; re-importing
the same file changes nothing (every row lands inside a run it already made).
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, insert, update

from shared.db.audit import quarantine_rows
from shared.db.observations import ObservationStore, ensure_cpo, to_db_time
from shared.db.tables import ingest_batch
from shared.status import InvalidObservation, Observation

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
    csv.field_size_limit(MAX_LINE_BYTES)
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
        if not isinstance(value, dict):
            yield RawRow(line_number, None, text, "expected a JSON object per line")
            continue
        yield RawRow(line_number, value, text)


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    with path.open("rb") as handle:
        head = handle.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


def read_rows(path: Path, fmt: str | None = None) -> Iterator[RawRow]:
    """Rows of a CSV or JSON Lines file, lazily; refuses non-text files up front."""
    source = str(path)
    with path.open("rb") as probe:
        head = probe.read(65536)
    if b"\x00" in head:
        raise ImportRefused(f"{source}: binary file, expected CSV or JSON Lines text")
    fmt = fmt or detect_format(path)
    if fmt not in ("csv", "jsonl"):
        raise ImportRefused(f"{source}: unknown format {fmt!r}; use csv or jsonl")
    with path.open("r", encoding="utf-8-sig", errors="strict", newline="") as handle:
        rows = _csv_rows(handle, source) if fmt == "csv" else _jsonl_rows(handle, source)
        try:
            yield from rows
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                f"{source}: not UTF-8 ({exc.reason}); save the file as UTF-8"
            ) from None


def parse_row(row: RawRow, cpo_id: str) -> Observation:
    """A raw row → Observation for ``cpo_id``; raises InvalidObservation naming the field."""
    fields = row.fields or {}
    given_cpo = fields.get("cpo_id")
    if given_cpo not in (None, "") and str(given_cpo).strip() != cpo_id:
        raise InvalidObservation(
            f"cpo_id: {str(given_cpo)[:64]!r} is not the imported CPO {cpo_id!r}"
        )
    for name in REQUIRED_FIELDS:
        if fields.get(name) in (None, ""):
            raise InvalidObservation(f"{name}: required, missing or empty")
    return Observation.parse(
        cpo_id=cpo_id,
        evse_uid=fields["evse_uid"],
        status=fields["status"],
        observed_at=fields["observed_at"],
        connector_id=fields.get("connector_id"),
    )


def import_observations(
    engine: Engine,
    path: Path,
    cpo_id: str,
    *,
    default_max_gap_minutes: float,
    max_gap_minutes: float | None = None,
    fmt: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``path`` for ``cpo_id``: accepted / duplicate / rejected counts, rejects quarantined."""
    store = ObservationStore(engine, default_max_gap_minutes)
    result = ImportResult()
    received = to_db_time(datetime.now(UTC))
    rows = read_rows(path, fmt)
    first = next(rows, None)  # refuse a bad header before anything is written
    with engine.begin() as connection:
        ensure_cpo(connection, cpo_id, max_gap_minutes)
        result.batch_id = connection.execute(
            insert(ingest_batch).values(
                cpo_id=cpo_id,
                source="import",
                sender=path.name[:200],
                received_at=received,
                accepted=0,
                duplicate=0,
                rejected=0,
                detail=json.dumps({"path": str(path)}),
            )
        ).inserted_primary_key[0]

    def flush(chunk: list[Observation], rejects: list[tuple[str, str, str, str]]) -> None:
        with engine.begin() as connection:
            written = store.write_in(connection, chunk) if chunk else None
            quarantine_rows(
                connection,
                source="import",
                received_at=received,
                items=rejects,
                batch_id=result.batch_id,
            )
        if written is not None:
            result.accepted += written.accepted
            result.duplicate += written.duplicate
        result.rejected += len(rejects)
        if progress is not None:
            progress(result)

    chunk: list[Observation] = []
    rejects: list[tuple[str, str, str, str]] = []
    pending = [first] if first is not None else []
    for row in itertools.chain(pending, rows):
        try:
            if row.error is not None:
                raise InvalidObservation(row.error)
            chunk.append(parse_row(row, cpo_id))
        except InvalidObservation as exc:
            rejects.append((cpo_id, f"{path.name[:150]}:{row.line}", str(exc), row.raw))
        if len(chunk) + len(rejects) >= chunk_rows:
            flush(chunk, rejects)
            chunk, rejects = [], []
    flush(chunk, rejects)
    with engine.begin() as connection:
        connection.execute(
            update(ingest_batch)
            .where(ingest_batch.c.batch_id == result.batch_id)
            .values(
                accepted=result.accepted,
                duplicate=result.duplicate,
                rejected=result.rejected,
                finished_at=to_db_time(datetime.now(UTC)),
            )
        )
    return result
