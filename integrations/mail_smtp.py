"""Send mail through an SMTP server, keeping one connection open between sends."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from calendars.imip import message_id_for
from integrations.base import MailBackend
from integrations.errors import (
    IntegrationError,
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)

_REMEMBERED_KEYS = 10_000


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to reach the SMTP server (a submission port with STARTTLS, usually)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout_s: float = 15
    validate_certs: bool = True


class SmtpMailBackend(MailBackend):
    """Deliver each message over one kept-alive SMTP connection, reconnecting when it drops.

    Sends are serialised on that connection. A key already delivered by this backend is not
    sent twice; across restarts the stable Message-ID lets receiving clients drop duplicates.
    """

    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        if config.starttls and config.use_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        self._config = config
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self._delivered: OrderedDict[str, None] = OrderedDict()

    async def send(self, message: EmailMessage, *, idempotency_key: str) -> None:
        """Deliver ``message``. Raises ProviderUnavailable, ProviderRejected, ProviderAuthError."""
        if "Message-ID" not in message:
            message["Message-ID"] = message_id_for(idempotency_key, _sender_domain(message))
        await self._deliver(idempotency_key, lambda client: client.send_message(message))

    async def send_raw(
        self, raw: bytes, *, sender: str, recipients: Sequence[str], idempotency_key: str
    ) -> None:
        """Deliver rendered bytes as they are (the outbox path: no re-parsing, no re-flattening)."""
        await self._deliver(
            idempotency_key, lambda client: client.sendmail(sender, list(recipients), raw)
        )

    async def _deliver(
        self,
        idempotency_key: str,
        transmit: Callable[[aiosmtplib.SMTP], Awaitable[tuple[dict[str, Any], str]]],
    ) -> None:
        if idempotency_key in self._delivered:
            log.info("smtp: key already delivered, not sending again")
            return
        async with self._lock:
            try:
                await self._send_on_open_connection(transmit)
            except IntegrationError:
                raise
            except aiosmtplib.SMTPException as exc:
                await self._drop_connection()
                raise _translate(exc) from exc
            except (OSError, TimeoutError) as exc:
                await self._drop_connection()
                raise ProviderUnavailable(
                    f"SMTP server unreachable: {type(exc).__name__}", provider=self.name
                ) from exc
        self._remember(idempotency_key)

    async def close(self) -> None:
        """Say QUIT and close the kept-alive connection, if one is open."""
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()

    async def _send_on_open_connection(
        self, transmit: Callable[[aiosmtplib.SMTP], Awaitable[tuple[dict[str, Any], str]]]
    ) -> None:
        reused = self._client is not None and self._client.is_connected
        client = await self._connected_client()
        try:
            errors, _ = await transmit(client)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed an idle connection: open a fresh one and try once more.
            await self._drop_connection()
            client = await self._connected_client()
            errors, _ = await transmit(client)
        if errors:
            log.warning("smtp: %d recipient(s) refused, others accepted", len(errors))

    async def _connected_client(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        config = self._config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.starttls,
            validate_certs=config.validate_certs,
            timeout=config.timeout_s,
        )
        await client.connect()
        self._client = client
        return client

    async def _drop_connection(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _remember(self, key: str) -> None:
        self._delivered[key] = None
        while len(self._delivered) > _REMEMBERED_KEYS:
            self._delivered.popitem(last=False)


def _translate(exc: aiosmtplib.SMTPException) -> IntegrationError:
    """Say whether an SMTP failure is worth retrying, without quoting addresses."""
    provider = SmtpMailBackend.name
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return ProviderUnavailable(f"SMTP auth deferred ({exc.code})", provider=provider)
        return ProviderAuthError(f"SMTP login refused ({exc.code})", provider=provider)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        if codes and all(400 <= code < 500 for code in codes):
            return ProviderUnavailable(f"SMTP recipients deferred {codes}", provider=provider)
        return ProviderRejected(f"SMTP recipients refused {codes}", provider=provider)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return ProviderUnavailable(f"SMTP deferred ({exc.code})", provider=provider)
        if exc.code in (530, 534, 535, 538):
            return ProviderAuthError(f"SMTP requires login ({exc.code})", provider=provider)
        return ProviderRejected(f"SMTP refused ({exc.code})", provider=provider)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected):
        return ProviderUnavailable(f"SMTP connection lost: {type(exc).__name__}", provider=provider)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return ProviderUnavailable("SMTP server unreachable", provider=provider)
    if "authentication" in str(exc).lower():
        return ProviderAuthError("SMTP server offers no usable login method", provider=provider)
    return ProviderRejected(f"SMTP failure: {type(exc).__name__}", provider=provider)


def _sender_domain(message: EmailMessage) -> str:
    sender = message.get("From")
    addresses: tuple[Address, ...] = getattr(sender, "addresses", ())
    return addresses[0].domain if addresses and addresses[0].domain else "localhost"
