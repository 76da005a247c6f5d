"""Serving a declared route: the aiohttp view around each API handler, and mounting them.

The view authenticates the caller, checks the role, parses JSON (400 when malformed),
validates it (422 with the field errors), opens one transaction for the whole request
(so nothing is half-written), writes the audit row, and serialises the response model.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core import idempotency
from orchestrator.core.models import StaffRole, StaffUser
from orchestrator.core.records import add_audit
from orchestrator.staff import accounts
from orchestrator.web import audit, ratelimit
from orchestrator.web.api.parsing import parse_body, parse_query
from orchestrator.web.api.routes import ApiContext, ApiRoute, ApiRouter, PublicContext
from orchestrator.web.errors import ApiError, json_error
from orchestrator.web.keys import (
    CLOCK,
    DB,
    METRICS,
    REQUEST_TOKEN_ID,
    REQUEST_TOKEN_STALE,
    REQUEST_USER,
)

View = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _Call:
    """One request to one route: who asks, when, and the handler's context once opened."""

    request: web.Request
    route: ApiRoute
    user: StaffUser
    now: datetime
    ctx: ApiContext | None = None
    replay: web.Response | None = None  # the stored answer to a keyed request seen before


def make_view(route: ApiRoute) -> View:
    async def view(request: web.Request) -> web.StreamResponse:
        if route.public:
            return await _answer_public(request, route)
        user: StaffUser | None = request.get(REQUEST_USER)
        if user is None:
            raise ApiError(401, "unauthorized", "a valid bearer token is required")
        call = _Call(request=request, route=route, user=user, now=request.app[CLOCK]())
        try:
            result = await _answer(call)
        except Exception as exc:
            await _record_refusal(call, exc)
            raise
        if call.replay is not None:
            return call.replay
        await _after(call)
        return _response(route, result)

    return view


async def _answer_public(request: web.Request, route: ApiRoute) -> web.StreamResponse:
    """A route open to anyone: counted against the caller's address (429 once over its
    budget), its body checked, the handler in one transaction."""
    assert route.public_door is not None
    wait = await ratelimit.count_at_door(request, route.public_door)
    if wait:
        error = ApiError(429, "too_many_attempts", "too many requests from your connection")
        return json_error(error, headers={"Retry-After": str(wait)})
    kwargs: dict[str, Any] = {}
    if route.body is not None:
        kwargs["body"] = await parse_body(request, route.body)
    async with request.app[DB].write() as session:
        ctx = PublicContext(request=request, session=session, now=request.app[CLOCK]())
        result = await route.handler(ctx, **kwargs)
    return _response(route, result)


async def _answer(call: _Call) -> Any:
    """Check the role, read the arguments, and run the handler once per idempotency key."""
    route, request, user = call.route, call.request, call.user
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
        async with request.app[DB].read() as session:
            stored = await idempotency.recall(
                session, user_id=user.id, key=key, request=request_print
            )
        if stored is not None:
            call.replay = _replayed(stored.status, stored.response_body)
            return None
    try:
        return await _run(call, kwargs, key, request_print)
    except Exception as exc:
        if key is None or not idempotency.is_twin_request(exc):
            raise
        # A twin request with the same key committed first: its answer is the answer.
        raise ApiError(
            409,
            "idempotency_key_in_use",
            f"a request with this {idempotency.HEADER} was being handled; send it again",
        ) from None


async def _run(call: _Call, kwargs: dict[str, Any], key: str | None, request_print: str) -> Any:
    """The handler in one transaction, with its audit row and its remembered answer."""
    route, now = call.route, call.now
    db = call.request.app[DB]
    async with db.write() if route.writes else db.read() as session:
        ctx = ApiContext(request=call.request, session=session, user=call.user, now=now)
        call.ctx = ctx
        result = await route.handler(ctx, **kwargs)
        if route.writes:
            await _audit(ctx, route, session, now)
        if key is not None and isinstance(result, BaseModel):
            idempotency.remember(
                session,
                user_id=call.user.id,
                key=key,
                request=request_print,
                status=route.status,
                response_body=result.model_dump_json(),
                now=now,
            )
    return result


async def _record_refusal(call: _Call, exc: Exception) -> None:
    """A refused request is on the audit trail too, under its case when the view knew it."""
    status = audit.refusal_status(exc)
    if status is None:
        return
    await audit.record_refusal(
        call.request.app[DB],
        actor_id=call.user.id,
        action=f"{call.route.method} {call.route.path}",
        path=call.request.match_info,
        status=status,
        at=call.now,
        case_id=call.ctx.audit_case_id if call.ctx is not None else None,
    )


async def _after(call: _Call) -> None:
    """Audit a read (in a write of its own) and note that a stale token was used."""
    db = call.request.app[DB]
    if not call.route.writes and call.ctx is not None:
        async with db.write() as session:
            await _audit(call.ctx, call.route, session, call.now)
    token_id = call.request.get(REQUEST_TOKEN_ID)
    if token_id is not None and call.request.get(REQUEST_TOKEN_STALE):
        async with db.write() as session:
            await accounts.touch_token(session, token_id=token_id, now=call.now)


def _response(route: ApiRoute, result: Any) -> web.StreamResponse:
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


def _timed(app: web.Application, route: ApiRoute, view: View) -> View:
    label = f"{route.method} {route.path}"

    async def timed(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await view(request)
        finally:
            app[METRICS].http_latency.labels(label).observe(time.perf_counter() - started)

    return timed
