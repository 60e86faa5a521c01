"""What retrying can cure, what a health page may say of a failure, and waiting between tries."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_transient(exc: BaseException) -> bool:
    """Errors that retrying can cure: the database unreachable, locked or timing out (SQLite's
    "database is locked" and a schema not yet migrated are OperationalErrors too), or the
    blob store unreachable. Anything else is a property of the records and will fail again."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # An OSError from the operating system (a full disk, a dropped mount) carries an errno; one
    # raised by a decoder over bad bytes (gzip.BadGzipFile) does not, and will fail again.
    if isinstance(exc, OSError):
        return exc.errno is not None
    return type(exc).__module__.startswith(("azure.", "urllib3", "requests"))


def public_error(exc: BaseException) -> str:
    """What a health page may say of a failure: its kind, not SQL text, values or ids."""
    kind = type(exc).__name__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        kind = f"{kind} ({type(exc.orig).__name__})"
    text = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
    hint = "database locked" if "locked" in text else ""
    if isinstance(exc, OperationalError) and not hint:
        hint = "database unreachable or schema not ready"
    return f"{kind}: {hint}" if hint else kind


async def wait(event: asyncio.Event, seconds: float, also: asyncio.Event | None = None) -> None:
    """Wait until ``event`` (or ``also``) is set, at most ``seconds``."""
    waiters = [asyncio.ensure_future(event.wait())]
    if also is not None:
        waiters.append(asyncio.ensure_future(also.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
