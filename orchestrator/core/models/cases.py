"""A case and the people on it: the service it belongs to, its status history, its
parties and the signed links handed to them, with the API schemas beside each table."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from orchestrator.core.models.columns import (
    enum_field,
    json_field,
    new_id,
    time_ordered_id,
    ts_field,
)
from orchestrator.core.models.values import (
    REFERENCE_PATTERN,
    CalendarConfig,
    ClockTime,
    EmailAddress,
    OneLineText,
    PersonName,
    PhoneNumber,
    PostalLines,
    Postcode,
    ReminderOffset,
    TimeZoneName,
    not_null,
    single_line,
)
from orchestrator.core.models.vocabularies import (
    CaseKind,
    CaseStatus,
    CaseStatusCause,
    Channel,
    LinkScope,
    PartyRole,
)

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
    # The town they live or work in (no street address): enough to choose a venue near them.
    town: OneLineText | None = Field(default=None, max_length=100)
    # The postal address, for letters to someone with neither email nor a mobile: the
    # lines above the postcode (one per line) and the postcode. Never logged.
    postal_address: PostalLines | None = Field(default=None, max_length=300)
    postcode: Postcode | None = Field(default=None, max_length=10)
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

    _single_line = field_validator("organisation", "town")(single_line)


class PartyUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    name: PersonName | SkipJsonSchema[None] = None
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: PhoneNumber | None = Field(default=None, max_length=40)
    organisation: OneLineText | None = Field(default=None, max_length=200)
    town: OneLineText | None = Field(default=None, max_length=100)
    postal_address: PostalLines | None = Field(default=None, max_length=300)
    postcode: Postcode | None = Field(default=None, max_length=10)
    required: bool | SkipJsonSchema[None] = None
    channel: Channel | SkipJsonSchema[None] = None
    language: str | None = Field(default=None, max_length=35)
    needs: str | None = Field(default=None, max_length=2000)
    easy_read: bool | SkipJsonSchema[None] = None
    calendar: CalendarConfig | None = None
    rules: PartyRules | None = None
    reminder_offsets_minutes: list[ReminderOffset] | None = Field(default=None, max_length=10)

    _not_null = field_validator("name", "required", "channel", "easy_read")(not_null)

    _single_line = field_validator("organisation", "town")(single_line)


class Party(PartyBase, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postal_address: str | None = Field(default=None, max_length=300)
    postcode: str | None = Field(default=None, max_length=10)
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
