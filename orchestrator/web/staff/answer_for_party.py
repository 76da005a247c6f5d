"""A scheduler answers for a party after a phone call: their poll answers, and their RSVP.

A person with no email, or who would rather talk, can still take part: the scheduler
types in what they said on the phone. The same use-cases as the party's own link save it
(``poll_answers.record_answers``, ``replies.record_answer``), marked with who entered it,
and the staff audit trail records the action.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core import records
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import Case, Party
from orchestrator.messaging import replies
from orchestrator.scheduling import poll_answers
from orchestrator.web import pages
from orchestrator.web.keys import DB, SETTINGS
from orchestrator.web.party.poll import page_context, read_form
from orchestrator.web.staff.cases import case_and_party
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
    sent: Any = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """The page: the open poll's times (if any) and the booked meeting's invite (if any)."""
    async with request.app[DB].read() as session:
        case, party = await case_and_party(session, request, seen_by=staff)
        poll: dict[str, object] = {}
        try:
            access = await poll_answers.staff_access(session, case=case, party=party)
        except InvalidState:
            access = None
        if access is not None:
            answers = await poll_answers.answers_of(
                session, poll_id=access.poll.id, party_id=party.id
            )
            poll = page_context(
                access,
                sent.answers if sent else answers,
                settings=request.app[SETTINGS],
                now=staff.now,
                sent=sent,
            )
        invite = await replies.invitation_of(session, case_id=case.id, party=party)
    context = _context(staff, case, party, poll=poll, invite=invite, errors=errors or [])
    return pages.render("staff/answer_for_party.html", request, context, status=status)


def _context(
    staff: StaffContext,
    case: Case,
    party: Party,
    *,
    poll: dict[str, object],
    invite: replies.RsvpView | None,
    errors: list[str],
) -> dict[str, Any]:
    return staff.page(
        case=case,
        party=party,
        role_names=ROLE_NAMES,
        has_poll=bool(poll),
        **poll,
        invite=invite,
        rsvp_choices=RSVP_CHOICES,
        errors=errors,
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
            await poll_answers.record_answers(
                session,
                access=access,
                answers=sent.answers,
                note=sent.note,
                call_me=sent.call_me,
                now=staff.now,
                bus=staff.bus,
                entered_by=entered_by(staff),
            )
            _audit(session, staff, "poll.answer_for_party", case, party)
    except poll_answers.NothingAnswered as exc:
        return await _render(request, staff, sent=sent, errors=[exc.message], status=400)
    raise see_other(f"/staff/cases/{case.id}?notice=answers-entered#parties")


@routes.post(PATH + "/rsvp")
@staff_page(roles=SCHEDULERS)
async def answer_invite(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Save the party's answer to the booked meeting's invitation, given on the phone."""
    partstat = replies.LINK_ANSWERS.get(str(staff.form.get("rsvp", "")))
    if partstat is None:
        return await _render(request, staff, errors=["choose whether they can come"], status=400)
    async with request.app[DB].write() as session:
        case, party = await case_and_party(session, request, seen_by=staff)
        view = await replies.invitation_of(session, case_id=case.id, party=party)
        if view is None:
            raise ValidationFailed("there is no booked meeting for them to answer")
        who = entered_by(staff)
        await replies.record_answer(
            session,
            invitation=view.invitation,
            party=party,
            meeting=view.meeting,
            partstat=partstat,
            source=replies.PHONE,
            now=staff.now,
            bus=staff.bus,
            entered_by=who.words,
            actor=who.actor,
        )
        _audit(session, staff, "invite.answer_for_party", case, party)
    raise see_other(f"/staff/cases/{case.id}?notice=answers-entered#parties")


def _audit(
    session: AsyncSession, staff: StaffContext, action: str, case: Case, party: Party
) -> None:
    """Put the answer this scheduler entered for the party on the audit trail, same commit."""
    records.add_audit(
        session,
        actor_id=staff.user.id,
        action=action,
        at=staff.now,
        case_id=case.id,
        target_type="party",
        target_id=str(party.id),
    )
