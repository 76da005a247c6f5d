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
from orchestrator.core.models import Link, Meeting
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import MeetingFacts, Recipient
from orchestrator.messaging.outgoing_mail import organizer_name
from orchestrator.messaging.ways_in import (
    ANSWERS,
    join_details,
    rsvp_link,
    short_link_url,
    ways_for,
)
from orchestrator.scheduling import joining

WHAT_TO_EXPECT = (
    "The meeting usually takes two to four hours. The mediator is independent and chairs "
    "it: they will talk with everyone together and may also speak with each side "
    "privately. You can ask for a break at any time. Nothing is recorded."
)


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
    return EventSpec(
        uid=facts.meeting.ical_uid,
        sequence=sequence,
        start=facts.meeting.start_at,
        end=facts.meeting.end_at,
        tzid=facts.case.timezone,
        summary=f"{facts.label[:1].upper()}{facts.label[1:]} – {settings.service_name}",
        description=f"{WHAT_TO_EXPECT}\n\nNeed help? Call {settings.help_line}.",
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
    return {
        "service_name": settings.service_name,
        "help_line": settings.help_line,
        "recipient_name": recipient.name,
        "meeting_label": facts.label,
        "when": when_text(spec),
        "video_url": join.url,
        "dial_in_number": join.dial_in_number,
        "dial_in_pin": join.dial_in_pin,
        "venue": join.venue,
        "venue_notes": join.venue_notes,
        "ways_in": [way.value for way in ways_for(join, facts.meeting.mode, channel)],
        "join_opens_at": wording.clock_before(
            joining.join_opens_at(facts.meeting, settings),
            meeting_start=facts.meeting.start_at,
            zone=facts.case.timezone,
        ),
        "people": facts.people(),
        "what_to_expect": WHAT_TO_EXPECT,
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
    spec = replace(spec, description=_cancel_description(reason, settings, removed=removed))
    context = meeting_context(facts, recipient, spec, settings)
    context.update(removed=removed, reason=reason)
    return spec, context


def _cancel_description(reason: str | None, settings: Settings, *, removed: bool) -> str:
    """The cancelled event's DESCRIPTION, for calendars that keep it on show."""
    paragraphs = [
        "You no longer need to come to this meeting."
        if removed
        else "This meeting has been cancelled. It is not happening."
    ]
    if reason:
        paragraphs.append(f"Why it was cancelled: {reason}")
    if settings.help_line:
        paragraphs.append(f"Questions? Call {settings.service_name} on {settings.help_line}.")
    return "\n\n".join(paragraphs)


def meeting_when(meeting: Meeting, tzid: str) -> str:
    """The meeting's time as every mail, page and invite words it (``wording.when``)."""
    return wording.when(meeting.start_at, meeting.end_at, zone=tzid)


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
