"""A family's own referral, sent from the public form or the API before there is a case.

A scheduler accepts it into a case or declines it with a reason. It holds only what the
service needs to call the family back and open the case; a young person's date of birth
is not kept, only the day they were over compulsory school age (decision 018).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import StringConstraints, model_validator
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from orchestrator.core.models.columns import enum_field, json_field, time_ordered_id, ts_field
from orchestrator.core.models.values import EmailAddress, PersonName, PhoneNumber


class Referrer(StrEnum):
    parent_carer = "parent_carer"
    young_person = "young_person"


class ContactBy(StrEnum):
    email = "email"
    phone = "phone"
    letter = "letter"


class ReferralIssue(StrEnum):
    education = "education"
    health = "health"
    social_care = "social_care"


class ReferralWants(StrEnum):
    mediation = "mediation"
    disagreement_resolution = "disagreement_resolution"
    mias_certificate = "mias_certificate"  # "I just need the MIAS certificate"


class ReferralStatus(StrEnum):
    new = "new"
    accepted = "accepted"
    declined = "declined"


Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")]
Note = Annotated[str, StringConstraints(max_length=500)]


class ReferralCreate(SQLModel):
    """What a family sends: who they are, how to reach them, and what they want."""

    model_config = SQLModelConfig(extra="forbid")

    who: Referrer
    name: PersonName
    contact_by: ContactBy
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: PhoneNumber | None = None
    address: Note | None = None
    best_times: Note | None = None
    local_authority: Line
    decision_date: date | None = None
    issues: list[ReferralIssue] = Field(min_length=1, max_length=3)
    wants: ReferralWants
    # A young person's date of birth: checked, turned into the day they were over
    # compulsory school age, and never stored.
    date_of_birth: date | None = None
    # A young person decides whether their parent or carer is invited (and who).
    invite_parent: bool = False
    parent_name: PersonName | None = None
    parent_email: EmailAddress | None = Field(default=None, max_length=320)
    parent_phone: PhoneNumber | None = None
    # Left empty by people; a bot that fills every field fills this one too.
    website: Annotated[str, StringConstraints(max_length=200)] | None = None

    @staticmethod
    def missing_for(values: Mapping[str, Any]) -> list[str]:
        """The fields the answers given call for but lack ("email" when contact is by
        email), first field first: the one rule the model and the form's summary share."""
        missing = []
        needs = {"email": "email", "phone": "phone", "letter": "address"}
        field = needs.get(str(values.get("contact_by")))
        if field is not None and not str(values.get(field) or "").strip():
            missing.append(field)
        if values.get("who") == "young_person" and not values.get("date_of_birth"):
            missing.append("date_of_birth")
        if values.get("invite_parent") and not (
            values.get("parent_name") and (values.get("parent_email") or values.get("parent_phone"))
        ):
            missing.append("parent_name")
        return missing

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = self.missing_for(self.model_dump())
        if missing:
            raise ValueError(f"{missing[0]} is needed by the answers given")
        return self


class ReferralBase(SQLModel):
    who: Referrer = enum_field(Referrer)
    name: str = Field(max_length=200)
    contact_by: ContactBy = enum_field(ContactBy)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    best_times: str | None = Field(default=None, max_length=500)
    local_authority: str = Field(max_length=200)
    decision_date: date | None = None
    wants: ReferralWants = enum_field(ReferralWants)
    # The day the family asked: the go-ahead, the case's referral date if accepted.
    referral_date: date
    # A young person: the first day they were over compulsory school age (no birth date).
    young_person_since: date | None = None
    invite_parent: bool = False
    parent_name: str | None = Field(default=None, max_length=200)
    parent_email: str | None = Field(default=None, max_length=320)
    parent_phone: str | None = Field(default=None, max_length=40)


class Referral(ReferralBase, table=True):
    id: uuid.UUID = Field(default_factory=time_ordered_id, primary_key=True)
    issues: list[str] = json_field([])
    status: ReferralStatus = enum_field(ReferralStatus, ReferralStatus.new, index=True)
    created_at: datetime = ts_field(default_now=True)
    decided_at: datetime | None = ts_field(nullable=True)
    decided_by: str | None = Field(default=None, max_length=100)
    decline_reason: str | None = Field(default=None, max_length=500)
    case_id: uuid.UUID | None = Field(default=None, foreign_key="case.id", index=True)


class ReferralPublic(ReferralBase):
    id: uuid.UUID
    issues: list[ReferralIssue]
    status: ReferralStatus
    created_at: datetime
    decided_at: datetime | None
    decline_reason: str | None
    case_id: uuid.UUID | None


class ReferralList(SQLModel):
    referrals: list[ReferralPublic]


class ReferralReceived(SQLModel):
    """The one answer every referral gets, whoever sent it and whatever is already known."""

    received: bool = True
    message: str


class ReferralAccept(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    reference: str = Field(min_length=1, max_length=64, regex=r"^[^\r\n\t]*\S[^\r\n\t]*$")


class ReferralDecline(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, regex=r"\S")
