"""The demo refuses to start on a taken port and says which port and what holds it."""

import socket

import pytest
from click import ClickException

from chargeatlarge.demo import port_in_use, start_services
from shared.settings import Settings
from tests.conftest import free_port


def test_a_free_port_is_free() -> None:
    assert port_in_use("127.0.0.1", free_port()) is None


def test_a_taken_port_names_its_holder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        user = port_in_use("127.0.0.1", port)
        assert user is not None and ("pid" in user or user == "another program")
        settings = Settings(_env_file=None, data_dir=tmp_path / "var")
        with pytest.raises(ClickException) as refused:
            start_services(settings, tmp_path / "sites.csv", "127.0.0.1", free_port(), port, 1)
        assert f"port {port} (ingest worker) is already in use" in refused.value.message
        assert not (tmp_path / "var" / "demo").exists()  # nothing was started
