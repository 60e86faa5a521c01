"""Roles: the Azure principal only behind Azure auth and with the platform's IdP header; the dev
setting only without it; government roles carry their states."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from report_app.auth import roles_from_principal, viewer_for
from shared.jurisdictions import ANALYST, PUBLIC, RoleError, Viewer, parse_role
from shared.settings import Settings

ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
IDP = {"X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


def principal(*claims: tuple[str, str], auth_typ: str = "aad") -> str:
    body = {"auth_typ": auth_typ, "claims": [{"typ": t, "val": v} for t, v in claims]}
    return base64.b64encode(json.dumps(body).encode()).decode()


def settings(behind: bool, dev_role: str = "government:NSW") -> Settings:
    return Settings(_env_file=None, behind_azure_auth=behind, dev_role=dev_role)


NSW = Viewer("government", ("NSW",))


@pytest.mark.parametrize(
    ("headers", "behind", "dev_role", "expected"),
    [
        ({}, False, "government:NSW", NSW),
        ({}, False, "government:wa, sa", Viewer("government", ("SA", "WA"))),
        ({}, False, "analyst", ANALYST),
        ({}, False, "public", PUBLIC),
        # behind Azure auth the dev setting is never trusted
        ({}, True, "analyst", PUBLIC),
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst")), **IDP},
            True,
            "public",
            ANALYST,
        ),
        (
            {
                "x-ms-client-principal": principal((ROLE_URI, "Government:NSW")),
                "x-ms-client-principal-idp": "aad",
            },
            True,
            "public",
            NSW,
        ),  # fmt: skip
        # several app roles add up; analyst wins
        (
            {
                "X-MS-CLIENT-PRINCIPAL": principal(
                    ("roles", "government:WA"), ("roles", "government:SA")
                ),
                **IDP,
            },
            True,
            "public",
            Viewer("government", ("SA", "WA")),
        ),  # fmt: skip
        (
            {
                "X-MS-CLIENT-PRINCIPAL": principal(
                    ("roles", "government:WA"), ("roles", "analyst")
                ),
                **IDP,
            },
            True,
            "public",
            ANALYST,
        ),  # fmt: skip
        # a government role without a known state, or an unknown role, gives nothing
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "government")), **IDP},
            True,
            "analyst",
            PUBLIC,
        ),
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "government:XX")), **IDP},
            True,
            "analyst",
            PUBLIC,
        ),
        ({"X-MS-CLIENT-PRINCIPAL": principal(("name", "analyst")), **IDP}, True, "analyst", PUBLIC),
        ({"X-MS-CLIENT-PRINCIPAL": principal(("roles", "admin")), **IDP}, True, "analyst", PUBLIC),
        # without the platform's IdP header (or with another provider) the principal is refused
        ({"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst"))}, True, "public", PUBLIC),
        (
            {
                "X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst")),
                "X-MS-CLIENT-PRINCIPAL-IDP": "github",
            },
            True,
            "public",
            PUBLIC,
        ),  # fmt: skip
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst"), auth_typ="github"), **IDP},
            True,
            "public",
            PUBLIC,
        ),  # fmt: skip
        # headers are ignored when no Azure auth is in front (anyone could send them)
        (
            {"X-MS-CLIENT-PRINCIPAL": principal(("roles", "analyst")), **IDP},
            False,
            "public",
            PUBLIC,
        ),
    ],
)
def test_viewer_for(headers: dict, behind: bool, dev_role: str, expected: Viewer) -> None:
    assert viewer_for(headers, settings(behind, dev_role)) == expected


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
        principal(*[("roles", "government:NSW")] * 2000),  # oversized
    ],
)
def test_malformed_hostile_or_oversized_principal_gives_no_roles(header: str | None) -> None:
    assert roles_from_principal(header) == set()


def test_unpadded_header_is_read() -> None:
    assert roles_from_principal(principal(("roles", "analyst")).rstrip("=")) == {"analyst"}


@pytest.mark.parametrize(
    ("text", "label", "figures", "national"),
    [
        ("public", "public", False, False),
        ("ANALYST", "analyst", True, True),
        ("government:NSW", "government:NSW", True, False),
        ("government: WA ,sa,WA", "government:SA,WA", True, False),
    ],
)
def test_parse_role(text: str, label: str, figures: bool, national: bool) -> None:
    viewer = parse_role(text)
    assert (viewer.label, viewer.sees_figures, viewer.national) == (label, figures, national)
    assert viewer.scope == (None if national else viewer.states)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("government", "names no state"),
        ("government:", "names no state"),
        ("government:NSW,Queensland", "unknown state(s) QUEENSLAND"),
        ("root", "is not public, analyst or government"),
        ("analyst:NSW", "is not public, analyst or government"),
    ],
)
def test_bad_roles_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(RoleError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_role(text)
    with pytest.raises(ValidationError, match="CAL_DEV_ROLE"):
        Settings(_env_file=None, dev_role=text)
