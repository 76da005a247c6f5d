"""Which staff roles may use which staff pages: one rule for the page guard and its links.

Each rule is an ``Access``: the roles it lets in (admins always) and, in plain words, what it
lets them do. ``staff_page(roles=...)`` refuses anyone else with a page saying who can;
templates show a link only when the same rule lets the reader follow it (``can``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from orchestrator.core.models import StaffRole

ROLE_PLURALS = {
    StaffRole.scheduler: "schedulers",
    StaffRole.mediator: "mediators",
    StaffRole.admin: "admins",
}


@dataclass(frozen=True)
class Access:
    """The roles that may use a group of pages (admins always) and what the pages do."""

    roles: frozenset[StaffRole]
    doing: str  # completes "Only schedulers and admins can …"

    def __iter__(self) -> Iterator[StaffRole]:
        return iter(sorted(self.roles | {StaffRole.admin}, key=list(StaffRole).index))

    def allows(self, role: StaffRole) -> bool:
        return role is StaffRole.admin or role in self.roles

    def refusal(self) -> str:
        """What a refused person is told: who can, and what."""
        roles = [ROLE_PLURALS[role] for role in self]
        who = ", ".join(roles[:-1]) + " and " + roles[-1] if len(roles) > 1 else roles[0]
        return f"only {who} can {self.doing}"


def access(*roles: StaffRole, doing: str) -> Access:
    return Access(roles=frozenset(roles), doing=doing)


SCHEDULERS = access(StaffRole.scheduler, doing="change cases and book, move or cancel meetings")
CASE_READERS = access(StaffRole.scheduler, StaffRole.mediator, doing="see cases")
ADMINS = access(doing="manage staff users")
ROOM_STAFF = access(
    StaffRole.mediator, doing="run meetings: open the room console and record outcomes"
)
ANY_STAFF = access(*StaffRole, doing="use the staff pages")

# What templates may ask (``can.schedule``): one name for each rule above.
NAMED = {
    "schedule": SCHEDULERS,
    "read_cases": CASE_READERS,
    "administer": ADMINS,
    "run_meetings": ROOM_STAFF,
}


def abilities(role: StaffRole) -> dict[str, bool]:
    """What a person of this role can do, by the names templates use."""
    return {name: rule.allows(role) for name, rule in NAMED.items()}
