"""JSON API: a family's own referral (open to anyone), and schedulers accepting it into a
case or declining it. The staff page calls the same use-case functions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from orchestrator.cases import referrals
from orchestrator.core.models import (
    CasePublic,
    ReferralAccept,
    ReferralCreate,
    ReferralDecline,
    ReferralList,
    ReferralPublic,
    ReferralReceived,
    ReferralStatus,
    StaffRole,
)
from orchestrator.messaging import referral_replies
from orchestrator.web.api.routes import ApiContext, ApiRouter, PublicContext
from orchestrator.web.keys import WORKDAYS

router = ApiRouter("referrals")
SCHEDULING = {StaffRole.scheduler}

# Whoever sends it, whatever is already known: one answer (nothing tells a stranger who is
# on our books).
RECEIVED = (
    "Thank you. We have your referral and will contact you to take it, in the way and at "
    "the times you asked."
)


class ReferralQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ReferralStatus | None = ReferralStatus.new


@router.post(
    "/referrals", body=ReferralCreate, response=ReferralReceived, status=202, public_door="referral"
)
async def refer(ctx: PublicContext, body: ReferralCreate) -> ReferralReceived:
    """Refer yourself (no account): a parent, carer or young person asks for mediation."""
    await referrals.submit_referral(ctx.session, data=body, now=ctx.now, zone=ctx.settings.timezone)
    return ReferralReceived(message=RECEIVED)


def referral_public(referral: object) -> ReferralPublic:
    return ReferralPublic.model_validate(referral, from_attributes=True)


@router.get("/referrals", query=ReferralQuery, response=ReferralList, roles=SCHEDULING)
async def list_referrals(ctx: ApiContext, query: ReferralQuery) -> ReferralList:
    """List families' own referrals, oldest first (by default those waiting)."""
    found = await referrals.list_referrals(ctx.session, status=query.status)
    return ReferralList(referrals=[referral_public(r) for r in found])


@router.post(
    "/referrals/{referral_id}/accept", body=ReferralAccept, response=CasePublic, roles=SCHEDULING
)
async def accept_referral(ctx: ApiContext, body: ReferralAccept) -> CasePublic:
    """Accept a referral into a case (go-ahead: the day the family asked) and acknowledge it."""
    case, public = await referral_replies.accept_referral(
        ctx.session,
        referral_id=ctx.path_id("referral_id"),
        reference=body.reference.strip(),
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        bus=ctx.bus,
        now=ctx.now,
        actor=ctx.actor,
    )
    ctx.audit_case_id = case.id
    return public


@router.post(
    "/referrals/{referral_id}/decline",
    body=ReferralDecline,
    response=ReferralPublic,
    roles=SCHEDULING,
)
async def decline_referral(ctx: ApiContext, body: ReferralDecline) -> ReferralPublic:
    """Decline a referral with a reason; the family is told it."""
    referral = await referral_replies.decline_referral(
        ctx.session,
        referral_id=ctx.path_id("referral_id"),
        reason=body.reason,
        settings=ctx.settings,
        now=ctx.now,
        actor=ctx.actor,
    )
    return referral_public(referral)
