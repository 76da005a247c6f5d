"""Package invitations as iMIP mail (RFC 6047) and find the calendar inside a received one.

The calendar part goes last in ``multipart/alternative`` with ``method=`` equal to the METHOD
inside: anything else gives Outlook's "not supported calendar message.ics" and makes Gmail
ignore cancellations. Every header made from user data is stripped of CR/LF first.
"""

from __future__ import annotations

import email
import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime
from typing import Literal

from calendars.invites import check_email, clean_name

ImipMethod = Literal["REQUEST", "CANCEL"]

_MESSAGE_ID_LEFT = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_METHOD_LINE = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)
_MAX_MESSAGE_ID_LEFT = 64


def message_id_for(key: str, domain: str) -> str:
    """Derive the Message-ID from the outbox key: the same key always gives the same id."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("Message-ID domain must be a host name")
    left = key if _MESSAGE_ID_LEFT.fullmatch(key) and len(key) <= _MAX_MESSAGE_ID_LEFT else ""
    if not left:
        left = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{left}@{domain.lower()}>"


def _header_text(value: str) -> str:
    """Fold every control character (CR and LF above all) into a space."""
    return clean_name(value)


def _address(name: str, addr: str) -> Address:
    return Address(display_name=clean_name(name), addr_spec=check_email(addr))


def _text_cte(text: str) -> str:
    plain = text.isascii() and all(len(line) <= 76 for line in text.splitlines())
    return "7bit" if plain else "quoted-printable"


def _headers(
    message: EmailMessage,
    *,
    subject: str,
    from_name: str,
    from_addr: str,
    to_name: str,
    to_addr: str,
    message_id_key: str,
    domain: str,
    reply_to: str | None,
    date: datetime | None,
) -> None:
    message["Subject"] = _header_text(subject)
    message["From"] = _address(from_name, from_addr)
    message["To"] = _address(to_name, to_addr)
    if reply_to:
        message["Reply-To"] = Address(addr_spec=check_email(reply_to))
    message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id_for(message_id_key, domain)
    if "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"


def _drop_part_mime_version(message: EmailMessage) -> None:
    """Keep MIME-Version on the top level only, where RFC 2045 puts it."""
    for part in message.iter_parts():
        del part["MIME-Version"]


def _ics_method(ics: bytes) -> str | None:
    """Read the top-level METHOD line of a calendar (unfolded lines never split it)."""
    found = _METHOD_LINE.search(ics)
    return found.group(1).decode("ascii").upper() if found else None


def build_invite_message(
    *,
    method: ImipMethod,
    ics: bytes,
    subject: str,
    from_name: str,
    from_addr: str,
    to_name: str,
    to_addr: str,
    text_body: str,
    html_body: str,
    message_id_key: str,
    domain: str,
    reply_to: str | None = None,
    attach_ics: bool = False,
    date: datetime | None = None,
) -> EmailMessage:
    """Build the iMIP mail: text, HTML, then ``text/calendar; method=…`` last in the alternative."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"invites are sent as REQUEST or CANCEL, not {method!r}")
    inside = _ics_method(ics)
    if inside != method:
        raise ValueError(f"MIME method={method} but the calendar says METHOD:{inside}")
    ics_text = ics.decode("utf-8")

    alternative = EmailMessage(policy=policy.SMTP)
    alternative.set_content(text_body, subtype="plain", cte=_text_cte(text_body))
    alternative.add_alternative(html_body, subtype="html", cte=_text_cte(html_body))
    alternative.add_alternative(
        ics_text,
        subtype="calendar",
        cte="7bit" if ics_text.isascii() else "base64",
        params={"method": method},
    )
    *_, calendar_part = alternative.iter_parts()
    calendar_part.set_param("charset", "UTF-8")

    _drop_part_mime_version(alternative)
    message = alternative
    if attach_ics:
        message.add_attachment(
            ics, maintype="application", subtype="ics", filename="invite.ics", cte="base64"
        )
    _headers(
        message,
        subject=subject,
        from_name=from_name,
        from_addr=from_addr,
        to_name=to_name,
        to_addr=to_addr,
        message_id_key=message_id_key,
        domain=domain,
        reply_to=reply_to,
        date=date,
    )
    return message


def build_plain_message(
    *,
    subject: str,
    from_name: str,
    from_addr: str,
    to_name: str,
    to_addr: str,
    text_body: str,
    html_body: str | None,
    message_id_key: str,
    domain: str,
    reply_to: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """Build an ordinary mail: text, plus an HTML alternative when one is given."""
    message = EmailMessage(policy=policy.SMTP)
    message.set_content(text_body, subtype="plain", cte=_text_cte(text_body))
    if html_body is not None:
        message.add_alternative(html_body, subtype="html", cte=_text_cte(html_body))
        _drop_part_mime_version(message)
    _headers(
        message,
        subject=subject,
        from_name=from_name,
        from_addr=from_addr,
        to_name=to_name,
        to_addr=to_addr,
        message_id_key=message_id_key,
        domain=domain,
        reply_to=reply_to,
        date=date,
    )
    return message


_ICS_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})


def extract_calendar_from_mime(raw: bytes) -> bytes | None:
    """Return the calendar carried by a received mail (inline part or .ics attachment), as UTF-8."""
    message = email.message_from_bytes(raw, policy=policy.default)
    inline: Message | None = None
    attached: Message | None = None
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        filename = (part.get_filename() or "").lower()
        if content_type == "text/calendar" and inline is None:
            inline = part
        elif attached is None and (content_type in _ICS_TYPES or filename.endswith(".ics")):
            attached = part
    chosen = inline or attached
    if chosen is None:
        return None
    payload = chosen.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = chosen.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return payload.decode("utf-8", errors="replace").encode("utf-8")
