"""The deadline board: open cases, most at risk first, filtered by mediator, LA and stage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from orchestrator.cases import intake, panel, roster
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    CasePublic,
    CaseStatus,
    ClockPublic,
    StaffRole,
)
from orchestrator.scheduling import who_is_coming
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.cases import clocks_of, present
from orchestrator.web.staff.roles import CASE_READERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
LEVEL_RANK = {"overdue": 0, "red": 1, "amber": 2, "ok": 3}


def risk_key(public: CasePublic) -> tuple[int, int, str]:
    """Most at risk first: the worst level, then the fewest days left on any running clock."""
    running = [
        c for name, c in clocks_of(public) if name in ("target", "statutory", "certificate_due")
    ]
    worst = min(running, key=lambda c: (LEVEL_RANK[c.level], c.days_left))
    return LEVEL_RANK[worst.level], worst.days_left, public.reference


@dataclass
class BoardRow:
    case: CasePublic
    mediator: str
    clocks: list[tuple[str, ClockPublic]]
    cannot_reach: list[str]  # names of people who must be invited but have no contact


@routes.get("/staff")
@staff_page(roles=CASE_READERS)
async def board(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Open cases, most at risk first; filters by mediator, LA and stage."""
    query = request.query
    want_mediator = query.get("mediator", "")
    want_la = query.get("la", "").strip()
    want_stage = query.get("stage", "")
    async with request.app[DB].read() as session:
        mediators = await panel.list_mediators(session)
        names = {m.id: m.name for m in mediators}
        mine: set[uuid.UUID] | None = None
        if staff.user.role is StaffRole.mediator:
            mine = await panel.mediator_ids_for_user(session, staff.user.id)
        rows: list[BoardRow] = []
        authorities: set[str] = set()
        unreachable = await roster.unreachable_parties(session)
        for case in await intake.list_cases(session, limit=2000):
            # Open cases, and any whose certificate is still due: that clock is work too.
            public: CasePublic | None = None
            if case.status not in OPEN_CASE_STATUSES:
                public = await present(session, request, case)
                if public.deadlines.certificate_due is None:
                    continue
            if mine is not None and case.mediator_id not in mine:
                continue
            authorities.add(case.local_authority)
            if want_mediator == "none" and case.mediator_id is not None:
                continue
            if want_mediator not in ("", "none") and str(case.mediator_id) != want_mediator:
                continue
            if want_la and case.local_authority.lower() != want_la.lower():
                continue
            if want_stage and case.status.value != want_stage:
                continue
            public = public or await present(session, request, case)
            rows.append(
                BoardRow(
                    case=public,
                    mediator=names.get(case.mediator_id, "") if case.mediator_id else "",
                    clocks=[(n, c) for n, c in clocks_of(public) if n in ("target", "statutory")],
                    cannot_reach=[p.name for p in unreachable.get(case.id, [])],
                )
            )
        replies = await who_is_coming.accepted_counts(session, case_ids=[r.case.id for r in rows])
    rows.sort(key=lambda r: risk_key(r.case))
    shown = [str(row.case.id) for row in rows]
    await staff.audit("page.board", details={"shown": len(rows), "case_ids": shown})
    context = staff.page(
        rows=rows,
        replies=replies,
        mediators=mediators,
        authorities=sorted(authorities),
        stages=[s for s in CaseStatus if s in OPEN_CASE_STATUSES],
        filters={"mediator": want_mediator, "la": want_la, "stage": want_stage},
        filtered=bool(want_mediator or want_la or want_stage),
    )
    return pages.render("staff/board.html", request, context)
