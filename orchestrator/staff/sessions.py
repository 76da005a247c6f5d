"""Signed-in staff sessions kept server-side, and one-time set-password links.

The cookie holds 256 random bits; the database keeps only their SHA-256 (``StaffSession.id``)
with the user, the session's CSRF token and its expiry, so signing out or disabling a user
ends the session at once.

Staff invitations use a one-time set-password link: a JWT signed with a key of its own
(``staff-set-password:`` + secret) naming the user, a fingerprint of their current
password hash and the link's own id (``jti``). The user row keeps the id of the one link
that works (``set_password_link``): issuing a new link replaces it, so older links die,
and setting the password clears it, so a used link stays used (see docs/decisions).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import StaffRole, StaffSession, StaffUser
from orchestrator.core.records import add_audit
from orchestrator.staff.enrolment import add_staff

SESSION_TTL = timedelta(hours=10)
SET_PASSWORD_TTL = timedelta(hours=72)
SET_PASSWORD_AUDIENCE = "mediation-orchestrator:staff-set-password"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------------------- sessions


async def open_session(session: AsyncSession, *, user: StaffUser, now: datetime) -> str:
    """Start a signed-in session for ``user``; returns the cookie value (kept only hashed)."""
    value = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_hash(value),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    # Housekeeping: this user's expired sessions go whenever they sign in again.
    await session.execute(
        delete(StaffSession).where(
            col(StaffSession.user_id) == user.id, col(StaffSession.expires_at) <= now
        )
    )
    add_audit(session, actor_id=user.id, action="staff.signed_in", at=now)
    await session.flush()
    return value


async def close_session(session: AsyncSession, *, cookie_value: str) -> None:
    await session.execute(delete(StaffSession).where(col(StaffSession.id) == _hash(cookie_value)))


async def end_sessions_of(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Sign a user out everywhere (password changed, account disabled)."""
    await session.execute(delete(StaffSession).where(col(StaffSession.user_id) == user_id))


async def session_for_cookie(
    session: AsyncSession, cookie_value: str, *, now: datetime
) -> tuple[StaffSession, StaffUser] | None:
    if not cookie_value or len(cookie_value) > 200:
        return None
    row = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, col(StaffUser.id) == col(StaffSession.user_id))
            .where(col(StaffSession.id) == _hash(cookie_value))
        )
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.expires_at <= now or not user.active:
        return None
    return staff_session, user


# ---------------------------------------------------------------------------- set-password links


def _set_password_key(secret: str) -> bytes:
    return ("staff-set-password:" + secret).encode()


def _password_fingerprint(user: StaffUser) -> str:
    return _hash(user.password_hash or "unset:" + str(user.id))[:24]


def set_password_token(user: StaffUser, *, secret: str, now: datetime) -> str:
    """A one-time link token; every earlier one for this user stops working.

    Call it inside the write that saves ``user``: the link's id is kept on the row.
    """
    user.set_password_link = secrets.token_hex(16)
    claims = {
        "jti": user.set_password_link,
        "sub": str(user.id),
        "aud": SET_PASSWORD_AUDIENCE,
        "pwf": _password_fingerprint(user),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 60,
        "exp": int((now + SET_PASSWORD_TTL).timestamp()),
    }
    return jwt.encode(claims, _set_password_key(secret), algorithm="HS256")


async def user_for_set_password_token(
    session: AsyncSession, token: str, *, secret: str, now: datetime, lock: bool = False
) -> StaffUser | None:
    """Find the user a live set-password link is for; ``lock`` holds their row to the end."""
    if len(token) > 2048:
        return None
    try:
        claims = jwt.decode(
            token,
            _set_password_key(secret),
            algorithms=["HS256"],
            audience=SET_PASSWORD_AUDIENCE,
            # Time is checked below against the service's clock, not the machine's.
            options={
                "require": ["exp", "nbf", "sub", "aud", "pwf", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError):
        return None
    if not int(claims["nbf"]) <= int(now.timestamp()) < int(claims["exp"]):
        return None
    user = await session.get(StaffUser, user_id, with_for_update=lock, populate_existing=lock)
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(str(claims["pwf"]), _password_fingerprint(user)):
        return None
    # Only the newest link issued, and only until it is used.
    if user.set_password_link is None or not hmac.compare_digest(
        str(claims["jti"]), user.set_password_link
    ):
        return None
    return user


async def set_password(
    session: AsyncSession, *, user: StaffUser, password_hash: str, now: datetime
) -> None:
    """Set a new password (already hashed), use up the link and end every session it had."""
    user.password_hash = password_hash
    user.set_password_link = None
    await end_sessions_of(session, user_id=user.id)
    add_audit(session, actor_id=user.id, action="staff.password_set", at=now)
    await session.flush()


async def reset_password(
    session: AsyncSession, *, user: StaffUser, secret: str, now: datetime
) -> str:
    """Forget the user's password, sign them out everywhere; return a fresh set-password token."""
    user.password_hash = None
    await end_sessions_of(session, user_id=user.id)
    return set_password_token(user, secret=secret, now=now)


async def invite_staff(
    session: AsyncSession,
    *,
    email: str,
    role: StaffRole,
    name: str,
    by: uuid.UUID,
    secret: str,
    now: datetime,
) -> str:
    """Add a staff user (a mediator gets their mediator record); return their set-password token.

    Raises Conflict when the email is taken.
    """
    user = await add_staff(
        session, email=email, role=role, name=name, by=by, action="staff.invited", now=now
    )
    return set_password_token(user, secret=secret, now=now)
