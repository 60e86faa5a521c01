"""``chargeatlarge programs``: import a funder's list, list, assign and unassign by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

import click
from sqlalchemy import Engine

from shared.csv_safety import looks_like_formula, safe_dict
from shared.settings import get_settings

_Command = TypeVar("_Command", bound=Callable[..., Any])

LIST_COLUMNS = (
    "program",
    "round",
    "cpo_id",
    "site_id",
    "distance_m",
    "matched_by",
    "source",
    "listed_address",
)


@contextmanager
def _engine() -> Iterator[Engine]:
    from shared.db.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _checked_id(value: str, option: str) -> str:
    from shared.status import InvalidObservation, check_id

    try:
        return check_id(value, option)
    except InvalidObservation as exc:
        raise click.ClickException(str(exc)) from None


@overload
def _checked_text(value: str, option: str, limit: int) -> str: ...
@overload
def _checked_text(value: str | None, option: str, limit: int) -> str | None: ...
def _checked_text(value: str | None, option: str, limit: int) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        raise click.ClickException(f"{option}: must not be empty")
    if len(value) > limit or not value.isprintable():
        raise click.ClickException(
            f"{option}: at most {limit} printable characters, got {value[:40]!r}"
        )
    if looks_like_formula(value):
        raise click.ClickException(f"{option}: {value[:20]!r} looks like a spreadsheet formula")
    if "," in value:
        raise click.ClickException(f"{option}: {value!r} contains ',', which separates programs")
    return value


@click.group()
def programs() -> None:
    """Grant programs: which static sites each program funded."""


@programs.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--cpo",
    "cpo_id",
    help="our CPO whose sites every row names (when the rows carry the operator's own name);"
    " default: each row's cpo_id, else its cpo_name matched to a cpo_id or CPO name",
)
@click.option(
    "--max-distance-m",
    type=click.FloatRange(min=0, min_open=True),
    help="a site this close to the listed coordinates is the one [default: CAL_PROGRAM_MAX_DISTANCE_M, 200]",
)
@click.option(
    "--min-address-score",
    type=click.FloatRange(0, 100),
    help="street-name similarity (0-100) at which addresses agree [default: CAL_PROGRAM_MIN_ADDRESS_SCORE, 85]",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write what became of every row to this CSV (line, status, site_id, reason, candidates…)",
)
def programs_import(
    source: Path,
    cpo_id: str | None,
    max_distance_m: float | None,
    min_address_score: float | None,
    report_path: Path | None,
) -> None:
    """Match a funded-charger list (CSV: cpo_name, address, postcode, latitude, longitude,
    program, round, …) to the static sites and store the assignments; prints every row a
    person must settle."""
    from shared.blobstore import open_blobstore
    from shared.programs.funded import FundedListRefused
    from shared.programs.importer import import_funded_list, outcome_csv, report_lines
    from shared.programs.matching import MatchOptions

    settings = get_settings()
    if cpo_id is not None:
        cpo_id = _checked_id(cpo_id, "--cpo")
    options = MatchOptions(
        max_distance_m=max_distance_m or settings.program_max_distance_m,
        min_address_score=(
            settings.program_min_address_score if min_address_score is None else min_address_score
        ),
    )
    with _engine() as engine:
        try:
            report = import_funded_list(
                engine, open_blobstore(settings), source, cpo_id=cpo_id, options=options
            )
        except FundedListRefused as exc:
            raise click.ClickException(str(exc)) from None
    for problem in report.bad_rows:
        click.echo(f"bad row: {problem}", err=True)
    click.echo(report.summary())
    for line in report_lines(report):
        click.echo(line)
    if report_path is not None:
        report_path.write_bytes(outcome_csv(report))
        click.echo(f"every row's outcome: {report_path}")


@programs.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)
def programs_list(fmt: str) -> None:
    """Every site assigned to a program, one row per site and program."""
    from shared.programs.store import assignments

    with _engine() as engine, engine.connect() as connection:
        rows = assignments(connection)
    records = [
        {
            "program": a.program,
            "round": a.round or "",
            "cpo_id": a.cpo_id,
            "site_id": a.site_id,
            "distance_m": "" if a.distance_m is None else f"{a.distance_m:.1f}",
            "matched_by": a.matched_by,
            "source": a.source or "",
            "listed_address": a.listed_address or "",
        }
        for a in rows
    ]
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=LIST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(safe_dict(record) for record in records)
        click.echo(buffer.getvalue(), nl=False)
        return
    if not records:
        click.echo("no site is assigned to a program")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in records)) for c in LIST_COLUMNS}
    right = {"distance_m"}
    for record in [dict(zip(LIST_COLUMNS, LIST_COLUMNS, strict=True)), *records]:
        click.echo(
            "  ".join(
                record[c].rjust(widths[c]) if c in right else record[c].ljust(widths[c])
                for c in LIST_COLUMNS
            ).rstrip()
        )


def _site_options(command: _Command) -> _Command:
    for option in reversed(
        [
            click.option("--program", required=True, help="the program's name as funders write it"),
            click.option("--round", "round_", help="the funding round, e.g. 1"),
            click.option("--cpo", "cpo_id", required=True, help="the site's CPO"),
            click.option("--site", "site_id", required=True, help="the site_id of the static CSV"),
        ]
    ):
        command = option(command)
    return command


def _checked_site_options(
    program: str, round_: str | None, cpo_id: str, site_id: str
) -> tuple[str, str | None, str, str]:
    """The options of ``_site_options``, checked: ids as ids, names as printable text."""
    cpo_id, site_id = _checked_id(cpo_id, "--cpo"), _checked_id(site_id, "--site")
    return (
        _checked_text(program, "--program", 200),
        _checked_text(round_, "--round", 64),
        cpo_id,
        site_id,
    )


@programs.command("assign")
@_site_options
def programs_assign(program: str, round_: str | None, cpo_id: str, site_id: str) -> None:
    """Put a site in a program by hand (matched_by manual; re-imports keep it)."""
    from shared.blobstore import open_blobstore
    from shared.programs.store import assign
    from shared.sites import read_static_sites

    program, round_, cpo_id, site_id = _checked_site_options(program, round_, cpo_id, site_id)
    connectors = read_static_sites(open_blobstore(get_settings())).connectors
    known = connectors[(connectors["cpo_id"] == cpo_id) & (connectors["site_id"] == site_id)]
    if known.empty:
        raise click.ClickException(
            f"site {site_id} of {cpo_id} is in no static site CSV: load it first"
            " (chargeatlarge sites load FILE.csv), or check --cpo and --site"
        )
    with _engine() as engine, engine.begin() as connection:
        before = assign(connection, cpo_id=cpo_id, site_id=site_id, program=program, round=round_)
    round_text = f" round {round_}" if round_ else ""
    was = ""
    if before is not None:
        state = "assigned" if before.assigned else "taken out"
        was = f" (was {state}, {before.matched_by}, round {before.round or '(none)'})"
    click.echo(f"{cpo_id} site {site_id} is in {program!r}{round_text}, by hand{was}")


@programs.command("unassign")
@_site_options
def programs_unassign(program: str, round_: str | None, cpo_id: str, site_id: str) -> None:
    """Take a site out of a program by hand; re-imports of the funder's list leave it out."""
    from shared.programs.store import NotAssigned, unassign

    program, round_, cpo_id, site_id = _checked_site_options(program, round_, cpo_id, site_id)
    with _engine() as engine, engine.begin() as connection:
        try:
            before = unassign(
                connection, cpo_id=cpo_id, site_id=site_id, program=program, round=round_
            )
        except NotAssigned as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"{cpo_id} site {site_id} is out of {program!r} (was {before.matched_by},"
        f" round {before.round or '(none)'}); re-imports leave it out"
    )
