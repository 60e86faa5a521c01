"""The one settings object. Nothing else in the project reads os.environ for configuration."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _data_dir(validated: dict[str, Any]) -> Path:
    # Defaults derived from data_dir (declared before the fields that use it; pydantic does not
    # call these factories when data_dir itself failed validation).
    return Path(validated["data_dir"])


class Settings(BaseSettings):
    """Environment variables prefixed ``CAL_`` (a ``.env`` file in the working directory is read too)."""

    model_config = SettingsConfigDict(env_prefix="CAL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="where embedded defaults keep their files")
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{_data_dir(data) / 'chargeatlarge.db'}",
        description="SQLAlchemy URL; default sqlite:///$CAL_DATA_DIR/chargeatlarge.db",
    )
    blob_connection_string: str | None = Field(
        None, description="Azure Storage connection string; unset means the local folder backend"
    )
    blob_account_url: str | None = Field(
        None,
        description="Azure Storage account URL used with a managed identity instead of a connection string",
    )
    blob_container: str = Field("chargeatlarge", description="container that holds every blob")
    blob_dir: Path = Field(
        default_factory=lambda data: _data_dir(data) / "blobs",
        description="local folder backend; default $CAL_DATA_DIR/blobs",
    )
    handoff: Literal["spool", "queue"] = Field(
        "spool",
        description="how the worker hands observations to the writer: `spool` (a local SQLite"
        " spool, one process) or `queue` (Azure Storage Queue of the blob storage account)",
    )
    queue_name: str = Field(
        "observations",
        # Storage queue names: 3-63 lower-case letters, digits and single hyphens (56 leave
        # room for "-poison").
        pattern=r"^[a-z0-9][a-z0-9-]{1,54}[a-z0-9]$",
        description="CAL_HANDOFF=queue: the queue's name (its poison queue is NAME-poison)",
    )
    report_tz: str = Field("Australia/Sydney", description="report time zone")
    max_gap_minutes: float = Field(
        15, gt=0, description="default carry-forward limit (spec section 3)"
    )
    uptime_threshold_pct: float = Field(
        98.0, ge=0, le=100, description="sites below this uptime are listed in the published report"
    )
    program_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="per grant program, the uptime (%) its funded sites are held to, as JSON, e.g."
        ' {"Destination Charging": 97}; programs not named use CAL_UPTIME_THRESHOLD_PCT',
    )
    program_max_distance_m: float = Field(
        200.0, gt=0, description="`programs import`: a funded charger this close to a site is there"
    )
    program_min_address_score: float = Field(
        85.0,
        ge=0,
        le=100,
        description="`programs import`: street-name similarity (0-100) at which addresses agree",
    )
    dev_role: str = Field(
        "public",
        description="role given to a local developer when no Azure authentication is in front:"
        " public, analyst or government:<STATE>[,<STATE>…] (e.g. government:NSW,WA)",
    )
    behind_azure_auth: bool = Field(
        False, description="true when App Service / Container Apps authentication fronts the app"
    )
    lga_boundaries: Path = Field(
        Path(__file__).parent / "data" / "abs-lga" / "lga_2022_charging_areas.geojson",
        description="ABS LGA boundaries (GeoJSON) that give a site without lga_code its LGA;"
        " default: the shipped ABS subset",
    )
    public_url: str | None = Field(
        None,
        description="the worker's public base URL, put into the OCPI URLs it hands out;"
        " default: the address it listens on",
    )
    operator_token: SecretStr | None = Field(
        None,
        description="bearer token for the worker's operations pages (/feeds, /metrics/latency,"
        " /docs); unset: only requests from the machine itself see them",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Fernet key that encrypts stored OCPI tokens B; default: a key file"
        " $CAL_DATA_DIR/secret.key created on first use",
    )

    @field_validator("report_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"CAL_REPORT_TZ={value!r} is not an IANA time zone") from exc
        return value

    @field_validator("queue_name")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if "--" in value:
            raise ValueError(f"CAL_QUEUE_NAME={value!r}: no two hyphens in a row")
        return value

    @field_validator("dev_role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        from shared.jurisdictions import RoleError, parse_role

        try:
            return parse_role(value).label
        except RoleError as exc:
            raise ValueError(f"CAL_DEV_ROLE: {exc}") from exc

    @model_validator(mode="after")
    def _queue_has_account(self) -> Settings:
        if self.handoff == "queue" and not (self.blob_connection_string or self.blob_account_url):
            raise ValueError(
                "CAL_HANDOFF=queue needs the storage account of the queue:"
                " CAL_BLOB_CONNECTION_STRING or CAL_BLOB_ACCOUNT_URL"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.report_tz)

    @field_validator("program_thresholds")
    @classmethod
    def _threshold_pcts(cls, value: dict[str, float]) -> dict[str, float]:
        for program, pct in value.items():
            if not program.strip() or not 0 <= pct <= 100:
                raise ValueError(
                    f"CAL_PROGRAM_THRESHOLDS: {program!r}: {pct} is not a percentage 0..100"
                )
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings(...)`` instead."""
    return Settings()
