"""What one recipient's invitation says: the calendar event and the mail's words, from one clock.

The calendar part (``event_spec``) and the mail body (``meeting_context``) are built from
the same datetimes, so the time in the calendar and the time in the words never differ.
Each event names only the mediator (CHAIR) and the recipient as ATTENDEEs: parties see who
else is coming by role in the body, never each other's addresses or links.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from calendars.invite_spec import Attendee, EventSpec, JoinDetails, Organizer
from calendars.invite_text import when_text
from orchestrator.core import languages
from orchestrator.core.languages import N_
from orchestrator.core.models import CaseKind, Link, Meeting
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import MIAS_WHAT_TO_EXPECT, MeetingFacts, Recipient
from orchestrator.messaging.outgoing_mail import organizer_name
from orchestrator.messaging.ways_in import (
    ANSWERS,
    join_details,
    rsvp_link,
    short_link_url,
    ways_for,
)
from orchestrator.scheduling import joining

WHAT_TO_EXPECT = N_(
    "The meeting usually takes two to four hours. The mediator is independent and chairs "
    "it: they will talk with everyone together and may also speak with each side "
    "privately. You can ask for a break at any time. Nothing is recorded."
)


def what_to_expect(facts: MeetingFacts) -> str:
    """What the meeting is like: a 2-4 hour mediation, or a 20-minute information call."""
    return MIAS_WHAT_TO_EXPECT if facts.case.kind is CaseKind.mias else WHAT_TO_EXPECT


def event_spec(
    facts: MeetingFacts,
    recipient: Recipient,
    join: JoinDetails,
    settings: Settings,
    *,
    now: datetime,
    sequence: int,
) -> EventSpec:
    """The calendar event as this recipient sees it: the mediator and themselves."""
    attendees: list[Attendee] = []
    mediator = facts.mediator
    if mediator is not None and mediator.email and recipient.mediator is None:
        attendees.append(Attendee(mediator.name, mediator.email, "CHAIR", rsvp=False))
    partstat = recipient.invitation.partstat.value if recipient.invitation else "ACCEPTED"
    attendees.append(
        Attendee(
            recipient.name,
            recipient.email,
            recipient.role,
            partstat,  # type: ignore[arg-type]
            rsvp=recipient.mediator is None,
        )
    )
    tag = recipient.language
    label = languages.gettext_for(tag, facts.label)
    need_help = languages.gettext_for(tag, N_("Need help? Call %(number)s."))
    return EventSpec(
        uid=facts.meeting.ical_uid,
        sequence=sequence,
        start=facts.meeting.start_at,
        end=facts.meeting.end_at,
        tzid=facts.case.timezone,
        summary=f"{label[:1].upper()}{label[1:]} – {settings.service_name}",
        description=(
            f"{languages.gettext_for(tag, what_to_expect(facts))}\n\n"
            + need_help % {"number": settings.help_line}
        ),
        organizer=Organizer(organizer_name(settings), settings.mail_from),
        attendees=attendees,
        join=join,
        dtstamp=now,
    )


def meeting_context(
    facts: MeetingFacts, recipient: Recipient, spec: EventSpec, settings: Settings
) -> dict[str, Any]:
    """What every meeting mail says, from the same datetimes as the calendar part: the
    person's ways in with their own first (``ways_in``), the rest "if you need to"."""
    join = spec.join
    channel = recipient.party.channel if recipient.party is not None else None
    phone_call = facts.adviser_calls(recipient.party)
    locale = languages.language(recipient.language).locale
    return {
        "service_name": settings.service_name,
        "help_line": settings.help_line,
        "recipient_name": recipient.name,
        "meeting_label": facts.label,
        "when": when_text(spec, locale=locale),
        "video_url": join.url,
        "dial_in_number": join.dial_in_number,
        "dial_in_pin": join.dial_in_pin,
        "venue": join.venue,
        "venue_notes": join.venue_notes,
        # The adviser phones the family: they have nothing to join.
        "ways_in": (
            [] if phone_call else [way.value for way in ways_for(join, facts.meeting.mode, channel)]
        ),
        "phone_call": phone_call,
        "join_opens_at": wording.clock_before(
            joining.join_opens_at(facts.meeting, settings),
            meeting_start=facts.meeting.start_at,
            zone=facts.case.timezone,
            locale=locale,
        ),
        "people": facts.people(),
        "what_to_expect": what_to_expect(facts),
        "rsvp": None,
        "update": False,
        "removed": False,
    }


def cancel_content(
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
    sequence: int,
    removed: bool,
) -> tuple[EventSpec, dict[str, Any]]:
    """A CANCEL as this recipient is told it: that it is off, when it was to be, why (the
    scheduler's reason, as typed) and who to call; in the mail and the calendar alike.

    Someone only taken off a meeting that still goes ahead is told no reason.
    """
    reason = None if removed else (facts.meeting.cancel_reason or None)
    spec = event_spec(facts, recipient, JoinDetails(), settings, now=now, sequence=sequence)
    spec = replace(
        spec,
        description=_cancel_description(reason, settings, removed=removed, tag=recipient.language),
    )
    context = meeting_context(facts, recipient, spec, settings)
    context.update(removed=removed, reason=reason)
    return spec, context


def _cancel_description(
    reason: str | None, settings: Settings, *, removed: bool, tag: str | None
) -> str:
    """The cancelled event's DESCRIPTION, for calendars that keep it on show."""
    said = languages.translations(languages.language(tag).code).gettext
    paragraphs = [
        said(N_("You no longer need to come to this meeting."))
        if removed
        else said(N_("This meeting has been cancelled. It is not happening."))
    ]
    if reason:
        paragraphs.append(said(N_("Why it was cancelled: %(reason)s")) % {"reason": reason})
    if settings.help_line:
        paragraphs.append(
            said(N_("Questions? Call %(service)s on %(number)s."))
            % {"service": settings.service_name, "number": settings.help_line}
        )
    return "\n\n".join(paragraphs)


def meeting_when(meeting: Meeting, tzid: str, *, locale: str = wording.LOCALE) -> str:
    """The meeting's time as every mail, page and invite words it (``wording.when``)."""
    return wording.when(meeting.start_at, meeting.end_at, zone=tzid, locale=locale)


async def invite_context(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
) -> tuple[EventSpec, dict[str, Any]]:
    """The meeting as this recipient is told it: how they join, and their answer links."""
    meeting = facts.meeting
    join = await join_details(session, facts, recipient, settings)
    rsvp = None
    if recipient.party is not None:
        rsvp = await rsvp_link(session, meeting, recipient.party, now)
    return invite_context_with(facts, recipient, settings, join=join, rsvp=rsvp, now=now)


def invite_context_with(
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    join: JoinDetails,
    rsvp: Link | None,
    now: datetime,
) -> tuple[EventSpec, dict[str, Any]]:
    """``invite_context`` with the person's join details and RSVP link at hand."""
    spec = event_spec(
        facts, recipient, join, settings, now=now, sequence=facts.meeting.calendar_sequence
    )
    context = meeting_context(facts, recipient, spec, settings)
    if rsvp is not None:
        base = short_link_url(rsvp, settings)
        context["rsvp"] = {answer: f"{base}?answer={answer}" for answer in ANSWERS}
    return spec, context
