"""The one settings object: environment names, defaults derived from CAL_DATA_DIR."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, insert
from sqlalchemy.dialects import sqlite

from shared.db.tables import cpo
from shared.settings import Settings
from tests.conftest import MssqlCompileCheck


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CAL_DATA_DIR", "CAL_DATABASE_URL", "CAL_BLOB_DIR", "CAL_BLOB_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///var/chargeatlarge.db"
    assert settings.blob_dir == Path("var/blobs")
    assert settings.blob_connection_string is None
    assert (settings.blob_container, settings.report_tz, settings.max_gap_minutes) == (
        "chargeatlarge",
        "Australia/Sydney",
        15,
    )


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CAL_MAX_GAP_MINUTES=30\nCAL_REPORT_TZ=Australia/Perth\n")
    monkeypatch.setenv("CAL_DATA_DIR", "/srv/cal")
    settings = Settings()
    assert settings.database_url == "sqlite:////srv/cal/chargeatlarge.db"
    assert settings.blob_dir == Path("/srv/cal/blobs")
    assert (settings.max_gap_minutes, settings.report_tz) == (30, "Australia/Perth")


@pytest.mark.parametrize(
    ("name", "value"),
    [("CAL_REPORT_TZ", "Mars/Olympus"), ("CAL_MAX_GAP_MINUTES", "0"), ("CAL_DEV_ROLE", "root")],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_the_mssql_compile_check_catches_sqlite_only_sql(engine: Engine) -> None:
    check = MssqlCompileCheck()
    statement = sqlite.insert(cpo).values(cpo_id="X", created_at=None).on_conflict_do_nothing()
    check(None, statement, (), {}, {})
    assert len(check.failures) == 1 and "UnsupportedCompilationError" in check.failures[0]
    check(None, insert(cpo).values(cpo_id="X"), (), {"ids": list(range(3000))}, {})
    assert "3000 parameters" in check.failures[-1]
