"""Review of issue 7 (infra): each test states what the deployment needs and fails on the bug found.

They are strict xfails: when a bug is fixed the test passes, pytest reports XPASS as a failure,
and the marker must be removed, so the check stays as a regression test.
"""

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc
from sqlalchemy.engine import make_url

from chargeatlarge.cli import main as cli
from shared.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

FQDN = "calprod-abc.database.windows.net"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


def odbc_string(url: str) -> str:
    """The ODBC connection string SQLAlchemy's mssql+pyodbc dialect hands to the driver."""
    (connect_string,), _ = MSDialect_pyodbc().create_connect_args(make_url(url))
    return connect_string


def bicep_database_url() -> str:
    """The worker's CAL_DATABASE_URL as main.bicep builds it, with sample values filled in."""
    main = (INFRA / "main.bicep").read_text()
    template = re.search(r"^var databaseUrl = '([^']+)'", main, flags=re.M).group(1)
    url = template.replace("${sql.outputs.serverFqdn}", FQDN).replace(
        "${sql.outputs.databaseName}", "chargeatlarge"
    )
    assert "${" not in url, url
    suffix = re.search(r"databaseUrlForWorker: '\$\{databaseUrl\}([^']*)'", main).group(1)
    return url + suffix.replace("${identities.outputs.workerClientId}", CLIENT_ID)


def test_sample_url_is_what_main_bicep_builds() -> None:
    assert bicep_database_url() == (
        f"mssql+pyodbc://@{FQDN}:1433/chargeatlarge?driver=ODBC+Driver+18+for+SQL+Server"
        f"&Encrypt=yes&authentication=ActiveDirectoryMsi&UID={CLIENT_ID}"
    )


def test_managed_identity_url_gives_no_integrated_security() -> None:
    connect = odbc_string(bicep_database_url()).lower()
    assert "authentication=activedirectorymsi" in connect
    assert f"uid={CLIENT_ID}" in connect
    assert "trusted_connection" not in connect, connect


def test_migration_url_of_deploy_sh_gives_no_integrated_security() -> None:
    script = (INFRA / "scripts" / "deploy.sh").read_text()
    template = re.search(r'sql_url="([^"]+)"', script).group(1)
    url = template.replace("$(value sqlServerFqdn)", FQDN).replace(
        "$(value sqlDatabaseName)", "chargeatlarge"
    )
    assert "$(" not in url, url
    # make_engine connects with effective_url(): the access token replaces every login keyword.
    from shared.db.engine import effective_url

    connect = odbc_string(effective_url(url).render_as_string(hide_password=False)).lower()
    assert "trusted_connection" not in connect and "entra_token" not in connect
    assert "server=tcp:calprod-abc.database.windows.net,1433" in connect


def declared_symbols(text: str) -> set[str]:
    return set(re.findall(r"^(?:param|var|resource|module) (\w+)", text, flags=re.M))


def shadowed_function_calls(text: str) -> list[str]:
    """Calls like ``environment()`` of a name the file also declares; Bicep then needs ``az.``/``sys.``."""
    symbols = declared_symbols(text)
    calls = re.findall(r"(?<![\w.])(\w+)\(", text)
    return sorted({c for c in calls if c in symbols})


def test_shadow_check_finds_a_known_case() -> None:
    text = "param range int\noutput r array = range(1, range)\n"
    assert shadowed_function_calls(text) == ["range"]
    assert shadowed_function_calls(text.replace("= range(", "= sys.range(")) == []


def test_no_bicep_file_calls_a_function_it_shadows() -> None:
    found = {
        str(path.relative_to(INFRA)): shadowed_function_calls(path.read_text())
        for path in INFRA.rglob("*.bicep")
    }
    assert {k: v for k, v in found.items() if v} == {}


MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def test_entra_only_app_insights_has_a_publisher_role() -> None:
    monitoring = (INFRA / "modules" / "monitoring.bicep").read_text()
    assert "DisableLocalAuth: true" in monitoring
    everything = "".join(p.read_text() for p in INFRA.rglob("*.bicep"))
    assert MONITORING_METRICS_PUBLISHER in everything


def test_deploy_builds_the_image_before_a_template_runs_on_it() -> None:
    script = (INFRA / "scripts" / "deploy.sh").read_text()
    first_template = script.index("az deployment group create")
    first_build = script.index("az acr build")
    tag_exported = script.index("export CAL_IMAGE_TAG")
    # Either the images exist before any deployment that uses the new tag, or the first
    # deployment does not yet use the new tag.
    first_template_call = script[first_template : script.index(")", first_template)]
    assert (
        first_build < first_template
        or tag_exported > first_template
        or "deployApps=false" in first_template_call
    )


def test_schema_rollback_command_of_the_readme_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAL_DATABASE_URL", f"sqlite:///{tmp_path / 'cal.db'}")
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    get_settings.cache_clear()  # the CLI reads the process-wide settings
    try:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(cli, ["db", "upgrade", "--revision", "0001"])
    finally:
        get_settings.cache_clear()
    with sqlite3.connect(tmp_path / "cal.db") as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    # Either the rollback happened, or the command said it could not.
    rolled_back = version == "0001" and "ocpi_party" not in tables
    assert rolled_back or result.exit_code != 0, (version, result.output)
