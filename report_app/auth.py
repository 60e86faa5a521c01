"""Who is looking: the role from Azure's ``X-MS-CLIENT-PRINCIPAL`` header, or the dev setting.

Behind Azure authentication (Container Apps "Easy Auth" with Entra ID) only the platform's
headers count. The platform strips any ``X-MS-CLIENT-PRINCIPAL*`` header a client sends and sets
its own after sign-in, so the principal is accepted only when ``CAL_BEHIND_AZURE_AUTH`` is true
*and* it comes with ``X-MS-CLIENT-PRINCIPAL-IDP: aad`` (the identity provider the platform
names) and, when the principal says, ``auth_typ`` ``aad``; anything else means public. Without
Azure authentication in front the headers are ignored (anyone could send them) and
``CAL_DEV_ROLE`` is the role.

App roles in Entra ID: ``analyst`` (every state) and ``government:<STATE>`` (one per state or
territory, e.g. ``government:NSW``; a user given several holds their union; a comma list such as
``government:WA,SA`` in one role value is read too).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from shared.jurisdictions import PUBLIC, RoleError, Viewer, combined, parse_role
from shared.settings import Settings

PRINCIPAL_HEADER = "x-ms-client-principal"
IDP_HEADER = "x-ms-client-principal-idp"
ACCEPTED_IDPS = frozenset({"aad"})
ROLE_CLAIM_TYPES = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
MAX_PRINCIPAL_BYTES = 16_384


def _principal(header: str | None) -> dict | None:
    if not header or len(header) > MAX_PRINCIPAL_BYTES:
        return None
    try:
        padded = header.strip() + "=" * (-len(header.strip()) % 4)
        principal = json.loads(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return principal if isinstance(principal, dict) else None


def roles_from_principal(header: str | None) -> set[str]:
    """The role claims of an ``X-MS-CLIENT-PRINCIPAL`` value; empty when absent or malformed."""
    principal = _principal(header)
    claims = principal.get("claims") if principal else None
    if not isinstance(claims, list):
        return set()
    roles = set()
    for claim in claims:
        if not isinstance(claim, dict):
            continue
        kind, value = claim.get("typ"), claim.get("val")
        if kind in ROLE_CLAIM_TYPES and isinstance(value, str):
            roles.add(value.strip())
    return roles


def viewer_from_roles(roles: set[str]) -> Viewer:
    """The union of the known roles; unknown or malformed role values count for nothing."""
    viewers = []
    for role in roles:
        try:
            viewers.append(parse_role(role))
        except RoleError:
            continue
    return combined(viewers)


def viewer_for(headers: Mapping[str, str], settings: Settings) -> Viewer:
    """The viewer of a request: the platform's principal behind Azure auth, else ``dev_role``."""
    if not settings.behind_azure_auth:
        return parse_role(settings.dev_role)
    lowered = {key.lower(): value for key, value in headers.items()}
    if lowered.get(IDP_HEADER, "").strip().lower() not in ACCEPTED_IDPS:
        return PUBLIC
    header = lowered.get(PRINCIPAL_HEADER)
    principal = _principal(header)
    if principal is None or principal.get("auth_typ", "aad") not in ACCEPTED_IDPS:
        return PUBLIC
    return viewer_from_roles(roles_from_principal(header))
