"""The domain model: SQLModel tables and the API schemas beside them.

Schema classes (``CaseCreate``, ``CasePublic``) and table classes (``Case``) are kept apart.
Times are stored in UTC and come back timezone-aware; each case carries its own zone for
display, invites and working-day maths.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from pydantic import AfterValidator, EmailStr, StringConstraints, WithJsonSchema, field_validator
from pydantic import Field as SchemaField
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel
from sqlmodel._compat import SQLModelConfig


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; hand them back aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


def not_null(value: Any) -> Any:
    """For update bodies: a field that may be left out, but never set to null."""
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def time_ordered_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    For append-only event rows that are never shown in a URL: new keys land at the end of
    the primary-key index instead of at a random page, so a table of many thousands of
    join clicks keeps its insert cost flat. (Python 3.14 has ``uuid.uuid7``.)
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return uuid.UUID(int=value)


def ts_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A timezone-aware timestamp column."""
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default_now:
        kwargs["default_factory"] = utcnow
    return Field(**kwargs)


def json_field(default: Any = None) -> Any:
    factory = (lambda: type(default)()) if isinstance(default, dict | list) else (lambda: default)
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=True))


def enum_field(enum_cls: type[StrEnum], default: Any = ..., *, index: bool = False) -> Any:
    """An enum stored as its value in a VARCHAR, so adding a value needs no migration."""
    sa_type = sa.Enum(
        enum_cls,
        native_enum=False,
        length=40,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )
    if default is ...:
        return Field(sa_type=sa_type, index=index)
    return Field(default=default, sa_type=sa_type, index=index)


# ============================================================================ vocabularies


class CaseKind(StrEnum):
    mediation = "mediation"
    disagreement_resolution = "disagreement_resolution"
    mias = "mias"


class CaseStatus(StrEnum):
    referred = "referred"  # the family asked; nothing arranged yet
    negotiating = "negotiating"  # availability being gathered
    booked = "booked"
    held = "held"  # meeting took place; outcome pending
    outcome_recorded = "outcome_recorded"
    certificate_issued = "certificate_issued"
    closed = "closed"
    withdrawn = "withdrawn"


class CaseStatusCause(StrEnum):
    """Why a case changed status: each edge of ``case_status.CASE_TRANSITIONS`` names its causes."""

    availability_requested = "availability_requested"
    meeting_booked = "meeting_booked"
    meeting_cancelled = "meeting_cancelled"
    session_ended = "session_ended"
    outcome_recorded = "outcome_recorded"
    consent_declined = "consent_declined"  # disagreement resolution: a party said no
    certificate_issued = "certificate_issued"
    staff = "staff"  # a member of staff closed or withdrew the case


OPEN_CASE_STATUSES = frozenset(
    {CaseStatus.referred, CaseStatus.negotiating, CaseStatus.booked, CaseStatus.held}
)


class PartyRole(StrEnum):
    parent = "parent"
    young_person = "young_person"
    school = "school"
    college = "college"
    la_officer = "la_officer"
    health = "health"
    social_care = "social_care"
    sendiass = "sendiass"
    advocate = "advocate"
    interpreter = "interpreter"
    observer = "observer"


FAMILY_ROLES = frozenset({PartyRole.parent, PartyRole.young_person})
# Each role as the service names it in what it writes (certificates, the timeline).
ROLE_WORDS: dict[PartyRole, str] = {
    PartyRole.parent: "Parent or carer",
    PartyRole.young_person: "Young person",
    PartyRole.school: "School",
    PartyRole.college: "College",
    PartyRole.la_officer: "Local authority",
    PartyRole.health: "Health",
    PartyRole.social_care: "Social care",
    PartyRole.sendiass: "SENDIASS",
    PartyRole.advocate: "Advocate",
    PartyRole.interpreter: "Interpreter",
    PartyRole.observer: "Observer",
}


class Channel(StrEnum):
    video = "video"
    phone = "phone"
    in_person = "in_person"


class StaffRole(StrEnum):
    scheduler = "scheduler"
    mediator = "mediator"
    admin = "admin"


class LinkScope(StrEnum):
    poll = "poll"
    rsvp = "rsvp"
    join_room = "join"
    prepare = "prepare"  # case summary / Child's View uploads
    consent = "consent"  # disagreement resolution: "will you take part?"
    feed = "feed"  # a mediator's subscribable calendar


class MeetingMode(StrEnum):
    video = "video"
    phone = "phone"
    hybrid = "hybrid"
    in_person = "in_person"


class MeetingStatus(StrEnum):
    scheduled = "scheduled"
    in_session = "in_session"
    paused = "paused"
    closed = "closed"
    cancelled = "cancelled"


class ParticipantStatus(StrEnum):
    not_signed_in = "not_signed_in"
    joining = "joining"
    in_lobby = "in_lobby"
    in_session = "in_session"
    in_caucus = "in_caucus"
    left = "left"
    disconnected = "disconnected"


class PollAnswerValue(StrEnum):
    yes = "yes"
    if_need_be = "if_need_be"
    no = "no"


class PartStat(StrEnum):
    needs_action = "NEEDS-ACTION"
    accepted = "ACCEPTED"
    tentative = "TENTATIVE"
    declined = "DECLINED"


class OutcomeResult(StrEnum):
    agreement = "agreement"
    partial_agreement = "partial_agreement"
    no_agreement = "no_agreement"
    withdrawn = "withdrawn"
    not_attended = "not_attended"


class CertificateKind(StrEnum):
    mediation = "mediation"
    mias = "mias"
    declined = "declined"
    missed_30_days = "missed_30_days"


class OutboxKind(StrEnum):
    email = "email"
    webhook = "webhook"
    provider_call = "provider_call"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # refused for good (a 4xx, a bad address): shown to staff
    dead = "dead"  # retries exhausted: shown to staff, can be redelivered by hand
    cancelled = "cancelled"


# ============================================================================ staff


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    role: StaffRole = enum_field(StaffRole)
    password_hash: str | None = None
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = ts_field(nullable=True)
    created_at: datetime = ts_field(default_now=True)
    # The one set-password link that works now (its ``jti``); None once used or replaced.
    set_password_link: str | None = Field(default=None, max_length=32)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    label: str = Field(default="", max_length=200)
    created_at: datetime = ts_field(default_now=True)
    last_used_at: datetime | None = ts_field(nullable=True)
    revoked_at: datetime | None = ts_field(nullable=True)


class IdempotencyKey(SQLModel, table=True):
    """A create request made with an ``Idempotency-Key``: what it was and what it answered."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    key: str = Field(max_length=255)
    # sha256 of the method, path and validated body: the same key must mean the same request.
    fingerprint: str = Field(max_length=64)
    status: int
    response_body: str = Field(sa_type=sa.Text)
    created_at: datetime = ts_field(default_now=True)


class StaffSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the id, the row holds the rest."""

    __tablename__ = "staff_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie value
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = ts_field(default_now=True)
    expires_at: datetime = ts_field()


class ThrottleBucket(SQLModel, table=True):
    """Failures counted for one door and caller, shared by every replica.

    ``key`` is an HMAC of the door and who is knocking (an address, an email), never the
    address itself. Times are Unix seconds: ``until`` is a token bucket's theoretical
    arrival time, or the end of a growing delay; ``at`` is the latest failure.
    """

    __tablename__ = "throttle_bucket"

    key: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    until: float = 0.0
    at: float = Field(default=0.0, index=True)


# ============================================================================ service


class Service(SQLModel, table=True):
    """The provider's service: name, help line, zone and target, mail identity."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    help_line: str = Field(default="", max_length=50)
    timezone: str = Field(default="Europe/London", max_length=64)
    target_days: int = 33
    mail_from: str = Field(default="", max_length=320)
    reminder_offsets_minutes: list[int] = json_field([10080, 2880, 120])
    is_default: bool = Field(default=False, index=True)


# ============================================================================ mediators


class WorkingHours(SQLModel):
    """Local working hours per ISO weekday (1=Monday); missing days are not worked."""

    days: dict[int, tuple[str, str]] = {
        1: ("09:00", "17:00"),
        2: ("09:00", "17:00"),
        3: ("09:00", "17:00"),
        4: ("09:00", "17:00"),
        5: ("09:00", "17:00"),
    }


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


class MediatorBase(SQLModel):
    name: PersonName = Field(max_length=200)
    email: EmailAddress = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    max_sessions_per_day: int = Field(default=1, ge=1, le=6)
    buffer_minutes: int = Field(default=30, ge=0, le=240)


class MediatorCreate(MediatorBase):
    model_config = SQLModelConfig(extra="forbid")

    calendar: CalendarConfig | None = None
    working_hours: dict[Weekday, tuple[ClockTime, ClockTime]] | None = Field(
        default=None,
        schema_extra={
            "json_schema_extra": {"propertyNames": {"enum": [str(d) for d in range(1, 8)]}}
        },
    )
    user_id: uuid.UUID | None = None


class Mediator(MediatorBase, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(max_length=320, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id", index=True)
    calendar: dict[str, Any] | None = json_field(None)
    working_hours: dict[str, Any] | None = json_field(None)
    active: bool = True
    created_at: datetime = ts_field(default_now=True)


class MediatorPublic(MediatorBase):
    # As stored: a name kept before names were checked must still be shown, not a 500.
    name: str
    email: str
    id: uuid.UUID
    user_id: uuid.UUID | None
    has_calendar: bool
    working_hours: dict[str, Any] | None
    active: bool


class AssignMediator(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    mediator_id: uuid.UUID


# ============================================================================ cases


class CaseBase(SQLModel):
    reference: str = Field(min_length=1, max_length=64, index=True, unique=True)
    kind: CaseKind = enum_field(CaseKind)
    local_authority: str = Field(min_length=1, max_length=200, index=True)
    referral_date: date
    decision_date: date | None = None
    region: str | None = Field(default=None, max_length=100)
    timezone: str = Field(default="Europe/London", max_length=64)
    target_days: int | None = Field(default=None, ge=1, le=365)
    # The mediation issues include health care provision: the LA must tell the health
    # commissioners (ICB) within 3 working days of being told.
    health_in_issue: bool = False


def _known_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "enum": sorted(available_timezones())}),
]


class CaseCreate(CaseBase):
    model_config = SQLModelConfig(extra="forbid")

    timezone: TimeZoneName = "Europe/London"

    reference: str = Field(
        min_length=1,
        max_length=64,
        schema_extra={"json_schema_extra": {"pattern": REFERENCE_PATTERN}},
    )

    @field_validator("reference")
    @classmethod
    def _plain_reference(cls, value: str) -> str:
        if not re.fullmatch(REFERENCE_PATTERN, value):
            raise ValueError("reference must be a single line of text")
        return value.strip()


class CaseUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    decision_date: date | None = None
    local_authority: (
        Annotated[str, StringConstraints(min_length=1, max_length=200)] | SkipJsonSchema[None]
    ) = None
    region: str | None = Field(default=None, max_length=100)
    target_days: int | None = Field(default=None, ge=1, le=365)
    health_in_issue: bool | SkipJsonSchema[None] = None
    # The day the health commissioners (ICB) were told; null: not recorded (a mistake undone).
    icb_notified_on: date | None = None
    status: CaseStatus | SkipJsonSchema[None] = None

    _not_null = field_validator("local_authority", "status", "health_in_issue")(not_null)


class Case(CaseBase, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id")
    status: CaseStatus = enum_field(CaseStatus, CaseStatus.referred, index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id", index=True)
    # When the LA (or other party) was told the family wants mediation: the statutory start.
    referral_sent_at: datetime | None = ts_field(nullable=True)
    declined_on: date | None = None
    la_cannot_meet_30_days_on: date | None = None
    # Health in issue: the day the LA told the health commissioners (ICB), as staff record it.
    icb_notified_on: date | None = None
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)
    # Set when the case reaches closed or withdrawn (case_status.move_case), the retention clock.
    closed_at: datetime | None = ts_field(nullable=True)
    anonymised_at: datetime | None = ts_field(nullable=True)
    # The day of the session (meeting or MIAS call) that starts the 3-working-day
    # certificate clock. The day a certificate was issued is the certificate's own.
    certificate_event_on: date | None = None


class CaseStatusChange(SQLModel, table=True):
    """One row per change of case status: when, from what, to what, why, and by whom."""

    __tablename__ = "case_status_change"

    id: uuid.UUID = Field(default_factory=time_ordered_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    from_status: CaseStatus = enum_field(CaseStatus)
    to_status: CaseStatus = enum_field(CaseStatus)
    cause: CaseStatusCause = enum_field(CaseStatusCause)
    actor: str | None = Field(default=None, max_length=100)
    at: datetime = ts_field(default_now=True)


class CaseStatusChangePublic(SQLModel):
    from_status: CaseStatus
    to_status: CaseStatus
    cause: CaseStatusCause
    actor: str | None
    at: datetime


class ClockPublic(SQLModel):
    date: date
    days_left: int
    level: str  # ok | amber | red | overdue; a duty clock once done: met | late


class DutyClockPublic(ClockPublic):
    """A clock for something someone must do: once recorded done (``done_on``), it is met
    or late, and ``days_left`` is the days it had to spare (negative: days late)."""

    done_on: date | None = None


class DeadlinesPublic(SQLModel):
    target: ClockPublic
    statutory: ClockPublic | None = None
    contact_window: ClockPublic | None = None
    appeal: ClockPublic | None = None
    certificate_due: ClockPublic | None = None
    health_notice: DutyClockPublic | None = None


class CasePublic(CaseBase):
    id: uuid.UUID
    status: CaseStatus
    target_days: int | None
    mediator_id: uuid.UUID | None
    created_at: datetime
    # The family said go ahead on ``referral_date``; the LA was told on ``la_notified_on``
    # (None: not yet), so many days later: the statutory 30 days run from that notice.
    la_notified_on: date | None = None
    la_notice_delay_days: int | None = None
    # Health in issue: the day the ICB was told (None: not recorded yet).
    icb_notified_on: date | None = None
    closed_at: datetime | None = None
    deadlines: DeadlinesPublic
    # Every change of status, oldest first (on a single case's read; None in lists).
    status_history: list[CaseStatusChangePublic] | None = None


class CaseList(SQLModel):
    cases: list[CasePublic]


# ============================================================================ parties


class PartyRules(SQLModel):
    """Times a person cannot do: "not before 09:30", "not Fridays", school hours."""

    not_before: ClockTime | None = None
    not_after: ClockTime | None = None
    excluded_weekdays: list[int] = Field(default_factory=list)
    school_day_only: bool = False
    term_dates: list[tuple[date, date]] | None = None


class PartyBase(SQLModel):
    role: PartyRole = enum_field(PartyRole)
    name: PersonName = Field(max_length=200)
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: PhoneNumber | None = Field(default=None, max_length=40)
    organisation: OneLineText | None = Field(default=None, max_length=200)
    required: bool | None = None
    channel: Channel = enum_field(Channel, Channel.video)
    language: str | None = Field(default=None, max_length=35)
    needs: str | None = Field(default=None, max_length=2000)
    easy_read: bool = False


class PartyCreate(PartyBase):
    model_config = SQLModelConfig(extra="forbid")

    calendar: CalendarConfig | None = None
    rules: PartyRules | None = None
    # This person's own reminder times (minutes before the start); else the service's.
    reminder_offsets_minutes: list[ReminderOffset] | None = Field(default=None, max_length=10)

    @field_validator("organisation")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n"):
            raise ValueError("must be a single line of text")
        return value.strip() if value else value


class PartyUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    name: PersonName | SkipJsonSchema[None] = None
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: PhoneNumber | None = Field(default=None, max_length=40)
    organisation: OneLineText | None = Field(default=None, max_length=200)
    required: bool | SkipJsonSchema[None] = None
    channel: Channel | SkipJsonSchema[None] = None
    language: str | None = Field(default=None, max_length=35)
    needs: str | None = Field(default=None, max_length=2000)
    easy_read: bool | SkipJsonSchema[None] = None
    calendar: CalendarConfig | None = None
    rules: PartyRules | None = None
    reminder_offsets_minutes: list[ReminderOffset] | None = Field(default=None, max_length=10)

    _not_null = field_validator("name", "required", "channel", "easy_read")(not_null)

    @field_validator("organisation")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n"):
            raise ValueError("must be a single line of text")
        return value.strip() if value else value


class Party(PartyBase, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    required: bool = True
    calendar: dict[str, Any] | None = json_field(None)
    rules: dict[str, Any] | None = json_field(None)
    # Opaque id given to video/phone providers instead of anything personal.
    participant_ref: str = Field(default_factory=lambda: uuid.uuid4().hex, index=True)
    # Minutes before a meeting this person is reminded; None = the service's offsets.
    reminder_offsets_minutes: list[int] | None = json_field(None)
    created_at: datetime = ts_field(default_now=True)
    removed_at: datetime | None = ts_field(nullable=True)


class PartyPublic(PartyBase):
    # As stored: a name kept before names were checked must still be shown, not a 500.
    name: str
    email: str | None
    organisation: str | None
    id: uuid.UUID
    case_id: uuid.UUID
    required: bool
    has_calendar: bool
    rules: dict[str, Any] | None
    created_at: datetime


class PartyList(SQLModel):
    parties: list[PartyPublic]


# ============================================================================ links


class Link(SQLModel, table=True):
    """Every signed link handed to a party is a row; the JWT's ``jti`` is its id."""

    id: str = Field(primary_key=True, max_length=64)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id")
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id", index=True)
    scope: LinkScope = enum_field(LinkScope)
    # The meeting's sequence when issued: a reschedule bumps it, and older join links die.
    meeting_sequence: int | None = None
    # The availability poll a ``poll`` link answers (exactly one poll per link).
    poll_id: uuid.UUID | None = Field(default=None, foreign_key="poll.id", index=True)
    created_at: datetime = ts_field(default_now=True)
    expires_at: datetime = ts_field()
    revoked_at: datetime | None = ts_field(nullable=True)
    last_used_at: datetime | None = ts_field(nullable=True)


# ============================================================================ polls


class Poll(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    duration_minutes: int
    window_start: datetime = ts_field()
    window_end: datetime = ts_field()
    candidates: list[str] = json_field([])  # ISO UTC starts
    created_at: datetime = ts_field(default_now=True)
    closed_at: datetime | None = ts_field(nullable=True)


class PollAnswer(SQLModel, table=True):
    __tablename__ = "poll_answer"
    __table_args__ = (sa.UniqueConstraint("poll_id", "party_id", "candidate_start"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    poll_id: uuid.UUID = Field(foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    candidate_start: datetime = ts_field()
    answer: PollAnswerValue = enum_field(PollAnswerValue)
    updated_at: datetime = ts_field(default_now=True)


class PollResponse(SQLModel, table=True):
    """Per party per poll: when they answered, and their "none of these work" note."""

    __tablename__ = "poll_response"
    __table_args__ = (sa.UniqueConstraint("poll_id", "party_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    poll_id: uuid.UUID = Field(foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    note: str | None = Field(default=None, max_length=2000)
    answered_at: datetime | None = ts_field(nullable=True)
    chased_at: datetime | None = ts_field(nullable=True)
    chase_count: int = 0


# ============================================================================ meetings


class Meeting(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id", index=True)
    start_at: datetime = ts_field(index=True)
    end_at: datetime = ts_field()
    mode: MeetingMode = enum_field(MeetingMode)
    status: MeetingStatus = enum_field(MeetingStatus, MeetingStatus.scheduled, index=True)
    provider: str | None = Field(default=None, max_length=40)
    # The joint room's provider room, its one copy (None while it is made or moved).
    provider_room: dict[str, Any] | None = json_field(None)
    room_key: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=64)
    dial_in_pin: str | None = Field(default=None, max_length=12)
    # The mediator's own PIN on the phone bridge (starts and ends the conference).
    mediator_pin: str | None = Field(default=None, max_length=12, index=True)
    venue: dict[str, Any] | None = json_field(None)
    venue_key: str | None = Field(default=None, max_length=200, index=True)
    ical_uid: str = Field(max_length=255, unique=True)
    # The meeting's version: a reschedule bumps it, and older join and RSVP links die.
    sequence: int = 0
    # The iTIP SEQUENCE of the newest calendar message about the meeting (the API's and the
    # webhooks' ``sequence``): every REQUEST or CANCEL that changes anyone's copy takes the
    # next one, so no number is used twice.
    calendar_sequence: int = 0
    cancel_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)


class MeetingTransition(SQLModel, table=True):
    """One row per change of meeting state: when, from what, to what, and why."""

    __tablename__ = "meeting_transition"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    from_status: MeetingStatus | None = enum_field(MeetingStatus, None)
    to_status: MeetingStatus = enum_field(MeetingStatus)
    source: str = Field(max_length=40)
    actor_id: uuid.UUID | None = None
    at: datetime = ts_field(default_now=True)


class Room(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    kind: str = Field(max_length=10)  # main | caucus
    label: str = Field(max_length=100)
    # A caucus room's provider room; the joint room's is ``Meeting.provider_room`` (None here).
    provider_room: dict[str, Any] | None = json_field(None)
    room_key: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=64, index=True)
    # The provider's own id of the room, so call-backs find it (indexed; no JSON lookups).
    provider_room_id: str | None = Field(default=None, max_length=200, index=True)
    # Parties sent to this room (caucus rooms); the joint room holds everyone else.
    party_ids: list[str] = json_field([])
    # The phone bridge's live conference for this room, from its status call-backs (None
    # when none is live), so ending the session can end it for the callers still on it.
    conference_sid: str | None = Field(default=None, max_length=64)
    created_at: datetime = ts_field(default_now=True)
    closed_at: datetime | None = ts_field(nullable=True)


class Invitation(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "party_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    partstat: PartStat = enum_field(PartStat, PartStat.needs_action)
    last_sequence_sent: int | None = None
    # The DTSTAMP of the newest REQUEST this person was sent (replies older than it are stale).
    last_request_at: datetime | None = ts_field(nullable=True)
    responded_at: datetime | None = ts_field(nullable=True)
    cancelled_at: datetime | None = ts_field(nullable=True)
    # The party's own PIN on the phone bridge, when the meeting uses one.
    phone_pin: str | None = Field(default=None, max_length=12, index=True)


class ParticipantEvent(SQLModel, table=True):
    """Attendance is derived from these: link clicks, provider call-backs, mediator marks."""

    __tablename__ = "participant_event"
    # Every read is one meeting's events in time order; one index serves it, and the
    # busiest write of the service (a join click) keeps one index fewer to maintain.
    __table_args__ = (sa.Index("ix_participant_event_meeting_at", "meeting_id", "at"),)

    id: uuid.UUID = Field(default_factory=time_ordered_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id")
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id")
    status: ParticipantStatus = enum_field(ParticipantStatus)
    room_id: uuid.UUID | None = Field(default=None, foreign_key="room.id")
    channel: Channel | None = enum_field(Channel, None)
    source: str = Field(max_length=40)  # link | jitsi | bbb | zoom | teams | twilio | mediator
    dedup_key: str | None = Field(default=None, max_length=255, unique=True)
    # The phone bridge's id of the call (so a live call can be moved between rooms).
    call_id: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = ts_field(default_now=True)


class Reminder(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "party_id", "kind"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id", index=True)
    poll_id: uuid.UUID | None = Field(default=None, foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    kind: str = Field(max_length=40)  # e.g. before:10080, chase_poll:1
    due_at: datetime = ts_field(index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = ts_field(nullable=True)
    sent_at: datetime | None = ts_field(nullable=True)
    cancelled_at: datetime | None = ts_field(nullable=True)


# ============================================================================ outcomes


class Outcome(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", unique=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    result: OutcomeResult = enum_field(OutcomeResult)
    issues: list[dict[str, Any]] = json_field([])
    agreement_text: str | None = None
    next_steps: list[dict[str, Any]] = json_field([])
    notes: str | None = None
    # Who attended, as confirmed with the outcome: [{party_id, role, attended, seconds, channel}].
    attendance: list[dict[str, Any]] = json_field([])
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id")
    recorded_at: datetime = ts_field(default_now=True)


class Certificate(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id")
    kind: CertificateKind = enum_field(CertificateKind)
    number: str = Field(max_length=40, unique=True)
    event_date: date
    due_date: date
    issued_at: datetime = ts_field(default_now=True)
    appeal_deadline: date | None = None
    document_path: str | None = Field(default=None, max_length=500)
    sha256: str | None = Field(default=None, max_length=64)


class Document(SQLModel, table=True):
    """A party's case summary or Child's View, stored privately under the data dir."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    kind: str = Field(max_length=40)  # case_summary | childs_view
    text: str | None = None
    filename: str | None = Field(default=None, max_length=255)
    content_type: str | None = Field(default=None, max_length=100)
    size_bytes: int | None = None
    storage_path: str | None = Field(default=None, max_length=500)
    shared_with: list[str] = json_field([])
    created_at: datetime = ts_field(default_now=True)


# ============================================================================ records


class TimelineEntry(SQLModel, table=True):
    """The case's one record of everything that happened, in order."""

    __tablename__ = "timeline_entry"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id")
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    kind: str = Field(max_length=60)
    summary: str = Field(max_length=500)
    actor: str | None = Field(default=None, max_length=100)
    details: dict[str, Any] | None = json_field(None)
    at: datetime = ts_field(default_now=True, index=True)


class AuditEvent(SQLModel, table=True):
    """Who on the staff did or looked at what: one row per authenticated staff request."""

    __tablename__ = "audit_event"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id", index=True)
    action: str = Field(max_length=100)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=64, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    details: dict[str, Any] | None = json_field(None)
    at: datetime = ts_field(default_now=True, index=True)


class OutboxMessage(SQLModel, table=True):
    """A side effect written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: OutboxKind = enum_field(OutboxKind, index=True)
    topic: str = Field(default="", max_length=80)
    idempotency_key: str = Field(max_length=200, unique=True)
    payload: dict[str, Any] = json_field({})
    status: OutboxStatus = enum_field(OutboxStatus, OutboxStatus.pending, index=True)
    attempts: int = 0
    next_attempt_at: datetime = ts_field(default_now=True, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = ts_field(nullable=True)
    sent_at: datetime | None = ts_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)
    last_status_code: int | None = None
    case_id: uuid.UUID | None = Field(default=None, index=True)
    meeting_id: uuid.UUID | None = Field(default=None, index=True)
    endpoint_id: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = ts_field(default_now=True)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    events: list[str] = json_field([])
    description: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = ts_field(default_now=True)


class WebhookAttempt(SQLModel, table=True):
    """One delivery attempt of a webhook outbox row: the endpoint's delivery log."""

    __tablename__ = "webhook_attempt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_id: uuid.UUID = Field(foreign_key="outbox_message.id", index=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id", index=True)
    at: datetime = ts_field(default_now=True)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    delivered: bool = False
