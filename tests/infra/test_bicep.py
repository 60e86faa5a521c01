"""Structural checks of the Bicep templates and the deploy script that hold without an Azure
subscription: modules and parameters, security settings, the database URLs they build (managed
identity, no integrated security), no shadowed Bicep functions, the order of the deployment."""

import re
from pathlib import Path

import pytest
from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc
from sqlalchemy.engine import make_url

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = (INFRA / "main.bicep").read_text()


def params(text: str) -> set[str]:
    return set(re.findall(r"^param (\w+)", text, flags=re.M))


def module_blocks(text: str) -> list[tuple[str, str, str]]:
    """(symbol, path, params body) of every module, the params block matched by brace depth."""
    found = []
    for match in re.finditer(r"module (\w+) '([^']+)' = (?:if \(\w+\) )?\{", text):
        start = text.index("params: {", match.end()) + len("params: {")
        depth, end = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found.append((match.group(1), match.group(2), text[start : end - 1]))
    return found


def test_every_module_exists_and_gets_only_its_parameters() -> None:
    modules = module_blocks(MAIN)
    assert len(modules) == 9
    for symbol, path, body in modules:
        module = INFRA / path
        assert module.exists(), path
        passed = {
            key for key in re.findall(r"(?:^|[\s{,])(\w+):", body) if not key.startswith("http")
        }
        declared = params(module.read_text())
        assert passed <= declared, f"{symbol}: {passed - declared} are not parameters of {path}"
        required = {
            p
            for p in declared
            if not re.search(rf"^param {p} \w+ =", module.read_text(), flags=re.M)
        }
        assert required <= passed, f"{symbol}: {required - passed} missing"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_parameter_files_name_existing_parameters(environment: str) -> None:
    text = (INFRA / "parameters" / f"{environment}.bicepparam").read_text()
    assert text.startswith("using '../main.bicep'")
    named = set(re.findall(r"^param (\w+)", text, flags=re.M))
    assert named <= params(MAIN)
    assert f"environmentName = '{environment}'" in text


def test_security_settings() -> None:
    storage = (INFRA / "modules" / "storage.bicep").read_text()
    assert "allowBlobPublicAccess: false" in storage and "minimumTlsVersion: 'TLS1_2'" in storage
    assert "allowSharedKeyAccess: false" in storage
    sql = (INFRA / "modules" / "sql.bicep").read_text()
    assert "azureADOnlyAuthentication: true" in sql and "minimalTlsVersion: '1.2'" in sql
    vault = (INFRA / "modules" / "keyvault.bicep").read_text()
    assert "enableRbacAuthorization: true" in vault and "enablePurgeProtection: true" in vault
    function = (INFRA / "modules" / "functionapp.bicep").read_text()
    assert (
        "FlexConsumption" in function
        and "version: '3.11'" in function
        and "httpsOnly: true" in function
    )
    assert "AzureWebJobsStorage__credential" in function and "MONTHLY_SCHEDULE" in function
    apps = (INFRA / "modules" / "containerapps.bicep").read_text()
    assert (
        "CAL_BEHIND_AZURE_AUTH" in apps
        and "azureActiveDirectory" in apps
        and "allowInsecure: false" in apps
    )
    registry = (INFRA / "modules" / "registry.bicep").read_text()
    assert "adminUserEnabled: false" in registry


def test_every_checkov_skip_has_a_reason() -> None:
    files = [*INFRA.rglob("*.bicep"), *INFRA.rglob("*Dockerfile")]
    skips = [line for f in files for line in f.read_text().splitlines() if "checkov:skip=" in line]
    assert skips
    for line in skips:
        assert re.search(r"checkov:skip=CKV\w*_\d+:\S.{10,}", line), line


def test_dockerfiles_run_as_non_root_on_a_pinned_base() -> None:
    for name in ("worker.Dockerfile", "app.Dockerfile"):
        text = (INFRA / "docker" / name).read_text()
        assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", text, flags=re.M), name
        assert "USER 10001" in text and "HEALTHCHECK" in text


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
