"""Which cases, meetings and mediators a staff member may see: the one rule for pages and API.

Schedulers and admins see every case. A mediator sees the cases and meetings they run, and
their own calendar feed; anything else is answered as if it did not exist (404), so a
mediator cannot learn that another family's case is there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake, panel
from orchestrator.core.errors import NotFound
from orchestrator.core.models import Case, Mediator, Meeting, StaffRole, StaffUser


@dataclass(frozen=True)
class Scope:
    """What one staff member may see: everything (``mediator_ids`` None), or the work of the
    mediator records they act as."""

    mediator_ids: frozenset[uuid.UUID] | None

    @property
    def sees_everything(self) -> bool:
        return self.mediator_ids is None

    def sees_mediator(self, mediator_id: uuid.UUID | None) -> bool:
        return self.mediator_ids is None or mediator_id in self.mediator_ids

    def sees_case(self, case: Case, meeting: Meeting | None = None) -> bool:
        """Their case, or (for a meeting they run on a case since reassigned) that meeting's."""
        return self.sees_mediator(case.mediator_id) or (
            meeting is not None and self.sees_mediator(meeting.mediator_id)
        )

    def sees_meeting(self, meeting: Meeting) -> bool:
        return self.sees_mediator(meeting.mediator_id)


async def scope_of(session: AsyncSession, user: StaffUser) -> Scope:
    """The scope of ``user``: a mediator's own records, everything for other staff."""
    if user.role is not StaffRole.mediator:
        return Scope(mediator_ids=None)
    return Scope(mediator_ids=frozenset(await panel.mediator_ids_for_user(session, user.id)))


async def visible_case(session: AsyncSession, user: StaffUser, case_id: uuid.UUID) -> Case:
    """The case if ``user`` may see it; otherwise it does not exist (404)."""
    case = await intake.get_case(session, case_id)
    return check_case(await scope_of(session, user), case)


def check_case(scope: Scope, case: Case) -> Case:
    """The case if the scope covers it; otherwise it does not exist (404)."""
    if not scope.sees_case(case):
        raise NotFound("case", case.id)
    return case


def check_meeting(scope: Scope, meeting: Meeting) -> Meeting:
    """The meeting if the scope covers it; otherwise it does not exist (404)."""
    if not scope.sees_meeting(meeting):
        raise NotFound("meeting", meeting.id)
    return meeting


async def visible_mediator(
    session: AsyncSession, user: StaffUser, mediator_id: uuid.UUID
) -> Mediator:
    """The mediator record if ``user`` may see it (a mediator: only their own)."""
    mediator = await panel.get_mediator(session, mediator_id)
    if not (await scope_of(session, user)).sees_mediator(mediator.id):
        raise NotFound("mediator", mediator_id)
    return mediator
