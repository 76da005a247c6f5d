"""Signed webhook write-back to an external case system.

Wire format (documented for receivers in ``docs/webhooks.md``): the body is compact JSON
``{"id", "type", "occurred_at", "data"}``; every attempt carries the headers

    X-Orchestrator-Event-Id:  the event id (the same on every attempt and redelivery)
    X-Orchestrator-Timestamp: Unix seconds when this attempt was signed
    X-Orchestrator-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

Each attempt is signed afresh, so a retry hours later still passes the receiver's
freshness check while a captured request replayed later does not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from integrations.base import CaseworkSink, WebhookDelivery
from integrations.errors import ProviderRejected, ProviderUnavailable, SignatureInvalid

EVENT_ID_HEADER = "X-Orchestrator-Event-Id"
TIMESTAMP_HEADER = "X-Orchestrator-Timestamp"
SIGNATURE_HEADER = "X-Orchestrator-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_S = 300

EventType = Literal[
    "case.created",
    "meeting.booked",
    "meeting.rescheduled",
    "meeting.cancelled",
    "party.replied",
    "attendance.final",
    "outcome.recorded",
    "certificate.issued",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

PROVIDER = "casework"
# A busy or throttling receiver asks us to come back later; every other 4xx is final.
_RETRY_LATER_STATUSES = frozenset({408, 425, 429})


class WebhookRejected(ProviderRejected):
    """The receiver refused the event (4xx or a redirect); retrying the same bytes won't help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, provider=PROVIDER)
        self.status = status


class WebhookUnavailable(ProviderUnavailable):
    """The receiver timed out, was unreachable, answered 5xx or asked us to retry later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, provider=PROVIDER)
        self.status = status


def encode_event(
    *, event_id: str, event_type: EventType, occurred_at: datetime, data: Mapping[str, Any]
) -> bytes:
    """Serialise one event as the exact JSON bytes that are signed and sent."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    when = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    envelope = {"id": event_id, "type": event_type, "occurred_at": when, "data": dict(data)}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Build the headers of one delivery attempt."""
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a delivery's signature, then its freshness. Raises SignatureInvalid."""
    found = CIMultiDict(headers)
    timestamp_text = found.get(TIMESTAMP_HEADER)
    signature = found.get(SIGNATURE_HEADER)
    if timestamp_text is None or signature is None:
        raise SignatureInvalid("missing signature or timestamp header", provider=PROVIDER)
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise SignatureInvalid("malformed timestamp header", provider=PROVIDER) from None
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise SignatureInvalid("signature does not match", provider=PROVIDER)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureInvalid(
            f"stale timestamp: signed {now - timestamp}s from now, tolerance {tolerance_s}s",
            provider=PROVIDER,
        )


def _check_url(url: str) -> URL:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise WebhookRejected("webhook endpoint must be an http or https URL")
    return parsed


class HttpCaseworkSink(CaseworkSink):
    """POST signed events over HTTP through a session the caller opened and will close."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = 10.0,
        user_agent: str = "mediation-orchestrator-webhooks/1",
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._user_agent = user_agent

    async def deliver(self, delivery: WebhookDelivery, *, now: datetime) -> int:
        """POST one signed attempt and return the 2xx status.

        Raises WebhookUnavailable (a ProviderUnavailable) on 5xx, 408/425/429, timeout or
        connection failure, and WebhookRejected (a ProviderRejected) on other 4xx, on a
        redirect (never followed, so the signed body goes only where it was registered)
        and on a URL that is not http(s).
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        url = _check_url(delivery.url)
        timestamp = int(now.timestamp())
        headers = signed_headers(delivery.secret, delivery.event_id, timestamp, delivery.body)
        headers["User-Agent"] = self._user_agent
        try:
            async with self._session.post(
                url,
                data=delivery.body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
        except TimeoutError as exc:
            raise WebhookUnavailable("webhook endpoint timed out") from exc
        except aiohttp.ClientError as exc:
            raise WebhookUnavailable(
                f"webhook endpoint unreachable ({type(exc).__name__})"
            ) from exc
        if 200 <= status < 300:
            return status
        if status >= 500 or status in _RETRY_LATER_STATUSES:
            raise WebhookUnavailable(f"webhook endpoint answered {status}", status=status)
        raise WebhookRejected(f"webhook endpoint answered {status}", status=status)
