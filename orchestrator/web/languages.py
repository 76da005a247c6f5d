"""Which language a party page speaks: the switch, then the cookie, the party's, the browser's.

``?lang=pl`` (the language switch on every party page) wins and is remembered in a cookie;
then the cookie; then the language the scheduler noted for the person; then the browser's
``Accept-Language``; else English. Staff pages are always English.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from orchestrator.core import languages
from orchestrator.core.languages import LANGUAGES
from orchestrator.web.staff.error_pages import is_staff_request

COOKIE = "orch_lang"
SWITCH = "lang"
REMEMBER_SECONDS = 365 * 24 * 3600


def _accepted(header: str) -> str | None:
    """The first language we have among the browser's, by its q-values."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        code = languages.supported(tag)
        if code is not None and weight > 0:
            ranked.append((-weight, index, code))
    return min(ranked)[2] if ranked else None


def _english_only(request: web.Request) -> bool:
    """Staff pages and the developer's mail viewer are in English, with no switch."""
    return is_staff_request(request) or request.path.startswith("/dev/")


def choose(request: web.Request, party_language: str | None = None) -> str:
    """The language code this page is shown in."""
    if _english_only(request):
        return languages.ENGLISH
    return (
        languages.supported(request.query.get(SWITCH))
        or languages.supported(request.cookies.get(COOKIE))
        or languages.supported(party_language)
        or _accepted(request.headers.get("Accept-Language", ""))
        or languages.ENGLISH
    )


def switch_links(request: web.Request, current: str) -> list[dict[str, str | bool]]:
    """The language switch: this page's address in each language we have."""
    if _english_only(request):
        return []
    kept = [(key, value) for key, value in request.query.items() if key != SWITCH]
    links: list[dict[str, str | bool]] = []
    for code, each in LANGUAGES.items():
        query = urlencode([*kept, (SWITCH, code)])
        links.append(
            {
                "code": code,
                "tag": each.tag,
                "name": each.name,
                "dir": each.direction,
                "href": f"{request.path}?{query}",
                "current": code == current,
            }
        )
    return links


def remember(request: web.Request, response: web.StreamResponse) -> None:
    """Keep the language the switch chose for this person's next pages."""
    code = languages.supported(request.query.get(SWITCH))
    if code is None or _english_only(request):
        return
    response.set_cookie(
        COOKIE,
        code,
        path="/",
        httponly=True,
        secure=request.secure,
        samesite="Lax",
        max_age=REMEMBER_SECONDS,
    )
