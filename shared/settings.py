"""The one settings object. Nothing else in the project reads os.environ for configuration."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment variables prefixed ``CAL_`` (a ``.env`` file in the working directory is read too)."""

    model_config = SettingsConfigDict(env_prefix="CAL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="where embedded defaults keep their files")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///$CAL_DATA_DIR/chargeatlarge.db"
    )
    blob_connection_string: str | None = Field(
        None, description="Azure Storage connection string; unset means the local folder backend"
    )
    blob_account_url: str | None = Field(
        None,
        description="Azure Storage account URL used with a managed identity instead of a connection string",
    )
    blob_container: str = Field("chargeatlarge", description="container that holds every blob")
    blob_dir: Path | None = Field(
        None, description="local folder backend; default $CAL_DATA_DIR/blobs"
    )
    report_tz: str = Field("Australia/Sydney", description="report time zone")
    max_gap_minutes: float = Field(
        15, gt=0, description="default carry-forward limit (spec section 3)"
    )
    uptime_threshold_pct: float = Field(
        98.0, ge=0, le=100, description="sites below this uptime are listed in the published report"
    )
    dev_role: Literal["public", "analyst", "government"] = Field(
        "public",
        description="role given to a local developer when no Azure authentication is in front",
    )
    behind_azure_auth: bool = Field(
        False, description="true when App Service / Container Apps authentication fronts the app"
    )
    lga_boundaries: Path = Field(
        Path(__file__).parent / "data" / "abs-lga" / "lga_2022_charging_areas.geojson",
        description="ABS LGA boundaries (GeoJSON) that give a site without lga_code its LGA;"
        " default: the shipped ABS subset",
    )

    @field_validator("report_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"CAL_REPORT_TZ={value!r} is not an IANA time zone") from exc
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'chargeatlarge.db'}"
        if self.blob_dir is None:
            self.blob_dir = self.data_dir / "blobs"
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.report_tz)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings(...)`` instead."""
    return Settings()
