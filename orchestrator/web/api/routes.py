"""Declarative JSON routes: one table drives validation, roles, audit and ``/openapi.json``.

A view is declared with the models it reads and writes::

    @router.post("/cases", body=CaseCreate, response=CasePublic, status=201)
    async def create(ctx: ApiContext, body: CaseCreate) -> CasePublic: ...

``views`` turns each declared route into the aiohttp view that serves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.models import StaffRole
from orchestrator.web.caller import Caller, OnRequest
from orchestrator.web.errors import ApiError

ALL_STAFF = frozenset(StaffRole)

Handler = Callable[..., Awaitable[Any]]


@dataclass
class ApiContext(Caller):
    """What a view gets: the request, its transaction, the caller and the time."""

    session: AsyncSession
    audit_details: dict[str, Any] = field(default_factory=dict)
    audit_case_id: uuid.UUID | None = None

    def path_id(self, name: str) -> uuid.UUID:
        """A UUID path parameter; anything else is an unknown id (404)."""
        raw = self.request.match_info[name]
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise ApiError(
                404, "not_found", f"{name.removesuffix('_id')} {raw} not found"
            ) from None


@dataclass
class PublicContext(OnRequest):
    """What a public view gets (no caller): the request, its transaction and the time."""

    request: web.Request
    session: AsyncSession
    now: datetime


@dataclass
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    roles: frozenset[StaffRole] = ALL_STAFF
    writes: bool = False
    tag: str = "api"
    response_content_type: str = "application/json"
    # Other media types the same route may answer with (e.g. ``text/csv`` on ``format=csv``).
    alternate_content_types: tuple[str, ...] = ()
    # Open to anyone, no token (a family's own referral): every request counts against the
    # caller's address at this throttle door; no role, no audit row, no replay.
    public_door: str | None = None

    @property
    def public(self) -> bool:
        return self.public_door is not None

    @property
    def creates(self) -> bool:
        """A create: it takes an ``Idempotency-Key`` so that a retry makes nothing twice."""
        return self.method == "POST" and self.status == 201


class ApiRouter:
    """Collects routes of one area; ``install`` adds them to an app under ``/api/v1``."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[ApiRoute] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        roles: Iterable[StaffRole] = ALL_STAFF,
        writes: bool | None = None,
        response_content_type: str = "application/json",
        alternate_content_types: tuple[str, ...] = (),
        public_door: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
            self.routes.append(
                ApiRoute(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    roles=frozenset(roles),
                    writes=method != "GET" if writes is None else writes,
                    tag=self.tag,
                    response_content_type=response_content_type,
                    alternate_content_types=alternate_content_types,
                    public_door=public_door,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)
