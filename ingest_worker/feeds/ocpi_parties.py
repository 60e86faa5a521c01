"""OCPI registrations (the party registry): which CPO registered which parties, our token C
(hashed) and its token B (encrypted), kept in SQL and mirrored in memory for the hot path.

The worker may start while the database is down: ``keep_loading`` retries in the background and
every request that misses may trigger one more attempt (``reload_if_due``, rate-limited); until
one succeeds OCPI callers hear 503 "party registry not loaded yet", never 401."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update

from ingest_worker.feeds.config import FeedConfig
from ingest_worker.feeds.ocpi_tokens import TokenCipher, TokenUnreadable
from ingest_worker.stopping import sleep_unless_stopped
from shared.db.observations import to_db_time
from shared.db.tables import ocpi_party, ocpi_party_role

log = logging.getLogger("chargeatlarge.worker.ocpi_parties")
RELOAD_SECONDS = 30.0  # registrations re-read from SQL (made by another process)
UNKNOWN_TOKEN_RELOAD_SECONDS = 5.0  # an unknown token re-reads them at most this often
NOT_LOADED_RELOAD_SECONDS = 1.0  # while never loaded, a request retries at most this often


@dataclass(frozen=True, slots=True)
class Registration:
    """One CPO's OCPI connection: its parties, our token C (hashed) and its token B."""

    cpo_id: str
    parties: frozenset[tuple[str, str]]
    token_c_sha256: str
    versions_url: str | None
    token_b: str | None = field(default=None, repr=False)  # None: stored, but unreadable


class PartyTaken(ValueError):
    """A party of the credentials object belongs to another CPO."""


class RegistrationChanged(ValueError):
    """The stored registration is not the one the caller's token belongs to (another replica
    registered or rotated it since this one last read them)."""


def token_sha256(token: str) -> str:
    """How token C is stored and compared: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Parties:
    """Registered CPOs, kept in SQL (token B encrypted) and mirrored in memory for the hot path."""

    def __init__(self, engine: Engine, cipher: TokenCipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.by_cpo: dict[str, Registration] = {}
        self.loaded = False
        self.tried_at = float("-inf")  # last attempt, successful or not
        self.changed = asyncio.Event()
        self._loading = asyncio.Lock()

    def load(self) -> None:
        """Read every registration from SQL (blocking); raises while the database is down."""
        self.tried_at = time.monotonic()
        with self.engine.begin() as connection:
            rows = connection.execute(select(ocpi_party)).all()
            roles = connection.execute(select(ocpi_party_role)).all()
            by_cpo: dict[str, Registration] = {}
            for row in rows:
                token_b: str | None
                if self.cipher.is_ciphertext(row.token_b):
                    try:
                        token_b = self.cipher.decrypt(row.token_b)
                    except TokenUnreadable:
                        log.error(
                            "OCPI %s: stored token B cannot be decrypted with CAL_SECRET_KEY;"
                            " token C still works, the Locations poll waits for a credentials PUT",
                            row.cpo_id,
                        )
                        token_b = None
                else:  # stored in plain text before tokens were encrypted: encrypt it now
                    token_b = row.token_b
                    connection.execute(
                        update(ocpi_party)
                        .where(ocpi_party.c.cpo_id == row.cpo_id)
                        .values(token_b=self.cipher.encrypt(token_b))
                    )
                parties = frozenset(
                    (r.country_code, r.party_id) for r in roles if r.cpo_id == row.cpo_id
                ) or frozenset({(row.country_code.upper(), row.party_id.upper())})
                by_cpo[row.cpo_id] = Registration(
                    row.cpo_id, parties, row.token_c_sha256, row.versions_url, token_b
                )
        self.loaded = True
        if by_cpo != self.by_cpo:
            self.by_cpo = by_cpo
            self.changed.set()

    def owner(self, party: tuple[str, str]) -> str | None:
        return next((r.cpo_id for r in self.by_cpo.values() if party in r.parties), None)

    def register(
        self,
        feed: FeedConfig,
        parties: list[tuple[str, str]],
        token_b: str,
        url: str,
        replacing: Registration | None = None,
    ) -> tuple[Registration, str]:
        """Store the CPO's registration (a new one, or a new version of ``replacing``); returns
        it and the new token C."""
        token_c = secrets.token_urlsafe(32)
        now = to_db_time(datetime.now(UTC))
        with self.engine.begin() as connection:
            stored = connection.execute(
                select(ocpi_party.c.token_c_sha256).where(ocpi_party.c.cpo_id == feed.cpo_id)
            ).scalar_one_or_none()
            expected = replacing.token_c_sha256 if replacing is not None else None
            if stored != expected:
                raise RegistrationChanged(feed.cpo_id)
            taken = connection.execute(
                select(ocpi_party_role.c.country_code, ocpi_party_role.c.party_id).where(
                    ocpi_party_role.c.cpo_id != feed.cpo_id,
                    ocpi_party_role.c.country_code.in_(sorted({p[0] for p in parties})),
                    ocpi_party_role.c.party_id.in_(sorted({p[1] for p in parties})),
                )
            ).all()
            clash = sorted({(r.country_code, r.party_id) for r in taken} & set(parties))
            if clash:
                raise PartyTaken(", ".join(f"{c}/{p}" for c, p in clash))
            connection.execute(
                delete(ocpi_party_role).where(ocpi_party_role.c.cpo_id == feed.cpo_id)
            )
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
            connection.execute(
                insert(ocpi_party).values(
                    cpo_id=feed.cpo_id,
                    country_code=parties[0][0],
                    party_id=parties[0][1],
                    token_b=self.cipher.encrypt(token_b),
                    token_c_sha256=token_sha256(token_c),
                    versions_url=url,
                    registered_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                insert(ocpi_party_role),
                [{"cpo_id": feed.cpo_id, "country_code": c, "party_id": p} for c, p in parties],
            )
        registration = Registration(
            feed.cpo_id, frozenset(parties), token_sha256(token_c), url, token_b
        )
        self.by_cpo[feed.cpo_id] = registration
        self.changed.set()
        return registration, token_c

    def unregister(self, feed: FeedConfig) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                delete(ocpi_party_role).where(ocpi_party_role.c.cpo_id == feed.cpo_id)
            )
            connection.execute(delete(ocpi_party).where(ocpi_party.c.cpo_id == feed.cpo_id))
        self.by_cpo.pop(feed.cpo_id, None)
        self.changed.set()

    async def reload_if_due(self, min_seconds: float) -> bool:
        """Re-read the registrations unless the last attempt was less than ``min_seconds`` ago
        (requests that miss cannot hammer a database that is down); True when loaded now."""
        async with self._loading:
            if time.monotonic() - self.tried_at < min_seconds:
                return False
            return await try_load(self)


async def try_load(parties: Parties) -> bool:
    """One attempt to load the registrations; False (logged) while the database is unreachable."""
    try:
        await asyncio.to_thread(parties.load)
    except Exception as exc:  # noqa: BLE001 - database down, locked or not migrated: retried
        log.warning("OCPI registrations not loaded: %s", type(exc).__name__)
        return False
    return True


async def keep_loading(
    parties: Parties,
    stop: asyncio.Event,
    first_delay: float = 0.5,
    refresh_seconds: float = RELOAD_SECONDS,
) -> None:
    """Load the registrations, retrying with backoff while the database is down, then reload them
    every ``refresh_seconds``: another process (a second replica, the queue-mode writer that runs
    the Locations polls) sees a registration made here."""
    delay = first_delay
    while not stop.is_set():
        wait = delay if not parties.loaded else refresh_seconds
        if await sleep_unless_stopped(stop, wait):
            return
        await try_load(parties)
        # One small SELECT: while none succeeded, CPOs get 503, so retry soon.
        delay = first_delay if parties.loaded else min(delay * 2, 5.0)
