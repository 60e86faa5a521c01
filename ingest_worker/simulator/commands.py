"""``chargeatlarge simulate``: fake CPOs on loopback for the sites in the static CSVs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

    from shared.settings import Settings

KIND_NAMES = ("ocpp", "ocpi_pull", "ocpi_push", "rest_push", "ws_push")


def _overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for value in values:
        cpo_id, equals, kind = value.partition("=")
        if not equals or kind not in KIND_NAMES:
            raise click.BadParameter(
                f"{value!r}: expected CPO=KIND with KIND one of {', '.join(KIND_NAMES)}"
            )
        overrides[cpo_id] = kind
    return overrides


@click.command()
@click.option(
    "--sites",
    "sites_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a static site CSV (default: every CSV in the blob store's static/sites/)",
)
@click.option("--worker", "worker_url", default="http://127.0.0.1:8080", show_default=True)
@click.option(
    "--kinds",
    default=",".join(KIND_NAMES),
    show_default=True,
    help="feed kinds to simulate, comma separated",
)
@click.option("--assign", multiple=True, help="CPO=KIND: this CPO uses this feed kind (repeatable)")
@click.option("--speed", default=60.0, show_default=True, help="simulated seconds per real second")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--duration", type=float, help="real seconds to run (default: until Ctrl-C)")
@click.option(
    "--ocpi-listen",
    default="http://127.0.0.1:8091",
    show_default=True,
    help="where the simulated OCPI CPO (polled by ocpi_pull feeds) listens",
)
@click.option(
    "--poll-seconds",
    default=30.0,
    show_default=True,
    help="poll_seconds written for ocpi_pull feeds",
)
@click.option(
    "--write-feeds",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write FEEDS.toml for the worker (and its secrets beside it as .env), then exit",
)
def simulate(
    sites_path: Path | None,
    worker_url: str,
    kinds: str,
    assign: tuple[str, ...],
    speed: float,
    seed: int,
    duration: float | None,
    ocpi_listen: str,
    poll_seconds: float,
    write_feeds: Path | None,
) -> None:
    """Run fake CPOs (OCPI Sender and pusher, OCPP 1.6J/2.0.1 charge points, REST and WebSocket
    pushers) that drive realistic statuses for the static sites into a worker.

    \b
    The worker must know the simulated feeds:
      chargeatlarge simulate --write-feeds var/sim-feeds.toml
      set -a; . var/sim-feeds.env; set +a
      chargeatlarge worker --feeds var/sim-feeds.toml &
      chargeatlarge simulate --speed 600
    Use the same --seed, --sites, --kinds and --assign for both calls.
    """
    from ingest_worker.simulator.plan import simulated_evses, simulated_feeds
    from ingest_worker.simulator.plan import write_feeds as write_feeds_file
    from ingest_worker.simulator.run import simulate as run_simulation
    from ingest_worker.simulator.runtime import SimSettings

    wanted = tuple(k.strip() for k in kinds.split(",") if k.strip())
    unknown = set(wanted) - set(KIND_NAMES)
    if unknown:
        raise click.BadParameter(f"unknown kind(s) {sorted(unknown)}", param_hint="--kinds")
    settings = get_settings()
    connectors = _connectors(sites_path, settings)
    evses = simulated_evses(connectors)
    if not evses:
        raise click.ClickException("no EVSEs in the static sites; load a CSV or pass --sites")
    feeds = simulated_feeds(
        evses,
        seed=seed,
        ocpi_base=ocpi_listen.rstrip("/"),
        overrides=_overrides(assign),
        only_kinds=wanted,
        poll_seconds=poll_seconds,
    )
    if write_feeds is not None:
        toml_path, env_path = write_feeds_file(feeds, write_feeds)
        click.echo(f"wrote {toml_path} ({len(feeds)} feeds) and {env_path} (secrets)")
        return
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for sim in feeds:
        click.echo(f"{sim.feed.cpo_id}: {sim.feed.kind}, {len(sim.evses)} EVSEs")
    sim_settings = SimSettings(seed=seed, speed=speed, tz=settings.tz)
    try:
        report = asyncio.run(
            run_simulation(feeds, worker_url, sim_settings, duration=duration, linger=0)
        )
    except KeyboardInterrupt:
        return
    click.echo(report.summary())


def _connectors(sites_path: Path | None, settings: Settings) -> pd.DataFrame:
    from shared.sites import read_static_sites, validate_sites_csv

    if sites_path is not None:
        import pandas as pd

        from shared.sites import COLUMNS

        validated = validate_sites_csv(sites_path.read_bytes(), str(sites_path))
        for problem in validated.problems[:10]:
            click.echo(f"warning: {problem}", err=True)
        return pd.DataFrame(validated.rows, columns=list(COLUMNS))
    from shared.blobstore import open_blobstore

    return read_static_sites(open_blobstore(settings)).connectors
