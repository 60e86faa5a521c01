"""`chargeatlarge app` is registered and checks its options."""

from __future__ import annotations

from click.testing import CliRunner

from chargeatlarge.cli import main


def test_app_command_is_registered() -> None:
    result = CliRunner().invoke(main, ["app", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_app_command_refuses_a_bad_port() -> None:
    result = CliRunner().invoke(main, ["app", "--port", "70000"])
    assert result.exit_code == 2
    assert "70000 is not in the range 1<=x<=65535" in result.output
