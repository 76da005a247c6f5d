"""Server-rendered pages: the Jinja environment, shared context, and friendly error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from orchestrator.core import languages
from orchestrator.core.languages import N_
from orchestrator.web import govuk
from orchestrator.web import languages as page_languages
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import ERROR_PAGE, SETTINGS
from orchestrator.web.staff.error_pages import is_staff_request, render_staff_error

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

HEADINGS = {
    400: N_("There is a problem with what was sent"),
    403: N_("You cannot see this page"),
    404: N_("This link does not work"),
    405: N_("This page cannot do that"),
    409: N_("That cannot be done now"),
    410: N_("This link does not work any more"),
    413: N_("That file is too large"),
    422: N_("There is a problem with what was sent"),
    429: N_("Too many attempts"),
}


def setup(app: web.Application) -> None:
    """Attach the template environment (autoescaped), static files and the error page."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # Party-facing words go through gettext (``{{ _("…") }}``), in the page's ``language``.
    languages.install(env)
    # Per-app constants every page shows (no context-processor middleware needed).
    settings = app[SETTINGS]
    env.globals.update(service_name=settings.service_name, help_line=settings.help_line)
    env.globals["govuk"] = govuk.component
    env.filters["sentence"] = as_sentence  # after _(): a refusal translated, then capitalised
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    app[ERROR_PAGE] = render_error


def as_sentence(message: str) -> str:
    """A domain error's message (lower case, no full stop) as the start of a sentence."""
    return message[:1].upper() + message[1:]


async def render_error(request: web.Request, error: ApiError) -> web.Response:
    """A friendly page with the right status and the help line; it reveals nothing else.

    Staff get their own page (``orchestrator.web.staff.error_pages``); this one is for the
    people taking part.
    """
    if is_staff_request(request):
        return render_staff_error(request, error)
    heading = HEADINGS.get(error.status, N_("Sorry, there is a problem"))
    code = page_languages.choose(request)
    if error.status >= 500:
        message = N_("Something went wrong on our side. Please try again later.")
    else:  # a translation is a whole sentence; English words are made one here
        said = languages.gettext_for(code, error.message)
        message = said if said != error.message else as_sentence(error.message) + "."
    context = {"heading": heading, "message": message}
    return render("error.html", request, context, status=error.status, language=code)


def render(
    template: str,
    request: web.Request,
    context: dict[str, Any],
    *,
    status: int = 200,
    language: str | None = None,
) -> web.Response:
    """Render a page (thin wrapper so views read plainly).

    A page that shows any refused form (a context value named ``…error(s)``) gets "Error: " at
    the start of its title, as GOV.UK asks, so screen reader users hear it first. A party page
    speaks ``language`` (``web.languages.choose``; the switch or cookie when not given) and
    carries the language switch; staff pages are English.
    """
    has_errors = any(key.endswith(("error", "errors")) and value for key, value in context.items())
    code = language or page_languages.choose(request)
    switch = page_languages.switch_links(request, code)
    context = {
        **context,
        **languages.context_for(code),
        "has_errors": has_errors,
        "language_switch": switch,
    }
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    page_languages.remember(request, response)
    return response
