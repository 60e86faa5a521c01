"""``/api/v1/exclusions``: a CPO proposes, lists and withdraws its own excluded-downtime windows
(spec 4.3) with its ``rest_push`` bearer token. A token only ever reaches its own CPO's
exclusions: another CPO's answer 404, exactly like ones that do not exist."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest_worker.auth import bearer_feed
from ingest_worker.feeds.config import FeedConfig
from ingest_worker.feeds.push_common import BadPayload, loads_json
from ingest_worker.pipeline import Ingest
from shared import layout
from shared.exclusions import (
    MAX_TEXT_CHARS,
    STATES,
    Cause,
    DuplicateExclusion,
    Exclusion,
    ExclusionError,
    ExclusionNotFound,
    Scope,
    SiteScopes,
    State,
    StateConflict,
    check_proposal,
    get_exclusion,
    list_exclusions,
    propose,
    withdraw,
)

MAX_EXCLUSION_BODY_BYTES = 16 * 1024
# Module level: route annotations are resolved in this module's namespace.
ExclusionId = Annotated[str, Path(max_length=40, description="e.g. ex-3f2a9c1b7d4e5a60")]


class ExclusionIn(BaseModel):
    """A proposed window. Instants are ISO 8601 with an offset."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope: Scope
    scope_id: str = Field(
        max_length=64,
        description="the evse_uid, charger_id or site_id as the static site CSV lists it",
        examples=["AU*ACM*E1001*1"],
    )
    from_: str = Field(alias="from", max_length=40, examples=["2026-11-23T10:15:00+11:00"])
    to: str = Field(max_length=40, description="after from, at most a year later")
    cause: Cause = Field(examples=["UTILITY_INTERRUPTION"])
    note: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    cpo_id: str | None = Field(None, max_length=64, description="if present, the token's CPO")


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=MAX_TEXT_CHARS)


class ExclusionOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    exclusion_id: str
    cpo_id: str
    scope: Scope
    scope_id: str
    from_: datetime = Field(alias="from")
    to: datetime
    cause: str
    note: str | None
    state: State
    proposed_at: datetime
    reviewed_at: datetime | None = Field(description="when the latest review or withdrawal was")
    reason: str | None = Field(description="the reason given with the latest review")

    @classmethod
    def of(cls, item: Exclusion) -> ExclusionOut:
        return cls.model_validate({**item.model_dump(), "from": item.from_at, "to": item.to_at})


class ExclusionsOut(BaseModel):
    exclusions: list[ExclusionOut]


class ErrorOut(BaseModel):
    error: str


def _error(message: str, status: int, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _out(item: Exclusion, status: int = 200) -> JSONResponse:
    return JSONResponse(
        ExclusionOut.of(item).model_dump(mode="json", by_alias=True), status_code=status
    )


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts[:10])


class ScopesCache:
    """The static sites' scopes, re-read only when a file under ``static/sites/`` changed."""

    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest
        self._key: object = None
        self._scopes: SiteScopes | None = None

    def get(self) -> SiteScopes:
        from shared.sites import read_static_sites

        store = self._ingest.blobs
        key = tuple(
            (b.name, b.size, b.last_modified) for b in store.list(layout.STATIC_SITES_PREFIX)
        )
        if self._scopes is None or key != self._key:
            self._scopes = SiteScopes.from_connectors(read_static_sites(store).connectors)
            self._key = key
        return self._scopes


async def _read_body(request: Request) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    too_large = _error(f"body larger than {MAX_EXCLUSION_BODY_BYTES} bytes", 413)
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > MAX_EXCLUSION_BODY_BYTES
    ):
        return too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_EXCLUSION_BODY_BYTES:
            return too_large
    return bytes(body)


def _document(body: bytes) -> object:
    if not body.strip():
        raise BadPayload("empty body, expected a JSON object")
    return loads_json(body)


def router(ingest: Ingest) -> APIRouter:
    api = APIRouter(tags=["exclusions"])
    scopes = ScopesCache(ingest)
    responses: dict[int | str, dict[str, object]] = {
        401: {"model": ErrorOut, "description": "missing or unknown bearer token"},
    }

    # The rest_push feed of the bearer token (401 otherwise, before anything is read).
    own_feed = Depends(bearer_feed(ingest.feeds, "rest_push"))

    @api.post(
        "/api/v1/exclusions",
        status_code=201,
        response_model=ExclusionOut,
        responses={
            **responses,
            400: {"model": ErrorOut, "description": "not a JSON object"},
            403: {"model": ErrorOut, "description": "cpo_id is another CPO"},
            409: {"model": ErrorOut, "description": "the same window is already proposed"},
            413: {"model": ErrorOut},
            422: {"model": ErrorOut, "description": "a field breaks a rule; the error says which"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ExclusionIn.model_json_schema(by_alias=True)}
                },
            }
        },
        summary="Propose an excluded-downtime window for one of your EVSEs, chargers or sites",
    )
    async def propose_exclusion(request: Request, feed: FeedConfig = own_feed) -> JSONResponse:
        """Causes: UTILITY_INTERRUPTION, VEHICLE_FAULT, SCHEDULED_MAINTENANCE, VANDALISM,
        NATURAL_DISASTER. The window is PROPOSED until an analyst approves or rejects it; only
        approved windows count in the monthly figures."""
        body = await _read_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            document = _document(body)
            if not isinstance(document, dict):
                raise BadPayload("expected a JSON object")
            given = ExclusionIn.model_validate(document)
        except BadPayload as exc:
            return _error(str(exc), 400)
        except ValidationError as exc:
            return _error(_validation_message(exc), 422)
        if given.cpo_id is not None and given.cpo_id != feed.cpo_id:
            return _error("cpo_id: not the CPO of this token", 403)

        def store() -> Exclusion:
            proposal = check_proposal(
                cpo_id=feed.cpo_id,
                scope=given.scope,
                scope_id=given.scope_id,
                from_at=given.from_,
                to_at=given.to,
                cause=given.cause,
                note=given.note,
                scopes=scopes.get(),
            )
            (exclusion_id,) = propose(ingest.engine, [proposal], f"cpo:{feed.cpo_id}")
            with ingest.engine.connect() as connection:
                return get_exclusion(connection, exclusion_id)

        try:
            created = await asyncio.to_thread(store)
        except DuplicateExclusion as exc:
            return _error(str(exc), 409)
        except ExclusionError as exc:
            return _error(str(exc), 422)
        return _out(created, 201)

    @api.get(
        "/api/v1/exclusions",
        response_model=ExclusionsOut,
        responses={**responses, 422: {"model": ErrorOut}},
        summary="List your exclusions, newest first",
    )
    async def list_own(
        feed: FeedConfig = own_feed,
        state: Annotated[
            str | None, Query(max_length=16, description=f"one of {', '.join(STATES)}")
        ] = None,
    ) -> JSONResponse:

        def read() -> list[Exclusion]:
            with ingest.engine.connect() as connection:
                return list_exclusions(connection, cpo_id=feed.cpo_id, state=state)

        try:
            items = await asyncio.to_thread(read)
        except ExclusionError as exc:
            return _error(str(exc), 422)
        return JSONResponse(
            ExclusionsOut(exclusions=[ExclusionOut.of(item) for item in items]).model_dump(
                mode="json", by_alias=True
            )
        )

    @api.get(
        "/api/v1/exclusions/{exclusion_id}",
        response_model=ExclusionOut,
        responses={**responses, 404: {"model": ErrorOut}},
        summary="One of your exclusions",
    )
    async def get_own(exclusion_id: ExclusionId, feed: FeedConfig = own_feed) -> JSONResponse:

        def read() -> Exclusion:
            with ingest.engine.connect() as connection:
                return get_exclusion(connection, exclusion_id, cpo_id=feed.cpo_id)

        try:
            return _out(await asyncio.to_thread(read))
        except ExclusionNotFound:
            return _error(f"no exclusion {exclusion_id!r} of {feed.cpo_id}", 404)

    @api.post(
        "/api/v1/exclusions/{exclusion_id}/withdraw",
        response_model=ExclusionOut,
        responses={
            **responses,
            400: {"model": ErrorOut},
            404: {"model": ErrorOut},
            409: {"model": ErrorOut, "description": "already rejected or withdrawn"},
            413: {"model": ErrorOut},
        },
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": WithdrawIn.model_json_schema()}},
            }
        },
        summary="Withdraw one of your proposed or approved exclusions",
    )
    async def withdraw_own(
        exclusion_id: ExclusionId, request: Request, feed: FeedConfig = own_feed
    ) -> JSONResponse:
        """The body is optional: ``{"reason": "…"}``. The exclusion stays in the audit trail
        as WITHDRAWN and no longer counts in monthly figures computed from then on."""
        body = await _read_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            given = WithdrawIn.model_validate(_document(body)) if body.strip() else WithdrawIn()
        except BadPayload as exc:
            return _error(str(exc), 400)
        except ValidationError as exc:
            return _error(_validation_message(exc), 422)

        def change() -> Exclusion:
            return withdraw(
                ingest.engine,
                exclusion_id,
                f"cpo:{feed.cpo_id}",
                cpo_id=feed.cpo_id,
                reason=given.reason,
            )

        try:
            return _out(await asyncio.to_thread(change))
        except ExclusionNotFound:
            return _error(f"no exclusion {exclusion_id!r} of {feed.cpo_id}", 404)
        except StateConflict as exc:
            return _error(str(exc), 409)
        except ExclusionError as exc:
            return _error(str(exc), 422)

    return api
