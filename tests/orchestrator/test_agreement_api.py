"""The written agreement and feedback through the API, on SQLite and PostgreSQL: the draft,
a party's "what is wrong", the revision, the last confirmation making it final, the
overdue action on the board, and feedback counted once in the reports."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from orchestrator.cases import board
from orchestrator.closing import agreements, feedback
from orchestrator.core.models import Agreement, Meeting, OutboxMessage, Party
from orchestrator.web.keys import CLOCK, DB, SETTINGS, WORKDAYS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import held_meeting, mediator_for, open_case, record, utc


async def _answer(staff: Staff, party_id: str, *, confirmed: bool, comment: str = "") -> None:
    app = staff.client.app
    async with app[DB].write() as session:
        agreement = (await session.scalars(select(Agreement))).one()
        party = await session.get(Party, uuid.UUID(party_id))
        assert party is not None
        await agreements.answer(
            session,
            agreement=agreement,
            party=party,
            data=agreements.AgreementAnswer(confirmed=confirmed, comment=comment),
            settings=app[SETTINGS],
            now=app[CLOCK](),
        )


async def _topics(staff: Staff, topic: str) -> list[OutboxMessage]:
    async with staff.client.app[DB].read() as session:
        found = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.topic) == topic)
        )
        return list(found.all())


async def _held(
    staff: Staff, clock: MutableClock
) -> tuple[dict[str, Any], dict[str, str], uuid.UUID]:
    """A case with its mediator and a meeting held on 2 April 2026, the clock after it."""
    mediator_id = await mediator_for(staff)
    case, parties = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 4, 2, 9), mediator_id=mediator_id
    )
    clock.set(utc(2026, 4, 2, 14))
    return case, parties, meeting_id


async def test_agreement_from_draft_to_final_and_its_overdue_action(
    staff: Staff, clock: MutableClock
) -> None:
    case, parties, meeting_id = await _held(staff, clock)
    await record(staff, meeting_id, result="agreement")
    draft: dict[str, Any] = {
        "issues": ["EHC needs assessment"],
        "agreed_text": "The LA will assess",
        "actions": [
            {"owner_party_id": parties["la_officer"], "action": "Start it", "due": "2026-04-16"}
        ],
    }
    path = f"/api/v1/meetings/{meeting_id}/agreement"
    sent = await staff.call("POST", path, role="mediator", json=draft, expect=200)
    # Everyone who can be reached is asked (the school here has no email or phone).
    asked = {a["party_id"] for a in sent["answers"]}
    assert asked == {parties["parent"], parties["la_officer"]} and sent["version"] == 1
    assert len(await _topics(staff, "agreement_request")) == 2

    await _answer(staff, parties["parent"], confirmed=False, comment="Say 6 weeks")
    await _answer(staff, parties["la_officer"], confirmed=True)
    seen = await staff.call("GET", path, role="scheduler", expect=200)
    said = {a["party_id"]: (a["confirmed"], a["comment"]) for a in seen["answers"]}
    assert said == {parties["parent"]: (False, "Say 6 weeks"), parties["la_officer"]: (True, None)}

    draft["agreed_text"] = "The LA will assess within 6 weeks"
    revised = await staff.call("POST", path, role="mediator", json=draft, expect=200)
    assert revised["version"] == 2 and all(a["confirmed"] is None for a in revised["answers"])
    await _answer(staff, parties["parent"], confirmed=True)
    assert (await staff.call("GET", path, role="mediator", expect=200))["final_at"] is None
    assert len(await _topics(staff, "agreement_request")) == 4
    await _answer(staff, parties["la_officer"], confirmed=True)
    final = await staff.call("GET", path, role="mediator", expect=200)
    assert final["final_at"] is not None
    assert len(await _topics(staff, "agreement_final")) == 2
    # Final: no more revisions.
    await staff.call("POST", path, role="mediator", json=draft, expect=409)

    # With its certificate issued the case would leave the board, but the overdue action
    # keeps it there.
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    app = staff.client.app
    async with app[DB].read() as session:
        page = await board.read_board(
            session,
            query=board.BoardQuery(search=case["reference"]),
            default_target_days=33,
            calendar=app[WORKDAYS],
            now=utc(2026, 4, 17, 9),
        )
    [row] = page.rows
    assert row.overdue_actions == 1
    assert row.next_action == "Follow up 1 overdue agreed action"


async def test_feedback_is_asked_once_and_counted_by_role_mediator_and_la(
    staff: Staff, clock: MutableClock
) -> None:
    _case, parties, meeting_id = await _held(staff, clock)
    await record(staff, meeting_id, result="no_agreement")
    await record(staff, meeting_id, result="agreement")  # a correction asks nobody again
    assert len(await _topics(staff, "feedback_request")) == 2

    app = staff.client.app
    for role, stars, listened, quote in (
        ("parent", 4, "yes", True),
        ("la_officer", 2, "no", False),
    ):
        async with app[DB].write() as session:
            meeting = await session.get(Meeting, meeting_id)
            party = await session.get(Party, uuid.UUID(parties[role]))
            assert meeting is not None and party is not None
            await feedback.save_answer(
                session,
                meeting=meeting,
                party=party,
                data=feedback.FeedbackAnswer.model_validate(
                    {
                        "satisfaction": stars,
                        "listened": listened,
                        "comment": f"from {role}",
                        "may_quote": quote,
                    }
                ),
                now=app[CLOCK](),
            )
    report = await staff.call(
        "GET", "/api/v1/reports/summary?group_by=local_authority", role="scheduler", expect=200
    )
    figures = report["feedback"]
    by_role = {g["key"]: (g["answers"], g["average_satisfaction"]) for g in figures["by_role"]}
    assert by_role == {"la_officer": (1, 2.0), "parent": (1, 4.0)}
    [mediator] = figures["by_mediator"]
    assert (mediator["label"], mediator["answers"], mediator["average_satisfaction"]) == (
        "Morwenna Ashdown",
        2,
        3.0,
    )
    assert mediator["felt_listened_share"] == 0.5
    assert [g["label"] for g in figures["by_local_authority"]] == ["Kent"]
    assert figures["quotable"] == ["from parent"]


async def test_bad_agreements_are_refused_in_words_never_a_500(
    staff: Staff, clock: MutableClock
) -> None:
    _case, _parties, meeting_id = await _held(staff, clock)
    path = f"/api/v1/meetings/{meeting_id}/agreement"
    for body, status in (
        ({"agreed_text": ""}, 422),
        ({"agreed_text": "   "}, 422),
        ({"agreed_text": "ok", "actions": [{"action": "x", "due": "2026-02-30"}]}, 422),
        (
            {
                "agreed_text": "ok",
                "actions": [{"owner_party_id": str(uuid.uuid4()), "action": "x"}],
            },
            422,
        ),
        ({"agreed_text": "ok", "colour": "blue"}, 422),
    ):
        await staff.call("POST", path, role="mediator", json=body, expect=status)
    await staff.call("GET", path, role="mediator", expect=404)  # nothing was sent
    await staff.call(
        "POST", f"/api/v1/meetings/{meeting_id}/childs-view/share", role="mediator", expect=404
    )
