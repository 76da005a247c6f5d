"""Adding a staff user, whichever door they come through (the admin page or the CLI).

A mediator is two rows: the staff account they sign in with, and the panel's mediator
record that cases are assigned to and their sessions are listed by. Both are written here,
in the caller's one transaction, so no door can make a mediator nobody can assign.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import panel
from orchestrator.core.models import StaffRole, StaffUser
from orchestrator.staff.accounts import add_user, audit_account


async def add_staff(
    session: AsyncSession,
    *,
    email: str,
    role: StaffRole,
    name: str = "",
    password: str | None = None,
    by: uuid.UUID | None,
    action: str,
    now: datetime,
) -> StaffUser:
    """Add a staff user (a mediator with their mediator record) and audit it as ``action``.

    ``by`` is the admin who added them (None from the command line). Raises Conflict when
    the email is taken and ValidationFailed for a name that is not a name.
    """
    user = await add_user(session, email=email, role=role, name=name, password=password)
    if role is StaffRole.mediator:
        await panel.mediator_for_user(session, user=user, now=now)
    audit_account(session, action, by=by, user_id=user.id, now=now)
    return user
