"""Disagreement resolution's "will you take part?": the request, the answer, a "no" that ends it.

Each other party (not the family, not a supporter) is asked whether they will take part,
and answers by a ``consent`` link (``/c/{token}``). A "no" from a required party means the
meeting cannot go ahead: a meeting already booked is cancelled for everyone, the case
moves on to its certificate, due 3 working days after the answer, and the scheduler sees
it on the deadline board. That "no" is final: the case's transition table has no edge back
from a recorded outcome (decision record 013), so the consent page says so and gives the
help line.

The request goes through the outbox under one idempotency key per case and person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.workdays import WorkingDays
from orchestrator.cases import links, timeline
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.events import EventBus, PartyReplied
from orchestrator.core.models import (
    FAMILY_ROLES,
    OPEN_CASE_STATUSES,
    ROLE_WORDS,
    Case,
    CaseKind,
    CaseStatusCause,
    LinkScope,
    Party,
    PartyRole,
    TimelineEntry,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.outgoing_mail import send_own_link
from orchestrator.scheduling import cancelling

SUPPORTER_ROLES = frozenset(
    {PartyRole.sendiass, PartyRole.advocate, PartyRole.interpreter, PartyRole.observer}
)
CONSENT_ANSWERS = {"yes": "will_take_part", "no": "will_not_take_part"}


def needs_consent(case: Case, party: Party) -> bool:
    """Disagreement resolution asks every other side whether it will take part."""
    return (
        case.kind is CaseKind.disagreement_resolution
        and party.role not in FAMILY_ROLES
        and party.role not in SUPPORTER_ROLES
        and bool(party.email)
    )


async def send_consent_request(
    session: AsyncSession, *, case: Case, party: Party, settings: Settings, now: datetime
) -> bool:
    """Ask one other party whether they will take part, with their own yes/no link."""
    if not needs_consent(case, party) or party.email is None:
        return False
    sent = await send_own_link(
        session,
        case=case,
        party=party,
        scope=LinkScope.consent,
        kind="consent_request",
        key=f"notice:consent:{case.id}:{party.id}",
        url_name="consent_url",
        settings=settings,
        now=now,
    )
    if not sent:
        return False
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="consent.requested",
        summary=f"Asked {timeline.a_party(party.role, first=False)} whether they will take part",
        at=now,
    )
    return True


@dataclass(frozen=True)
class ConsentView:
    case: Case
    party: Party
    answer: str | None  # "yes", "no" or None


async def open_consent(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> ConsentView:
    """Check a consent link; raise LinkInvalid when it does not work."""
    case, party = await links.resolve_party_link(
        session,
        token,
        scope=LinkScope.consent,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    return ConsentView(case=case, party=party, answer=await consent_answer(session, party))


async def consent_answer(session: AsyncSession, party: Party) -> str | None:
    """The party's latest answer to "will you take part?", if any."""
    entry = await session.scalar(
        select(TimelineEntry)
        .where(
            col(TimelineEntry.party_id) == party.id, col(TimelineEntry.kind) == "consent.answered"
        )
        .order_by(col(TimelineEntry.at).desc())
        .limit(1)
    )
    if entry is None or not entry.details:
        return None
    answer = entry.details.get("answer")
    return str(answer) if answer else None


def answer_is_final(view: ConsentView) -> bool:
    """A "no" stands once the case has moved on: nothing in the case's table leads back."""
    return view.answer == "no" and view.case.status not in OPEN_CASE_STATUSES


def final_answer_words(settings: Settings) -> str:
    """What a party is told when they try to change a "no" that has ended the case."""
    who = settings.service_name + (f" on {settings.help_line}" if settings.help_line else "")
    return (
        "your answer was no, and the case has moved on without a meeting, so the answer is "
        f"final and cannot be changed here; to talk about it, call {who}"
    )


def will_not_take_part(role: PartyRole) -> str:
    """The reason a "no" gives, in the service's words: "School will not take part"."""
    return f"{ROLE_WORDS[role]} will not take part"


async def declined_by(session: AsyncSession, case: Case) -> Party | None:
    """The party whose "no" ended a disagreement resolution case, if one did."""
    entry = await session.scalar(
        select(TimelineEntry)
        .where(col(TimelineEntry.case_id) == case.id, col(TimelineEntry.kind) == "case.declined")
        .order_by(col(TimelineEntry.at).desc())
        .limit(1)
    )
    if entry is None or entry.party_id is None:
        return None
    return await session.get(Party, entry.party_id)


async def answer_consent(
    session: AsyncSession,
    token: str,
    *,
    answer: str,
    settings: Settings,
    now: datetime,
    bus: EventBus,
) -> ConsentView:
    """Record yes or no; the same answer again changes nothing. A "no" moves the case on,
    and is final once it has (409)."""
    if answer not in CONSENT_ANSWERS:
        raise ValidationFailed("choose yes or no")
    view = await open_consent(session, token, settings=settings, now=now)
    if view.answer == answer:
        return view
    if answer_is_final(view):
        raise InvalidState(final_answer_words(settings), details={"answer": view.answer})
    add_timeline(
        session,
        case_id=view.case.id,
        party_id=view.party.id,
        kind="consent.answered",
        summary=(
            f"{timeline.a_party(view.party.role)} "
            + ("will take part" if answer == "yes" else "will not take part")
        ),
        at=now,
        details={"answer": answer},
    )
    if answer == "no":
        calendar = WorkingDays(settings.bank_holiday_region)
        await _will_not_take_part(session, view, now=now, calendar=calendar, bus=bus)
    await session.flush()
    await bus.emit(
        session,
        PartyReplied(
            case_id=view.case.id, at=now, party_id=view.party.id, answer=CONSENT_ANSWERS[answer]
        ),
    )
    return ConsentView(case=view.case, party=view.party, answer=answer)


async def _will_not_take_part(
    session: AsyncSession,
    view: ConsentView,
    *,
    now: datetime,
    calendar: WorkingDays,
    bus: EventBus,
) -> None:
    """Disagreement resolution is voluntary for everyone: a required side saying no ends it.

    The case leaves the scheduling stages, and its certificate clock starts from the day
    of the answer (``declined_on``), which keeps it on the scheduler's deadline board
    until the certificate is issued. A meeting already booked is cancelled as staff would
    cancel it: everyone gets the CANCEL, reminders stop, write-back hears of it. An
    optional party's "no" leaves the meeting to go ahead without them.
    """
    case, party = view.case, view.party
    if (
        case.kind is not CaseKind.disagreement_resolution
        or case.status not in OPEN_CASE_STATUSES
        or not party.required
    ):
        return
    await cancelling.end_without_meeting(
        session,
        case,
        party=party,
        cause=CaseStatusCause.consent_declined,
        reason=will_not_take_part(party.role),
        said=(
            "Disagreement resolution cannot go ahead: "
            f"{timeline.a_party(party.role, first=False)} will not take part"
        ),
        now=now,
        bus=bus,
        calendar=calendar,
        actor=f"party:{party.id}",
    )
