"""Mail over HTTP: the inbound-mail webhook, the dev-mode mailbox; the reminder scheduler.

- ``POST /hooks/mail/inbound``: a mail server (or a relay like Mailgun/Postmark in raw
  mode) posts each message sent to the organiser address as raw MIME, with the shared
  secret ``ORCH_INBOUND_MAIL_TOKEN`` in ``X-Orchestrator-Token``. iTIP replies update the
  invitations; bounces (RFC 3464 reports) mark the person's email failed, and one that
  cannot be read is a 422; anything else is acknowledged and dropped, so the sender never
  retries it.
- ``GET /dev/mail``: in development with the ``file`` mail backend, every ``.eml`` the
  service wrote, readable and clickable, so a newcomer can walk the whole flow locally.
  It shows every party's links, so only signed-in staff see it, and nowhere but in
  development does it exist (404, signed in or not).
- ``reminder_scheduler_ctx``: runs the reminder scheduler with the app; ``wake_scheduler(app)``
  is the hook ``orchestrator.wiring`` gives the reminders, so a change wakes it sooner.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.settings import Settings
from orchestrator.messaging import bounces
from orchestrator.messaging import inbound_mail as inbound
from orchestrator.messaging.reminder_scheduler import ReminderScheduler
from orchestrator.messaging.reminders import ChangeHook
from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import BUS, CLOCK, DB, REMINDER_SCHEDULER, SETTINGS
from orchestrator.web.pages import render
from orchestrator.web.staff.roles import ANY_STAFF
from orchestrator.web.staff.sessions import StaffContext, StaffHandler, staff_page

routes = web.RouteTableDef()

TOKEN_HEADER = "X-Orchestrator-Token"
_EML_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}\.eml$")
_URL = re.compile(r"https?://[^\s<>\"']+")
DEV_MAIL_LIMIT = 200


# ---------------------------------------------------------------------------- inbound mail


def _authorised(request: web.Request, settings: Settings) -> bool:
    expected = settings.inbound_mail_token
    if expected is None:
        raise ApiError(404, "not_found", "inbound mail is not enabled")
    given = request.headers.get(TOKEN_HEADER, "")
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


@routes.post("/hooks/mail/inbound")
async def inbound_mail(request: web.Request) -> web.Response:
    """Take one raw MIME message sent to the organiser address; apply it if it is a reply."""
    app = request.app
    settings = app[SETTINGS]
    if not _authorised(request, settings):
        raise ApiError(401, "unauthorized", "a valid inbound mail token is required")
    raw = await read_body(request, limit=settings.inbound_mail_max_bytes, what="message")
    if not raw.strip():
        raise ApiError(400, "empty", "no message was sent")
    try:
        async with app[DB].write() as session:
            outcome = await inbound.ingest(session, raw, now=app[CLOCK](), bus=app[BUS])
    except bounces.MalformedReport as exc:
        raise ApiError(422, "bad_report", "the delivery-status report could not be read") from exc
    return web.json_response({"result": outcome})


# ---------------------------------------------------------------------------- dev mailbox


def _mail_folder(request: web.Request) -> Path:
    return request.app[SETTINGS].mail_dir


def dev_tool(handler: StaffHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Guard a development tool: it exists only in development, and only for signed-in staff.

    Outside development it is a 404 before anyone's cookie is looked at, so a production
    service never even hints that it is there.
    """
    staff_only = staff_page(roles=ANY_STAFF)(handler)

    @functools.wraps(handler)
    async def view(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        if settings.env != "dev" or settings.mail_backend != "file":
            raise web.HTTPNotFound()
        return await staff_only(request)

    return view


def _read_message(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _header(message: EmailMessage, name: str, default: str = "") -> str:
    """A header as text; one that decodes to a line break is shown raw, not a 500."""
    try:
        return str(message.get(name, default))
    except ValueError:  # e.g. an encoded word holding CR/LF in an address
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), default)
        return " ".join(str(raw).split())


def _calendar_method(message: EmailMessage) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_param("method") or "").upper() or None
    return None


@routes.get("/dev/mail")
@dev_tool
async def dev_mail(request: web.Request, _staff: StaffContext) -> web.StreamResponse:
    """List the mail the service wrote (development only)."""
    folder = _mail_folder(request)
    files = sorted(
        (p for p in folder.glob("*.eml") if p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )[:DEV_MAIL_LIMIT]
    shown = []
    for path in files:
        message = _read_message(path)
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        shown.append(
            {
                "name": path.name,
                "to": _header(message, "To"),
                "subject": _header(message, "Subject", "(no subject)"),
                "written": f"{written:%Y-%m-%d %H:%M:%S} UTC",
                "method": _calendar_method(message),
            }
        )
    return render("dev/mail_list.html", request, {"messages": shown, "folder": str(folder)})


def _message_path(request: web.Request) -> Path:
    folder = _mail_folder(request)
    name = request.match_info["name"]
    if not _EML_NAME.fullmatch(name):
        raise web.HTTPNotFound()
    path = folder / name
    if not path.is_file():
        raise web.HTTPNotFound()
    return path


def _pieces(text: str) -> list[tuple[str, str]]:
    """Split text into plain runs and links, so the template can make only links clickable."""
    pieces: list[tuple[str, str]] = []
    last = 0
    for match in _URL.finditer(text):
        pieces.append(("text", text[last : match.start()]))
        pieces.append(("link", match.group(0)))
        last = match.end()
    pieces.append(("text", text[last:]))
    return pieces


@routes.get("/dev/mail/{name}")
@dev_tool
async def dev_message(request: web.Request, _staff: StaffContext) -> web.StreamResponse:
    """One message: its text with working links, and its calendar part (development only)."""
    path = _message_path(request)
    message = _read_message(path)
    text_part = message.get_body(preferencelist=("plain",))
    text = text_part.get_content() if text_part is not None else ""
    calendar = None
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = part.get_content()
            if isinstance(calendar, bytes):
                calendar = calendar.decode("utf-8", errors="replace")
    return render(
        "dev/mail_message.html",
        request,
        {
            "name": path.name,
            "subject": _header(message, "Subject", "(no subject)"),
            "sender": _header(message, "From"),
            "to": _header(message, "To"),
            "method": _calendar_method(message),
            "pieces": _pieces(str(text)),
            "calendar": calendar,
        },
    )


@routes.get("/dev/mail/{name}/raw")
@dev_tool
async def dev_message_raw(request: web.Request, _staff: StaffContext) -> web.StreamResponse:
    path = _message_path(request)
    return web.Response(
        body=path.read_bytes(),
        content_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )


# ------------------------------------------------------------------------ the reminder scheduler


def wake_scheduler(app: web.Application) -> ChangeHook:
    """The hook that wakes this app's reminder scheduler when a reminder falls due sooner."""

    def wake_sooner(session: AsyncSession, due: datetime) -> None:
        scheduler = app.get(REMINDER_SCHEDULER)
        if scheduler is not None:
            scheduler.wake_after_commit(session, due)

    return wake_sooner


async def reminder_scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the reminder scheduler while background jobs run; stop it as the app closes."""
    # Registered after the database's context: the first sweep finds the database open,
    # and a pass in progress finishes its transaction before the database closes.
    if not app[SETTINGS].run_background_jobs:
        yield
        return
    scheduler = ReminderScheduler(app[DB], app[SETTINGS], clock=app[CLOCK])
    app[REMINDER_SCHEDULER] = scheduler
    await scheduler.start()
    yield
    await scheduler.stop()
