"""One recipient's calendar mail, METHOD:REQUEST or METHOD:CANCEL, queued once with its SEQUENCE.

The SEQUENCE is the meeting's one counter, ``Meeting.calendar_sequence``: every change that
sends anyone a new copy takes the next number (removing and adding people too), so a
calendar that holds a CANCEL always gets a higher SEQUENCE in the REQUEST that follows it.
The idempotency key is made of the meeting, the recipient, the SEQUENCE, the method and the
cause; the invitation row notes the SEQUENCE it was last sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.imip import ImipMethod, build_invite_message
from calendars.invite_spec import EventSpec
from calendars.invites import build_cancel, build_request
from orchestrator.core.models import Invitation, Meeting
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import render_mail
from orchestrator.messaging.invite_content import cancel_content, invite_context
from orchestrator.messaging.invitees import MeetingFacts, Recipient
from orchestrator.messaging.outgoing_mail import already_queued, envelope, queue_email


def invite_key(
    meeting: Meeting, recipient: Recipient, sequence: int, method: str, cause: str
) -> str:
    return f"invite:{meeting.id}:{recipient.ident}:{sequence}:{method}:{cause}"


# Which mail template and which calendar body each method is sent with.
_METHODS: dict[ImipMethod, tuple[str, Callable[[EventSpec], bytes]]] = {
    "REQUEST": ("invite", build_request),
    "CANCEL": ("cancel", build_cancel),
}


# What a message says, built only once it is known not to be queued yet.
Content = Callable[[], Awaitable[tuple[EventSpec, dict[str, Any]]]]


async def send_request(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
    cause: str,
    update: bool,
) -> bool:
    """Queue one recipient's METHOD:REQUEST; False when this exact one was queued before."""

    async def content() -> tuple[EventSpec, dict[str, Any]]:
        spec, context = await invite_context(session, facts, recipient, settings, now=now)
        context["update"] = update
        return spec, context

    sequence = facts.meeting.calendar_sequence
    key = invite_key(facts.meeting, recipient, sequence, "REQUEST", cause)
    return await _queue_itip(session, "REQUEST", content, facts, recipient, settings, key, now)


async def send_cancel(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
    removed: bool,
    sequence: int,
) -> bool:
    """Queue one recipient's METHOD:CANCEL with ``sequence`` (above anything they were sent)."""

    async def content() -> tuple[EventSpec, dict[str, Any]]:
        return cancel_content(
            facts, recipient, settings, now=now, sequence=sequence, removed=removed
        )

    cause = "removed" if removed else "cancelled"
    key = invite_key(facts.meeting, recipient, sequence, "CANCEL", cause)
    return await _queue_itip(session, "CANCEL", content, facts, recipient, settings, key, now)


async def _queue_itip(
    session: AsyncSession,
    method: ImipMethod,
    content: Content,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    key: str,
    now: datetime,
) -> bool:
    """Render one iTIP message for ``recipient`` unless ``key`` was queued before; queue it,
    and note the SEQUENCE sent. False when it was queued before."""
    if await already_queued(session, key):
        return False
    spec, context = await content()
    template, build_calendar = _METHODS[method]
    body = render_mail(
        template, context, easy_read=recipient.easy_read, language=recipient.language
    )
    message = build_invite_message(
        method=method,
        ics=build_calendar(spec),
        **envelope(
            settings, to_name=recipient.name, to_addr=recipient.email, body=body, key=key, now=now
        ),
    )
    await queue_email(
        session,
        message,
        to_addr=recipient.email,
        key=key,
        topic=f"invite.{method.lower()}",
        now=now,
        case_id=facts.meeting.case_id,
        meeting_id=facts.meeting.id,
    )
    if recipient.invitation is not None:
        recipient.invitation.last_sequence_sent = spec.sequence
        if method == "REQUEST":
            recipient.invitation.last_request_at = now
    return True


def next_sequence(meeting: Meeting) -> int:
    """Take the meeting's next calendar SEQUENCE for a change about to be sent."""
    meeting.calendar_sequence += 1
    return meeting.calendar_sequence


async def highest_sequence_sent(session: AsyncSession, meeting_id: uuid.UUID) -> int:
    """The highest SEQUENCE any party of the meeting was sent (-1 when none)."""
    highest = await session.scalar(
        select(func.max(Invitation.last_sequence_sent)).where(
            col(Invitation.meeting_id) == meeting_id
        )
    )
    return int(highest) if highest is not None else -1
