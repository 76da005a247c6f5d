"""Package invitations as iMIP mail (RFC 6047) and find the calendar inside a received one.

The calendar part goes last in ``multipart/alternative`` with ``method=`` equal to the METHOD
inside: anything else gives Outlook's "not supported calendar message.ics" and makes Gmail
ignore cancellations. Every header made from user data is stripped of CR/LF first.
"""

from __future__ import annotations

import email
import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.charset import QP, Charset
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import Any, Literal

from calendars.addresses import check_email, clean_name

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


# The messages are built with the stdlib's classic MIME classes (policy compat32 with CRLF
# line ends): several times faster than ``EmailMessage`` with the modern policy, whose header
# registry parses every header it is given. So nothing here relies on that parsing for
# safety: every header made from user data is single-line (``clean_name``) or a checked
# bare address (``check_email``), and non-ASCII is encoded (RFC 2047) explicitly.
class _WirePolicy(Compat32):
    """compat32 with CRLF line ends that writes a short one-line ASCII header as it is.

    compat32 runs every header through the ``Header`` folding machinery, even the ones
    that need no folding; skipping it for those is most of the cost of flattening.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, _EncodedWords):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n")
_SEVEN_BIT = Charset("utf-8")
_SEVEN_BIT.body_encoding = None  # type: ignore[assignment]  # 7bit: ASCII, short lines
_QUOTED_PRINTABLE = Charset("utf-8")
_QUOTED_PRINTABLE.body_encoding = QP


class _EncodedWords(str):
    """A header value already encoded (RFC 2047) and folded: written as it is."""


# RFC 2047 "Q" encoding in a header: these stand for themselves, a space is "_".
_Q_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")
_WORD_START, _WORD_END = "=?utf-8?q?", "?="
_MAX_WORD = 75  # RFC 2047: an encoded word is at most 75 characters


def _q_char(char: str) -> str:
    if char in _Q_SAFE:
        return char
    if char == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def _encoded_words(text: str, *, name: str) -> _EncodedWords:
    """Non-ASCII header text as Q-encoded words on folded lines, each word whole characters.

    What ``email.header.Header`` writes, without measuring the encoding again for every
    character added (that was four tenths of the cost of flattening a reminder).
    """
    room = _MAX_WORD - len(_WORD_START) - len(_WORD_END)
    first = min(room, 78 - len(name) - 2 - len(_WORD_START) - len(_WORD_END))
    words: list[str] = []
    word = ""
    for char in text:
        encoded = _q_char(char)
        if word and len(word) + len(encoded) > (first if not words else room):
            words.append(word)
            word = ""
        word += encoded
    words.append(word)
    return _EncodedWords("\r\n ".join(f"{_WORD_START}{w}{_WORD_END}" for w in words))


def _header_text(value: str, *, name: str) -> Any:  # str, or encoded words (typeshed: str)
    """One line of text for a header: control characters (CR and LF above all) folded into
    spaces, non-ASCII encoded."""
    text = clean_name(value)
    return text if text.isascii() else _encoded_words(text, name=name)


def _address(name: str, addr: str) -> str:
    return formataddr((clean_name(name), check_email(addr)), charset="utf-8")


def _seven_bit_ok(text: str) -> bool:
    return text.isascii() and all(len(line) <= 76 for line in text.splitlines())


def _text_part(text: str, subtype: str) -> MIMEText:
    charset = _SEVEN_BIT if _seven_bit_ok(text) else _QUOTED_PRINTABLE
    return MIMEText(text, subtype, charset, policy=_WIRE)  # type: ignore[arg-type]


def _calendar_part(ics_text: str, method: str) -> MIMEText:
    # Folded iCalendar lines are short: 7bit when ASCII, else base64 (what Outlook sends).
    charset: str | Charset = _SEVEN_BIT if ics_text.isascii() else "utf-8"
    part = MIMEText(ics_text, "calendar", charset, policy=_WIRE)  # type: ignore[arg-type]
    part.set_param("method", method)
    return part


def _headers(
    message: Message,
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
    message["Subject"] = _header_text(subject, name="Subject")
    message["From"] = _address(from_name, from_addr)
    message["To"] = _address(to_name, to_addr)
    if reply_to:
        message["Reply-To"] = check_email(reply_to)
    message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id_for(message_id_key, domain)


def _multipart(subtype: str, parts: list[Message]) -> MIMEMultipart:
    """A multipart with MIME-Version on the top level only, where RFC 2045 puts it.

    Its boundary is chosen here: ``=_`` can never occur in quoted-printable or base64 text,
    and 128 random bits will not occur in a 7bit part. (Left to the generator, each boundary
    is checked by compiling a regular expression of its own: a tenth of an invite's cost.)
    """
    for part in parts:
        del part["MIME-Version"]
    boundary = f"=_{secrets.token_hex(16)}"
    return MIMEMultipart(subtype, boundary=boundary, _subparts=parts, policy=_WIRE)


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
) -> Message:
    """Build the iMIP mail: text, HTML, then ``text/calendar; method=…`` last in the alternative."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"invites are sent as REQUEST or CANCEL, not {method!r}")
    inside = _ics_method(ics)
    if inside != method:
        raise ValueError(f"MIME method={method} but the calendar says METHOD:{inside}")
    alternative = _multipart(
        "alternative",
        [
            _text_part(text_body, "plain"),
            _text_part(html_body, "html"),
            _calendar_part(ics.decode("utf-8"), method),
        ],
    )
    message = alternative
    if attach_ics:
        attachment = MIMEApplication(ics, "ics", policy=_WIRE)  # base64 by default
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message = _multipart("mixed", [alternative, attachment])
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
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> Message:
    """Build an ordinary mail: text, plus an HTML alternative when one is given, plus any
    ``(filename, application subtype, bytes)`` attachments."""
    message: Message = _text_part(text_body, "plain")
    if html_body is not None:
        message = _multipart("alternative", [message, _text_part(html_body, "html")])
    if attachments:
        files: list[Message] = []
        for filename, subtype, data in attachments:
            part = MIMEApplication(data, subtype, policy=_WIRE)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            files.append(part)
        message = _multipart("mixed", [message, *files])
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
