"""Structural checks of the Bicep templates that hold without an Azure subscription."""

import re
from pathlib import Path

import pytest

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
