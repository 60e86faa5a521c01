"""Typed OCPI 2.2.1 objects, checked at the seam: credentials and versions (the configuration
modules) and the Locations module's Location, EVSE and Connector with their PATCH bodies.

The same models validate what a CPO sends, describe it in the OpenAPI schema and are what we
store (``stored()``: the object as received, unknown fields kept, since a Receiver ``GET``
returns the client-owned object). Only what we use is checked strictly (ids, ``status``,
``last_updated``); other fields are the CPO's business, so an implementation that writes
``"physical_reference": 3`` (as the official PUT example does) is not refused for it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

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
    return problems(exc, "")


def problems(exc: ValidationError, where: str) -> str:
    """Every error of ``exc`` as ``where.field: message`` (``required`` for a missing field, a
    validator's own words without pydantic's "Value error, ")."""
    return "; ".join(problem_list(exc, where))


def problem_list(exc: ValidationError, where: str) -> list[str]:
    found = []
    for error in exc.errors(include_input=False, include_url=False):
        path = where
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            message = error["msg"]
        # A check of the whole object names its field itself ("party_id: … differs …").
        found.append(
            f"{path}: {message}"
            if path
            else message
            if error["type"] == "value_error"
            else f"body: {message}"
        )
    return found


def redacted_credentials(document: object) -> object:
    """The credentials object as it may be stored in quarantine: the token replaced."""
    if isinstance(document, dict) and "token" in document:
        return {**document, "token": "[redacted]"}
    return document


# --- versions (OCPI 2.2.1 section 6) -----------------------------------------------------------


class Version(BaseModel):
    """One entry of ``GET /ocpi/versions``."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    version: str
    url: str


class Endpoint(BaseModel):
    """One endpoint of a version details object; a missing role is read as ``SENDER`` (OCPI
    2.1.1 had none) and roles compare in upper case."""

    model_config = ConfigDict(extra="allow")

    identifier: str
    role: str = "SENDER"
    url: str

    @field_validator("role", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else "SENDER" if value is None else value


class VersionDetails(BaseModel):
    """``GET /ocpi/2.2.1``: the version and its endpoints. Endpoints we cannot read are left
    out rather than failing the whole object (``usable_endpoints``)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    version: str = "2.2.1"
    # An endpoint that is not one is kept as it came (and left out of usable_endpoints).
    endpoints: list[Endpoint | SkipJsonSchema[Any]]

    def usable_endpoints(self) -> list[Endpoint]:
        return [item for item in self.endpoints if isinstance(item, Endpoint)]


Data = TypeVar("Data")


class OcpiResponse(BaseModel, Generic[Data]):
    """The OCPI response envelope (transport and format 4.1.7), for the OpenAPI schema."""

    data: Data | None = None
    status_code: int = Field(description="1000 success, 2xxx client errors, 3xxx server errors")
    status_message: str | None = None
    timestamp: str


# --- Locations module (OCPI 2.2.1 section 8) ----------------------------------------------------

UrlLevel = Literal["location", "evse", "connector"]
CiString36 = Annotated[str, Field(min_length=1, max_length=36)]


class OcpiObject(BaseModel):
    """A client-owned object as the CPO sent it: unknown fields kept. (That its ids are the
    URL's is checked by ``ocpi_locations.parse_pushed``, which knows the URL.)"""

    model_config = ConfigDict(extra="allow")
    url_level: ClassVar[UrlLevel]

    def stored(self) -> dict[str, Any]:
        """The object as it is kept for ``GET``: what the CPO sent, unknown fields included."""
        return self.model_dump(mode="json", exclude_unset=True)


class Connector(OcpiObject):
    """A Connector (8.3.3). It carries no status of its own: only kept for ``GET``."""

    url_level: ClassVar[UrlLevel] = "connector"
    id: CiString36 | None = Field(None, description="required in a Location; the URL's in a PUT")
    last_updated: str | None = None


class ConnectorPatch(Connector):
    last_updated: str = Field(description="required in every PATCH")


class Evse(OcpiObject):
    """An EVSE (8.3.2): its ``status`` at ``last_updated`` is an observation."""

    url_level: ClassVar[UrlLevel] = "evse"
    uid: CiString36 | None = Field(None, description="required in a Location; the URL's in a PUT")
    status: str | None = Field(
        None,
        description="AVAILABLE, BLOCKED, CHARGING, INOPERATIVE, OUTOFORDER, PLANNED, REMOVED,"
        " RESERVED or UNKNOWN; mapped to a status category by the metrics specification",
    )
    connectors: list[Connector] | None = None
    last_updated: str | None = None


class EvsePatch(Evse):
    last_updated: str = Field(description="required in every PATCH")


class LocationEvse(Evse):
    """An EVSE inside a Location, which must name its ``uid``."""

    uid: CiString36


class RejectedItem(BaseModel):
    """An EVSE of a Location that is not valid: reported with its index, the others are kept.
    Its ``problems`` start with "@", the place of the item (``problems_at``)."""

    received: Any
    problems: list[str]

    @model_serializer
    def _as_received(self) -> Any:  # noqa: ANN401 - any JSON value, kept as the CPO sent it
        return self.received

    def problems_at(self, where: str) -> list[str]:
        return [where + problem.removeprefix("@") for problem in self.problems]


def _each_evse(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    try:
        return LocationEvse.model_validate(value)
    except ValidationError as exc:
        # "@" stands for the item's place, which only the Location knows ("location.evses[3]").
        return RejectedItem(received=value, problems=problem_list(exc, "@"))


EvseItem = Annotated[LocationEvse | SkipJsonSchema[RejectedItem], WrapValidator(_each_evse)]


class Location(OcpiObject):
    """A Location (8.3.1); only its ids, EVSEs and ``last_updated`` are checked."""

    url_level: ClassVar[UrlLevel] = "location"
    country_code: str | None = Field(None, description="the URL's, compared case-insensitively")
    party_id: str | None = Field(None, description="the URL's, compared case-insensitively")
    id: str | None = Field(None, description="the URL's in a PUT")
    evses: list[EvseItem] | None = None
    last_updated: str | None = None


class LocationPatch(Location):
    last_updated: str = Field(description="required in every PATCH")


PUT_MODELS: dict[UrlLevel, type[OcpiObject]] = {
    "location": Location,
    "evse": Evse,
    "connector": Connector,
}
PATCH_MODELS: dict[UrlLevel, type[OcpiObject]] = {
    "location": LocationPatch,
    "evse": EvsePatch,
    "connector": ConnectorPatch,
}
