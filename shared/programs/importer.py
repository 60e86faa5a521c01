"""``programs import``: read a funded-charger list, match it to the static sites in the blob
store (as the monthly job reads them), store the assignments in one transaction, and say what a
person must settle."""

from __future__ import annotations

import csv
import io
import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from shared.blobstore import BlobStore
from shared.csv_safety import safe_row
from shared.layout import STATIC_SITES_PREFIX
from shared.programs.funded import FundedListRefused, read_funded_list
from shared.programs.matching import Match, MatchOptions, SiteIndex, match_rows
from shared.programs.operators import OperatorDirectory
from shared.programs.store import NewAssignment, StoreResult, operator_names, store_import
from shared.sites import read_static_sites


@dataclass(slots=True)
class ImportReport:
    source: str
    matches: list[Match] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)
    stored: StoreResult = field(default_factory=StoreResult)

    def count(self, status: str) -> int:
        return sum(1 for m in self.matches if m.status == status)

    @property
    def to_settle(self) -> list[Match]:
        """Rows a person must decide: no site, several sites, or a second row for a site in
        another round."""
        return [
            m
            for m in self.matches
            if m.status in ("unmatched", "ambiguous")
            or (m.status == "duplicate" and "round" in m.reason)
        ]

    def summary(self) -> str:
        ways = Counter(m.matched_by for m in self.matches if m.status == "matched")
        how = ", ".join(f"{way} {n}" for way, n in sorted(ways.items()))
        text = (
            f"{self.source}: {len(self.matches) + len(self.bad_rows)} rows:"
            f" {self.count('matched')} matched{f' ({how})' if how else ''},"
            f" {self.count('ambiguous')} with several sites, {self.count('unmatched')} not matched,"
            f" {self.count('duplicate')} duplicates, {len(self.bad_rows)} bad rows;"
            f" stored {self.stored.stored} assignments"
        )
        if self.stored.removed:
            text += f", removed {len(self.stored.removed)} earlier matches the list no longer makes"
        if self.stored.kept_manual:
            text += f", kept {len(self.stored.kept_manual)} manual decisions"
        return text


def assign_command(match: Match, site_id: str) -> str:
    """The command that settles ``match`` with ``site_id``."""
    words = ["chargeatlarge", "programs", "assign", "--program", match.row.program]
    if match.row.round:
        words += ["--round", match.row.round]
    words += ["--cpo", match.cpo_id or "CPO_ID", "--site", site_id]
    return shlex.join(words)


def import_funded_list(
    engine: Engine,
    store: BlobStore,
    path: Path,
    *,
    cpo_id: str | None,
    options: MatchOptions,
    now: datetime | None = None,
) -> ImportReport:
    """Match every row of the list at ``path`` and store the matches; raises
    ``FundedListRefused`` when the file, the ``--cpo`` or the static sites do not allow it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FundedListRefused(f"{path}: no such file") from None
    funded = read_funded_list(data, path.name)
    if cpo_id is not None:
        operators = sorted(
            {name for r in funded.rows if (name := r.cpo_id or r.cpo_name) is not None}
        )
        if len(operators) > 1:
            raise FundedListRefused(
                f"{path}: --cpo {cpo_id} stands for the operator of every row, but the file names"
                f" {len(operators)} operators ({', '.join(operators)}): import each operator's"
                " rows on their own, or leave --cpo out to map the names to CPOs"
            )
    static = read_static_sites(store)
    if not static.sources:
        raise FundedListRefused(
            f"no static site CSV in {STATIC_SITES_PREFIX}: load the sites first"
            " (chargeatlarge sites load FILE.csv)"
        )
    index = SiteIndex.from_connectors(static.connectors)
    if cpo_id is not None and cpo_id not in index.sites:
        known = ", ".join(sorted(index.sites)) or "none"
        raise FundedListRefused(f"--cpo {cpo_id}: no static site of that CPO (CPOs: {known})")
    report = ImportReport(path.name, bad_rows=funded.problems)
    with engine.begin() as connection:
        directory = OperatorDirectory.build(index.sites, operator_names(connection))
        report.matches = match_rows(funded.rows, index, directory, options, cpo_id)
        new = [
            NewAssignment(
                cpo_id=m.cpo_id,
                site_id=m.site_id,
                program=m.row.program,
                round=m.row.round,
                matched_by=m.matched_by,
                distance_m=m.candidate.distance_m,
                source=m.row.where,
                listed_address=m.row.listed_address or None,
            )
            for m in report.matches
            if m.status == "matched" and m.cpo_id and m.site_id and m.candidate and m.matched_by
        ]
        scope = {(m.cpo_id, m.row.program, m.row.round) for m in report.matches if m.cpo_id}
        report.stored = store_import(connection, new, scope, now)
    return report


OUTCOME_COLUMNS = (
    "line",
    "status",
    "program",
    "round",
    "cpo_id",
    "site_id",
    "distance_m",
    "matched_by",
    "listed_address",
    "reason",
    "candidates",
)


def outcome_csv(report: ImportReport) -> bytes:
    """One row per funded row that was read, in file order: what the import made of it, for a
    person settling the rest in a spreadsheet (``candidates``: the site_ids to choose from)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTCOME_COLUMNS)
    for m in sorted(report.matches, key=lambda m: m.row.line):
        distance = m.candidate.distance_m if m.candidate else None
        writer.writerow(
            safe_row(
                [
                    m.row.line,
                    m.status,
                    m.row.program,
                    m.row.round or "",
                    m.cpo_id or "",
                    m.site_id or "",
                    "" if distance is None else f"{distance:.1f}",
                    m.matched_by or "",
                    m.row.listed_address,
                    m.reason,
                    " ".join(c.site.site_id for c in m.contenders),
                ]
            )
        )
    return buffer.getvalue().encode("utf-8")


def report_lines(report: ImportReport) -> list[str]:
    """What a person reads after an import: the rows to settle, each with the command that
    would settle it, then notes on matches worth a look."""
    lines: list[str] = []
    settle = report.to_settle
    if settle:
        lines.append(f"to settle ({len(settle)} rows):")
    for m in settle:
        what = {"unmatched": "not matched", "ambiguous": "several sites", "duplicate": "duplicate"}
        lines.append(f"  {m.row.where}: {what[m.status]}: {m.row.listed_address}: {m.reason}")
        for contender in m.contenders:
            lines.append(f"      {assign_command(m, contender.site.site_id)}")
        if m.status == "unmatched" and m.cpo_id:
            lines.append(f"      {assign_command(m, 'SITE_ID')}")
    notes: list[tuple[int, str]] = []
    for m in report.matches:
        if m.status == "duplicate" and m not in settle:
            notes.append((m.row.line, f"duplicate: {m.reason}"))
        if m.status != "matched" or m.candidate is None:
            continue
        head = f"matched {m.site_id} by {m.matched_by}"
        if m.reason:
            notes.append((m.row.line, f"{head}: {m.reason}"))
        if m.candidate.site.programs:
            codes = ", ".join(m.candidate.site.programs)
            notes.append((m.row.line, f"{head}: its static CSV names program {codes} as well"))
    if notes or report.stored.kept_manual or report.stored.removed:
        lines.append("notes:")
    lines.extend(f"  {report.source}:{line}: {text}" for line, text in sorted(notes))
    for item, held in report.stored.kept_manual:
        state = "assigned" if held.assigned else "taken out of the program"
        lines.append(
            f"  {item.source}: kept the manual decision for site {held.site_id}"
            f" ({state} by hand); the list's match was not stored"
        )
    for gone in report.stored.removed:
        lines.append(
            f"  removed {gone.cpo_id} site {gone.site_id} from {gone.program!r}"
            f" round {gone.round or '(none)'}: the list no longer matches it (was {gone.source})"
        )
    return lines
