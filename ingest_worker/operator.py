"""Who may read the worker's operations pages (/feeds, /metrics/latency, the API docs).

They name CPOs and their feed health, so an externally reachable worker shows them only to an
operator: a request with ``Authorization: Bearer $CAL_OPERATOR_TOKEN``, or, when no operator
token is configured (a laptop, the demo), a request from the machine itself. Behind the Container
Apps ingress no request comes from loopback, so there the token is the only way in.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from ingest_worker.auth import bearer_token
from shared.settings import Settings


def is_operator(request: Request, settings: Settings) -> bool:
    expected = settings.operator_token.get_secret_value() if settings.operator_token else None
    if expected:
        given = bearer_token(request.headers.get("authorization")) or ""
        return hmac.compare_digest(given.encode(), expected.encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def operator_only(settings: Settings) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency refusing everyone but an operator with 401."""

    async def check(request: Request) -> None:
        if not is_operator(request, settings):
            raise HTTPException(
                status_code=401,
                detail="operations pages need the operator token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
