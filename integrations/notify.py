"""GOV.UK Notify over its published HTTP API: email, text messages and letters.

Notify sends through templates made in its admin site. This service uses one generic
template per channel whose whole content is a ``((body))`` field (and ``((subject))``
for email), so the words stay in our own templates and Notify only carries them.

Every request is authorised with a fresh JWT (HS256; ``iss`` the service id, ``iat`` now)
signed with the secret half of the API key, whose form is ``{key_name}-{service_id}-{secret}``
(both ids UUIDs). Errors come back as ``{"errors": [{"error", "message"}], "status_code"}``:
400 (bad number, template, personalisation) and 403 (the key) are final; 429 (rate or
daily limit) and 5xx are worth another try, as is a connection that fails.

A precompiled letter is the same ``POST /v2/notifications/letter`` with ``reference``, the
PDF as base64 ``content`` and ``postage`` (first or second) instead of a template.

We speak HTTP with the shared ``aiohttp`` session rather than using the synchronous
``notifications-python-client``: the contract is three POSTs, and nothing blocks the loop.
Each notification carries our ``reference`` (the outbox idempotency key), which Notify
returns in its delivery receipts.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import aiohttp
import jwt

from integrations.base import MailBackend
from integrations.errors import (
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    SignatureInvalid,
)

DEFAULT_BASE_URL = "https://api.notifications.service.gov.uk"
_UUID_LENGTH = 36
# Receipt statuses that mean "it will never arrive": staff must reach the person another way.
FAILED_STATUSES = frozenset(
    {
        "permanent-failure",
        "temporary-failure",
        "technical-failure",
        "validation-failed",
        "cancelled",
    }
)


class NotifyError(ProviderRejected):
    """Notify refused a notification (400): the reason is in the message; final."""

    def __init__(self, message: str, *, status: int, error: str) -> None:
        super().__init__(message, provider="notify")
        self.status = status
        self.error = error


class NotifyUnavailable(ProviderUnavailable):
    """Notify answered 429 (rate or daily limit) or 5xx: try again later."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, provider="notify")
        self.status = status


@dataclass(frozen=True)
class NotifyKey:
    """An API key split as Notify reads it: the service id and the signing secret."""

    service_id: str
    secret: str

    @classmethod
    def parse(cls, api_key: str) -> NotifyKey:
        """Split ``{key_name}-{service_id}-{secret}``; raise ValueError if it is not that."""
        secret = api_key[-_UUID_LENGTH:]
        service_id = api_key[-(2 * _UUID_LENGTH + 1) : -(_UUID_LENGTH + 1)]
        if (
            len(api_key) < 2 * _UUID_LENGTH + 2
            or api_key[-(_UUID_LENGTH + 1)] != "-"
            or secret.count("-") != 4
            or service_id.count("-") != 4
        ):
            raise ValueError("a Notify API key reads {key_name}-{service_id}-{secret}")
        return cls(service_id=service_id, secret=secret)

    def token(self, *, now: float | None = None) -> str:
        """A request's bearer JWT: issued by the service, now, signed with the secret."""
        issued = int(time.time() if now is None else now)
        return jwt.encode(
            {"iss": self.service_id, "iat": issued},
            self.secret,
            algorithm="HS256",
            headers={"typ": "JWT", "alg": "HS256"},
        )


@dataclass(frozen=True)
class NotifyConfig:
    api_key: str
    base_url: str = DEFAULT_BASE_URL
    timeout_s: float = 15.0


@dataclass(frozen=True)
class Sent:
    """What Notify answered to an accepted notification."""

    id: str
    reference: str | None


class NotifyClient:
    """Sends notifications through a session the caller owns (the app's shared one)."""

    def __init__(self, config: NotifyConfig, http: aiohttp.ClientSession) -> None:
        self._key = NotifyKey.parse(config.api_key)
        self._base = config.base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._http = http

    async def send_sms(
        self,
        *,
        phone_number: str,
        template_id: str,
        personalisation: Mapping[str, str],
        reference: str,
    ) -> Sent:
        """Send a text message. Raises NotifyError (final) or ProviderUnavailable (retry)."""
        return await self._post(
            "sms",
            {
                "phone_number": phone_number,
                "template_id": template_id,
                "personalisation": dict(personalisation),
                "reference": reference,
            },
        )

    async def send_email(
        self,
        *,
        email_address: str,
        template_id: str,
        personalisation: Mapping[str, str],
        reference: str,
    ) -> Sent:
        """Send an email through a template. Raises like ``send_sms``."""
        return await self._post(
            "email",
            {
                "email_address": email_address,
                "template_id": template_id,
                "personalisation": dict(personalisation),
                "reference": reference,
            },
        )

    async def send_letter(
        self, *, template_id: str, address: Sequence[str], body: str, reference: str
    ) -> Sent:
        """Send a letter: up to 7 address lines, the last a postcode. Raises like ``send_sms``."""
        lines = {f"address_line_{n}": line for n, line in enumerate(address[:7], start=1)}
        return await self._post(
            "letter",
            {
                "template_id": template_id,
                "personalisation": {**lines, "body": body},
                "reference": reference,
            },
        )

    async def send_precompiled_letter(
        self, *, pdf: bytes, reference: str, postage: str = "second"
    ) -> Sent:
        """Post a letter we laid out ourselves: an A4 PDF whose first page shows the address
        in Notify's address block. Raises like ``send_sms``."""
        return await self._post(
            "letter",
            {
                "reference": reference,
                "content": base64.b64encode(pdf).decode("ascii"),
                "postage": postage,
            },
        )

    async def _post(self, kind: str, body: dict[str, Any]) -> Sent:
        headers = {"Authorization": f"Bearer {self._key.token()}"}
        url = f"{self._base}/v2/notifications/{kind}"
        try:
            async with self._http.post(
                url, json=body, headers=headers, timeout=self._timeout
            ) as response:
                answer = await _json(response)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"Notify unreachable: {exc}", provider="notify") from exc
        if status in (200, 201):
            return Sent(id=str(answer.get("id", "")), reference=answer.get("reference"))
        raise _error(status, answer)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _error(status: int, answer: Mapping[str, Any]) -> Exception:
    """Translate Notify's error shape into ours, saying whether a retry can help."""
    errors = answer.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    name = str(first.get("error", "")) or f"HTTP {status}"
    message = f"{name}: {first.get('message', '')}".strip(": ")
    if status == 403:
        return ProviderAuthError(f"Notify refused the API key ({message})", provider="notify")
    if status == 429 or status >= 500:
        return NotifyUnavailable(f"Notify {status}: {message}", status=status)
    return NotifyError(message, status=status, error=name)


def verify_callback(authorization: str | None, token: str) -> None:
    """Check a receipt call-back's ``Authorization: Bearer`` header against our token.

    Notify sends the bearer token configured for the service's call-back; anything else
    is refused before the body is read. Raises SignatureInvalid.
    """
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or not hmac.compare_digest(given, token):
        raise SignatureInvalid("the call-back's bearer token is not ours", provider="notify")


# ---------------------------------------------------------------------------- as mail backend


class NotifyMailBackend(MailBackend):
    """Email through Notify's generic template: the rendered subject and plain-text body.

    Notify writes its own HTML around the text, so the calendar attachment of an
    invitation does not travel this way; choose it (ORCH_MAIL_BACKEND=notify) where
    Notify is the only mail route.
    """

    name = "notify"

    def __init__(self, client: NotifyClient, *, template_id: str) -> None:
        self._client = client
        self._template_id = template_id

    async def send(self, message: EmailMessage, *, idempotency_key: str) -> None:
        text = message.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        for address in message.get_all("To", []):
            await self._client.send_email(
                email_address=parseaddr(str(address))[1],
                template_id=self._template_id,
                personalisation={"subject": str(message.get("Subject", "")), "body": body},
                reference=idempotency_key,
            )
