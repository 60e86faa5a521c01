"""The ``chargeatlarge`` command. Each deployable part contributes its own commands, loaded lazily
so that a package holding only ``shared/`` (the Function App zip) still runs the rest."""

from __future__ import annotations

import importlib

import click

# command name → "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "db": "chargeatlarge.commands:db",
    "sites": "chargeatlarge.commands:sites",
    "observations": "chargeatlarge.commands:observations",
    "exclusions": "chargeatlarge.commands:exclusions",
    "monthly": "chargeatlarge.commands:monthly",
    "programs": "chargeatlarge.programs:programs",
    "worker": "ingest_worker.commands:worker",
    "writer": "ingest_worker.commands:writer",
    "simulate": "ingest_worker.simulator.commands:simulate",
    "app": "report_app.commands:app",
    "demo": "chargeatlarge.demo:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise click.ClickException(
                    f"'{cmd_name}' is not available in this installation ({module_name} missing)"
                ) from exc
            raise
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chargeatlarge")
def main() -> None:
    """Charge@Large: live status, uptime and utilisation of Australia's public EV charging network."""
