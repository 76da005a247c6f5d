"""A scheduler answers for a party after a phone call: their poll answers, and their RSVP.

A person with no email, or who would rather talk, can still take part: the scheduler
types in what they said on the phone. The same use-cases as the party's own link save it
(``poll_answers.record_answers``, ``replies.record_answer``), marked with who entered it,
and the staff audit trail records the action.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.messaging import replies
from orchestrator.scheduling import poll_answers
from orchestrator.web import pages
from orchestrator.web.keys import DB, SETTINGS
from orchestrator.web.party.poll import PollForm, page_context, read_form
from orchestrator.web.staff.cases import audit_case_write, case_and_party
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page
from orchestrator.web.staff.vocabulary import ROLE_NAMES

routes = web.RouteTableDef()

PATH = "/staff/cases/{case_id}/parties/{party_id}/answers"
RSVP_CHOICES = (
    ("accepted", "They will come"),
    ("tentative", "They might come"),
    ("declined", "They cannot come"),
)
SAVED = "?notice=answers-entered#parties"


def entered_by(staff: StaffContext) -> poll_answers.EnteredBy:
    """The words and actor id the record keeps for this scheduler ("Sam (scheduler)")."""
    return poll_answers.EnteredBy(
        words=f"{staff.user.name or staff.user.email} ({staff.user.role.value})",
        actor=staff.actor,
    )


async def _render(
    request: web.Request,
    staff: StaffContext,
    *,
    sent: PollForm | None = None,
    error: tuple[str, str | None] | None = None,  # (message, id of its control; None: 1st time)
) -> web.StreamResponse:
    """The page: the open poll's times (if any) and the booked meeting's invite (if any)."""
    async with request.app[DB].read() as session:
        case, party = await case_and_party(session, request, seen_by=staff)
        poll: dict[str, Any] = {}
        try:
            access = await poll_answers.staff_access(session, case=case, party=party)
        except InvalidState:
            access = None
        if access is not None:
            given = await poll_answers.answers_of(
                session, poll_id=access.poll.id, party_id=party.id
            )
            answers = sent["answers"] if sent else given
            poll = page_context(
                access, answers, settings=request.app[SETTINGS], now=staff.now, sent=sent
            )
        invite = await replies.invitation_of(session, case_id=case.id, party=party)
    poll |= {"has_poll": bool(poll), "invite": invite, "rsvp_choices": RSVP_CHOICES}
    context = staff.page(case=case, party=party, role_names=ROLE_NAMES, **poll)
    context["errors"] = []
    if error:
        target = error[1] or f"{poll.get('first_field')}-yes"
        context |= {"errors": [error[0]], "error_href": f"#{target}"}
    return pages.render(
        "staff/answer_for_party.html", request, context, status=400 if error else 200
    )


@routes.get(PATH)
@staff_page(roles=SCHEDULERS)
async def answer_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The form a scheduler fills in while on the phone to the party."""
    return await _render(request, staff)


@routes.post(PATH)
@staff_page(roles=SCHEDULERS)
async def answer_poll(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Save the party's poll answers as they gave them on the phone."""
    sent = read_form(staff.form)
    try:
        async with request.app[DB].write() as session:
            case, party = await case_and_party(session, request, seen_by=staff)
            access = await poll_answers.staff_access(session, case=case, party=party)
            by = entered_by(staff)
            await poll_answers.record_answers(
                session, access=access, now=staff.now, bus=staff.bus, entered_by=by, **sent
            )
            audit_case_write(session, staff, "poll.answer_for_party", case.id)
    except poll_answers.NothingAnswered as exc:
        return await _render(request, staff, sent=sent, error=(exc.message, None))
    raise see_other(f"/staff/cases/{case.id}{SAVED}")


@routes.post(PATH + "/rsvp")
@staff_page(roles=SCHEDULERS)
async def answer_invite(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Save the party's answer to the booked meeting's invitation, given on the phone."""
    partstat = replies.LINK_ANSWERS.get(str(staff.form.get("rsvp", "")))
    if partstat is None:
        return await _render(
            request, staff, error=("choose whether they can come", "rsvp-accepted")
        )
    async with request.app[DB].write() as session:
        case, party = await case_and_party(session, request, seen_by=staff)
        view = await replies.invitation_of(session, case_id=case.id, party=party)
        if view is None:
            raise ValidationFailed("there is no booked meeting for them to answer")
        who = entered_by(staff)
        phone, by = replies.PHONE, (who.words, who.actor)
        await replies.answer_view(
            session, view, partstat, phone, staff.now, staff.bus, entered_by=by
        )
        audit_case_write(session, staff, "invite.answer_for_party", case.id)
    raise see_other(f"/staff/cases/{case.id}{SAVED}")
