"""The deadline board page: the scheduler's search, filters, order and page, read by the
board use-case (``cases.board``), shown 25 cases at a time."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from orchestrator.cases import board as case_board
from orchestrator.cases import panel, visibility
from orchestrator.core.models import OPEN_CASE_STATUSES, CaseStatus
from orchestrator.scheduling import who_is_coming
from orchestrator.web import pages
from orchestrator.web.keys import CLOCK, DB, SETTINGS, WORKDAYS
from orchestrator.web.staff.roles import CASE_READERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
SORT_NAMES: dict[case_board.BoardSort, str] = {
    "urgent": "Most urgent clock first",
    "reference": "Case reference",
    "booked": "Booked meeting, soonest first",
}
# What the board's address may carry: the search and filters the person chose, no more.
QUERY_KEYS = ("q", "mediator", "la", "stage", "sort")


def board_query(
    params: dict[str, str], only_mediators: frozenset[uuid.UUID] | None
) -> case_board.BoardQuery:
    """What was asked for, read leniently: a value the board does not know is ignored."""
    mediator = params.get("mediator", "")
    stage = params.get("stage", "")
    sort = params.get("sort", "urgent")
    page = params.get("page", "1")
    return case_board.BoardQuery(
        search=params.get("q", "").strip()[:200],
        mediator_id=_uuid(mediator),
        unassigned=mediator == "none",
        local_authority=params.get("la", "").strip(),
        stage=CaseStatus(stage) if stage in {s.value for s in OPEN_CASE_STATUSES} else None,
        sort=next((s for s in case_board.BOARD_SORTS if s == sort), "urgent"),
        page=int(page) if page.isdecimal() else 1,
        only_mediators=only_mediators,
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def page_links(page: int, pages: int) -> list[int | None]:
    """The page numbers the pagination shows: first, last, and those around this one
    (None where the run is broken, shown as an ellipsis)."""
    shown = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    links: list[int | None] = []
    for number in shown:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


@routes.get("/staff")
@staff_page(roles=CASE_READERS)
async def board(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Open cases, most at risk first; searched, filtered, sorted and paged."""
    params = {key: request.query.get(key, "") for key in (*QUERY_KEYS, "page")}
    async with request.app[DB].read() as session:
        mediators = await panel.list_mediators(session)
        scope = await visibility.scope_of(session, staff.user)
        asked = board_query(params, scope.mediator_ids)
        found = await case_board.read_board(
            session,
            query=asked,
            default_target_days=request.app[SETTINGS].target_days,
            calendar=request.app[WORKDAYS],
            now=request.app[CLOCK](),
        )
        accepted = await who_is_coming.accepted_counts(
            session, case_ids=[row.case.id for row in found.rows]
        )
    shown = [str(row.case.id) for row in found.rows]
    # The audit says who saw which cases; the words searched for stay out of it.
    await staff.audit(
        "page.board",
        details={"shown": len(shown), "total": found.total, "page": found.page, "case_ids": shown},
    )
    context = staff.page(
        board=found,
        rows=found.rows,
        accepted=accepted,
        mediators=mediators,
        authorities=found.authorities,
        stages=[s for s in CaseStatus if s in OPEN_CASE_STATUSES],
        sorts=SORT_NAMES,
        **_choices(params, asked, found),
    )
    return pages.render("staff/board.html", request, context)


def _choices(
    params: dict[str, str], asked: case_board.BoardQuery, found: case_board.BoardPage
) -> dict[str, Any]:
    """What the form shows as chosen, and the links to the other pages of the same board."""
    narrowed = bool(asked.mediator_id or asked.unassigned or asked.local_authority or asked.stage)
    kept = {key: params[key] for key in QUERY_KEYS if params[key]}
    return {
        "filters": {
            "mediator": params["mediator"],
            "la": asked.local_authority,
            "q": asked.search,
            "stage": params["stage"],
            "sort": asked.sort,
        },
        "narrowed": narrowed,  # the filters beyond the search are open when one is set
        "filtered": narrowed or bool(asked.search),
        "first": (found.page - 1) * case_board.PAGE_SIZE + 1,
        "page_href": lambda n: "/staff?" + urlencode({**kept, "page": str(n)}),
        "page_links": page_links(found.page, found.pages),
    }
