"""SmtpMailBackend against a real aiosmtpd server on a loopback ephemeral port."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from icalendar import Calendar

from calendars.imip import build_invite_message
from calendars.invites import build_request
from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from integrations.mail_smtp import SmtpConfig, SmtpMailBackend
from tests.calendars.test_invites import make_spec

USER, PASSWORD = "orchestrator", "correct horse"

# AUTH without TLS is fine on loopback in a test; aiosmtpd warns about it regardless.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


class EphemeralController(Controller):
    """aiosmtpd's Controller, bound to port 0 and told which port it got."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        # aiosmtpd types the server as AbstractServer; every loop's server has ``sockets``.
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


@dataclass
class RecordingHandler:
    """Accepts mail (or answers ``data_reply`` / ``rcpt_reply``) and keeps what arrived."""

    data_reply: str = "250 OK"
    rcpt_reply: str | None = None
    received: list[tuple[str, list[str], bytes, Any]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            content = envelope.original_content or b""
            self.received.append(
                (envelope.mail_from or "", envelope.rcpt_tos, content, session.peer)
            )
        return self.data_reply


def _check_login(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def serve(handler: RecordingHandler, **smtp_options: Any) -> EphemeralController:
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0, **smtp_options)
    controller.start()
    return controller


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def smtp_server(handler: RecordingHandler) -> Iterator[EphemeralController]:
    controller = serve(handler)
    yield controller
    controller.stop()


def invite(key: str = "outbox-1-invite", to_addr: str = "zoe@example.com") -> EmailMessage:
    """An invite as the outbox hands it to a backend: rendered to bytes, then parsed back."""
    built = build_invite_message(
        method="REQUEST",
        ics=build_request(make_spec()),
        subject="Invitation: SEND mediation meeting",
        from_name="Mediation Service",
        from_addr="mediation@mediate.example",
        to_name="Zoë Carter",
        to_addr=to_addr,
        text_body="You are invited – 10:00 to 12:00.",
        html_body="<p>You are invited – 10:00 to 12:00.</p>",
        message_id_key=key,
        domain="mediate.example",
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


def backend_for(controller: Controller, **options: Any) -> SmtpMailBackend:
    return SmtpMailBackend(SmtpConfig(host="127.0.0.1", port=controller.port, **options))


async def test_the_invite_arrives_whole_and_in_shape(
    smtp_server: EphemeralController, handler: RecordingHandler
) -> None:
    backend = backend_for(smtp_server)
    try:
        await backend.send(invite(), idempotency_key="outbox-1-invite")
    finally:
        await backend.close()
    ((mail_from, rcpt_tos, content, _peer),) = handler.received
    assert mail_from == "mediation@mediate.example"
    assert rcpt_tos == ["zoe@example.com"]
    received = email.message_from_bytes(content, policy=policy.default)
    assert received["Message-ID"] == "<outbox-1-invite@mediate.example>"
    assert received["To"].addresses[0].display_name == "Zoë Carter"
    parts = list(received.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
    assert parts[-1].get_param("method") == "REQUEST"
    ics = parts[-1].get_payload(decode=True)
    assert isinstance(ics, bytes)
    calendar = Calendar.from_ical(ics)
    assert str(calendar["METHOD"]) == "REQUEST"


async def test_one_connection_carries_many_messages(
    smtp_server: EphemeralController, handler: RecordingHandler
) -> None:
    backend = backend_for(smtp_server)
    try:
        for n in range(3):
            await backend.send(invite(f"k{n}"), idempotency_key=f"k{n}")
    finally:
        await backend.close()
    assert len(handler.received) == 3
    assert len({peer for *_, peer in handler.received}) == 1


async def test_the_same_key_is_not_delivered_twice(
    smtp_server: EphemeralController, handler: RecordingHandler
) -> None:
    backend = backend_for(smtp_server)
    try:
        await backend.send(invite("k1"), idempotency_key="k1")
        await backend.send(invite("k1"), idempotency_key="k1")
    finally:
        await backend.close()
    assert len(handler.received) == 1


async def test_a_dropped_idle_connection_is_reopened(handler: RecordingHandler) -> None:
    controller = serve(handler, timeout=0.2)  # the server hangs up on idle clients
    backend = backend_for(controller)
    try:
        await backend.send(invite("k1"), idempotency_key="k1")
        await asyncio.sleep(0.6)  # let the server's idle timer close the connection
        await backend.send(invite("k2"), idempotency_key="k2")
    finally:
        await backend.close()
        controller.stop()
    assert len(handler.received) == 2
    assert handler.received[0][3] != handler.received[1][3]


async def test_server_down_is_unavailable_and_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SmtpMailBackend(SmtpConfig(host="127.0.0.1", port=port, timeout_s=2))
    with pytest.raises(ProviderUnavailable) as caught:
        await backend.send(invite(), idempotency_key="k1")
    assert caught.value.retryable
    await backend.close()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.7.1 Message rejected as spam", ProviderRejected),
        ("554 5.6.0 Invalid message content", ProviderRejected),
        ("451 4.3.0 Try again later", ProviderUnavailable),
        ("452 4.3.1 Insufficient system storage", ProviderUnavailable),
    ],
)
async def test_data_replies_map_to_retry_or_give_up(
    handler: RecordingHandler, reply: str, error: type[Exception]
) -> None:
    handler.data_reply = reply
    controller = serve(handler)
    backend = backend_for(controller)
    try:
        with pytest.raises(error):
            await backend.send(invite(), idempotency_key="k1")
        # The backend recovers: the next message on a good server goes through.
        handler.data_reply = "250 OK"
        await backend.send(invite("k2"), idempotency_key="k2")
    finally:
        await backend.close()
        controller.stop()
    assert len(handler.received) == 1


async def test_an_unknown_recipient_is_rejected(handler: RecordingHandler) -> None:
    handler.rcpt_reply = "550 5.1.1 No such user"
    controller = serve(handler)
    backend = backend_for(controller)
    try:
        with pytest.raises(ProviderRejected) as caught:
            await backend.send(invite(), idempotency_key="k1")
    finally:
        await backend.close()
        controller.stop()
    assert not caught.value.retryable
    assert "zoe@example.com" not in str(caught.value)  # no personal data in errors or logs


async def test_wrong_credentials_are_an_auth_error(handler: RecordingHandler) -> None:
    controller = serve(
        handler, auth_required=True, auth_require_tls=False, authenticator=_check_login
    )
    wrong = backend_for(controller, username=USER, password="wrong")
    right = backend_for(controller, username=USER, password=PASSWORD)
    anonymous = backend_for(controller)
    try:
        with pytest.raises(ProviderAuthError):
            await wrong.send(invite(), idempotency_key="k1")
        with pytest.raises(ProviderAuthError):
            await anonymous.send(invite(), idempotency_key="k1")
        await right.send(invite(), idempotency_key="k1")
    finally:
        for backend in (wrong, right, anonymous):
            await backend.close()
        controller.stop()
    assert len(handler.received) == 1


def test_starttls_and_implicit_tls_together_are_refused() -> None:
    with pytest.raises(ValueError):
        SmtpMailBackend(SmtpConfig(host="h", port=1, starttls=True, use_tls=True))
