"""Check e-mail addresses and clean display names for iCalendar parameters and mail headers.

Invitations and their mail put people's names and addresses where a line break or a stray
character would start a new property or header; these two checks keep them single-line.
"""

from __future__ import annotations

import re
import unicodedata

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def check_email(address: str) -> str:
    """Return ``address`` if it is a bare addr-spec safe for a URI or header, else raise."""
    if not isinstance(address, str) or not _EMAIL.fullmatch(address):
        raise ValueError("not a plain e-mail address")
    return address


# Joiners that some scripts need inside a word: kept, unlike other format characters.
_JOINERS = frozenset("\u200c\u200d")


def clean_name(name: str) -> str:
    """Make a display name single-line, for parameters and mail headers.

    A name as typed (quotes, backslashes, carets, runs of spaces) is kept: icalendar quotes
    and RFC 6868-escapes parameter values and ``formataddr`` quotes display names. Only line
    breaks, control and format characters become a space, and the ends are trimmed.
    """
    kept: list[str] = []
    for c in name:
        if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") or c in _JOINERS:
            kept.append(c)
        elif not kept or kept[-1] != "\x00":
            kept.append("\x00")  # a run of breaks becomes one space
    return "".join(kept).replace("\x00", " ").strip()
