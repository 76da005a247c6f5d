"""The agreement's messages: "please check it" with the person's own link, and the final copy.

Each goes through the outbox under its own key, so a retried transaction never sends it
twice. A person with an email address gets the final copy as a PDF attached; a person
the service texts (``channels.texts_person``) gets a text with their link, where the
page offers the same PDF.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from calendars.imip import build_plain_message
from orchestrator.cases import links
from orchestrator.core.models import Agreement, LinkScope, Meeting, Party, is_person_name
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import render_mail
from orchestrator.messaging import party_messages
from orchestrator.messaging.action_reminders import agreement_url
from orchestrator.messaging.outgoing_mail import already_queued, envelope, queue_email

PDF_NAME = "mediation-agreement.pdf"


async def _link_url(
    session: AsyncSession,
    *,
    party: Party,
    agreement: Agreement,
    settings: Settings,
    now: datetime,
    fresh: bool,
) -> str:
    """The party's agreement link: a new one (older ones stop working), or their live one."""
    if fresh:
        await links.revoke_for(session, now=now, party_id=party.id, scope=LinkScope.agreement)
    return await agreement_url(
        session, party=party, agreement=agreement, settings=settings, now=now
    )


async def ask_to_confirm(
    session: AsyncSession,
    *,
    agreement: Agreement,
    party: Party,
    meeting: Meeting,
    settings: Settings,
    now: datetime,
) -> None:
    """Send the party their link to read this version and say whether it is right."""
    url = await _link_url(
        session, party=party, agreement=agreement, settings=settings, now=now, fresh=True
    )
    key = f"agreement:{agreement.id.hex}:v{agreement.version}:{party.id.hex}"
    context = {
        "recipient_name": party.name,
        "agreement_url": url,
        "revised": agreement.version > 1,
    }
    await party_messages.tell(
        session,
        party=party,
        kind="agreement_request",
        key=key,
        context=context,
        settings=settings,
        now=now,
        meeting_id=meeting.id,
    )


async def send_final(
    session: AsyncSession,
    *,
    agreement: Agreement,
    party: Party,
    pdf: bytes,
    settings: Settings,
    now: datetime,
) -> None:
    """Send the party their copy of the final agreement: attached, or a text with the link."""
    url = await _link_url(
        session, party=party, agreement=agreement, settings=settings, now=now, fresh=False
    )
    key = f"agreement-final:{agreement.id.hex}:{party.id.hex}"
    context = {"recipient_name": party.name, "agreement_url": url}
    if party.email and not await already_queued(session, key):
        values = {"service_name": settings.service_name, "help_line": settings.help_line}
        values.update(context)
        body = render_mail(
            "agreement_final", values, easy_read=party.easy_read, language=party.language
        )
        to_name = party.name if is_person_name(party.name) else ""
        message = build_plain_message(
            **envelope(settings, to_name=to_name, to_addr=party.email, body=body, key=key, now=now),
            attachments=[(PDF_NAME, "pdf", pdf)],
        )
        await queue_email(
            session,
            message,
            to_addr=party.email,
            key=key,
            topic="agreement_final",
            now=now,
            case_id=agreement.case_id,
            meeting_id=agreement.meeting_id,
        )
    # The mail with the PDF is built above; the text, with the link, is the usual one.
    await party_messages.tell(
        session,
        party=party,
        kind="agreement_final",
        key=key,
        context=context,
        settings=settings,
        now=now,
        meeting_id=agreement.meeting_id,
        mail=False,
    )
