"""Roles: the Azure principal header behind Azure auth, the dev setting only without it."""

from __future__ import annotations

import base64
import json

import pytest

from report_app.auth import role_for, roles_from_principal, sees_figures
from shared.settings import Settings

ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def principal(*claims: tuple[str, str]) -> str:
    body = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims]}
    return base64.b64encode(json.dumps(body).encode()).decode()


def settings(behind: bool, dev_role: str = "government") -> Settings:
    return Settings(_env_file=None, behind_azure_auth=behind, dev_role=dev_role)


@pytest.mark.parametrize(
    ("headers", "behind", "dev_role", "expected"),
    [
        ({}, False, "government", "government"),
        ({}, False, "analyst", "analyst"),
        ({}, False, "public", "public"),
        # behind Azure auth the dev setting is never trusted
        ({}, True, "government", "public"),
        ({"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst"))}, True, "public", "analyst"),
        (
            {"x-ms-client-principal": principal((ROLE_URI, "Government"))},
            True,
            "public",
            "government",
        ),
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst"), ("roles", "government"))},
            True,
            "public",
            "government",
        ),  # fmt: skip
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("name", "government"))},
            True,
            "government",
            "public",
        ),
        ({"X-MS-CLIENT-PRINCIPAL": principal(("roles", "admin"))}, True, "government", "public"),
        # a header is ignored when no Azure auth is in front (anyone could send it)
        ({"X-MS-CLIENT-PRINCIPAL": principal(("roles", "government"))}, False, "public", "public"),
    ],
)
def test_role_for(headers: dict, behind: bool, dev_role: str, expected: str) -> None:
    assert role_for(headers, settings(behind, dev_role)) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "not base64 !!!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(json.dumps({"claims": "roles"}).encode()).decode(),
        base64.b64encode(
            json.dumps({"claims": [1, None, {"typ": "roles", "val": 7}]}).encode()
        ).decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        principal(*[("roles", "government")] * 2000),  # oversized
    ],
)
def test_malformed_hostile_or_oversized_principal_gives_no_roles(header: str | None) -> None:
    assert roles_from_principal(header) == set()


def test_unpadded_header_is_read() -> None:
    assert roles_from_principal(principal(("roles", "analyst")).rstrip("=")) == {"analyst"}


@pytest.mark.parametrize(
    ("role", "allowed"), [("public", False), ("analyst", True), ("government", True)]
)
def test_sees_figures(role: str, allowed: bool) -> None:
    assert sees_figures(role) is allowed
