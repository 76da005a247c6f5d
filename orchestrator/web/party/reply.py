"""Answering an invitation by link (``/r/{token}``) and the "will you take part?" link (``/c/``).

A GET never changes anything: mail scanners open every link in a message, and must not
answer for people. The page shows the meeting with the answer from the link chosen and a
button that POSTs it; the POST records it and redirects to a confirmation (POST, redirect,
GET). Dead, tampered or foreign links get the friendly 4xx page and reveal nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from aiohttp import web

from orchestrator.cases import intake
from orchestrator.core import languages
from orchestrator.core.languages import N_
from orchestrator.messaging import consent, replies
from orchestrator.messaging.invite_content import meeting_when
from orchestrator.messaging.invitees import MEETING_LABELS
from orchestrator.web.keys import BUS, CLOCK, DB, SETTINGS
from orchestrator.web.languages import choose
from orchestrator.web.pages import render

routes = web.RouteTableDef()
_View = TypeVar("_View")

RSVP_CHOICES = (
    ("accepted", N_("Yes, I will come")),
    ("tentative", N_("Maybe")),
    ("declined", N_("No, I cannot come")),
)
RSVP_TEXT = dict(RSVP_CHOICES)
PARTSTAT_ANSWER = {"ACCEPTED": "accepted", "TENTATIVE": "tentative", "DECLINED": "declined"}
CONSENT_CHOICES = (("yes", N_("Yes, we will take part")), ("no", N_("No, we will not take part")))
CONSENT_TEXT = dict(CONSENT_CHOICES)


AnswerSaver = Callable[..., Awaitable[object]]


async def _open(request: web.Request, opener: Callable[..., Awaitable[_View]]) -> _View:
    """Check the link and read what its page shows (raises the friendly 4xx when dead)."""
    app = request.app
    async with app[DB].read() as session:
        return await opener(
            session, request.match_info["token"], settings=app[SETTINGS], now=app[CLOCK]()
        )


async def _save_answer(request: web.Request, save: AnswerSaver, door: str) -> NoReturn:
    """Record the answer the form posted (``save`` checks the link), then show the thanks."""
    app = request.app
    token = request.match_info["token"]
    form = await request.post()
    answer = form.get("answer")
    async with app[DB].write() as session:
        await save(
            session,
            token,
            answer=answer if isinstance(answer, str) else "",
            settings=app[SETTINGS],
            now=app[CLOCK](),
            bus=app[BUS],
        )
    raise web.HTTPSeeOther(location=f"/{door}/{token}/thanks")


async def _rsvp_context(request: web.Request, view: replies.RsvpView) -> dict[str, object]:
    async with request.app[DB].read() as session:
        case = await intake.get_case(session, view.meeting.case_id)
    code = choose(request, view.party.language)
    return {
        "language": code,
        "party_name": view.party.name,
        "meeting_label": MEETING_LABELS.get(case.kind, "mediation meeting"),
        "when": meeting_when(view.meeting, case.timezone, locale=languages.LANGUAGES[code].locale),
        "current": PARTSTAT_ANSWER.get(view.invitation.partstat.value),
        "choices": RSVP_CHOICES,
        "answer_text": RSVP_TEXT,
        "token": request.match_info["token"],
    }


@routes.get("/r/{token}")
async def show_rsvp(request: web.Request) -> web.Response:
    """Ask the person to confirm the answer their email link carried (nothing saved yet)."""
    view = await _open(request, replies.open_rsvp)
    context = await _rsvp_context(request, view)
    chosen = request.query.get("answer")
    context["chosen"] = chosen if chosen in RSVP_TEXT else context["current"]
    return render("party/rsvp.html", request, context, language=str(context["language"]))


@routes.post("/r/{token}")
async def save_rsvp(request: web.Request) -> web.StreamResponse:
    """Record the answer, then show the confirmation."""
    await _save_answer(request, replies.answer_by_link, "r")


@routes.get("/r/{token}/thanks")
async def rsvp_saved(request: web.Request) -> web.Response:
    view = await _open(request, replies.open_rsvp)
    context = await _rsvp_context(request, view)
    return render("party/rsvp_saved.html", request, context, language=str(context["language"]))


def _consent_context(request: web.Request, view: consent.ConsentView) -> dict[str, object]:
    return {
        "party_name": view.party.name,
        "reference": view.case.reference,
        "current": view.answer,
        "final": consent.answer_is_final(view),
        "choices": CONSENT_CHOICES,
        "answer_text": CONSENT_TEXT,
        "token": request.match_info["token"],
    }


@routes.get("/c/{token}")
async def show_consent(request: web.Request) -> web.Response:
    """Ask the other party whether they will take part (nothing saved on a GET)."""
    view = await _open(request, consent.open_consent)
    language = choose(request, view.party.language)
    return render("party/consent.html", request, _consent_context(request, view), language=language)


@routes.post("/c/{token}")
async def save_consent(request: web.Request) -> web.StreamResponse:
    await _save_answer(request, consent.answer_consent, "c")


@routes.get("/c/{token}/thanks")
async def consent_saved(request: web.Request) -> web.Response:
    view = await _open(request, consent.open_consent)
    if view.answer is None:
        raise web.HTTPSeeOther(location=f"/c/{request.match_info['token']}")
    language = choose(request, view.party.language)
    context = _consent_context(request, view)
    return render("party/consent_saved.html", request, context, language=language)
