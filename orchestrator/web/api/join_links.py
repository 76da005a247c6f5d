"""JSON API: each party's (and the mediator's) current join link and phone PIN for a meeting."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from orchestrator.cases import links, roster
from orchestrator.scheduling import joining, lookups
from orchestrator.web.api.meetings import READERS, dial_in_number, load_meeting
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("meetings")


class JoinLinkPublic(BaseModel):
    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    role: str
    url: str
    opens_at: datetime
    expires_at: datetime
    phone_pin: str | None


class JoinLinks(BaseModel):
    meeting_id: uuid.UUID
    sequence: int
    dial_in_number: str | None
    links: list[JoinLinkPublic]


@router.get("/meetings/{meeting_id}/links", response=JoinLinks, roles=READERS)
async def join_links(ctx: ApiContext) -> JoinLinks:
    """Each party's (and the mediator's) current personal join link and phone PIN."""
    meeting = await load_meeting(ctx)
    current = await lookups.current_join_links(ctx.session, meeting)
    pins = {
        inv.party_id: inv.phone_pin for inv in await lookups.invitations(ctx.session, meeting.id)
    }
    secret = ctx.settings.secret_key.get_secret_value()
    parties = {p.id: p for p in await roster.list_parties(ctx.session, case_id=meeting.case_id)}
    out = []
    for link in current:
        role = "mediator"
        if link.party_id is not None:
            party = parties.get(link.party_id)
            if party is None:  # removed from the case
                continue
            role = party.role.value
        out.append(
            JoinLinkPublic(
                party_id=link.party_id,
                mediator_id=link.mediator_id,
                role=role,
                url=links.url_for(link, base_url=ctx.settings.base_url, secret=secret),
                opens_at=joining.join_opens_at(meeting, ctx.settings),
                expires_at=link.expires_at,
                phone_pin=pins.get(link.party_id) if link.party_id else meeting.mediator_pin,
            )
        )
    return JoinLinks(
        meeting_id=meeting.id,
        sequence=meeting.calendar_sequence,
        dial_in_number=dial_in_number(meeting, ctx.settings),
        links=out,
    )
