"""The availability poll a party opens from their email: ``GET/POST /p/{token}``.

No account and no JavaScript: the signed link is the credential, the form posts back to the
same link (checked again), and a saved answer redirects to a confirmation page (POST,
redirect, GET) so a refresh never sends the answers twice. The times come grouped by day,
one compact row of choices per time, with the date to reply by; "none of these work,
please call me" is an answer of its own. A form sent empty comes back with the GOV.UK
error summary, keeping what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from aiohttp import web

from calendars import wording
from orchestrator.core import languages
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.languages import N_
from orchestrator.core.models import PollAnswerValue
from orchestrator.core.settings import Settings
from orchestrator.scheduling import poll_answers, poll_deadline, poll_times
from orchestrator.web.keys import BUS, CLOCK, DB, SETTINGS
from orchestrator.web.languages import choose
from orchestrator.web.pages import render

routes = web.RouteTableDef()

FIELD_PREFIX = "slot-"
NOTE_FIELD = "note"
CALL_ME_FIELD = "call_me"
MAX_FORM_FIELDS = 200
CHOICES = (
    (PollAnswerValue.yes, N_("Yes, I can")),
    (PollAnswerValue.if_need_be, N_("If need be")),
    (PollAnswerValue.no, N_("No, I cannot")),
)
ANSWER_TEXT = {value: label for value, label in CHOICES}


def short_choices(language: str) -> tuple[tuple[str, tuple[str, str, str]], ...]:
    """On the compact row each choice shows its first words; the rest is for screen readers."""
    said = languages.translations(languages.language(language).code).gettext
    shown = []
    for value, label in CHOICES:
        words = said(label)
        comma = "،" if "،" in words else ","  # Urdu writes its own comma
        shown.append((value.value, words.partition(comma)))
    return tuple(shown)


@dataclass(frozen=True)
class TimeChoice:
    """One offered time as the page shows it."""

    field: str
    label: str  # "9:30am to 12:30pm"
    answer: str | None


@dataclass(frozen=True)
class DayChoices:
    label: str  # "Monday 9 March 2026"
    times: list[TimeChoice]


def field_name(start: datetime) -> str:
    """The form field of one offered start: its UTC time, e.g. ``slot-20260309T0930Z``."""
    return FIELD_PREFIX + start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def _start_of(field: str) -> datetime:
    try:
        return datetime.strptime(field.removeprefix(FIELD_PREFIX), "%Y%m%dT%H%MZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        raise ValidationFailed("an answer was given for a time this poll does not offer") from None


def group_by_day(
    candidates: list[datetime],
    answers: dict[datetime, PollAnswerValue],
    *,
    zone: ZoneInfo,
    duration: timedelta,
    locale: str = wording.LOCALE,
) -> list[DayChoices]:
    """The offered times grouped by local day, with the answer already given to each."""
    days: list[DayChoices] = []
    for start in candidates:
        local = start.astimezone(zone)
        end = (start + duration).astimezone(zone)
        label = wording.clock_range(local, end, locale=locale)
        given = answers.get(start)
        choice = TimeChoice(field_name(start), label, given.value if given else None)
        day = wording.day(local, locale=locale)
        if days and days[-1].label == day:
            days[-1].times.append(choice)
        else:
            days.append(DayChoices(day, [choice]))
    return days


class PollForm(TypedDict):
    """What a poll form sent, as ``poll_answers.record_answers`` takes it: an answer per
    time, the note, and "none of these work, please call me"."""

    answers: dict[datetime, PollAnswerValue]
    note: str | None
    call_me: bool


def read_form(form: Mapping[str, object]) -> PollForm:
    """The answers, note and "call me" of a posted poll form (the party's or a scheduler's)."""
    if len(form) > MAX_FORM_FIELDS:
        raise ValidationFailed("too many answers were sent")
    answers: dict[datetime, PollAnswerValue] = {}
    for key, value in form.items():
        if not key.startswith(FIELD_PREFIX) or not isinstance(value, str):
            continue
        try:
            answers[_start_of(key)] = PollAnswerValue(value)
        except ValueError:
            raise ValidationFailed("an answer must be yes, if need be or no") from None
    raw_note = form.get(NOTE_FIELD)
    note = raw_note if isinstance(raw_note, str) else None
    return {"answers": answers, "note": note, "call_me": form.get(CALL_ME_FIELD) == "yes"}


def page_context(
    access: poll_answers.PollAccess,
    answers: dict[datetime, PollAnswerValue],
    *,
    settings: Settings,
    now: datetime,
    sent: PollForm | None = None,
    language: str = languages.ENGLISH,
) -> dict[str, object]:
    """What the poll page (or the scheduler's copy of it) shows; ``sent`` is a refused form."""
    poll, case, response = access.poll, access.case, access.response
    duration = timedelta(minutes=poll.duration_minutes)
    hours = poll.duration_minutes / 60
    locale = languages.language(language).locale
    days = group_by_day(
        poll_times.poll_candidates(poll),
        answers,
        zone=ZoneInfo(case.timezone),
        duration=duration,
        locale=locale,
    )
    return {
        "party_name": access.party.name,
        "days": days,
        "first_field": days[0].times[0].field if days else NOTE_FIELD,
        "choices": short_choices(language),
        "length": wording.duration(timedelta(hours=hours), locale=locale),
        "zone_label": wording.zone_label(case.timezone, locale=locale),
        "reply_by": poll_deadline.reply_by_words(
            poll, case=case, settings=settings, now=now, locale=locale
        ),
        "note": sent["note"] if sent else response.note if response else None,
        "call_me": sent["call_me"] if sent else bool(response and response.call_me),
        "answered": bool(response and response.answered_at),
        "entered_by": response.entered_by if response else None,
        "closed": poll.closed_at is not None,
    }


@routes.get("/p/{token}")
async def show_poll(request: web.Request) -> web.Response:
    """The party's poll: every offered time, grouped by day, with their answers so far."""
    app = request.app
    async with app[DB].read() as session:
        access = await poll_answers.open_poll(
            session, request.match_info["token"], settings=app[SETTINGS], now=app[CLOCK]()
        )
        answers = await poll_answers.answers_of(
            session, poll_id=access.poll.id, party_id=access.party.id
        )
    code = choose(request, access.party.language)
    context = page_context(access, answers, settings=app[SETTINGS], now=app[CLOCK](), language=code)
    return render("party/poll.html", request, {**context, "errors": []}, language=code)


@routes.post("/p/{token}")
async def answer_poll(request: web.Request) -> web.StreamResponse:
    """Save the party's answers, then send them to the confirmation page."""
    app = request.app
    token = request.match_info["token"]
    sent = read_form(await request.post())
    now, settings = app[CLOCK](), app[SETTINGS]
    try:
        async with app[DB].write() as session:
            access = await poll_answers.open_poll(session, token, settings=settings, now=now)
            await poll_answers.record_answers(session, access=access, now=now, bus=app[BUS], **sent)
    except poll_answers.NothingAnswered as exc:
        # Nothing chosen and nothing written: show the form again with the problem named.
        async with app[DB].read() as session:
            access = await poll_answers.open_poll(session, token, settings=settings, now=now)
        code = choose(request, access.party.language)
        context = page_context(
            access, sent["answers"], settings=settings, now=now, sent=sent, language=code
        )
        context["errors"] = [exc.message]
        return render("party/poll.html", request, context, status=400, language=code)
    raise web.HTTPSeeOther(location=f"/p/{token}/thanks")


@routes.get("/p/{token}/thanks")
async def poll_saved(request: web.Request) -> web.Response:
    """Confirm what was saved, with a way back to change it."""
    app = request.app
    token = request.match_info["token"]
    async with app[DB].read() as session:
        access = await poll_answers.open_poll(
            session, token, settings=app[SETTINGS], now=app[CLOCK]()
        )
        answers = await poll_answers.answers_of(
            session, poll_id=access.poll.id, party_id=access.party.id
        )
    code = choose(request, access.party.language)
    context = page_context(access, answers, settings=app[SETTINGS], now=app[CLOCK](), language=code)
    return render(
        "party/poll_saved.html",
        request,
        {**context, "answer_text": {k.value: v for k, v in ANSWER_TEXT.items()}, "token": token},
        language=code,
    )
