"""What an old join link tells its holder once the meeting was cancelled or moved.

A join link dies when its meeting is cancelled or moved (``links.verdict``). Its holder
is told what happened instead of a bare refusal: for a cancelled meeting, when it was to be,
why (the scheduler's words, as typed) and who to call; for a moved one, when it is now and
that the newest email carries their new link. The old link never opens the new time's room:
each invitation's link belongs to the calendar entry it came with, and the move may have
changed how people join. Only a genuine link whose holder is still invited learns any of
this: a tampered, withdrawn or expired link, or one of a person taken off the meeting, gets
the neutral refusal, alike at every door.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.cases import links
from orchestrator.core import languages
from orchestrator.core.models import Case, LinkScope, Meeting, Party
from orchestrator.scheduling import lookups

# The verdicts whose holder is told what became of the meeting.
TOLD = frozenset({links.Verdict.cancelled, links.Verdict.superseded})


@dataclass(frozen=True)
class Cancelled:
    """The meeting will not happen: when it was to be, why, and (on the page) who to call."""

    first_name: str
    when: str
    reason: str | None
    language: str = languages.ENGLISH


@dataclass(frozen=True)
class Moved:
    """The meeting is at a new time; the newest email (sent on ``emailed_on``) has the link."""

    first_name: str
    when: str
    emailed: bool  # whether we hold an email address to have sent the new details to
    emailed_on: str | None
    language: str = languages.ENGLISH


async def notice_for(
    session: AsyncSession,
    token: str,
    *,
    secret: str,
    now: datetime,
    pick_language: Callable[[str | None], str] = lambda own: languages.language(own).code,
) -> Cancelled | Moved:
    """What the holder of this dead join link is told; LinkInvalid (neutral) otherwise.

    ``pick_language`` chooses the notice's language from the holder's own (a page may
    prefer the one its reader switched to).
    """
    resolved, found = await links.inspect(
        session, token, scope=LinkScope.join_room, secret=secret, now=now
    )
    meeting = resolved.meeting
    if found not in TOLD or meeting is None:
        raise links.refusal(found if found is not links.Verdict.live else links.Verdict.unknown)
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    holder = await _holder_name(session, resolved, meeting)
    if holder is None:
        raise links.refusal(links.Verdict.revoked)
    code = pick_language(resolved.party.language if resolved.party else None)
    locale = languages.language(code).locale
    when = wording.when(meeting.start_at, meeting.end_at, zone=case.timezone, locale=locale)
    if found is links.Verdict.cancelled:
        reason = meeting.cancel_reason or None
        return Cancelled(first_name=holder, when=when, reason=reason, language=code)
    return await _moved(session, resolved.party, meeting, case, (holder, when, code))


async def _holder_name(
    session: AsyncSession, resolved: links.Resolved, meeting: Meeting
) -> str | None:
    """The link holder's first name, or None when they are no longer invited to the meeting."""
    party = resolved.party
    if party is None:
        if resolved.link.mediator_id is None or resolved.link.mediator_id != meeting.mediator_id:
            return None
        _, mediator, _ = await lookups.join_details(session, meeting=meeting, party=None)
        return _first(mediator.name if mediator else "")
    invitation = await lookups.party_invitation(session, meeting_id=meeting.id, party_id=party.id)
    if invitation is not None and invitation.cancelled_at is not None:
        return None
    return _first(party.name)


async def _moved(
    session: AsyncSession,
    party: Party | None,
    meeting: Meeting,
    case: Case,
    told: tuple[str, str, str],
) -> Moved:
    """Where the meeting went, and when the holder was sent its new details."""
    name, when, code = told
    emailed_on = None
    if party is not None:
        invitation = await lookups.party_invitation(
            session, meeting_id=meeting.id, party_id=party.id
        )
        sent = invitation.last_request_at if invitation is not None else None
        locale = languages.language(code).locale
        emailed_on = wording.day(sent, zone=case.timezone, locale=locale) if sent else None
    emailed = party is None or bool(party.email)
    return Moved(first_name=name, when=when, emailed=emailed, emailed_on=emailed_on, language=code)


def _first(name: str) -> str:
    return (name.split() or [""])[0]
