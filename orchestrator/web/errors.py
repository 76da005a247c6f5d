"""HTTP errors and the one place where domain errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestrator.core import errors

STATUS_FOR_DOMAIN_ERROR: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidState: 409,
    errors.ValidationFailed: 422,
    errors.PermissionDenied: 403,
    errors.LinkInvalid: 404,
}


class ApiError(Exception):
    """An error answer with a status, a stable code, a message and optional details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ClientDisconnected(Exception):
    """The client went away before its request was complete: nobody is left to answer."""


# A database restart takes seconds: callers are told to come back after this many.
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = ApiError(
    503, "database_unavailable", "the database cannot be reached just now; try again shortly"
)


def from_domain(exc: errors.DomainError) -> ApiError:
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR_DOMAIN_ERROR:
            return ApiError(STATUS_FOR_DOMAIN_ERROR[cls], exc.code, exc.message, exc.details)
    return ApiError(400, exc.code, exc.message, exc.details)


def json_error(error: ApiError, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": {"code": error.code, "message": error.message, "details": error.details}},
        status=error.status,
        headers=headers,
    )
