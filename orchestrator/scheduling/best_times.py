"""The case page's best times: what people answered first, each with its reasons in words.

The slot search ranks every time the mediator and calendars allow; staff want the
times people were asked about and said yes to before times nobody was asked about, and
a plain reason for each ("Everyone said yes", "Lee Grant (local authority officer) has
not answered"). The poll's times that cannot be booked are listed too, with who stops
them. People are named as ``label`` says, so the words for roles stay with the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from calendars.slots import Slot
from orchestrator.core.models import Party
from orchestrator.scheduling.availability_matrix import AvailabilityMatrix, CellStatus
from orchestrator.scheduling.slot_search import CaseSlots

# How many times the page offers at most (it shows the first few, the rest on request).
MOST_OFFERED = 20

# How good a time is, best first: everyone said yes (or is free); someone said only "if
# need be"; someone asked in the poll has not answered; nobody was asked about this time.
ALL_YES, IF_NEED_BE, WAITING, NOT_ASKED = range(4)
# Why a poll time cannot be booked, by what a required person said (or their calendar says).
_BLOCKING_WORDS: dict[CellStatus, str] = {"no": "said no", "busy": "is busy"}


@dataclass(frozen=True)
class RankedTime:
    """One time as staff see it: whether it can be booked, and why, in words."""

    start: datetime
    end: datetime
    within_target: bool
    in_poll: bool
    bookable: bool
    reasons: list[str]


@dataclass(frozen=True)
class BestTimes:
    """The times to offer, best first; the poll's times that do not work; who blocks."""

    times: list[RankedTime]
    blocked: list[RankedTime]
    within_target: bool
    blockers: list[tuple[str, int]]


def rank_times(
    found: CaseSlots,
    *,
    matrix: AvailabilityMatrix | None,
    parties: Sequence[Party],
    mediator: str,
    label: Callable[[Party], str],
    now: datetime,
) -> BestTimes:
    """Rank the slot search's times, the poll's answered ones first, and word the reasons."""
    names = {str(p.id): label(p) for p in parties}
    required = {str(p.id) for p in parties if p.required}
    asked = set(matrix.candidates) if matrix is not None and matrix.poll is not None else set()
    feasible = found.slots or found.earliest_after_target
    ranked = sorted(feasible, key=lambda s: _rank_key(s, required, asked))
    times = [
        RankedTime(
            start=s.start,
            end=s.end,
            within_target=s.within_target,
            in_poll=s.start in asked,
            bookable=True,
            reasons=_reasons(s.parties, names, required, in_poll=s.start in asked),
        )
        for s in ranked[:MOST_OFFERED]
    ]
    bookable = {s.start for s in feasible}
    blocked = [
        _blocked(start, matrix, names, required, mediator, found.target_end)
        for start in sorted(asked)
        if start > now and start not in bookable and matrix is not None
    ]
    blockers = [(names.get(str(b.party_id), "Someone"), b.blocked) for b in found.blockers]
    return BestTimes(
        times=times, blocked=blocked, within_target=found.within_target, blockers=blockers
    )


def _tier(statuses: Mapping[str, str], required: set[str], in_poll: bool) -> int:
    """How good a bookable time is by what the people who must come said of it."""
    said = [statuses.get(pid, "unknown") for pid in required]
    if "unknown" in said:
        return WAITING if in_poll else NOT_ASKED
    return IF_NEED_BE if "if_need_be" in said else ALL_YES


def _rank_key(slot: Slot, required: set[str], asked: set[datetime]) -> tuple[int, bool, float]:
    """Answered times first, then inside the target, then the slot search's own order."""
    return (_tier(slot.parties, required, slot.start in asked), not slot.within_target, -slot.score)


def _reasons(
    statuses: Mapping[str, str], names: Mapping[str, str], required: set[str], *, in_poll: bool
) -> list[str]:
    """Why a bookable time is as good as it is, naming the people who make it less so."""
    said = {pid: statuses.get(pid, "unknown") for pid in names}
    needed = [s for pid, s in said.items() if pid in required]
    if needed and all(s == "yes" for s in needed):
        reasons = ["Everyone said yes"]
    elif needed and all(s == "free" for s in needed):
        reasons = ["Everyone is free in their calendar"]
    elif needed and all(s in ("yes", "free") for s in needed):
        reasons = ["Everyone said yes or is free in their calendar"]
    else:
        reasons = _named(said, names, required, in_poll=in_poll)
    optional_out = [
        names[pid] for pid, s in said.items() if pid not in required and s in ("no", "busy")
    ]
    reasons.extend(f"{who} cannot come" for who in optional_out)
    return reasons


def _named(
    said: Mapping[str, str], names: Mapping[str, str], required: set[str], *, in_poll: bool
) -> list[str]:
    """Each required person who is not a plain yes, then those who are, in one line."""
    waiting = "has not answered" if in_poll else "was not asked about this time"
    words = {"if_need_be": "said if need be", "unknown": waiting}
    reasons = [
        f"{names[pid]} {words[s]}" for pid, s in said.items() if pid in required and s in words
    ]
    fine = [names[pid] for pid, s in said.items() if pid in required and s in ("yes", "free")]
    if fine:
        reasons.append(f"{_and(fine)} can come")
    return reasons


def _blocked(
    start: datetime,
    matrix: AvailabilityMatrix,
    names: Mapping[str, str],
    required: set[str],
    mediator: str,
    target_end: datetime,
) -> RankedTime:
    """A poll time that cannot be booked, and who stops it (the mediator when nobody else)."""
    duration = matrix.poll.duration_minutes if matrix.poll is not None else 0
    cells = {str(row.party.id): row.cells.get(start, "unknown") for row in matrix.rows}
    reasons = [
        f"{names[pid]} {_BLOCKING_WORDS[status]}"
        for pid, status in cells.items()
        if pid in required and pid in names and status in _BLOCKING_WORDS
    ]
    end = start + timedelta(minutes=duration)
    return RankedTime(
        start=start,
        end=end,
        within_target=end <= target_end,
        in_poll=True,
        bookable=False,
        reasons=reasons or [f"{mediator} is busy"],
    )


def _and(names: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
