"""Ending a staff user's access: deactivating their account and revoking their API tokens.

Deactivating signs the person out everywhere at once (their sessions are deleted), revokes
every API token they hold (so letting them back in later brings no old token back) and takes
a mediator off the list cases are assigned from. Their password is kept: reactivating lets
them sign in again with it.

The service never goes without an admin who can sign in: nobody deactivates their own
account (another admin must), and a deactivation that would leave no active admin is
refused. The active admins' rows are locked first, so two admins deactivating each other at
the same moment cannot both succeed.

Every change is on the audit trail: who did it (``actor_id``), to whom (the target) and when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import InvalidState, NotFound
from orchestrator.core.models import ApiToken, Mediator, StaffRole, StaffUser
from orchestrator.staff.accounts import audit_account, get_user
from orchestrator.staff.sessions import end_sessions_of


class LastAdmin(InvalidState):
    """Deactivating this account would leave the service with no admin who can sign in."""

    code = "last_admin"


class OwnAccount(InvalidState):
    """An admin cannot deactivate the account they are signed in with."""

    code = "own_account"


@dataclass(frozen=True)
class Deactivated:
    """Who was deactivated, and how many API tokens that revoked."""

    user: StaffUser
    tokens_revoked: int


async def live_tokens(session: AsyncSession, user_id: uuid.UUID) -> list[ApiToken]:
    """The user's API tokens that still work, newest first."""
    query = (
        select(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .order_by(col(ApiToken.created_at).desc())
    )
    return list((await session.scalars(query)).all())


async def revoke_token(
    session: AsyncSession, *, user_id: uuid.UUID, token_id: uuid.UUID, by: uuid.UUID, now: datetime
) -> ApiToken:
    """Stop one of the user's API tokens working at once (NotFound if it is not a live one)."""
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFound("API token", token_id)
    token.revoked_at = now
    _audit(session, "staff.token_revoked", by=by, user_id=user_id, now=now, token=token.label)
    await session.flush()
    return token


async def revoke_tokens(
    session: AsyncSession, *, user_id: uuid.UUID, by: uuid.UUID, now: datetime
) -> int:
    """Stop every API token of the user working at once; how many there were."""
    count = await _revoke_all(session, user_id=user_id, now=now)
    _audit(session, "staff.tokens_revoked", by=by, user_id=user_id, now=now, count=count)
    await session.flush()
    return count


async def deactivate_user(
    session: AsyncSession, *, user_id: uuid.UUID, by: uuid.UUID, now: datetime
) -> Deactivated:
    """Stop a staff user signing in or using the API, from this moment.

    Raises OwnAccount for the caller's own account and LastAdmin when no other active admin
    would be left.
    """
    if user_id == by:
        raise OwnAccount("you cannot deactivate your own account: ask another admin")
    admins = await _lock_active_admins(session)
    user = await get_user(session, user_id)
    if user.role is StaffRole.admin and user.active and not admins - {user.id}:
        raise LastAdmin("the service must keep at least one admin who can sign in")
    user.active = False
    await end_sessions_of(session, user_id=user.id)
    count = await _revoke_all(session, user_id=user.id, now=now)
    await _set_mediator_records(session, user_id=user.id, active=False)
    _audit(session, "staff.deactivated", by=by, user_id=user.id, now=now, count=count)
    await session.flush()
    return Deactivated(user=user, tokens_revoked=count)


async def reactivate_user(
    session: AsyncSession, *, user_id: uuid.UUID, by: uuid.UUID, now: datetime
) -> StaffUser:
    """Let a deactivated staff user sign in again (with their old password; no old tokens)."""
    user = await get_user(session, user_id)
    user.active = True
    await _set_mediator_records(session, user_id=user.id, active=True)
    _audit(session, "staff.reactivated", by=by, user_id=user.id, now=now)
    await session.flush()
    return user


async def _lock_active_admins(session: AsyncSession) -> set[uuid.UUID]:
    """The active admins' ids, their rows held to the end of this write (in id order)."""
    query = (
        select(StaffUser.id)
        .where(col(StaffUser.role) == StaffRole.admin, col(StaffUser.active).is_(True))
        .order_by(col(StaffUser.id))
        .with_for_update()
    )
    return set((await session.scalars(query)).all())


async def _revoke_all(session: AsyncSession, *, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _set_mediator_records(session: AsyncSession, *, user_id: uuid.UUID, active: bool) -> None:
    """A deactivated mediator is no longer offered for cases; reactivated, they are again."""
    await session.execute(
        update(Mediator).where(col(Mediator.user_id) == user_id).values(active=active)
    )


def _audit(
    session: AsyncSession,
    action: str,
    *,
    by: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    token: str | None = None,
    count: int | None = None,
) -> None:
    details: dict[str, Any] = {}
    if token is not None:
        details["token"] = token
    if count is not None:
        details["tokens_revoked"] = count
    audit_account(session, action, by=by, user_id=user_id, now=now, details=details or None)
