"""``chargeatlarge exclusions import``: a CSV of windows to propose, checked line by line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from shared.exclusions.rules import ExclusionError, Proposal, SiteScopes, check_proposal
from shared.sites import RowProblem  # a bad row of a CSV file, as the static site CSV says it

IMPORT_COLUMNS = ("cpo_id", "scope", "scope_id", "from", "to", "cause", "note")
MAX_IMPORT_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class ParsedImport:
    proposals: list[tuple[int, Proposal]]
    problems: list[RowProblem]


def parse_import_csv(
    data: bytes, source: str, scopes: SiteScopes, now: datetime | None = None
) -> ParsedImport:
    """A CSV ``cpo_id,scope,scope_id,from,to,cause,note`` → checked proposals by line, and every
    bad line with its reason. A file that is not such a CSV raises ExclusionError."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ExclusionError(f"{source}: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExclusionError(f"{source}:{line}: not UTF-8; save the file as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise ExclusionError(f"{source}:1: not a CSV header ({exc})") from None
    missing = [name for name in IMPORT_COLUMNS if name not in header and name != "note"]
    if not header or missing:
        raise ExclusionError(
            f"{source}:1: missing column(s) {', '.join(missing or IMPORT_COLUMNS)};"
            f" expected the header {','.join(IMPORT_COLUMNS)}"
        )
    reader.fieldnames = header
    parsed = ParsedImport([], [])
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                parsed.problems.append(
                    RowProblem(
                        source, line, f"expected {len(header)} fields, got a different count"
                    )
                )
                continue
            try:
                proposal = check_proposal(
                    cpo_id=row["cpo_id"],
                    scope=row["scope"],
                    scope_id=row["scope_id"],
                    from_at=row["from"],
                    to_at=row["to"],
                    cause=row["cause"],
                    note=row.get("note"),
                    scopes=scopes,
                    now=now,
                )
            except ExclusionError as exc:
                parsed.problems.append(RowProblem(source, line, str(exc)))
                continue
            parsed.proposals.append((line, proposal))
    except csv.Error as exc:
        raise ExclusionError(f"{source}:{reader.line_num}: not valid CSV ({exc})") from None
    return parsed
