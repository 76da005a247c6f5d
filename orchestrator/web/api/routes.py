"""Declarative JSON routes: one table drives validation, roles, audit and ``/openapi.json``.

A view is declared with the models it reads and writes::

    @router.post("/cases", body=CaseCreate, response=CasePublic, status=201)
    async def create(ctx: ApiContext, body: CaseCreate) -> CasePublic: ...

The wrapper authenticates the caller, checks the role, parses JSON (400 when malformed),
validates it (422 with the field errors), opens one transaction for the whole request
(so nothing is half-written), writes the audit row, and serialises the response model.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, get_args

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core import idempotency
from orchestrator.core.events import EventBus
from orchestrator.core.models import StaffRole, StaffUser
from orchestrator.core.records import add_audit
from orchestrator.core.settings import Settings
from orchestrator.staff import accounts
from orchestrator.web import audit
from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import (
    BUS,
    CLOCK,
    DB,
    METRICS,
    REQUEST_TOKEN_ID,
    REQUEST_TOKEN_STALE,
    REQUEST_USER,
    SETTINGS,
)

ALL_STAFF = frozenset(StaffRole)
MAX_JSON_BYTES = 1_000_000

Handler = Callable[..., Awaitable[Any]]


@dataclass
class ApiContext:
    """What a view gets: the request, its transaction, the caller and the time."""

    request: web.Request
    session: AsyncSession
    user: StaffUser
    now: datetime
    audit_details: dict[str, Any] = field(default_factory=dict)
    audit_case_id: uuid.UUID | None = None

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    @property
    def bus(self) -> EventBus:
        return self.request.app[BUS]

    @property
    def actor(self) -> str:
        return f"{self.user.role.value}:{self.user.id}"

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


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Field errors as the API shows them: where, what, and never the rejected value."""
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


async def parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await read_body(request, limit=MAX_JSON_BYTES)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, "malformed_json", f"request body is not valid JSON: {exc}"
            ) from None
        except RecursionError:
            raise ApiError(400, "malformed_json", "request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "request body must be a JSON object")
    _refuse_nul(data)
    _refuse_timestamps(model, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_failed", "request body is invalid", validation_details(exc)
        ) from None


def _refuse_nul(data: Any, loc: tuple[str, ...] = ()) -> None:
    """No text holds U+0000: PostgreSQL cannot store it, and no name or note needs it."""
    if isinstance(data, str):
        if "\x00" in data:
            error = {"loc": list(loc), "msg": "must not contain U+0000 (NUL)", "type": "nul_char"}
            raise ApiError(422, "validation_failed", "request body is invalid", [error])
    elif isinstance(data, dict):
        for key, value in data.items():
            _refuse_nul(key, loc)
            _refuse_nul(value, (*loc, str(key)))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            _refuse_nul(value, (*loc, str(n)))


_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


@functools.cache
def _temporal_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names (as sent) of the model's top-level date and date-time fields."""
    names = set()
    for name, info in model.model_fields.items():
        if any(t in (date, datetime) for t in (info.annotation, *get_args(info.annotation))):
            names.add(info.alias or name)
    return frozenset(names)


def _refuse_timestamps(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Dates and times are ISO 8601 strings, as the schema says; pydantic alone would also
    read a number (or a numeric string) as a Unix timestamp."""
    errors = [
        {"loc": [name], "msg": "must be an ISO 8601 date or date-time", "type": "iso_8601"}
        for name in sorted(_temporal_fields(model) & data.keys())
        if data[name] is not None
        and not (isinstance(data[name], str) and _ISO_DATE_START.match(data[name]))
    ]
    if errors:
        raise ApiError(422, "validation_failed", "request is invalid", errors)


def parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    query = dict(request.query)
    _refuse_timestamps(model, query)
    try:
        return model.model_validate(query)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_failed", "query parameters are invalid", validation_details(exc)
        ) from None


def make_view(route: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    action = f"{route.method} {route.path}"

    async def view(request: web.Request) -> web.StreamResponse:
        user: StaffUser | None = request.get(REQUEST_USER)
        if user is None:
            raise ApiError(401, "unauthorized", "a valid bearer token is required")
        app = request.app
        db = app[DB]
        now = app[CLOCK]()
        ctx: ApiContext | None = None
        try:
            if user.role is not StaffRole.admin and user.role not in route.roles:
                raise ApiError(403, "forbidden", "your role may not do this")
            kwargs: dict[str, Any] = {}
            if route.body is not None:
                kwargs["body"] = await parse_body(request, route.body)
            if route.query is not None:
                kwargs["query"] = parse_query(request, route.query)
            key = request.headers.get(idempotency.HEADER) if route.creates else None
            request_print = ""
            if key is not None:
                idempotency.check_key(key)
                body = kwargs.get("body")
                request_print = idempotency.fingerprint(
                    route.method, request.path, body.model_dump_json() if body is not None else ""
                )
                # Looked up in a read of its own: a view that reads calendars before its first
                # write must not find the write lock already taken (SQLite) by this lookup.
                async with db.read() as session:
                    stored = await idempotency.recall(
                        session, user_id=user.id, key=key, request=request_print
                    )
                if stored is not None:
                    return _replayed(stored.status, stored.response_body)
            opened = db.write() if route.writes else db.read()
            try:
                async with opened as session:
                    ctx = ApiContext(request=request, session=session, user=user, now=now)
                    result = await route.handler(ctx, **kwargs)
                    if route.writes:
                        await _audit(ctx, route, session, now)
                    if key is not None and isinstance(result, BaseModel):
                        idempotency.remember(
                            session,
                            user_id=user.id,
                            key=key,
                            request=request_print,
                            status=route.status,
                            response_body=result.model_dump_json(),
                            now=now,
                        )
            except Exception as exc:
                if key is None or not idempotency.is_twin_request(exc):
                    raise
                # A twin request with the same key committed first: its answer is the answer.
                raise ApiError(
                    409,
                    "idempotency_key_in_use",
                    f"a request with this {idempotency.HEADER} was being handled; send it again",
                ) from None
        except Exception as exc:
            status = audit.refusal_status(exc)
            if status is not None:
                await audit.record_refusal(
                    db,
                    actor_id=user.id,
                    action=action,
                    path=request.match_info,
                    status=status,
                    at=now,
                    case_id=ctx.audit_case_id if ctx is not None else None,
                )
            raise
        if not route.writes:
            async with db.write() as session:
                await _audit(ctx, route, session, now)
        token_id = request.get(REQUEST_TOKEN_ID)
        if token_id is not None and request.get(REQUEST_TOKEN_STALE):
            async with db.write() as session:
                await accounts.touch_token(session, token_id=token_id, now=now)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=route.status)
        if isinstance(result, BaseModel):
            return web.Response(
                body=result.model_dump_json().encode(),
                status=route.status,
                content_type="application/json",
            )
        return web.json_response(result, status=route.status)

    return view


def _replayed(status: int, body: str) -> web.Response:
    """The answer first given to a keyed request, given again; nothing was done twice."""
    return web.Response(
        body=body.encode(),
        status=status,
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def _audit(ctx: ApiContext, route: ApiRoute, session: AsyncSession, now: datetime) -> None:
    """File the request under its case: the one the view named, else the one its path reaches."""
    target_type, target_id = audit.target_of(ctx.request.match_info)
    case_id = ctx.audit_case_id or await audit.case_of(session, ctx.request.match_info)
    add_audit(
        session,
        actor_id=ctx.user.id,
        action=f"{route.method} {route.path}",
        at=now,
        target_type=target_type,
        target_id=target_id,
        case_id=case_id,
        details=ctx.audit_details or None,
    )


def install(
    app: web.Application, routers: Iterable[ApiRouter], *, prefix: str = "/api/v1"
) -> list[ApiRoute]:
    """Add every route of ``routers`` to ``app``; return the table for ``/openapi.json``."""
    table: list[ApiRoute] = []
    for router in routers:
        for route in router.routes:
            view = make_view(route)
            name = f"api:{route.tag}:{route.handler.__name__}"
            app.router.add_route(
                route.method, prefix + route.path, _timed(app, route, view), name=name
            )
            table.append(route)
    return table


def _timed(
    app: web.Application,
    route: ApiRoute,
    view: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    label = f"{route.method} {route.path}"

    async def timed(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await view(request)
        finally:
            app[METRICS].http_latency.labels(label).observe(time.perf_counter() - started)

    return timed
