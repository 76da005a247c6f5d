"""Staff sign-in for the web pages: cookie sessions kept server-side, CSRF tokens.

The cookie holds 256 random bits; the database keeps only their SHA-256 (``StaffSession.id``)
with the user, the session's CSRF token and its expiry, so signing out or disabling a user
ends the session at once. Every form a signed-in person posts carries the session's CSRF
token (hidden field ``csrf_token`` or header ``X-CSRF-Token``), compared in constant time.

Checking the password, and slowing guessers, is ``orchestrator.signin``.

Staff invitations use a one-time set-password link: a JWT signed with a key of its own
(``staff-set-password:`` + secret) naming the user, a fingerprint of their current
password hash and the link's own id (``jti``). The user row keeps the id of the one link
that works (``set_password_link``): issuing a new link replaces it, so older links die,
and setting the password clears it, so a used link stays used (see docs/decisions).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.events import EventBus
from orchestrator.models import StaffRole, StaffSession, StaffUser
from orchestrator.records import add_audit
from orchestrator.settings import Settings
from orchestrator.web import audit
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import BUS, CLOCK, DB, SETTINGS

SESSION_TTL = timedelta(hours=10)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SET_PASSWORD_TTL = timedelta(hours=72)
SET_PASSWORD_AUDIENCE = "mediation-orchestrator:staff-set-password"
MIN_PASSWORD_LENGTH = 12
SIGN_IN_PATH = "/sign-in"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookie_name(settings: Settings) -> str:
    """``__Host-`` cookies must be Secure, host-only and Path=/; only possible over https."""
    return "__Host-orch_staff" if _is_https(settings) else "orch_staff"


def _is_https(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------------------- sign-in


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


def set_session_cookie(response: web.StreamResponse, settings: Settings, value: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        value,
        path="/",
        httponly=True,
        secure=_is_https(settings),
        samesite="Lax",
        max_age=int(SESSION_TTL.total_seconds()),
    )


def clear_session_cookie(response: web.StreamResponse, settings: Settings) -> None:
    response.del_cookie(
        cookie_name(settings),
        path="/",
        secure=_is_https(settings),
        httponly=True,
        samesite="Lax",
    )


def safe_next(value: str | None, default: str = "/staff") -> str:
    """Only a path on this site: never ``//host``, ``/\\host`` or an absolute URL."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ch in value for ch in "\r\n\t\\"):
        return default
    return value


def sign_in_redirect(request: web.Request) -> web.HTTPSeeOther:
    target = request.path_qs if request.method == "GET" else "/staff"
    return web.HTTPSeeOther(f"{SIGN_IN_PATH}?next={quote(target, safe='')}")


# ---------------------------------------------------------------------------- pages


@dataclass
class StaffContext:
    """A signed-in person's request: who they are, their session's CSRF token, the time."""

    request: web.Request
    user: StaffUser
    staff_session: StaffSession
    now: datetime
    form: Any = None  # the posted form, already read (and CSRF-checked) for unsafe methods
    audited: bool = False  # whether this request has written its audit row yet

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    @property
    def bus(self) -> EventBus:
        return self.request.app[BUS]

    @property
    def csrf_token(self) -> str:
        return self.staff_session.csrf_token

    @property
    def actor(self) -> str:
        return f"{self.user.role.value}:{self.user.id}"

    def has_role(self, *roles: StaffRole) -> bool:
        return self.user.role is StaffRole.admin or self.user.role in roles

    def page(self, **context: Any) -> dict[str, Any]:
        """The context every staff template gets, plus the page's own."""
        return {"staff": self.user, "csrf_token": self.csrf_token, "roles": StaffRole, **context}

    async def audit(
        self,
        action: str,
        *,
        case_id: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record, in a small write of its own, that this person looked at something."""
        async with self.app[DB].write() as session:
            add_audit(
                session,
                actor_id=self.user.id,
                action=action,
                at=self.now,
                case_id=case_id,
                target_type=target_type,
                target_id=target_id,
                details=details,
            )
        self.audited = True

    async def audit_page_view(self) -> None:
        """Record a page view the page did not record itself, under the case its path names."""
        path = self.request.match_info
        resource = path.route.resource
        page = resource.canonical if resource is not None else self.request.path
        target_type, target_id = audit.target_of(path)
        async with self.app[DB].write() as session:
            add_audit(
                session,
                actor_id=self.user.id,
                action=f"page {page}"[:100],
                at=self.now,
                case_id=await audit.case_of(session, path),
                target_type=target_type,
                target_id=target_id,
            )
        self.audited = True

    async def audit_refusal(self, status: int) -> None:
        """Record that this request was refused, under the case its path names."""
        resource = self.request.match_info.route.resource
        page = resource.canonical if resource is not None else self.request.path
        await audit.record_refusal(
            self.app[DB],
            actor_id=self.user.id,
            action=f"{self.request.method} {page}",
            path=self.request.match_info,
            status=status,
            at=self.now,
        )
        self.audited = True


def csrf_matches(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


StaffHandler = Callable[[web.Request, StaffContext], Awaitable[web.StreamResponse]]


def staff_page(
    roles: Iterable[StaffRole] = (StaffRole.scheduler, StaffRole.mediator),
) -> Callable[[StaffHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Guard a page: signed-in staff of these roles (admins always), CSRF on every write."""
    allowed = frozenset(roles)

    def decorate(
        handler: StaffHandler,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def view(request: web.Request) -> web.StreamResponse:
            staff = await load_staff(request)
            if staff is None:
                raise sign_in_redirect(request)
            try:
                if staff.user.role is not StaffRole.admin and staff.user.role not in allowed:
                    raise ApiError(403, "forbidden", "your role cannot use this page")
                if request.method in UNSAFE_METHODS:
                    staff.form = await require_csrf(request, staff.csrf_token)
                response = await handler(request, staff)
            except Exception as exc:
                status = audit.refusal_status(exc)
                if status is not None:  # not theirs, not their role, or a forged form
                    await staff.audit_refusal(status)
                raise
            # Every page read is on the audit trail; writes record what they did themselves.
            if request.method not in UNSAFE_METHODS and not staff.audited:
                await staff.audit_page_view()
            return response

        return view

    return decorate


async def load_staff(request: web.Request) -> StaffContext | None:
    settings = request.app[SETTINGS]
    value = request.cookies.get(cookie_name(settings), "")
    if not value:
        return None
    now = request.app[CLOCK]()
    async with request.app[DB].read() as session:
        found = await session_for_cookie(session, value, now=now)
    if found is None:
        return None
    staff_session, user = found
    return StaffContext(request=request, user=user, staff_session=staff_session, now=now)


async def require_csrf(request: web.Request, expected: str) -> Any:
    """Read the posted form and refuse it unless it carries this session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    form = await request.post()
    if given is None:
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not csrf_matches(expected, given):
        raise ApiError(
            403,
            "csrf_failed",
            "this form has expired or did not come from this site; go back, reload the page "
            "and try again",
        )
    return form


# ---------------------------------------------------------------------------- invitations


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


def password_problem(password: str, confirm: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Enter a password of at least {MIN_PASSWORD_LENGTH} characters"
    if password != confirm:
        return "The two passwords are not the same"
    return None
