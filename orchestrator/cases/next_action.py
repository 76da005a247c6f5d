"""What a case on the deadline board needs next, in the scheduler's words.

One pure rule, so the board, and anything else that says "what now?", agree. The facts
are gathered by the board's query (``cases.board``); the rule only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.models import CaseStatus


@dataclass(frozen=True)
class CaseFacts:
    """What the rule needs to know about one case."""

    status: CaseStatus
    has_mediator: bool
    people: int  # current parties on the case
    cannot_reach: int  # people who must be invited but have no email and no phone
    asked: int  # people asked for their availability on the open poll (0: no open poll)
    answered: int  # of those, how many have answered
    certificate_due: bool  # the certificate clock is running
    meeting_booked: bool  # a meeting is booked and not yet held or cancelled
    bounced: str | None = None  # the name of someone whose email bounced


def next_action(facts: CaseFacts) -> str:
    """Say the one thing to do next on the case, most pressing duty first."""
    if facts.certificate_due:
        return "Issue the certificate"
    if facts.status is CaseStatus.held:
        return "Record the outcome"
    if facts.status not in (CaseStatus.referred, CaseStatus.negotiating, CaseStatus.booked):
        return "Close the case"
    if facts.people == 0:
        return "Add the people taking part"
    if facts.bounced:
        return f"Email to {facts.bounced} bounced — phone them"
    if facts.cannot_reach:
        return f"Find contact details for {_people(facts.cannot_reach)}"
    if not facts.has_mediator:
        return "Assign a mediator"
    if facts.meeting_booked:
        return "Hold the meeting"
    unanswered = facts.asked - facts.answered
    if unanswered > 0:
        return f"Chase {unanswered} unanswered"
    if facts.asked:
        return "Book the meeting"
    return "Ask everyone when they can meet"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"
