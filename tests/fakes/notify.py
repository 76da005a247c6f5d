"""A loopback fake of GOV.UK Notify's API v2: email, text message and letter sends, receipts.

Implements the published contract as ``notifications-python-client`` and the REST docs
state it: every request carries ``Authorization: Bearer <JWT>``, HS256, ``iss`` the
service id and ``iat`` within 30 seconds of now, signed with the API key's secret; the
three POSTs validate their bodies (a UK mobile, a known template id, every
``((placeholder))`` of the template given) and answer 201 with the notification, or the
documented errors ``{"errors": [{"error", "message"}], "status_code"}`` (400
ValidationError/BadRequestError, 403 AuthError, 429 RateLimitError, 500 Exception).
A precompiled letter (``POST /v2/notifications/letter`` with ``reference``, base64
``content`` and ``postage``) is checked as Notify checks one: base64 that decodes to a PDF,
A4 portrait pages, at most 10 of them, and on the first page an address of 3 to 7 lines
inside the address window, its last line a UK postcode; ``postage`` first, second or
economy. (Notify answers the layout checks later with a ``validation-failed`` receipt; the
fake refuses at once with a 400, which is stricter.) The PDF is kept as ``Received.pdf``.
``fail_with`` makes it answer an outage; ``send_receipt`` POSTs a delivery-status
call-back, with the configured bearer token, as Notify does when a status is final.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from pypdf import PdfReader
from pypdf.errors import PdfReadError

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"orchestrator_test-{SERVICE_ID}-{SECRET}"
SMS_TEMPLATE = "f1a7c9d2-4b3e-4f60-8a21-5c9d0e7b6a13"
EMAIL_TEMPLATE = "a9c3e1f0-7d2b-4e85-9b14-3f6a2d8c0e57"
LETTER_TEMPLATE = "c4e2a8b6-1f9d-4a37-8e05-7b3c9d1f2a64"
CALLBACK_TOKEN = "notify-callback-bearer-token"

_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)7\d{9}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
MM = 72 / 25.4
A4 = (595.28, 841.89)
# The address window: 24.6-120 mm from the left, 39.5-66.3 mm from the top of the page.
ADDRESS_WINDOW = (24.6 * MM, 120.0 * MM, 39.5 * MM, 66.3 * MM)
MAX_PAGES = 10
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Received:
    """One notification Notify accepted."""

    id: str
    kind: str  # email, sms, letter
    to: str
    template_id: str
    personalisation: dict[str, Any]
    reference: str | None
    pdf: bytes | None = None  # a precompiled letter
    postage: str | None = None


@dataclass
class FakeNotify:
    service_id: str = SERVICE_ID
    secret: str = SECRET
    # Each template's placeholders: the generic ones this service uses.
    templates: dict[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=lambda: {
            SMS_TEMPLATE: ("sms", ("body",)),
            EMAIL_TEMPLATE: ("email", ("subject", "body")),
            LETTER_TEMPLATE: ("letter", ("address_line_1", "address_line_2", "body")),
        }
    )
    fail_with: int | None = None  # answer every send with this status (500, 429)
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self.app = web.Application()
        for kind in ("email", "sms", "letter"):
            self.app.router.add_post(f"/v2/notifications/{kind}", self._send(kind))

    # ------------------------------------------------------------------ the API

    def _send(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            problem = self._authorise(request.headers.get("Authorization", ""))
            if problem is not None:
                return self._error(403, "AuthError", problem)
            if self.fail_with == 429:
                return self._error(
                    429,
                    "RateLimitError",
                    "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
                )
            if self.fail_with is not None:
                return self._error(self.fail_with, "Exception", "Internal server error")
            try:
                body = await request.json()
            except ValueError:
                return self._error(400, "ValidationError", "Invalid JSON")
            if kind == "letter" and isinstance(body, dict) and "content" in body:
                return self._precompiled(body, request)
            problem, to = self._validate(kind, body)
            if problem is not None:
                return self._error(400, "ValidationError", problem)
            notification = Received(
                id=str(uuid.uuid4()),
                kind=kind,
                to=to,
                template_id=body["template_id"],
                personalisation=dict(body.get("personalisation") or {}),
                reference=body.get("reference"),
            )
            self.received.append(notification)
            return web.json_response(self._created(notification, request), status=201)

        return handle

    def _authorise(self, header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return "Unauthorized: authentication token must be provided"
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.InvalidSignatureError:
            return "Invalid token: signature, api token not found"
        except jwt.PyJWTError as exc:
            return f"Invalid token: {exc}"
        if claims["iss"] != self.service_id:
            return "Invalid token: service not found"
        if abs(time.time() - float(claims["iat"])) > 30:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _validate(self, kind: str, body: dict[str, Any]) -> tuple[str | None, str]:
        template_id = str(body.get("template_id", ""))
        if not _UUID.match(template_id):
            return "template_id is not a valid UUID", ""
        template = self.templates.get(template_id)
        if template is None or template[0] != kind:
            return "Template not found", ""
        personalisation = body.get("personalisation") or {}
        missing = [name for name in template[1] if name not in personalisation]
        if missing:
            return f"Missing personalisation: {', '.join(missing)}", ""
        if kind == "sms":
            number = re.sub(r"[\s()\-]", "", str(body.get("phone_number", "")))
            if not _UK_MOBILE.match(number):
                return "phone_number Not a UK mobile number", ""
            return None, number
        if kind == "email":
            address = str(body.get("email_address", ""))
            if "@" not in address:
                return "email_address Not a valid email address", ""
            return None, address
        return None, str(personalisation.get("address_line_1", ""))

    def _precompiled(self, body: dict[str, Any], request: web.Request) -> web.Response:
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference:
            return self._error(400, "ValidationError", "reference is a required property")
        postage = body.get("postage", "second")
        if postage not in ("first", "second", "economy"):
            return self._error(
                400,
                "ValidationError",
                "postage invalid. It must be either first, second or economy.",
            )
        try:
            pdf = base64.b64decode(str(body["content"]), validate=True)
        except (binascii.Error, ValueError):
            return self._error(
                400, "ValidationError", "Cannot decode letter content (file) from base64 encoding"
            )
        problem, address = check_letter(pdf)
        if problem is not None:
            return self._error(400, "ValidationError", problem)
        notification = Received(
            id=str(uuid.uuid4()),
            kind="letter",
            to="\n".join(address),
            template_id="",
            personalisation={},
            reference=reference,
            pdf=pdf,
            postage=postage,
        )
        self.received.append(notification)
        answer = {"id": notification.id, "reference": reference, "postage": postage}
        return web.json_response(answer, status=201)

    def letters(self) -> list[Received]:
        """The precompiled letters received, oldest first."""
        return [r for r in self.received if r.kind == "letter" and r.pdf is not None]

    def _error(self, status: int, error: str, message: str) -> web.Response:
        self.refused.append((status, message))
        return web.json_response(
            {"errors": [{"error": error, "message": message}], "status_code": status},
            status=status,
        )

    def _created(self, notification: Received, request: web.Request) -> dict[str, Any]:
        body = str(notification.personalisation.get("body", ""))
        return {
            "id": notification.id,
            "reference": notification.reference,
            "content": {"body": body, "from_number": "GOVUK"}
            if notification.kind == "sms"
            else {"body": body, "subject": notification.personalisation.get("subject", "")},
            "uri": f"{request.url.origin()}/v2/notifications/{notification.id}",
            "template": {
                "id": notification.template_id,
                "version": 1,
                "uri": f"{request.url.origin()}/v2/template/{notification.template_id}",
            },
        }

    # ------------------------------------------------------------------ receipts

    def texts_to(self, number: str) -> list[Received]:
        """The text messages received for one number (any UK form of it)."""
        tail = number[-10:]
        return [r for r in self.received if r.kind == "sms" and r.to[-10:] == tail]

    async def send_receipt(
        self,
        url: str,
        notification: Received,
        status: str,
        *,
        token: str = CALLBACK_TOKEN,
    ) -> int:
        """POST a delivery receipt as Notify does; return the status our service answered."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {
            "id": notification.id,
            "reference": notification.reference,
            "to": notification.to,
            "status": status,
            "created_at": now,
            "completed_at": now,
            "sent_at": now,
            "notification_type": notification.kind,
            "template_id": notification.template_id,
            "template_version": 1,
        }
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=body, headers=headers) as response,
        ):
            return response.status


# ---------------------------------------------------------------------- letter checks


def check_letter(pdf: bytes) -> tuple[str | None, list[str]]:
    """Check a precompiled letter as Notify does; the problem (or None) and its address."""
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=True)
        pages = list(reader.pages)
    except (PdfReadError, ValueError, OSError):
        return "Letter content is not a valid PDF", []
    if not pages:
        return "Letter content is not a valid PDF", []
    if len(pages) > MAX_PAGES:
        return f"Letter exceeds {MAX_PAGES} pages", []
    for page in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        if abs(width - A4[0]) > 1 or abs(height - A4[1]) > 1:
            return "Your letter is not A4 portrait size", []
    address = address_lines(pages[0], height=float(pages[0].mediabox.height))
    if not 3 <= len(address) <= 7:
        return "The address block must have between 3 and 7 lines", address
    if not _POSTCODE.match(address[-1].upper()):
        return "The last line of the address must be a real UK postcode", address
    return None, address


def address_lines(page: Any, *, height: float) -> list[str]:
    """The text inside the address window of a page, line by line from the top."""
    left, right, top, bottom = ADDRESS_WINDOW
    found: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if left <= x <= right and height - bottom <= y <= height - top:
            found.append((-y, x, text.strip()))

    page.extract_text(visitor_text=visit)
    lines: dict[float, list[tuple[float, str]]] = {}
    for minus_y, x, text in sorted(found):
        lines.setdefault(round(minus_y), []).append((x, text))
    return [" ".join(t for _, t in sorted(parts)) for _, parts in sorted(lines.items())]
