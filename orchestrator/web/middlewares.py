"""Middlewares: errors as JSON (or a friendly page), bearer authentication, security headers."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from orchestrator.core import errors as domain
from orchestrator.core.db import is_unavailable
from orchestrator.staff.accounts import user_for_token
from orchestrator.web.errors import (
    DATABASE_RETRY_AFTER_S,
    DATABASE_UNAVAILABLE,
    ApiError,
    ClientDisconnected,
    from_domain,
    json_error,
)
from orchestrator.web.keys import (
    CLOCK,
    DB,
    ERROR_PAGE,
    METRICS,
    REQUEST_TOKEN_ID,
    REQUEST_TOKEN_STALE,
    REQUEST_USER,
)

log = logging.getLogger(__name__)

# Party links, set-password links and feed URLs are secrets: the access log shows their door only.
_SECRET_PATH = re.compile(r"/(p|j|r|c|b|prepare|set-password|feeds/mediators)/[^\s/?\"]+")


class RedactSecretPaths(logging.Filter):
    """Blank the token out of any logged request line (aiohttp's access log among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_PATH.sub(r"/\1/[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


logging.getLogger("aiohttp.access").addFilter(RedactSecretPaths())

HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MACHINE_PREFIXES = ("/api/", "/hooks/", "/openapi.json", "/readyz", "/healthz")


def wants_json(request: web.Request) -> bool:
    return request.path.startswith(_MACHINE_PREFIXES)


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def error_middleware(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Turn every failure into a clear answer; never a stack trace, never another party's data."""
    try:
        response = await handler(request)
    except ApiError as exc:
        response = await _render_error(request, exc)
    except domain.DomainError as exc:
        response = await _render_error(request, from_domain(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or (not wants_json(request) and exc.status not in (404, 405)):
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "http_error"
        )
        response = await _render_error(request, ApiError(exc.status, code, exc.reason))
        if "Allow" in exc.headers:  # a 405 names the methods the resource does take
            response.headers["Allow"] = exc.headers["Allow"]
    except ClientDisconnected:
        response = _client_gone(request)
    except ConnectionResetError as exc:
        if request.transport is not None and not request.transport.is_closing():
            response = await _render_unexpected(request, exc)
        else:
            response = _client_gone(request)
    except Exception as exc:
        response = await _render_unexpected(request, exc)
    request.app[METRICS].count_request(_route_label(request), response.status)
    return response


def _client_gone(request: web.Request) -> web.StreamResponse:
    """Nobody is left to read an answer; note it and move on (not an error of ours)."""
    log.info("client went away during %s %s", request.method, _route_label(request))
    return web.Response(status=400, text="client disconnected", content_type="text/plain")


async def _render_unexpected(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The database being out of reach is a 503 to retry; anything else is a bug of ours."""
    if is_unavailable(exc):
        log.warning(
            "database unreachable on %s %s (%s)",
            request.method,
            _route_label(request),
            type(exc).__name__,  # the kind of failure only: never its text, which may quote SQL
        )
        response = await _render_error(request, DATABASE_UNAVAILABLE)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    log.exception("unhandled error on %s %s", request.method, _route_label(request))
    return await _render_error(
        request, ApiError(500, "internal_error", "something went wrong on our side")
    )


async def _render_error(request: web.Request, error: ApiError) -> web.StreamResponse:
    if wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return json_error(error, headers=headers)
    renderer = request.app.get(ERROR_PAGE)
    if renderer is not None:
        return await renderer(request, error)
    return web.Response(status=error.status, text=error.message, content_type="text/plain")


@web.middleware
async def bearer_auth_middleware(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Resolve ``Authorization: Bearer`` on ``/api/`` paths; the view decides if it is needed."""
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            db = request.app[DB]
            now = request.app[CLOCK]()
            async with db.read() as session:
                found = await user_for_token(session, token.strip(), now=now)
            if found is not None:
                user, token_id, needs_touch = found
                request[REQUEST_USER] = user
                request[REQUEST_TOKEN_ID] = token_id
                request[REQUEST_TOKEN_STALE] = needs_touch
    return await handler(request)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@web.middleware
async def security_headers_middleware(
    request: web.Request, handler: HandlerT
) -> web.StreamResponse:
    """Headers every answer carries; party links are never sent on as a Referer."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and bare HTTP errors carry them too
        for name, value in SECURITY_HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Cache-Control", "no-store")
    return response
