"""`chargeatlarge demo`: the whole platform on embedded defaults, driven like a user would.

Each part runs through its own command (`monthly`, `worker`, `simulate`, `app`) in a child
process, so this module needs nothing but the shared library and the installed CLI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from shared.settings import Settings, get_settings


def cli_executable() -> list[str]:
    """How to run ``chargeatlarge`` from here: the installed script beside this Python."""
    script = Path(sys.executable).with_name("chargeatlarge")
    if script.exists():
        return [str(script)]
    found = shutil.which("chargeatlarge")
    if found:
        return [found]
    return [sys.executable, "-c", "from chargeatlarge.cli import main; main()"]


def month_starts(today: date, months: int) -> list[str]:
    """The ``months`` whole calendar months before ``today``'s month, oldest first (YYYY-MM)."""
    out: list[str] = []
    year, month = today.year, today.month
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return sorted(out)


def step(message: str) -> float:
    click.secho(f"▸ {message}", fg="cyan")
    return time.perf_counter()


def done(started: float, detail: str = "") -> None:
    click.echo(f"  done in {time.perf_counter() - started:.1f} s{' — ' + detail if detail else ''}")


def prepare(
    settings: Settings, sites_csv: Path, months: int, seed: int, now: datetime
) -> list[str]:
    """Schema, static sites, backfilled history and monthly results; returns the months done."""
    from chargeatlarge.synthetic import dc_evses_of, generate_history, write_observations_csv
    from shared.blobstore import open_blobstore
    from shared.db.engine import make_engine, upgrade
    from shared.lga import LgaBoundaries, LgaBoundariesRefused, assign_lgas
    from shared.observation_import import import_observations
    from shared.sites import SitesFileRefused, store_sites, validate_sites_csv

    started = step(f"database schema ({settings.database_url})")
    upgrade(settings.database_url)
    done(started)

    started = step(f"static sites from {sites_csv}")
    try:
        validated = validate_sites_csv(sites_csv.read_bytes(), str(sites_csv))
    except SitesFileRefused as exc:
        raise click.ClickException(str(exc)) from None
    for problem in validated.problems[:20]:
        click.echo(f"  bad row: {problem}", err=True)
    if not validated.rows:
        raise click.ClickException(f"{sites_csv}: no valid rows")
    # As `sites load` does, so that the monthly reports have LGA rows.
    boundaries: LgaBoundaries | None = None
    try:
        boundaries = LgaBoundaries.read(settings.lga_boundaries)
    except LgaBoundariesRefused as exc:
        click.echo(f"  warning: no LGA is derived from coordinates: {exc}", err=True)
    lgas = assign_lgas(validated.rows, boundaries)
    for note in lgas.notes[:20]:
        click.echo(f"  warning: {note}", err=True)
    store = open_blobstore(settings)
    blob = store_sites(store, validated)
    evses = sorted({(str(r["cpo_id"]), str(r["evse_uid"])) for r in validated.rows})
    sites = {(r["cpo_id"], r["site_id"]) for r in validated.rows}
    done(started, f"{len(sites)} sites, {len(evses)} EVSEs → {blob}; {lgas}")

    month_list = month_starts(now.astimezone(settings.tz).date(), months)
    if not month_list:
        return []
    first = date.fromisoformat(month_list[0] + "-01")
    start = datetime(first.year, first.month, 1, tzinfo=settings.tz).astimezone(UTC)
    dc_evses = dc_evses_of(validated.rows)
    started = step(f"backfilling history {month_list[0]} … now through the import path")
    engine = make_engine(settings.database_url)
    total = 0
    try:
        with tempfile.TemporaryDirectory(prefix="cal-demo-") as tmp:
            for cpo_id in sorted({cpo for cpo, _ in evses}):
                mine = [evse for evse in evses if evse[0] == cpo_id]
                path = Path(tmp) / f"{cpo_id}.csv"
                rows = generate_history(
                    mine,
                    start,
                    now,
                    seed=seed,
                    confirm_every=timedelta(minutes=settings.max_gap_minutes),
                    dc_evses=dc_evses,
                )
                write_observations_csv(rows, path)
                result = import_observations(
                    engine, path, cpo_id, default_max_gap_minutes=settings.max_gap_minutes
                )
                total += result.accepted + result.duplicate
                click.echo(
                    f"  {cpo_id}: {len(mine)} EVSEs, accepted {result.accepted:,},"
                    f" duplicate {result.duplicate:,}, rejected {result.rejected:,}"
                )
    finally:
        engine.dispose()
    done(started, f"{total:,} observations")

    for month in month_list:
        started = step(f"monthly job for {month}")
        run([*cli_executable(), "monthly", "--month", month])
        done(started)
    return month_list


def run(command: Sequence[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise click.ClickException(
            f"{' '.join(command[-3:])} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    for line in completed.stdout.strip().splitlines()[-6:]:
        click.echo(f"  {line}")


class Children:
    """Child processes that stop together, on Ctrl-C or when one of them dies."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: Sequence[str], env: dict[str, str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = log.open("ab")
        process = subprocess.Popen(
            list(command), env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))

    def first_exit(self) -> tuple[str, int] | None:
        for name, process in self.processes:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@click.command()
@click.option(
    "--sites",
    "sites_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="static site CSV to run on (default: the shipped Australian site set)",
)
@click.option(
    "--months",
    default=2,
    show_default=True,
    type=click.IntRange(0, 24),
    help="whole months of history to backfill and report",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--app-port", default=8000, show_default=True, type=int)
@click.option("--worker-port", default=8080, show_default=True, type=int)
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--prepare-only", is_flag=True, help="set everything up, start nothing")
def demo(
    sites_csv: Path | None,
    months: int,
    host: str,
    app_port: int,
    worker_port: int,
    seed: int,
    prepare_only: bool,
) -> None:
    """Run the whole platform locally on embedded defaults (files under CAL_DATA_DIR)."""
    from chargeatlarge.sample_data import DEFAULT_SITES_CSV

    settings = get_settings()
    sites_csv = sites_csv or DEFAULT_SITES_CSV
    click.secho(f"Charge@Large demo — files under {settings.data_dir}", bold=True)
    prepare(settings, sites_csv, months, seed, datetime.now(UTC))
    if prepare_only:
        return
    start_services(settings, sites_csv, host, app_port, worker_port, seed)


class Stopped(Exception):
    """SIGTERM or SIGHUP reached the demo: stop every part, as Ctrl-C does."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def port_in_use(host: str, port: int) -> str | None:
    """Who listens on ``host:port`` already ("pid 123 (python3: chargeatlarge worker)"), or None."""
    import socket

    import psutil

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return None
        except OSError:
            pass
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    break
                process = psutil.Process(conn.pid)
                command = " ".join(process.cmdline()[:4])[:120]
                return f"pid {conn.pid} ({process.name()}: {command})"
    except (psutil.Error, OSError):
        pass
    return "another program"


def wait_for_port(host: str, port: int, timeout: float, children: Children) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children.first_exit() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.3)
    return False


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def start_services(
    settings: Settings, sites_csv: Path, host: str, app_port: int, worker_port: int, seed: int
) -> None:
    """Worker, simulator (every feed kind) and dashboard, until Ctrl-C, SIGTERM or SIGHUP, or
    until one stops; every part is stopped on the way out."""
    taken = [
        f"port {port} ({what}) is already in use by {user}"
        for port, what in ((worker_port, "ingest worker"), (app_port, "dashboard"))
        if (user := port_in_use(host, port))
    ]
    if taken:
        raise click.ClickException(
            "; ".join(taken) + ". Stop it (an earlier demo?) or choose --worker-port/--app-port."
        )
    cli = cli_executable()
    demo_dir = settings.data_dir / "demo"
    feeds = demo_dir / "feeds.toml"
    secrets = feeds.with_suffix(".env")  # written beside the feeds file by `simulate --write-feeds`
    worker_url = f"http://{host}:{worker_port}"
    started = step("simulated CPOs: feeds file and secrets")
    simulator = [
        *cli,
        "simulate",
        "--sites",
        str(sites_csv),
        "--worker",
        worker_url,
        "--seed",
        str(seed),
    ]
    run([*simulator, "--write-feeds", str(feeds)])
    done(started, f"{feeds}")
    env = {**os.environ, **read_env_file(secrets)}
    children = Children()
    logs = settings.data_dir / "logs"
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        started = step(f"ingest worker on {worker_url}")
        children.start(
            "worker",
            [*cli, "worker", "--feeds", str(feeds), "--host", host, "--port", str(worker_port)],
            env,
            logs / "worker.log",
        )
        if not wait_for_port(host, worker_port, 60, children):
            raise click.ClickException(f"the worker did not start; see {logs / 'worker.log'}")
        done(started)
        started = step("CPO simulator: OCPI pull and push, OCPP 1.6J and 2.0.1, REST, WebSocket")
        # Real time: the statuses on the map are what a driver would see now.
        children.start("simulator", [*simulator, "--speed", "1"], env, logs / "simulator.log")
        done(started)
        started = step(f"dashboard on http://{host}:{app_port}")
        children.start(
            "app", [*cli, "app", "--host", host, "--port", str(app_port)], env, logs / "app.log"
        )
        if not wait_for_port(host, app_port, 90, children):
            raise click.ClickException(f"the dashboard did not start; see {logs / 'app.log'}")
        done(started)
        click.secho("\nCharge@Large is running:", bold=True)
        click.echo(f"  dashboard       http://{host}:{app_port}")
        click.echo(
            f"  ingest worker   {worker_url}  (health: {worker_url}/healthz, API: {worker_url}/docs)"
        )
        click.echo(f"  files           {settings.data_dir}  (logs in {logs})")
        click.echo("Press Ctrl-C to stop.")
        while (ended := children.first_exit()) is None:
            time.sleep(0.5)
        name, code = ended
        raise click.ClickException(
            f"{name} stopped (exit code {code}); see {logs / (name + '.log')}"
        )
    except (KeyboardInterrupt, Stopped):
        click.echo("\nstopping …")
    finally:
        # A second signal while stopping must not leave children behind.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        children.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
