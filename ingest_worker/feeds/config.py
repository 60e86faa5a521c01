"""FEEDS.toml: one ``[[feed]]`` table per CPO feed. Secrets are named, never written, in the file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FeedKind = Literal["ocpi_pull", "ocpi_push", "ocpp", "rest_push", "ws_push"]


class FeedsFileError(ValueError):
    """The feeds file cannot be used; the message names the file, the feed and the field."""


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpo_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: FeedKind
    token_env: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_gap_minutes: float | None = Field(None, gt=0, le=24 * 60)
    versions_url: str | None = None
    poll_seconds: float = Field(60, ge=1, le=86_400)
    country_code: str | None = Field(None, min_length=2, max_length=2)
    party_id: str | None = Field(None, min_length=3, max_length=3)
    options: dict[str, Any] = Field(default_factory=dict)
    secret: str = Field("", repr=False, exclude=True)

    @field_validator("versions_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("versions_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> FeedConfig:
        if self.kind == "ocpi_pull" and not self.versions_url:
            raise ValueError("an ocpi_pull feed needs versions_url")
        return self

    @property
    def name(self) -> str:
        return f"{self.cpo_id}/{self.kind}"


def read_secret(name: str) -> str | None:
    """The one place feed secrets are read: the environment variable the feeds file names."""
    value = os.environ.get(name)
    return value if value else None


def load_feeds(path: Path) -> list[FeedConfig]:
    """Parse and check a feeds file; refuse it whole, naming what is wrong, where and how to fix it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeedsFileError(f"{path}: no such feeds file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FeedsFileError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - {"feed"}
    if unknown:
        raise FeedsFileError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; expected [[feed]] tables"
        )
    tables = data.get("feed", [])
    if not isinstance(tables, list) or not tables:
        raise FeedsFileError(f"{path}: no [[feed]] tables")
    feeds: list[FeedConfig] = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: feed #{number}" + (
            f" ({table.get('cpo_id')})" if isinstance(table, dict) else ""
        )
        try:
            feed = FeedConfig.model_validate(table)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'feed'}: {e['msg']}" for e in exc.errors()
            )
            raise FeedsFileError(f"{where}: {problems}") from None
        secret = read_secret(feed.token_env)
        if secret is None:
            raise FeedsFileError(
                f"{where}: the secret variable {feed.token_env} is not set; export it before starting the worker"
            )
        feeds.append(feed.model_copy(update={"secret": secret}))
    seen: dict[tuple[str, str], int] = {}
    secrets: dict[str, str] = {}
    for number, feed in enumerate(feeds, start=1):
        key = (feed.cpo_id, feed.kind)
        if key in seen:
            raise FeedsFileError(
                f"{path}: feed #{number} repeats {feed.name} (first in feed #{seen[key]})"
            )
        seen[key] = number
        owner = secrets.setdefault(feed.secret, feed.cpo_id)
        if owner != feed.cpo_id:
            raise FeedsFileError(
                f"{path}: feed #{number} ({feed.cpo_id}) shares its secret with {owner}; every CPO needs its own"
            )
    return feeds
