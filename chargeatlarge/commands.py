"""CLI commands of the spine: database schema, static sites, observation import."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from shared.settings import get_settings

if TYPE_CHECKING:  # the commands import what they run lazily, so that `--help` stays quick
    from sqlalchemy import Engine

    from shared.exclusions import Exclusion, SiteScopes
    from shared.observation_import import ImportResult


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@click.group()
def db() -> None:
    """The SQL database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema (Alembic) on CAL_DATABASE_URL."""
    from shared.db.engine import current_revision, make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        upgrade(settings.database_url, revision)
        now = current_revision(engine)
    finally:
        engine.dispose()
    if revision != "head" and now != revision:
        fail(f"database stays at {now} (was {before}): {revision} is older; use `db downgrade`")
    click.echo(f"database at {now}: {_safe_url(settings.database_url)}")


@db.command("downgrade")
@click.option("--revision", required=True, help="the revision to go back to, e.g. 0001")
def db_downgrade(revision: str) -> None:
    """Roll the schema back to an earlier Alembic revision (take a backup first)."""
    from alembic import command

    from shared.db.engine import alembic_config, current_revision, make_engine

    settings = get_settings()
    command.downgrade(alembic_config(settings.database_url), revision)
    engine = make_engine(settings.database_url)
    try:
        click.echo(f"database at {current_revision(engine)}: {_safe_url(settings.database_url)}")
    finally:
        engine.dispose()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group()
def sites() -> None:
    """Static site CSVs (spec section 5)."""


@sites.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def sites_load(paths: tuple[Path, ...]) -> None:
    """Validate static site CSVs and store their good rows under static/sites/."""
    from shared.blobstore import open_blobstore
    from shared.lga import LgaBoundaries, LgaBoundariesRefused, assign_lgas
    from shared.sites import SitesFileRefused, read_sites_file, store_sites, validate_sites_csv

    settings = get_settings()
    store = open_blobstore(settings)
    boundaries: LgaBoundaries | None = None
    try:
        boundaries = LgaBoundaries.read(settings.lga_boundaries)
    except LgaBoundariesRefused as exc:
        click.echo(f"warning: no LGA is derived from coordinates: {exc}", err=True)
    refused = 0
    for path in paths:
        try:
            validated = validate_sites_csv(read_sites_file(path), str(path))
        except SitesFileRefused as exc:
            click.echo(f"refused: {exc}", err=True)
            refused += 1
            continue
        for note in validated.notes:
            click.echo(f"warning: {note}", err=True)
        for problem in validated.problems:
            click.echo(f"bad row: {problem}", err=True)
        if not validated.rows:
            click.echo(f"refused: {path}: no valid rows", err=True)
            refused += 1
            continue
        lgas = assign_lgas(validated.rows, boundaries)
        for note in lgas.notes:
            click.echo(f"warning: {path}: {note}", err=True)
        blob = store_sites(store, validated)
        evses = len({(row["cpo_id"], row["evse_uid"]) for row in validated.rows})
        sites_count = len({(row["cpo_id"], row["site_id"]) for row in validated.rows})
        click.echo(
            f"{path}: loaded {len(validated.rows)} connectors, {evses} EVSEs, {sites_count} sites"
            f" → {blob}; {len(validated.problems)} bad rows"
        )
        click.echo(f"{path}: {lgas}")
    if refused:
        sys.exit(1)


@sites.command("import-ocm")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV to write"
)
def sites_import_ocm(source: Path, output: Path | None) -> None:
    """Convert an Open Charge Map JSON export into a static site CSV (CC BY 4.0 attribution kept)."""
    from shared.ocm import ATTRIBUTION, OcmExportRefused, convert_export
    from shared.sites import write_sites_csv

    try:
        conversion = convert_export(source.read_bytes(), str(source))
    except OcmExportRefused as exc:
        fail(str(exc))
    for warning in conversion.warnings:
        click.echo(f"warning: {warning}", err=True)
    target = output or source.with_suffix(".csv")
    target.write_bytes(write_sites_csv(conversion.rows))
    click.echo(
        f"{target}: {len(conversion.rows)} connectors from {source}"
        f" ({conversion.skipped_pois} POIs skipped, {len(conversion.warnings)} warnings). {ATTRIBUTION}"
    )


@click.group()
def observations() -> None:
    """Observation history."""


@observations.command("import")
@click.argument(
    "source", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--cpo", "cpo_id", required=True, help="the CPO whose log this is")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="default: from the suffix"
)
@click.option(
    "--max-gap-minutes", type=click.FloatRange(min=0, min_open=True), help="set the CPO's max_gap"
)
def observations_import(
    source: Path, cpo_id: str, fmt: str | None, max_gap_minutes: float | None
) -> None:
    """Import a CPO's historical status log (CSV or JSON Lines: evse_uid, status, observed_at).

    SOURCE is a file, plain or gzip-compressed, or - for standard input. The rows are a set:
    they are put in time order before writing (for ties at one instant the later line wins).
    """
    from shared.db.engine import make_engine
    from shared.observation_import import ImportRefused, import_observations
    from shared.status import InvalidObservation, check_id

    settings = get_settings()
    try:
        cpo_id = check_id(cpo_id, "--cpo")
    except InvalidObservation as exc:
        fail(str(exc))
    engine = make_engine(settings.database_url)

    def progress(result: ImportResult) -> None:
        done = result.accepted + result.duplicate + result.rejected
        click.echo(f"  … {done:,} rows", err=True)

    try:
        result = import_observations(
            engine,
            "-" if str(source) == "-" else source,
            cpo_id,
            default_max_gap_minutes=settings.max_gap_minutes,
            max_gap_minutes=max_gap_minutes,
            fmt=fmt,
            progress=progress,
        )
    except ImportRefused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(
        f"{source}: accepted {result.accepted}, duplicate {result.duplicate}, rejected {result.rejected}"
        + (" (rejected rows are in quarantine with their reasons)" if result.rejected else "")
    )


@click.command()
@click.option("--month", required=True, help="the calendar month in CAL_REPORT_TZ, YYYY-MM")
@click.option(
    "--engine",
    "metrics_engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="where the engine's SQL runs: DuckDB in process, or Spark (the active session, else local)",
)
def monthly(month: str, metrics_engine: str) -> None:
    """Compute a month's figures and write processed/monthly/YYYY-MM/ and reports/YYYY-MM/."""
    import logging

    from shared.metrics.period import InvalidMonth
    from shared.monthly.job import MonthNotReady
    from shared.monthly.run import run_month_with_settings

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
    try:
        result = run_month_with_settings(month, get_settings(), metrics_engine=metrics_engine)
    except (InvalidMonth, MonthNotReady) as exc:
        fail(str(exc))
    counts = ", ".join(f"{name} {count}" for name, count in result.row_counts.items())
    click.echo(f"{month}: {counts}")
    click.echo(f"wrote {result.prefix}/ and {result.report_prefix}/report.html")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group()
def exclusions() -> None:
    """Excluded downtime (spec 4.3): propose, review and list exclusion windows."""


def _exclusion_engine() -> Engine:
    from shared.db.engine import make_engine

    return make_engine(get_settings().database_url)


def _site_scopes() -> SiteScopes:
    from shared.blobstore import open_blobstore
    from shared.exclusions import SiteScopes
    from shared.sites import read_static_sites

    return SiteScopes.from_connectors(read_static_sites(open_blobstore(get_settings())).connectors)


def _cli_actor(by: str | None) -> str:
    import getpass

    return f"cli:{by or getpass.getuser()}"


BY_OPTION = click.option("--by", help="who does this (default: the operating-system user)")


@exclusions.command("propose")
@click.option("--cpo", "cpo_id", required=True, help="the CPO whose EVSE, charger or site it is")
@click.option("--scope", required=True, type=click.Choice(["evse", "charger", "site"]))
@click.option("--id", "scope_id", required=True, help="the evse_uid, charger_id or site_id")
@click.option("--from", "from_at", required=True, help="ISO 8601 instant with an offset")
@click.option("--to", "to_at", required=True, help="ISO 8601 instant with an offset, after --from")
@click.option("--cause", required=True, help="UTILITY_INTERRUPTION, VEHICLE_FAULT, …")
@click.option("--note", help="what happened")
@BY_OPTION
def exclusions_propose(
    cpo_id: str,
    scope: str,
    scope_id: str,
    from_at: str,
    to_at: str,
    cause: str,
    note: str | None,
    by: str | None,
) -> None:
    """Propose an exclusion window; prints its new id alone on the last line."""
    from shared.exclusions import ExclusionError, check_proposal, propose

    try:
        proposal = check_proposal(
            cpo_id=cpo_id,
            scope=scope,
            scope_id=scope_id,
            from_at=from_at,
            to_at=to_at,
            cause=cause,
            note=note,
            scopes=_site_scopes(),
        )
        engine = _exclusion_engine()
        try:
            (exclusion_id,) = propose(engine, [proposal], _cli_actor(by))
        finally:
            engine.dispose()
    except ExclusionError as exc:
        fail(str(exc))
    click.echo(
        f"proposed: {proposal.cpo_id} {proposal.scope} {proposal.scope_id}"
        f" {proposal.from_at.isoformat()} … {proposal.to_at.isoformat()} {proposal.cause}"
    )
    click.echo(exclusion_id)


def _review(review: Callable[[Engine, str], Exclusion], by: str | None) -> None:
    """Run ``review(engine, actor)`` (an approval or a rejection) and say the outcome."""
    from shared.exclusions import ExclusionError, ExclusionNotFound

    engine = _exclusion_engine()
    try:
        result = review(engine, _cli_actor(by))
    except (ExclusionError, ExclusionNotFound) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    finally:
        engine.dispose()
    click.echo(f"{result.exclusion_id}: {result.state} by {result.reviewed_by}")


@exclusions.command("approve")
@click.argument("exclusion_id")
@click.option("--reason", help="why (kept in the audit trail)")
@BY_OPTION
def exclusions_approve(exclusion_id: str, reason: str | None, by: str | None) -> None:
    """Approve a proposed exclusion: monthly jobs from now on exclude its downtime."""
    from shared.exclusions import approve

    _review(lambda engine, actor: approve(engine, exclusion_id, actor, reason), by)


@exclusions.command("reject")
@click.argument("exclusion_id")
@click.option("--reason", required=True, help="why (kept in the audit trail)")
@BY_OPTION
def exclusions_reject(exclusion_id: str, reason: str, by: str | None) -> None:
    """Reject a proposed exclusion, or revoke an approved one."""
    from shared.exclusions import reject

    _review(lambda engine, actor: reject(engine, exclusion_id, actor, reason), by)


@exclusions.command("list")
@click.option("--state", help="PROPOSED, APPROVED, REJECTED or WITHDRAWN (default: all)")
@click.option("--cpo", "cpo_id", help="only this CPO's")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)
def exclusions_list(state: str | None, cpo_id: str | None, fmt: str) -> None:
    """List exclusions with their current state, newest proposal first."""
    import csv
    import io

    from shared.csv_safety import safe_dict
    from shared.exclusions import LIST_COLUMNS, ExclusionError, list_exclusions, table_rows

    engine = _exclusion_engine()
    try:
        with engine.connect() as connection:
            rows = table_rows(list_exclusions(connection, cpo_id=cpo_id, state=state))
    except ExclusionError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=LIST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        # Notes and ids are typed by CPOs: no cell may run as a spreadsheet formula.
        writer.writerows(
            safe_dict({k: "" if v is None else v for k, v in row.items()}) for row in rows
        )
        click.echo(buffer.getvalue(), nl=False)
        return
    shown = ("exclusion_id", "state", "cpo_id", "scope", "scope_id", "from_at", "to_at", "cause")
    cells = [[str(row[c] or "") for c in shown] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(shown)]
    for line in [list(shown), *cells]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    click.echo(f"{len(rows)} exclusion(s)")


@exclusions.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@BY_OPTION
def exclusions_import(source: Path, by: str | None) -> None:
    """Propose every row of a CSV cpo_id,scope,scope_id,from,to,cause,note; bad rows by line."""
    from shared.exclusions import ExclusionError, parse_import_csv, propose
    from shared.sites import RowProblem

    try:
        parsed = parse_import_csv(source.read_bytes(), str(source), _site_scopes())
    except ExclusionError as exc:
        fail(str(exc))
    for problem in parsed.problems:
        click.echo(f"bad row: {problem}", err=True)
    if not parsed.proposals:
        fail(f"{source}: no valid rows, nothing proposed")
    engine = _exclusion_engine()
    ids: list[str] = []
    try:
        for line, proposal in parsed.proposals:
            try:
                ids += propose(engine, [proposal], _cli_actor(by))
            except ExclusionError as exc:
                click.echo(f"bad row: {source}:{line}: {exc}", err=True)
                parsed.problems.append(RowProblem(str(source), line, str(exc)))
    finally:
        engine.dispose()
    for exclusion_id in ids:
        click.echo(exclusion_id)
    click.echo(f"{source}: proposed {len(ids)}, bad rows {len(parsed.problems)}")
