"""Tokens → feeds. Every secret belongs to exactly one CPO, so a token can only write its own data."""

from __future__ import annotations

import hmac

from ingest_worker.feeds.config import FeedConfig


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def feed_for_secret(
    feeds: list[FeedConfig], secret: str | None, kinds: tuple[str, ...]
) -> FeedConfig | None:
    """The feed of one of ``kinds`` whose secret equals ``secret`` (compared in constant time)."""
    if not secret:
        return None
    found = None
    for feed in feeds:
        if feed.kind in kinds and hmac.compare_digest(feed.secret.encode(), secret.encode()):
            found = feed
    return found
