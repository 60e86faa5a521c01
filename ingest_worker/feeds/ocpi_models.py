"""Typed OCPI 2.2.1 objects of the configuration modules (credentials, versions), checked at the seam."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
MAX_URL = 255  # ocpi_party.versions_url


def check_url(value: str, field: str = "url") -> str:
    """An absolute http(s) URL with a host, short enough to store."""
    if len(value) > MAX_URL:
        raise ValueError(f"{field}: longer than {MAX_URL} characters")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ValueError(f"{field}: not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{field}: must be an absolute http(s) URL")
    return value


class CredentialsRole(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Role
    party_id: str = Field(pattern=r"^[A-Za-z0-9]{3}$")
    country_code: str = Field(pattern=r"^[A-Za-z]{2}$")
    business_details: dict[str, Any] | None = None

    @property
    def party(self) -> tuple[str, str]:
        """(country_code, party_id) in upper case: CiStrings compare case-insensitively."""
        return self.country_code.upper(), self.party_id.upper()


class Credentials(BaseModel):
    """The credentials object (OCPI 2.2.1 credentials 1.4.1)."""

    model_config = ConfigDict(extra="allow")

    token: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    url: str
    roles: list[CredentialsRole] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @model_validator(mode="after")
    def _unique_roles(self) -> Credentials:
        seen = set()
        for role in self.roles:
            key = (role.role, *role.party)
            if key in seen:
                raise ValueError(f"roles: {role.role} {role.country_code}/{role.party_id} twice")
            seen.add(key)
        return self

    @property
    def cpo_parties(self) -> list[tuple[str, str]]:
        return [role.party for role in self.roles if role.role == "CPO"]


def credentials_problem(exc: ValidationError) -> str:
    """What is wrong with a credentials object, never quoting the token it carries."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


def redacted_credentials(document: object) -> object:
    """The credentials object as it may be stored in quarantine: the token replaced."""
    if isinstance(document, dict) and "token" in document:
        return {**document, "token": "[redacted]"}
    return document
