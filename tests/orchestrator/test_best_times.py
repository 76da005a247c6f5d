"""The case page's best times on a known poll: answered times first, reasons naming people."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from calendars.slots import PartyStatus, Slot
from orchestrator.core.models import Party, PartyRole, Poll
from orchestrator.scheduling.availability_matrix import (
    AvailabilityMatrix,
    CellStatus,
    PartyAvailabilityRow,
)
from orchestrator.scheduling.best_times import rank_times
from orchestrator.scheduling.slot_search import Blocker, CaseSlots
from orchestrator.web.staff.find_a_time import person_label

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TARGET = datetime(2026, 4, 4, 0, 0, tzinfo=UTC)
CASE = uuid.uuid4()
PAT = Party(case_id=CASE, role=PartyRole.parent, name="Pat Jordan")
LEE = Party(case_id=CASE, role=PartyRole.la_officer, name="Lee Grant")
ANN = Party(case_id=CASE, role=PartyRole.observer, name="Ann Watts", required=False)
PEOPLE = [PAT, LEE, ANN]

NOT_ASKED = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # earliest, but never offered in the poll
IF_NEED_BE = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
ALL_YES = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
WAITING = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
SAID_NO = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)
MEDIATOR_TAKEN = datetime(2026, 3, 13, 14, 0, tzinfo=UTC)
PAST = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

# What each person said (or their calendar says) at each of the poll's times.
ANSWERS: dict[datetime, dict[uuid.UUID, CellStatus]] = {
    IF_NEED_BE: {PAT.id: "yes", LEE.id: "if_need_be", ANN.id: "yes"},
    ALL_YES: {PAT.id: "yes", LEE.id: "yes", ANN.id: "no"},
    WAITING: {PAT.id: "yes", LEE.id: "unknown", ANN.id: "unknown"},
    SAID_NO: {PAT.id: "no", LEE.id: "yes", ANN.id: "yes"},
    MEDIATOR_TAKEN: {PAT.id: "yes", LEE.id: "yes", ANN.id: "yes"},
    PAST: {PAT.id: "no", LEE.id: "no", ANN.id: "no"},
}


def slot(start: datetime, score: float, **statuses: PartyStatus) -> Slot:
    by_id = {str(p.id): statuses[p.name.split()[0].lower()] for p in PEOPLE}
    return Slot(start, start + timedelta(hours=3), score, True, by_id, "solver's words")


def matrix() -> AvailabilityMatrix:
    poll = Poll(case_id=CASE, duration_minutes=180, window_start=NOW, window_end=TARGET)
    rows = [
        PartyAvailabilityRow(
            party=p,
            source="poll",
            polled=True,
            answered_at=NOW,
            note=None,
            cells={start: said[p.id] for start, said in ANSWERS.items()},
        )
        for p in PEOPLE
    ]
    return AvailabilityMatrix(poll=poll, candidates=list(ANSWERS), rows=rows, calendar_errors=[])


def found(*slots: Slot, blockers: list[Blocker] | None = None) -> CaseSlots:
    return CaseSlots(
        slots=list(slots),
        within_target=True,
        target_end=TARGET,
        blockers=blockers or [],
        earliest_after_target=[],
        explanation="4 feasible times found",
        calendar_errors=[],
    )


def ranked() -> list[tuple[datetime, list[str]]]:
    # The solver's own order: the earliest time first, as nobody has said no to it.
    search = found(
        slot(NOT_ASKED, 999.0, pat="unknown", lee="unknown", ann="unknown"),
        slot(IF_NEED_BE, 998.0, pat="yes", lee="if_need_be", ann="yes"),
        slot(ALL_YES, 997.0, pat="yes", lee="yes", ann="no"),
        slot(WAITING, 996.0, pat="yes", lee="unknown", ann="unknown"),
    )
    best = rank_times(
        search,
        matrix=matrix(),
        parties=PEOPLE,
        mediator="Mo Ahmed (mediator)",
        label=person_label,
        now=NOW,
    )
    return [(t.start, t.reasons) for t in [*best.times, *best.blocked]]


def test_times_everyone_said_yes_to_come_first_and_unasked_times_last() -> None:
    order = [start for start, _ in ranked()]
    assert order[:4] == [ALL_YES, IF_NEED_BE, WAITING, NOT_ASKED]


def test_each_time_says_why_in_words_naming_people_and_their_roles() -> None:
    reasons = dict(ranked())
    assert reasons[ALL_YES] == ["Everyone said yes", "Ann Watts (observer, optional) cannot come"]
    assert reasons[IF_NEED_BE] == [
        "Lee Grant (local authority officer) said if need be",
        "Pat Jordan (parent or carer) can come",
    ]
    assert reasons[WAITING] == [
        "Lee Grant (local authority officer) has not answered",
        "Pat Jordan (parent or carer) can come",
    ]
    assert reasons[NOT_ASKED] == [
        "Pat Jordan (parent or carer) was not asked about this time",
        "Lee Grant (local authority officer) was not asked about this time",
    ]


def test_poll_times_that_cannot_be_booked_say_who_stops_them() -> None:
    reasons = dict(ranked())
    assert reasons[SAID_NO] == ["Pat Jordan (parent or carer) said no"]
    assert reasons[MEDIATOR_TAKEN] == ["Mo Ahmed (mediator) is busy"]
    assert PAST not in reasons  # a time gone by is not offered, nor explained


def test_no_reason_shows_an_id() -> None:
    words = " ".join(" ".join(r) for _, r in ranked())
    for person in PEOPLE:
        assert str(person.id) not in words
    assert "la_officer" not in words


def test_blockers_are_named_with_their_roles() -> None:
    search = found(blockers=[Blocker(party_id=LEE.id, role="la_officer", blocked=12)])
    best = rank_times(
        search, matrix=None, parties=PEOPLE, mediator="Mo", label=person_label, now=NOW
    )
    assert best.blockers == [("Lee Grant (local authority officer)", 12)]
    assert best.times == [] and best.blocked == []
