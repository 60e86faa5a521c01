"""CLI commands of the spine: database schema, static sites, observation import."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shared.settings import get_settings


def fail(message: str) -> None:
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
    from shared.sites import SitesFileRefused, store_sites, validate_sites_csv

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
            validated = validate_sites_csv(path.read_bytes(), str(path))
        except FileNotFoundError:
            click.echo(f"{path}: no such file", err=True)
            refused += 1
            continue
        except SitesFileRefused as exc:
            click.echo(f"refused: {exc}", err=True)
            refused += 1
            continue
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

    def progress(result) -> None:  # type: ignore[no-untyped-def]
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
def monthly(month: str) -> None:
    """Compute a month's figures and write processed/monthly/YYYY-MM/ and reports/YYYY-MM/."""
    import logging

    from shared.metrics.period import InvalidMonth
    from shared.monthly.job import MonthNotReady
    from shared.monthly.run import run_month_with_settings

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
    try:
        result = run_month_with_settings(month, get_settings())
    except (InvalidMonth, MonthNotReady) as exc:
        fail(str(exc))
    counts = ", ".join(f"{name} {count}" for name, count in result.row_counts.items())
    click.echo(f"{month}: {counts}")
    click.echo(f"wrote {result.prefix}/ and {result.report_prefix}/report.html")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
