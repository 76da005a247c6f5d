"""The board's next action for each state a case can be in, most pressing duty first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.cases.next_action import CaseFacts, next_action
from orchestrator.core.models import CaseStatus

# A referred case with its people and a mediator, nobody asked yet.
READY = CaseFacts(
    status=CaseStatus.referred,
    has_mediator=True,
    people=3,
    cannot_reach=0,
    asked=0,
    answered=0,
    certificate_due=False,
    meeting_booked=False,
)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (replace(READY, people=0, has_mediator=False), "Add the people taking part"),
        (replace(READY, cannot_reach=1), "Find contact details for 1 person"),
        (replace(READY, cannot_reach=2), "Find contact details for 2 people"),
        (replace(READY, has_mediator=False), "Assign a mediator"),
        (READY, "Ask everyone when they can meet"),
        (replace(READY, status=CaseStatus.negotiating, asked=4, answered=2), "Chase 2 unanswered"),
        (replace(READY, status=CaseStatus.negotiating, asked=4, answered=3), "Chase 1 unanswered"),
        (replace(READY, status=CaseStatus.negotiating, asked=4, answered=4), "Book the meeting"),
        (
            replace(READY, status=CaseStatus.negotiating, has_mediator=False, asked=2),
            "Assign a mediator",
        ),
        (replace(READY, status=CaseStatus.booked, meeting_booked=True), "Hold the meeting"),
        (
            replace(READY, status=CaseStatus.booked, meeting_booked=True, has_mediator=False),
            "Assign a mediator",
        ),
        (replace(READY, status=CaseStatus.held, meeting_booked=False), "Record the outcome"),
        (replace(READY, status=CaseStatus.held, certificate_due=True), "Issue the certificate"),
        (
            replace(READY, status=CaseStatus.outcome_recorded, certificate_due=True),
            "Issue the certificate",
        ),
        # Disagreement resolution a party declined: the case is still referred, but the
        # certificate clock runs and comes first.
        (replace(READY, certificate_due=True), "Issue the certificate"),
        (replace(READY, status=CaseStatus.certificate_issued), "Close the case"),
    ],
)
def test_next_action_names_the_one_thing_to_do(facts: CaseFacts, expected: str) -> None:
    assert next_action(facts) == expected
