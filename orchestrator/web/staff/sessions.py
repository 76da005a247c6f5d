"""Staff sign-in for the web pages: the session cookie, CSRF tokens and the page guard.

The sessions themselves (kept server-side, only hashed) and the one-time set-password links
are ``orchestrator.staff.sessions``. Every form a signed-in person posts carries the
session's CSRF token (hidden field ``csrf_token`` or header ``X-CSRF-Token``), compared in
constant time.

Checking the password, and slowing guessers, is ``orchestrator.staff.signin``. A browser that
signs in also keeps a long-lived known-device cookie (``device_cookie_name``), flagged like
the session cookie; signing out leaves it, since it speaks for the browser, not the session.
"""

from __future__ import annotations

import functools
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from orchestrator.core.models import StaffRole, StaffSession
from orchestrator.core.records import add_audit
from orchestrator.core.settings import Settings
from orchestrator.staff.sessions import SESSION_TTL, session_for_cookie
from orchestrator.staff.signin import KNOWN_DEVICE_TTL
from orchestrator.web import audit
from orchestrator.web.caller import Caller
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLOCK, DB, SETTINGS
from orchestrator.web.staff.error_pages import SIGNED_IN
from orchestrator.web.staff.roles import CASE_READERS, Access, abilities

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_LENGTH = 12
SIGN_IN_PATH = "/sign-in"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookie_name(settings: Settings) -> str:
    """``__Host-`` cookies must be Secure, host-only and Path=/; only possible over https."""
    return "__Host-orch_staff" if _is_https(settings) else "orch_staff"


def device_cookie_name(settings: Settings) -> str:
    """The known-device cookie, ``__Host-`` over https like the session cookie."""
    return "__Host-orch_device" if _is_https(settings) else "orch_device"


def _is_https(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def set_session_cookie(response: web.StreamResponse, settings: Settings, value: str) -> None:
    _set_staff_cookie(response, settings, cookie_name(settings), value, SESSION_TTL)


def set_device_cookie(response: web.StreamResponse, settings: Settings, value: str) -> None:
    _set_staff_cookie(response, settings, device_cookie_name(settings), value, KNOWN_DEVICE_TTL)


def _set_staff_cookie(
    response: web.StreamResponse, settings: Settings, name: str, value: str, ttl: timedelta
) -> None:
    """Set a host-wide, script-proof cookie that lives ``ttl`` (Secure over https)."""
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        secure=_is_https(settings),
        samesite="Lax",
        max_age=int(ttl.total_seconds()),
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


@dataclass
class StaffContext(Caller):
    """A signed-in person's request: who they are, their session's CSRF token, the time."""

    staff_session: StaffSession
    form: Any = None  # the posted form, already read (and CSRF-checked) for unsafe methods
    audited: bool = False  # whether this request has written its audit row yet

    @property
    def csrf_token(self) -> str:
        return self.staff_session.csrf_token

    def may(self, rule: Access) -> bool:
        """Whether this person may use the pages ``rule`` guards (what their links ask)."""
        return rule.allows(self.user.role)

    def page(self, **context: Any) -> dict[str, Any]:
        """The context every staff template gets, plus the page's own.

        ``can`` says which groups of pages this person may open, by the same rules the
        pages' guards use, so no page offers a link its reader would be refused.
        """
        return {
            "staff": self.user,
            "csrf_token": self.csrf_token,
            "roles": StaffRole,
            "can": abilities(self.user.role),
            **context,
        }

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
    roles: Access = CASE_READERS,
) -> Callable[[StaffHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Guard a page: signed-in staff the rule lets in (admins always), CSRF on every write.

    Anyone else is refused with a page saying who can do this (``Access.refusal``).
    """

    def decorate(
        handler: StaffHandler,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def view(request: web.Request) -> web.StreamResponse:
            staff = await load_staff(request)
            if staff is None:
                raise sign_in_redirect(request)
            request[SIGNED_IN] = staff.page()  # an error page keeps their staff menu
            try:
                if not staff.may(roles):
                    raise ApiError(403, "forbidden", roles.refusal())
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


def password_problem(password: str, confirm: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Enter a password of at least {MIN_PASSWORD_LENGTH} characters"
    if password != confirm:
        return "The two passwords are not the same"
    return None
