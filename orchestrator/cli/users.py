"""``orchestrator users add|token``: staff users and their API tokens."""

from __future__ import annotations

import sys

from orchestrator.cli.runner import load_settings, run_with_database
from orchestrator.core.db import Database


def add(*, email: str, role: str, name: str = "", password: str | None = None) -> None:
    """Add a staff user (``password`` for the web pages) and print an API token last.

    A mediator gets their mediator record too, as from the admin page: cases can be
    assigned to them at once.
    """
    from orchestrator.core.errors import Conflict, ValidationFailed
    from orchestrator.core.models import StaffRole, utcnow
    from orchestrator.staff.accounts import issue_token
    from orchestrator.staff.enrolment import add_staff

    async def work(db: Database) -> str:
        async with db.write() as session:
            user = await add_staff(
                session,
                email=email,
                role=StaffRole(role),
                name=name or "",
                password=password,
                by=None,
                action="staff.added_by_cli",
                now=utcnow(),
            )
            return await issue_token(session, user_id=user.id, label="cli")

    try:
        issued = run_with_database(work, settings=load_settings())
    except (Conflict, ValidationFailed) as exc:
        sys.exit(str(exc))
    print(f"Added {role} {email}. API token (shown once, keep it safe):")
    print(issued)


def token(*, email: str) -> None:
    """Issue another API token for the staff user with ``email``."""
    from sqlmodel import col, select

    from orchestrator.core.models import StaffUser
    from orchestrator.staff.accounts import issue_token

    async def work(db: Database) -> str | None:
        async with db.write() as session:
            user = await session.scalar(
                select(StaffUser).where(col(StaffUser.email) == email.lower())
            )
            if user is None:
                return None
            return await issue_token(session, user_id=user.id, label="cli")

    issued = run_with_database(work, settings=load_settings())
    if issued is None:
        sys.exit(f"no staff user with email {email}")
    print(f"New API token for {email}:")
    print(issued)
