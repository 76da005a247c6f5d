"""The email that carries a party's own poll link, queued in the outbox.

It says how long the meeting lasts, over which days the times fall and the date to reply
by (``poll_deadline``), in the case's zone; the link is personal, so the email asks that
it not be forwarded.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from calendars.imip import build_plain_message
from orchestrator.core.models import Case, OutboxKind, Party, Poll
from orchestrator.core.settings import Settings
from orchestrator.messaging import outbox
from orchestrator.scheduling.poll_deadline import reply_by_words
from orchestrator.scheduling.poll_times import poll_candidates

SUBJECT = "Please tell us when you can meet"


def _mail_domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _day_range(candidates: list[datetime], zone: ZoneInfo) -> str:
    first, last = candidates[0].astimezone(zone), candidates[-1].astimezone(zone)
    if first.date() == last.date():
        return f"on {wording.day(first)}"
    return f"between {wording.day(first)} and {wording.day(last)}"


async def queue_poll_email(
    session: AsyncSession,
    *,
    case: Case,
    poll: Poll,
    party: Party,
    url: str,
    now: datetime,
    settings: Settings,
    key: str | None = None,
) -> None:
    """Queue the party's poll email; ``key`` (default one per poll and party) dedupes it."""
    assert party.email is not None
    text, html = _poll_email_bodies(case=case, poll=poll, party=party, url=url, settings=settings)
    key = key or f"poll:{poll.id}:{party.id}"
    message = build_plain_message(
        subject=SUBJECT,
        from_name=settings.mail_from_name or settings.service_name,
        from_addr=settings.mail_from,
        to_name=party.name,
        to_addr=party.email,
        text_body=text,
        html_body=html,
        message_id_key=key,
        domain=_mail_domain(settings),
        date=now,
    )
    await outbox.enqueue(
        session,
        kind=OutboxKind.email,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[party.email]),
        now=now,
        topic="poll",
        case_id=case.id,
    )


def _poll_email_bodies(
    *, case: Case, poll: Poll, party: Party, url: str, settings: Settings
) -> tuple[str, str]:
    """The email's plain text and HTML, saying the same things."""
    candidates = poll_candidates(poll)
    hours = poll.duration_minutes / 60
    length = f"{hours:g} hour" + ("" if hours == 1 else "s")
    service, help_line = settings.service_name, settings.help_line
    when = _day_range(candidates, ZoneInfo(case.timezone))
    by = reply_by_words(poll, case=case, settings=settings)
    text = (
        f"Dear {party.name},\n\n"
        f"We are arranging your mediation meeting. It will last about {length}.\n\n"
        f"Please tell us which of {len(candidates)} possible times {when} you can make. "
        "It takes a couple of minutes, and you can change your answers later.\n\n"
        f"Please reply by {by}:\n\n"
        f"{url}\n\n"
        "If none of the times work, say so on the page and we will call you.\n"
        "This link is only for you: please do not forward it.\n\n"
        + (f"If you need help, call us on {help_line}.\n\n" if help_line else "")
        + f"{service}\n"
    )
    html = (
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(SUBJECT)}</title></head>"
        '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 16px; '
        'line-height: 1.5; color: #0b0c0c;">'
        f"<p>Dear {escape(party.name)},</p>"
        f"<p>We are arranging your mediation meeting. It will last about {length}.</p>"
        f"<p>Please tell us which of {len(candidates)} possible times {when} you can make. "
        "It takes a couple of minutes, and you can change your answers later.</p>"
        f"<p><strong>Please reply by {by}.</strong></p>"
        f'<p><a href="{escape(url)}">Tell us when you can meet</a></p>'
        "<p>If none of the times work, say so on the page and we will call you. "
        "This link is only for you: please do not forward it.</p>"
        + (f"<p>If you need help, call us on {escape(help_line)}.</p>" if help_line else "")
        + f"<p>{escape(service)}</p></body></html>"
    )
    return text, html
