"""The words the domain is told in: kinds, statuses, roles, channels, scopes and results.

Each is a ``StrEnum`` stored as its value (``columns.enum_field``), so the API, the
database and the templates all read the same strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


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
    supporters = "supporters"  # a young person's "Who would you like to bring?"


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
    sms = "sms"  # a text message through GOV.UK Notify
    letter = "letter"  # a precompiled (PDF) letter through GOV.UK Notify


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # refused for good (a 4xx, a bad address): shown to staff
    dead = "dead"  # retries exhausted: shown to staff, can be redelivered by hand
    cancelled = "cancelled"


class DeliveryStatus(StrEnum):
    """What became of one message to one person, in GOV.UK Notify's words for its receipts."""

    queued = "queued"  # in our outbox
    sending = "sending"  # Notify accepted it
    delivered = "delivered"
    permanent_failure = "permanent-failure"  # not a working number or address
    temporary_failure = "temporary-failure"  # phone off or inbox full, and Notify gave up
    technical_failure = "technical-failure"  # Notify's own fault
    refused = "refused"  # Notify would not take it (a 400): never sent
    # Letters (Notify's letter statuses): sent to print, printed and posted, or not.
    accepted = "accepted"
    received = "received"
    cancelled = "cancelled"
    validation_failed = "validation-failed"


def role_words(role: PartyRole, names: Mapping[PartyRole, str] = ROLE_WORDS) -> str:
    """The role as it reads inside a sentence: "local authority", "parent or carer", "SENDIASS"
    (from ``names``, the service's words unless a page has its own)."""
    words = names[role]
    return words if words.isupper() else words[:1].lower() + words[1:]


def in_words(value: StrEnum) -> str:
    """A status as it reads inside a sentence: ``in_session`` is "in session"."""
    return value.value.replace("_", " ")
