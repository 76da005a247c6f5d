"""JSON API: a meeting's written agreement (draft, revise, read) and the Child's View share."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlmodel import SQLModel

from orchestrator.closing import agreements, meeting_papers
from orchestrator.closing.agreements import AgreementDraft, AgreementView
from orchestrator.core.errors import NotFound
from orchestrator.core.models import PartyRole, StaffRole
from orchestrator.web.api.outcomes import load_meeting
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("agreements")
MEDIATORS = {StaffRole.mediator}
READERS = {StaffRole.scheduler, StaffRole.mediator}


class AgreementActionPublic(SQLModel):
    owner_party_id: uuid.UUID | None
    owner: str
    action: str
    due: date | None


class AgreementAnswerPublic(SQLModel):
    party_id: uuid.UUID
    role: PartyRole
    confirmed: bool | None  # null: not answered yet
    comment: str | None
    answered_at: datetime | None


class AgreementPublic(SQLModel):
    id: uuid.UUID
    meeting_id: uuid.UUID
    case_id: uuid.UUID
    version: int
    issues: list[str]
    agreed_text: str
    actions: list[AgreementActionPublic]
    answers: list[AgreementAnswerPublic]
    sent_at: datetime
    final_at: datetime | None


class SharedPaper(SQLModel):
    document_id: uuid.UUID
    shared_with: list[uuid.UUID]


def _public(view: AgreementView) -> AgreementPublic:
    found = view.agreement
    return AgreementPublic(
        id=found.id,
        meeting_id=found.meeting_id,
        case_id=found.case_id,
        version=found.version,
        issues=list(found.issues),
        agreed_text=found.agreed_text,
        actions=[
            AgreementActionPublic(
                owner_party_id=a.owner_party_id, owner=a.owner_label, action=a.action, due=a.due_on
            )
            for a in view.actions
        ],
        answers=[
            AgreementAnswerPublic(
                party_id=a.party.id,
                role=a.party.role,
                confirmed=a.confirmed,
                comment=a.comment,
                answered_at=a.answered_at,
            )
            for a in view.answers
        ],
        sent_at=found.sent_at,
        final_at=found.final_at,
    )


@router.post(
    "/meetings/{meeting_id}/agreement",
    body=AgreementDraft,
    response=AgreementPublic,
    roles=MEDIATORS,
)
async def send_agreement(ctx: ApiContext, body: AgreementDraft) -> AgreementPublic:
    """Send the written agreement (or a revision) to every party to confirm."""
    meeting, case = await load_meeting(ctx)
    agreement = await agreements.send_for_confirmation(
        ctx.session,
        case=case,
        meeting=meeting,
        draft=body,
        settings=ctx.settings,
        now=ctx.now,
        actor=ctx.actor,
        drafted_by=ctx.user.id,
    )
    return _public(await agreements.view_of(ctx.session, agreement))


@router.get("/meetings/{meeting_id}/agreement", response=AgreementPublic, roles=READERS)
async def get_agreement(ctx: ApiContext) -> AgreementPublic:
    """Read the written agreement and each party's answer to its current version."""
    meeting, _case = await load_meeting(ctx)
    view = await agreements.meeting_view(ctx.session, meeting_id=meeting.id)
    if view is None:
        raise NotFound("agreement", meeting.id)
    return _public(view)


@router.post("/meetings/{meeting_id}/childs-view/share", response=SharedPaper, roles=MEDIATORS)
async def share_childs_view(ctx: ApiContext) -> SharedPaper:
    """Share the case's Child's View with every party, as the meeting starts."""
    meeting, _case = await load_meeting(ctx)
    document = await meeting_papers.share_childs_view(
        ctx.session, meeting=meeting, now=ctx.now, actor=ctx.actor
    )
    return SharedPaper(
        document_id=document.id, shared_with=[uuid.UUID(p) for p in document.shared_with]
    )
