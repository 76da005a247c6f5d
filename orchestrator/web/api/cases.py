"""JSON API: cases, their parties, mediators."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict

from orchestrator.cases import deadlines, intake, panel, roster, visibility
from orchestrator.core.models import (
    AssignMediator,
    Case,
    CaseCreate,
    CaseList,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    MediatorCreate,
    MediatorPublic,
    PartyCreate,
    PartyList,
    PartyPublic,
    PartyUpdate,
    StaffRole,
)
from orchestrator.messaging import party_invitations
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import WORKDAYS

router = ApiRouter("cases")
SCHEDULING = {StaffRole.scheduler}
CASE_READERS = {StaffRole.scheduler, StaffRole.mediator}


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = None
    due_before: date | None = None
    mediator: uuid.UUID | None = None


class MediatorList(BaseModel):
    mediators: list[MediatorPublic]


async def present_case(ctx: ApiContext, case: Case, *, with_history: bool = False) -> CasePublic:
    return await deadlines.present_case(
        ctx.session,
        case,
        default_target_days=ctx.settings.target_days,
        calendar=ctx.app[WORKDAYS],
        now=ctx.now,
        with_history=with_history,
    )


async def load_case(ctx: ApiContext) -> Case:
    """The case named in the path, if the caller may see it (mediators: their own cases)."""
    case = await intake.get_case(ctx.session, ctx.path_id("case_id"))
    ctx.audit_case_id = case.id
    # Not theirs: indistinguishable from a case that does not exist.
    return visibility.check_case(await visibility.scope_of(ctx.session, ctx.user), case)


@router.post("/cases", body=CaseCreate, response=CasePublic, status=201, roles=SCHEDULING)
async def create_case(ctx: ApiContext, body: CaseCreate) -> CasePublic:
    """Open a case from a referral; answers with its clocks."""
    case = await intake.create_case(
        ctx.session, data=body, now=ctx.now, bus=ctx.bus, actor=ctx.actor
    )
    ctx.audit_case_id = case.id
    return await present_case(ctx, case)


@router.get("/cases", query=CaseQuery, response=CaseList, roles=CASE_READERS)
async def list_cases(ctx: ApiContext, query: CaseQuery) -> CaseList:
    """List cases, most urgent target first (filters: status, due before, mediator)."""
    scope = await visibility.scope_of(ctx.session, ctx.user)
    found = await intake.list_cases(ctx.session, status=query.status, mediator_id=query.mediator)
    shown = []
    for case in found:
        if not scope.sees_case(case):
            continue
        public = await present_case(ctx, case)
        if query.due_before and public.deadlines.target.date >= query.due_before:
            continue
        shown.append(public)
    shown.sort(key=lambda c: (c.deadlines.target.date, c.reference))
    ctx.audit_details = {"case_ids": [str(c.id) for c in shown]}
    return CaseList(cases=shown)


@router.get("/cases/{case_id}", response=CasePublic, roles=CASE_READERS)
async def get_case(ctx: ApiContext) -> CasePublic:
    """Read one case with its clocks and the changes of its status."""
    return await present_case(ctx, await load_case(ctx), with_history=True)


@router.patch("/cases/{case_id}", body=CaseUpdate, response=CasePublic, roles=SCHEDULING)
async def update_case(ctx: ApiContext, body: CaseUpdate) -> CasePublic:
    """Change a case's decision date, LA, region or target, or close or withdraw it.

    Other statuses follow what happens (a poll, a booking, the session, its outcome, the
    certificate); asking for one answers 409 with the case's status and the one asked.
    """
    case = await load_case(ctx)
    case = await intake.update_case(ctx.session, case=case, data=body, now=ctx.now, actor=ctx.actor)
    return await present_case(ctx, case)


@router.post(
    "/cases/{case_id}/mediator", body=AssignMediator, response=CasePublic, roles=SCHEDULING
)
async def assign_mediator(ctx: ApiContext, body: AssignMediator) -> CasePublic:
    """Assign the case's mediator."""
    case = await load_case(ctx)
    mediator = await panel.get_mediator(ctx.session, body.mediator_id)
    await panel.assign_mediator(
        ctx.session, case=case, mediator=mediator, now=ctx.now, actor=ctx.actor, bus=ctx.bus
    )
    return await present_case(ctx, case)


@router.post(
    "/cases/{case_id}/parties", body=PartyCreate, response=PartyPublic, status=201, roles=SCHEDULING
)
async def add_party(ctx: ApiContext, body: PartyCreate) -> PartyPublic:
    """Add a person to the case."""
    case = await load_case(ctx)
    party = await roster.add_party(
        ctx.session, case=case, data=body, now=ctx.now, bus=ctx.bus, actor=ctx.actor
    )
    return roster.party_public(party)


@router.get("/cases/{case_id}/parties", response=PartyList, roles=CASE_READERS)
async def list_parties(ctx: ApiContext) -> PartyList:
    """List the case's current parties."""
    case = await load_case(ctx)
    parties = await roster.list_parties(ctx.session, case_id=case.id)
    return PartyList(parties=[roster.party_public(p) for p in parties])


@router.patch(
    "/cases/{case_id}/parties/{party_id}", body=PartyUpdate, response=PartyPublic, roles=SCHEDULING
)
async def update_party(ctx: ApiContext, body: PartyUpdate) -> PartyPublic:
    """Change a party's details."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=ctx.path_id("party_id"))
    party = await roster.update_party(
        ctx.session, party=party, data=body, now=ctx.now, actor=ctx.actor
    )
    return roster.party_public(party)


@router.delete("/cases/{case_id}/parties/{party_id}", status=204, roles=SCHEDULING)
async def remove_party(ctx: ApiContext) -> None:
    """Remove a party; their links stop working at once."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=ctx.path_id("party_id"))
    await roster.remove_party(ctx.session, party=party, now=ctx.now, bus=ctx.bus, actor=ctx.actor)


@router.post("/cases/{case_id}/parties/{party_id}/revoke-links", status=204, roles=SCHEDULING)
async def revoke_party_links(ctx: ApiContext) -> None:
    """Withdraw every link a party holds (a lost phone, a forwarded email); resend gives new."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=ctx.path_id("party_id"))
    await roster.revoke_party_links(ctx.session, party=party, now=ctx.now, actor=ctx.actor)


class PartyResent(BaseModel):
    """What was sent again to one person: invitations (one per live meeting) and poll links."""

    party_id: uuid.UUID
    invites_queued: int
    poll_links_queued: int
    new_links: bool


@router.post("/cases/{case_id}/parties/{party_id}/resend", response=PartyResent, roles=SCHEDULING)
async def resend_to_party(ctx: ApiContext) -> PartyResent:
    """Send one person their current invitation or poll link again (new links if withdrawn)."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=ctx.path_id("party_id"))
    sent = await party_invitations.resend_to_party(
        ctx.session, case=case, party=party, settings=ctx.settings, now=ctx.now, actor=ctx.actor
    )
    return PartyResent(
        party_id=party.id,
        invites_queued=sent.invites,
        poll_links_queued=sent.polls,
        new_links=sent.new_links,
    )


@router.post(
    "/mediators", body=MediatorCreate, response=MediatorPublic, status=201, roles=SCHEDULING
)
async def create_mediator(ctx: ApiContext, body: MediatorCreate) -> MediatorPublic:
    """Register a mediator with working hours, capacity and (optionally) a calendar."""
    mediator = await panel.create_mediator(ctx.session, data=body, now=ctx.now)
    return panel.mediator_public(mediator)


@router.get("/mediators", response=MediatorList, roles=CASE_READERS)
async def list_mediators(ctx: ApiContext) -> MediatorList:
    """List active mediators."""
    return MediatorList(
        mediators=[panel.mediator_public(m) for m in await panel.list_mediators(ctx.session)]
    )


@router.get("/mediators/{mediator_id}", response=MediatorPublic, roles=CASE_READERS)
async def get_mediator(ctx: ApiContext) -> MediatorPublic:
    """Read one mediator."""
    return panel.mediator_public(await panel.get_mediator(ctx.session, ctx.path_id("mediator_id")))
