"""A party's links from the case page: withdraw them all, or send the current one again."""

from __future__ import annotations

from aiohttp import web

from orchestrator.cases import roster
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.messaging import party_invitations
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.cases import audit_case_write, case_and_party, case_page_with_errors
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


@routes.post("/staff/cases/{case_id}/parties/{party_id}/revoke-links")
@staff_page(roles=SCHEDULERS)
async def revoke_links(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Withdraw every link a party holds (a lost phone, a forwarded email)."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    party_id = parse_uuid(request.match_info["party_id"], "party")
    async with request.app[DB].write() as session:
        party = await roster.get_party(session, case_id=case_id, party_id=party_id)
        await roster.revoke_party_links(session, party=party, now=staff.now, actor=staff.actor)
        audit_case_write(session, staff, "links.revoke", case_id)
    raise see_other(f"/staff/cases/{case_id}?notice=revoked#parties")


@routes.post("/staff/cases/{case_id}/parties/{party_id}/resend")
@staff_page(roles=SCHEDULERS)
async def resend_to_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Send one person their current invitation or poll link again (new links if withdrawn)."""
    try:
        async with request.app[DB].write() as session:
            case, party = await case_and_party(session, request)
            await party_invitations.resend_to_party(
                session,
                case=case,
                party=party,
                settings=staff.settings,
                now=staff.now,
                actor=staff.actor,
            )
            audit_case_write(session, staff, "party.resend", case.id)
    except (InvalidState, ValidationFailed) as exc:
        party_id = parse_uuid(request.match_info["party_id"], "party")
        return await case_page_with_errors(
            request,
            staff,
            parse_uuid(request.match_info["case_id"], "case"),
            status=422 if isinstance(exc, ValidationFailed) else 409,
            party_errors={f"party-{party_id}": pages.as_sentence(exc.message)},
        )
    raise see_other(f"/staff/cases/{case.id}?notice=resent#parties")
