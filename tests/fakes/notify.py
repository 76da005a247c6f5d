"""A loopback fake of GOV.UK Notify's API v2: email, text message and letter sends, receipts.

Implements the published contract as ``notifications-python-client`` and the REST docs
state it: every request carries ``Authorization: Bearer <JWT>``, HS256, ``iss`` the
service id and ``iat`` within 30 seconds of now, signed with the API key's secret; the
three POSTs validate their bodies (a UK mobile, a known template id, every
``((placeholder))`` of the template given) and answer 201 with the notification, or the
documented errors ``{"errors": [{"error", "message"}], "status_code"}`` (400
ValidationError/BadRequestError, 403 AuthError, 429 RateLimitError, 500 Exception).
``fail_with`` makes it answer an outage; ``send_receipt`` POSTs a delivery-status
call-back, with the configured bearer token, as Notify does when a status is final.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
from aiohttp import web

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"orchestrator_test-{SERVICE_ID}-{SECRET}"
SMS_TEMPLATE = "f1a7c9d2-4b3e-4f60-8a21-5c9d0e7b6a13"
EMAIL_TEMPLATE = "a9c3e1f0-7d2b-4e85-9b14-3f6a2d8c0e57"
LETTER_TEMPLATE = "c4e2a8b6-1f9d-4a37-8e05-7b3c9d1f2a64"
CALLBACK_TOKEN = "notify-callback-bearer-token"

_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)7\d{9}$")
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
