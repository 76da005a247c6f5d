"""JSON API: a meeting's outcome, a case's certificates, its timeline and its audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import SQLModel

from orchestrator.cases import intake, visibility
from orchestrator.closing import certificate_files, certificates, outcomes
from orchestrator.closing.certificates import CertificateList, CertificatePublic, CertificateRequest
from orchestrator.closing.outcomes import OutcomeCreate, OutcomePublic
from orchestrator.core import records
from orchestrator.core.errors import NotFound
from orchestrator.core.models import Case, Meeting, StaffRole
from orchestrator.scheduling import lookups
from orchestrator.web.api.cases import load_case
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import WORKDAYS

router = ApiRouter("outcomes")
MEDIATORS = {StaffRole.mediator}
READERS = {StaffRole.scheduler, StaffRole.mediator}
ADMINS = {StaffRole.admin}


class TimelineItem(SQLModel):
    id: uuid.UUID
    at: datetime
    kind: str
    summary: str
    actor: str | None
    meeting_id: uuid.UUID | None
    party_id: uuid.UUID | None


class Timeline(SQLModel):
    case_id: uuid.UUID
    entries: list[TimelineItem]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=200, ge=1, le=1000)
    before: AwareDatetime | None = Field(default=None, description="only rows older than this")


class AuditItem(BaseModel):
    at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str = Field(description="``METHOD /api/path`` or ``page ...`` or what was done")
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None


class AuditTrail(BaseModel):
    case_id: uuid.UUID
    entries: list[AuditItem]


async def _may_see(ctx: ApiContext, case: Case, meeting: Meeting | None = None) -> bool:
    """Staff other than mediators see every case; a mediator sees the ones they run."""
    return (await visibility.scope_of(ctx.session, ctx.user)).sees_case(case, meeting)


async def load_meeting(ctx: ApiContext) -> tuple[Meeting, Case]:
    """The meeting in the path and its case, if the caller may see them."""
    meeting_id = ctx.path_id("meeting_id")
    meeting = await lookups.get_meeting(ctx.session, meeting_id)
    case = await intake.get_case(ctx.session, meeting.case_id)
    ctx.audit_case_id = case.id
    if not await _may_see(ctx, case, meeting):
        raise NotFound("meeting", meeting_id)  # not theirs: as if it did not exist
    return meeting, case


@router.post(
    "/meetings/{meeting_id}/outcome",
    body=OutcomeCreate,
    response=OutcomePublic,
    status=201,
    roles=MEDIATORS,
)
async def record_outcome(ctx: ApiContext, body: OutcomeCreate) -> OutcomePublic:
    """Record the meeting's outcome and confirm attendance; starts the certificate clock."""
    meeting, case = await load_meeting(ctx)
    outcome = await outcomes.record_outcome(
        ctx.session,
        meeting=meeting,
        data=body,
        now=ctx.now,
        bus=ctx.bus,
        actor=ctx.actor,
        recorded_by=ctx.user.id,
    )
    return outcomes.outcome_public(outcome, case=case, calendar=ctx.app[WORKDAYS])


@router.get("/meetings/{meeting_id}/outcome", response=OutcomePublic, roles=READERS)
async def get_outcome(ctx: ApiContext) -> OutcomePublic:
    """Read the meeting's recorded outcome."""
    meeting, case = await load_meeting(ctx)
    outcome = await outcomes.get_outcome(ctx.session, meeting_id=meeting.id)
    return outcomes.outcome_public(outcome, case=case, calendar=ctx.app[WORKDAYS])


@router.post(
    "/cases/{case_id}/certificates",
    body=CertificateRequest,
    response=CertificatePublic,
    status=201,
    roles=READERS,
)
async def issue_certificate(ctx: ApiContext, body: CertificateRequest) -> CertificatePublic:
    """Issue a certificate (PDF, numbered, emailed to the family and the LA)."""
    case = await load_case(ctx)
    certificate = await certificates.issue_certificate(
        ctx.session,
        case=case,
        request=body,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        actor=ctx.actor,
    )
    ctx.audit_details = {"certificate": certificate.number, "kind": certificate.kind.value}
    return certificates.certificate_public(certificate, case=case)


@router.get("/cases/{case_id}/certificates", response=CertificateList, roles=READERS)
async def list_certificates(ctx: ApiContext) -> CertificateList:
    """List the case's certificates, oldest first."""
    case = await load_case(ctx)
    found = await certificates.list_certificates(ctx.session, case_id=case.id)
    return CertificateList(
        certificates=[certificates.certificate_public(c, case=case) for c in found]
    )


@router.get(
    "/certificates/{certificate_id}.pdf", roles=READERS, response_content_type="application/pdf"
)
async def certificate_pdf(ctx: ApiContext) -> web.Response:
    """Download a certificate's PDF."""
    certificate_id = ctx.path_id("certificate_id")
    certificate = await certificates.get_certificate(ctx.session, certificate_id)
    case = await intake.get_case(ctx.session, certificate.case_id)
    ctx.audit_case_id = case.id
    ctx.audit_details = {"certificate": certificate.number}
    if not await _may_see(ctx, case):
        raise NotFound("certificate", certificate_id)
    return web.Response(
        body=certificate_files.read_pdf(certificate),
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{certificate.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/cases/{case_id}/timeline", response=Timeline, roles=READERS)
async def case_timeline(ctx: ApiContext) -> Timeline:
    """The case's one record of everything that happened, oldest first."""
    case = await load_case(ctx)
    entries = await records.list_timeline(ctx.session, case_id=case.id)
    return Timeline(
        case_id=case.id,
        entries=[TimelineItem.model_validate(e, from_attributes=True) for e in entries],
    )


@router.get("/cases/{case_id}/audit", query=AuditQuery, response=AuditTrail, roles=ADMINS)
async def case_audit(ctx: ApiContext, query: AuditQuery) -> AuditTrail:
    """Who on the staff read or changed the case, and how; newest first, admins only."""
    case = await load_case(ctx)
    rows = await records.audit_trail(
        ctx.session, case_id=case.id, before=query.before, limit=query.limit
    )
    return AuditTrail(
        case_id=case.id,
        entries=[
            AuditItem(
                at=event.at,
                actor_id=event.actor_id,
                actor_role=role.value if role is not None else None,
                action=event.action,
                target_type=event.target_type,
                target_id=event.target_id,
                details=event.details,
            )
            for event, role in rows
        ],
    )
