"""Who is looking: the role from Azure's ``X-MS-CLIENT-PRINCIPAL`` header, or the dev setting.

Behind Azure authentication only the header counts (a missing or bad one means public); the
``CAL_DEV_ROLE`` setting is honoured only when no Azure authentication is in front.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Literal

from shared.settings import Settings

Role = Literal["public", "analyst", "government"]
PRINCIPAL_HEADER = "x-ms-client-principal"
ROLE_CLAIM_TYPES = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
MAX_PRINCIPAL_BYTES = 16_384
# Strongest first: a user holding several roles gets the one that shows the most.
RANKED: tuple[Role, ...] = ("government", "analyst")
# Pages beyond the live map: uptime, quality and reports carry government-only figures.
FIGURE_ROLES: frozenset[str] = frozenset({"analyst", "government"})


def roles_from_principal(header: str | None) -> set[str]:
    """The role claims of an ``X-MS-CLIENT-PRINCIPAL`` value; empty when absent or malformed."""
    if not header or len(header) > MAX_PRINCIPAL_BYTES:
        return set()
    try:
        padded = header.strip() + "=" * (-len(header.strip()) % 4)
        principal = json.loads(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return set()
    claims = principal.get("claims") if isinstance(principal, dict) else None
    if not isinstance(claims, list):
        return set()
    roles = set()
    for claim in claims:
        if not isinstance(claim, dict):
            continue
        kind, value = claim.get("typ"), claim.get("val")
        if kind in ROLE_CLAIM_TYPES and isinstance(value, str):
            roles.add(value.strip().lower())
    return roles


def role_for(headers: Mapping[str, str], settings: Settings) -> Role:
    """The role of a request: header roles behind Azure auth, else ``settings.dev_role``."""
    if not settings.behind_azure_auth:
        return settings.dev_role
    lowered = {key.lower(): value for key, value in headers.items()}
    roles = roles_from_principal(lowered.get(PRINCIPAL_HEADER))
    for role in RANKED:
        if role in roles:
            return role
    return "public"


def sees_figures(role: str) -> bool:
    """Whether ``role`` may see uptime, utilisation, per-CPO detail and reports."""
    return role in FIGURE_ROLES
