"""`chargeatlarge app`: serve the dashboard with uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def app(host: str, port: int) -> None:
    """Serve the dashboard (live map, uptime, data quality, reports)."""
    import uvicorn

    uvicorn.run("report_app.app:app", host=host, port=port, log_level="info", ws="websockets")
