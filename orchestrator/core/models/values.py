"""The checked values the API schemas share: names, addresses, references, zones, times.

Each check is also the OpenAPI ``pattern`` or ``enum``, so what the schema promises is
what the API takes; calendar details (an ICS feed or CalDAV) are one such value, given
for mediators and parties alike.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, EmailStr, StringConstraints, WithJsonSchema, field_validator
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

PhoneNumber = Annotated[str, StringConstraints(pattern=r"^[0-9+() \-]{5,40}$")]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Weekday = Annotated[int, Field(ge=1, le=7)]  # ISO: 1 is Monday


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" for c in word)


def _any_scheme(*schemes: str) -> str:
    """A URL of one of ``schemes`` (any case), or empty: what ``str.lower().startswith`` takes."""
    return "^(?:(?:" + "|".join(_any_case(s) for s in schemes) + ")://[\\s\\S]*)?$"


# One line of free text (an organisation): no line breaks, as the schema says.
OneLineText = Annotated[str, SchemaField(json_schema_extra={"pattern": "^[^\\r\\n]*$"})]
# Python's whitespace (``str.strip``), spelled out so the schema's regex means the same.
_WHITESPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0"
    "\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
# A case reference: one line with something in it besides spaces; trimmed when stored.
REFERENCE_PATTERN = f"^[^\\r\\n\\t]*[^{_WHITESPACE}][^\\r\\n\\t]*$"
# A reminder offset: minutes before a meeting, up to 60 days.
ReminderOffset = Annotated[int, Field(ge=1, le=60 * 24 * 60)]

# A person's name goes into mail headers, calendar parameters and pages exactly as typed, so
# it is refused when it could not be: line breaks and other control characters, bidi
# overrides, spaces at either end, and ``=?`` (a mail reader decodes it as RFC 2047 text).
# The same expression is the OpenAPI ``pattern``, so what the schema allows is what we take.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff"
_SPACES = " \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000"
_NAME_TOKEN = f"(?:[^{_CONTROLS}{_SPACES}=]|=+[^{_CONTROLS}{_SPACES}=?])"
PERSON_NAME_PATTERN = f"^{_NAME_TOKEN}(?:[{_SPACES}]*{_NAME_TOKEN})*=*$"
_PERSON_NAME = re.compile(PERSON_NAME_PATTERN)


def is_person_name(value: str) -> bool:
    """Whether ``value`` can be shown, mailed and put in a calendar exactly as typed."""
    return 0 < len(value) <= 200 and _PERSON_NAME.fullmatch(value) is not None


def check_person_name(value: str) -> str:
    """Return ``value`` if it can be shown, mailed and put in a calendar as typed."""
    if not is_person_name(value):
        raise ValueError(
            "must be one line of text, without control characters, spaces at either end "
            'or the characters "=?"'
        )
    return value


PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(check_person_name),
    SchemaField(json_schema_extra={"pattern": PERSON_NAME_PATTERN}),
]


# email-validator refuses special-use domains (RFC 6761), which ``format: email`` allows;
# the schema says so too, so that what it promises is what the API takes.
_SPECIAL_USE = "|".join(_any_case(d) for d in ("arpa", "invalid", "local", "localhost", "onion"))
EmailAddress = Annotated[
    EmailStr,
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": 320,
            "pattern": f"^(?!.*[@.](?:{_SPECIAL_USE}|{_any_case('test')})$)",
        }
    ),
]


def single_line(value: str | None) -> str | None:
    """For free text shown on one line (an organisation): no line breaks; trimmed."""
    if value is not None and any(ch in value for ch in "\r\n"):
        raise ValueError("must be a single line of text")
    return value.strip() if value else value


def not_null(value: Any) -> Any:
    """For update bodies: a field that may be left out, but never set to null."""
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def _known_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "enum": sorted(available_timezones())}),
]


class CaldavDetails(SQLModel):
    url: str = Field(max_length=2000)
    username: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=500)


class CalendarConfig(SQLModel):
    """Where to read someone's busy time: an ICS feed URL or CalDAV details."""

    ics_url: str | None = Field(
        default=None,
        max_length=2000,
        schema_extra={"json_schema_extra": {"pattern": _any_scheme("http", "https", "webcal")}},
    )
    caldav: CaldavDetails | None = None

    @field_validator("ics_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://", "webcal://")):
            raise ValueError("ics_url must be an http(s) or webcal URL")
        return value


# A UK postcode, any case and spacing ("sw1a1aa"); stored as Royal Mail writes it ("SW1A 1AA").
POSTCODE_PATTERN = r"^\s*[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}\s*$"
_POSTCODE = re.compile(POSTCODE_PATTERN)
# A letter's address is the name, these lines and the postcode: Notify prints 7 lines at most.
MAX_POSTAL_LINES = 5


def _postcode(value: str) -> str:
    if not _POSTCODE.match(value):
        raise ValueError("must be a UK postcode, like SW1A 1AA")
    compact = "".join(value.split()).upper()
    return f"{compact[:-3]} {compact[-3:]}"


def _postal_lines(value: str) -> str:
    lines = [" ".join(line.split()) for line in value.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("must have at least one line, like the house and street")
    if len(lines) > MAX_POSTAL_LINES or any(len(line) > 60 for line in lines):
        raise ValueError(f"must be at most {MAX_POSTAL_LINES} lines of 60 characters")
    return "\n".join(lines)


Postcode = Annotated[
    str, AfterValidator(_postcode), WithJsonSchema({"type": "string", "pattern": POSTCODE_PATTERN})
]
# At least one line with something on it (the schema says so too, for generated clients).
PostalLines = Annotated[
    str,
    AfterValidator(_postal_lines),
    WithJsonSchema({"type": "string", "maxLength": 300, "pattern": r"\S"}),
]
