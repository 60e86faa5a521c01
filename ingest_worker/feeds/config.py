"""FEEDS.toml: one ``[[feed]]`` table per CPO feed, one model per feed ``kind`` with its own
options. Secrets are named, never written, in the file; ``load_feeds`` reads every one it names."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

FeedKind = Literal["ocpi_pull", "ocpi_push", "ocpp", "rest_push", "ws_push"]
EnvName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class FeedsFileError(ValueError):
    """The feeds file cannot be used; the message names the file, the feed and the field."""


class MissingSecret(ValueError):
    """A secret variable the feed names is not set; the message names the feed and the field."""


def read_secret(name: str) -> str | None:
    """The one place feed secrets are read: the environment variable the feeds file names."""
    value = os.environ.get(name)
    return value if value else None


class FeedConfig(BaseModel):
    """What every feed has. ``FeedConfig(kind=..., ...)`` builds the model of that kind
    (``RestPushFeed``, ``OcpiPullFeed`` …), so a feed's options are checked for its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: ClassVar[dict[str, type[FeedConfig]]] = {}

    cpo_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: FeedKind
    token_env: EnvName
    max_gap_minutes: float | None = Field(None, gt=0, le=24 * 60)
    secret: str = Field("", repr=False, exclude=True)

    def __new__(cls, *args: object, **fields: object) -> Self:
        # Called on the base with a known kind: make the instance of that kind's model, which
        # pydantic then validates with that model's fields.
        kind = cls.kinds.get(str(fields.get("kind"))) if cls is FeedConfig else None
        return cast(Self, super().__new__(kind or cls))

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: object) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["kind"].default
        if isinstance(default, str):
            FeedConfig.kinds[default] = cls

    @property
    def name(self) -> str:
        return f"{self.cpo_id}/{self.kind}"

    def resolve_secrets(self) -> Self:
        """This feed with every secret it names read from the environment (``MissingSecret``
        naming the field when one is not set)."""
        secret = read_secret(self.token_env)
        if secret is None:
            raise MissingSecret(
                f"token_env: the secret variable {self.token_env} is not set;"
                " export it before starting the worker"
            )
        return self.model_copy(update={"secret": secret})


class RestPushFeed(FeedConfig):
    """``POST /api/v1/observations`` (and the exclusions API) with ``Authorization: Bearer``."""

    kind: Literal["rest_push"] = "rest_push"


class WsPushFeed(FeedConfig):
    """``/ws/v1/observations`` with the bearer token on the upgrade."""

    kind: Literal["ws_push"] = "ws_push"


class OcpiPullFeed(FeedConfig):
    """We poll the CPO's OCPI 2.2.1 Locations Sender, found from its versions URL."""

    kind: Literal["ocpi_pull"] = "ocpi_pull"
    versions_url: str = Field(description="the CPO's OCPI versions endpoint")
    poll_seconds: float = Field(60, ge=1, le=86_400)

    @field_validator("versions_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("versions_url must be an http(s) URL")
        return value


class OcpiPushFeed(FeedConfig):
    """The CPO registers with token A (this feed's secret) and pushes Locations to us."""

    kind: Literal["ocpi_push"] = "ocpi_push"
    country_code: str | None = Field(None, min_length=2, max_length=2)
    party_id: str | None = Field(None, min_length=3, max_length=3)
    # None: two thirds of max_gap (ocpi_push_poll.poll_interval)
    poll_seconds: float | None = Field(None, ge=1, le=86_400)

    @property
    def party(self) -> tuple[str, str] | None:
        """(country_code, party_id) it must register as, upper case; None when not named."""
        if not (self.country_code or self.party_id):
            return None
        return (self.country_code or "").upper(), (self.party_id or "").upper()


class OcppOptions(BaseModel):
    """``[feed.options]`` of an ``ocpp`` feed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    charge_points: list[str] | None = Field(
        None, description="only these charge point ids may connect with this feed's secret"
    )
    charge_point_secret_envs: dict[str, EnvName] = Field(
        default_factory=dict,
        description="charge point id → the variable holding that charge point's own password",
    )
    clock_future_minutes: float = Field(5, gt=0, le=24 * 60)
    clock_past_hours: float = Field(24, gt=0, le=24 * 366)
    heartbeat_seconds: int = Field(60, ge=1, le=86_400)
    liveness_seconds: float | None = Field(
        None, gt=0, le=86_400, description="default ocpp.LIVENESS_EVERY_SECONDS"
    )


class OcppFeedConfig(FeedConfig):
    """Charge points connect to ``/ocpp/{charge_point_id}`` with HTTP Basic auth."""

    kind: Literal["ocpp"] = "ocpp"
    options: OcppOptions = Field(default_factory=OcppOptions)
    # charge point id → its own password, read by resolve_secrets (never from the file)
    charge_point_secrets: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    def resolve_secrets(self) -> Self:
        feed = super().resolve_secrets()
        return feed.model_copy(update={"charge_point_secrets": self.read_charge_point_secrets()})

    def read_charge_point_secrets(self) -> dict[str, str]:
        """``options.charge_point_secret_envs`` read from the environment (``MissingSecret``)."""
        secrets: dict[str, str] = {}
        for charge_point_id, env in self.options.charge_point_secret_envs.items():
            value = read_secret(env)
            if value is None:
                raise MissingSecret(
                    f"options.charge_point_secret_envs.{charge_point_id}: the secret variable"
                    f" {env} of charge point {charge_point_id} is not set"
                )
            secrets[charge_point_id] = value
        return secrets


AnyFeed = Annotated[
    RestPushFeed | WsPushFeed | OcpiPullFeed | OcpiPushFeed | OcppFeedConfig,
    Field(discriminator="kind"),
]
_any_feed: TypeAdapter[FeedConfig] = TypeAdapter(AnyFeed)


def parse_feed(table: object) -> FeedConfig:
    """One ``[[feed]]`` table → the model of its kind (``ValidationError`` naming the field)."""
    return _any_feed.validate_python(table)


def _problems(exc: ValidationError) -> str:
    # The union's loc starts with the kind's tag ("ocpp.options.x"): the file says options.x.
    kinds = ", ".join(FeedConfig.kinds)
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"][1:]) or "feed"
        message = error["msg"]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            where, message = "kind", f"must be one of {kinds}"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def load_feeds(path: Path) -> list[FeedConfig]:
    """Parse and check a feeds file; refuse it whole, naming what is wrong, where and how to
    fix it: the file, the feed's number, CPO and kind, and the field."""
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
            f" ({table.get('cpo_id')}/{table.get('kind')})" if isinstance(table, dict) else ""
        )
        try:
            feeds.append(parse_feed(table).resolve_secrets())
        except ValidationError as exc:
            raise FeedsFileError(f"{where}: {_problems(exc)}") from None
        except MissingSecret as exc:
            raise FeedsFileError(f"{where}: {exc}") from None
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
                f"{path}: feed #{number} ({feed.cpo_id}) shares its secret with {owner};"
                " every CPO needs its own"
            )
    return feeds
