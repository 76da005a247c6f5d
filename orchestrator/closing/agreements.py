"""The written agreement: drafted by the mediator, confirmed by every party, then final.

"Usually people reach an agreement, which is put in writing with the help of the
mediator. The Agreement has to be acceptable to all parties and a copy given to
everyone." The mediator drafts it from the outcome page: the issues, what was agreed, and
the actions (who will do what by when). Each party is asked, by their own ``agreement``
link, whether it is what was agreed, or what is wrong; a revision is a new version and
asks everyone again. When everyone asked has confirmed the current version it is final:
its PDF goes to every party (``agreement_mail``) and each dated action owned by a party
gets a reminder before its date (``agreement_actions``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel._compat import SQLModelConfig

from orchestrator.cases import roster, timeline
from orchestrator.closing import agreement_actions, agreement_mail, agreement_pdf
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.languages import N_
from orchestrator.core.models import (
    Agreement,
    AgreementAction,
    AgreementResponse,
    Case,
    Meeting,
    MeetingStatus,
    Party,
    PartyRole,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.party_messages import has_a_link_way

# Those at the meeting who are not parties to what is agreed.
NOT_ASKED = frozenset({PartyRole.interpreter, PartyRole.observer})


class ActionDraft(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    owner_party_id: uuid.UUID | None = None
    action: str = Field(min_length=1, max_length=1000)
    due: date | None = None


class AgreementDraft(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    issues: list[str] = Field(default_factory=list, max_length=50)
    agreed_text: str = Field(min_length=1, max_length=20000)
    actions: list[ActionDraft] = Field(default_factory=list, max_length=50)


class AgreementAnswer(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    confirmed: bool
    comment: str | None = Field(default=None, max_length=5000)


@dataclass(frozen=True)
class PartyAnswer:
    """Where one asked party stands on the current version."""

    party: Party
    confirmed: bool | None  # None: not answered yet
    comment: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class AgreementView:
    agreement: Agreement
    actions: list[AgreementAction]
    answers: list[PartyAnswer]

    @property
    def final(self) -> bool:
        return self.agreement.final_at is not None


# ---------------------------------------------------------------------------- reading


async def find_agreement(session: AsyncSession, *, meeting_id: uuid.UUID) -> Agreement | None:
    return await session.scalar(select(Agreement).where(col(Agreement.meeting_id) == meeting_id))


async def actions_of(session: AsyncSession, agreement: Agreement) -> list[AgreementAction]:
    found = await session.scalars(
        select(AgreementAction)
        .where(col(AgreementAction.agreement_id) == agreement.id)
        .order_by(col(AgreementAction.position))
    )
    return list(found.all())


async def view_of(session: AsyncSession, agreement: Agreement) -> AgreementView:
    """The agreement, its actions, and each asked party's answer to the current version."""
    responses = await session.scalars(
        select(AgreementResponse).where(
            col(AgreementResponse.agreement_id) == agreement.id,
            col(AgreementResponse.version) == agreement.version,
        )
    )
    by_party = {r.party_id: r for r in responses.all()}
    parties = {p.id: p for p in await roster.list_parties(session, case_id=agreement.case_id)}
    answers = []
    for raw in agreement.asked:
        party = parties.get(uuid.UUID(raw))
        if party is None:
            continue
        found = by_party.get(party.id)
        answers.append(
            PartyAnswer(
                party=party,
                confirmed=found.confirmed if found else None,
                comment=found.comment if found else None,
                answered_at=found.answered_at if found else None,
            )
        )
    return AgreementView(agreement, await actions_of(session, agreement), answers)


async def meeting_view(session: AsyncSession, *, meeting_id: uuid.UUID) -> AgreementView | None:
    agreement = await find_agreement(session, meeting_id=meeting_id)
    return None if agreement is None else await view_of(session, agreement)


# ---------------------------------------------------------------------------- drafting


def asked_parties(parties: list[Party], settings: Settings) -> list[Party]:
    """Who confirms the agreement: every party we can reach, not the interpreter or observer."""
    return [p for p in parties if p.role not in NOT_ASKED and has_a_link_way(p, settings)]


async def send_for_confirmation(
    session: AsyncSession,
    *,
    case: Case,
    meeting: Meeting,
    draft: AgreementDraft,
    settings: Settings,
    now: datetime,
    actor: str | None,
    drafted_by: uuid.UUID | None = None,
) -> Agreement:
    """Save the draft (a new version if one was sent) and ask every party to confirm it."""
    if meeting.status is MeetingStatus.cancelled or now < meeting.start_at:
        raise InvalidState("the agreement is written once the meeting has taken place")
    if not draft.agreed_text.strip() or any(not a.action.strip() for a in draft.actions):
        raise ValidationFailed("write what was agreed, and what each action is")
    parties = await roster.list_parties(session, case_id=case.id)
    owners = {p.id: p for p in parties}
    if any(a.owner_party_id and a.owner_party_id not in owners for a in draft.actions):
        raise ValidationFailed("an action names someone who is not a party to this case")
    asked = asked_parties(parties, settings)
    if not asked:
        raise ValidationFailed("nobody can be reached to confirm the agreement")
    agreement = await find_agreement(session, meeting_id=meeting.id)
    if agreement is not None and agreement.final_at is not None:
        raise InvalidState(N_("everyone has confirmed this agreement: it is final"))
    if agreement is None:
        agreement = Agreement(meeting_id=meeting.id, case_id=case.id, version=1)
        session.add(agreement)
    else:
        agreement.version += 1
    agreement.issues = [i.strip() for i in draft.issues if i.strip()]
    agreement.agreed_text = draft.agreed_text.strip()
    agreement.asked = [str(p.id) for p in asked]
    agreement.drafted_by = drafted_by
    agreement.sent_at = now
    await session.flush()
    await _replace_actions(session, agreement, draft, owners)
    for party in asked:
        await agreement_mail.ask_to_confirm(
            session, agreement=agreement, party=party, meeting=meeting, settings=settings, now=now
        )
    revised = agreement.version > 1
    add_timeline(
        session,
        case_id=case.id,
        meeting_id=meeting.id,
        kind="agreement.sent",
        summary=f"{'Revised agreement' if revised else 'Written agreement'} sent to "
        f"{len(asked)} {'person' if len(asked) == 1 else 'people'} to confirm",
        at=now,
        actor=actor,
        details={"version": agreement.version},
    )
    return agreement


async def _replace_actions(
    session: AsyncSession,
    agreement: Agreement,
    draft: AgreementDraft,
    owners: dict[uuid.UUID, Party],
) -> None:
    await session.execute(
        delete(AgreementAction).where(col(AgreementAction.agreement_id) == agreement.id)
    )
    for position, item in enumerate(draft.actions, start=1):
        owner = owners.get(item.owner_party_id) if item.owner_party_id else None
        session.add(
            AgreementAction(
                agreement_id=agreement.id,
                case_id=agreement.case_id,
                position=position,
                owner_party_id=owner.id if owner else None,
                owner_label=owner.name if owner else "",
                action=item.action.strip(),
                due_on=item.due,
            )
        )
    await session.flush()


# ---------------------------------------------------------------------------- answering


async def answer(
    session: AsyncSession,
    *,
    agreement: Agreement,
    party: Party,
    data: AgreementAnswer,
    settings: Settings,
    now: datetime,
) -> AgreementView:
    """Record the party's answer to the current version; the last confirmation makes it final."""
    if agreement.final_at is not None:
        raise InvalidState(N_("everyone has confirmed this agreement: it is final"))
    if str(party.id) not in agreement.asked:
        raise NotFound("agreement", agreement.id)
    comment = (data.comment or "").strip() or None
    if not data.confirmed and comment is None:
        raise ValidationFailed(N_("say what is wrong with the agreement"))
    found = await session.scalar(
        select(AgreementResponse).where(
            col(AgreementResponse.agreement_id) == agreement.id,
            col(AgreementResponse.party_id) == party.id,
            col(AgreementResponse.version) == agreement.version,
        )
    )
    if found is None:
        found = AgreementResponse(
            agreement_id=agreement.id,
            party_id=party.id,
            version=agreement.version,
            confirmed=data.confirmed,
        )
        session.add(found)
    found.confirmed = data.confirmed
    found.comment = None if data.confirmed else comment
    found.answered_at = now
    add_timeline(
        session,
        case_id=agreement.case_id,
        meeting_id=agreement.meeting_id,
        party_id=party.id,
        kind="agreement.answered",
        summary=f"{timeline.a_party(party.role)} "
        + (
            "confirmed the agreement"
            if data.confirmed
            else "said something in the agreement is wrong"
        ),
        at=now,
        actor=f"party:{party.id}",
        details={"version": agreement.version, "confirmed": data.confirmed},
    )
    await session.flush()
    view = await view_of(session, agreement)
    if view.answers and all(a.confirmed for a in view.answers):
        await _make_final(session, view, settings=settings, now=now)
    return view


async def _make_final(
    session: AsyncSession, view: AgreementView, *, settings: Settings, now: datetime
) -> None:
    """Everyone confirmed: lay out the PDF, send everyone their copy, plan the reminders."""
    agreement = view.agreement
    case = await session.get(Case, agreement.case_id)
    meeting = await session.get(Meeting, agreement.meeting_id)
    if case is None or meeting is None:
        raise NotFound("case", agreement.case_id)
    agreement.final_at = now
    text = agreement_pdf.agreement_text(case, meeting, view, settings=settings)
    pdf = agreement_pdf.render_pdf(text)
    agreement_pdf.store_pdf(session, agreement, pdf, settings)
    for item in view.answers:
        await agreement_mail.send_final(
            session, agreement=agreement, party=item.party, pdf=pdf, settings=settings, now=now
        )
    await agreement_actions.plan_reminders(
        session, case=case, actions=view.actions, settings=settings, now=now
    )
    add_timeline(
        session,
        case_id=agreement.case_id,
        meeting_id=agreement.meeting_id,
        kind="agreement.final",
        summary="Everyone confirmed the written agreement: their copy is sent",
        at=now,
        details={"version": agreement.version},
    )
