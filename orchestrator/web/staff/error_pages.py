"""Error pages for staff: what went wrong in staff terms, who can help, the way back.

Party error pages tell a parent to call for a new link; that means nothing to a scheduler.
A request to a staff page (by its path, or because the staff guard let someone in) gets
this page instead: a refusal says what they cannot do and which roles can, a missing page
or a fault says so plainly, and every one links back to the deadline board. Nothing in it
shows an id or a role code. When the guard had already let the person in, the page keeps
their staff menu.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from orchestrator.core import health
from orchestrator.web.errors import DATABASE_UNAVAILABLE, ApiError
from orchestrator.web.keys import SETTINGS

STAFF_PREFIXES = ("/staff", "/sign-in")
# The staff page context (``StaffContext.page()``) of whoever the guard let in.
SIGNED_IN: web.RequestKey[dict[str, Any]] = web.RequestKey("signed_in_staff")

FORBIDDEN_HEADING = "You cannot see this page"
HEADINGS = {
    400: "There is a problem with what was sent",
    404: "Page not found",
    405: "This page cannot do that",
    409: "That cannot be done now",
    410: "This page has gone",
    413: "That file is too large",
    422: "There is a problem with what was sent",
    429: "Too many attempts",
    503: "Sorry, the service is unavailable",
}
NOT_FOUND = (
    "We cannot find that page, case or meeting. The address may be wrong, or what it "
    "pointed to may have been removed."
)
FAULT = "Something went wrong on our side. Try again in a few minutes."
NO_DATABASE = "The service cannot reach its database just now. Try again in a few minutes."


def is_staff_request(request: web.Request) -> bool:
    return request.path.startswith(STAFF_PREFIXES) or SIGNED_IN in request


def render_staff_error(request: web.Request, error: ApiError) -> web.Response:
    """The error page a member of staff sees, with the status of the error."""
    heading, message = _wording(error)
    context: dict[str, Any] = {
        **request.get(SIGNED_IN, {}),
        "heading": heading,
        "message": message,
        "is_refusal": error.code == "forbidden",
        "banner": _database_banner(request, error),
    }
    return aiohttp_jinja2.render_template("staff/error.html", request, context, status=error.status)


def _wording(error: ApiError) -> tuple[str, str]:
    if error.status == 404:
        return HEADINGS[404], NOT_FOUND
    if error.status == 503 and error.code == DATABASE_UNAVAILABLE.code:
        return HEADINGS[503], NO_DATABASE
    if error.status >= 500:
        return "Sorry, there is a problem with the service", FAULT
    if error.code == "csrf_failed":
        return "This form has expired", _sentence(error.message)
    if error.status == 403:
        return FORBIDDEN_HEADING, _sentence(error.message)
    return HEADINGS.get(error.status, "Sorry, there is a problem"), _sentence(error.message)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + "."


def _database_banner(request: web.Request, error: ApiError) -> str | None:
    """Staff pages cannot load while the database is down: their error page says why."""
    if error.code != DATABASE_UNAVAILABLE.code:
        return None
    return health.banner(health.Health(database_up=False), request.app[SETTINGS])
