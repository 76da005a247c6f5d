"""The domain model: SQLModel tables and the API schemas beside them, by capability.

Schema classes (``CaseCreate``, ``CasePublic``) and table classes (``Case``) are kept apart.
Times are stored in UTC and come back timezone-aware; each case carries its own zone for
display, invites and working-day maths.

The tables live in modules named for what they hold (``cases``, ``staff``, ``polls``,
``meetings``, ``messaging``, ``closing``, ``records``, ``guards``), built from the column
helpers in ``columns``, the checked values in ``values`` and the enums in
``vocabularies``. This package is their one public surface (``from
orchestrator.core.models import Case``): each name is re-exported as ``X as X``.
Importing it registers every table on ``SQLModel.metadata``, which is what Alembic
compares the migrations with.
"""

from __future__ import annotations

from orchestrator.core.models.cases import Case as Case
from orchestrator.core.models.cases import CaseBase as CaseBase
from orchestrator.core.models.cases import CaseCreate as CaseCreate
from orchestrator.core.models.cases import CaseList as CaseList
from orchestrator.core.models.cases import CasePublic as CasePublic
from orchestrator.core.models.cases import CaseStatusChange as CaseStatusChange
from orchestrator.core.models.cases import CaseStatusChangePublic as CaseStatusChangePublic
from orchestrator.core.models.cases import CaseUpdate as CaseUpdate
from orchestrator.core.models.cases import ClockPublic as ClockPublic
from orchestrator.core.models.cases import DeadlinesPublic as DeadlinesPublic
from orchestrator.core.models.cases import DutyClockPublic as DutyClockPublic
from orchestrator.core.models.cases import Link as Link
from orchestrator.core.models.cases import Party as Party
from orchestrator.core.models.cases import PartyBase as PartyBase
from orchestrator.core.models.cases import PartyCreate as PartyCreate
from orchestrator.core.models.cases import PartyList as PartyList
from orchestrator.core.models.cases import PartyPublic as PartyPublic
from orchestrator.core.models.cases import PartyRules as PartyRules
from orchestrator.core.models.cases import PartyUpdate as PartyUpdate
from orchestrator.core.models.cases import Service as Service
from orchestrator.core.models.closing import Certificate as Certificate
from orchestrator.core.models.closing import Document as Document
from orchestrator.core.models.closing import Outcome as Outcome
from orchestrator.core.models.columns import UTCDateTime as UTCDateTime
from orchestrator.core.models.columns import enum_field as enum_field
from orchestrator.core.models.columns import json_field as json_field
from orchestrator.core.models.columns import new_id as new_id
from orchestrator.core.models.columns import time_ordered_id as time_ordered_id
from orchestrator.core.models.columns import ts_field as ts_field
from orchestrator.core.models.columns import utcnow as utcnow
from orchestrator.core.models.guards import IdempotencyKey as IdempotencyKey
from orchestrator.core.models.guards import ThrottleBucket as ThrottleBucket
from orchestrator.core.models.meetings import Meeting as Meeting
from orchestrator.core.models.meetings import MeetingTransition as MeetingTransition
from orchestrator.core.models.meetings import ParticipantEvent as ParticipantEvent
from orchestrator.core.models.meetings import Room as Room
from orchestrator.core.models.messaging import Delivery as Delivery
from orchestrator.core.models.messaging import Invitation as Invitation
from orchestrator.core.models.messaging import OutboxMessage as OutboxMessage
from orchestrator.core.models.messaging import Reminder as Reminder
from orchestrator.core.models.messaging import WebhookAttempt as WebhookAttempt
from orchestrator.core.models.messaging import WebhookEndpoint as WebhookEndpoint
from orchestrator.core.models.polls import Poll as Poll
from orchestrator.core.models.polls import PollAnswer as PollAnswer
from orchestrator.core.models.polls import PollResponse as PollResponse
from orchestrator.core.models.records import AuditEvent as AuditEvent
from orchestrator.core.models.records import TimelineEntry as TimelineEntry
from orchestrator.core.models.referrals import ContactBy as ContactBy
from orchestrator.core.models.referrals import Referral as Referral
from orchestrator.core.models.referrals import ReferralAccept as ReferralAccept
from orchestrator.core.models.referrals import ReferralCreate as ReferralCreate
from orchestrator.core.models.referrals import ReferralDecline as ReferralDecline
from orchestrator.core.models.referrals import ReferralIssue as ReferralIssue
from orchestrator.core.models.referrals import ReferralList as ReferralList
from orchestrator.core.models.referrals import ReferralPublic as ReferralPublic
from orchestrator.core.models.referrals import ReferralReceived as ReferralReceived
from orchestrator.core.models.referrals import ReferralStatus as ReferralStatus
from orchestrator.core.models.referrals import ReferralWants as ReferralWants
from orchestrator.core.models.referrals import Referrer as Referrer
from orchestrator.core.models.staff import ApiToken as ApiToken
from orchestrator.core.models.staff import AssignMediator as AssignMediator
from orchestrator.core.models.staff import Mediator as Mediator
from orchestrator.core.models.staff import MediatorBase as MediatorBase
from orchestrator.core.models.staff import MediatorCreate as MediatorCreate
from orchestrator.core.models.staff import MediatorPublic as MediatorPublic
from orchestrator.core.models.staff import StaffSession as StaffSession
from orchestrator.core.models.staff import StaffUser as StaffUser
from orchestrator.core.models.staff import WorkingHours as WorkingHours
from orchestrator.core.models.values import PERSON_NAME_PATTERN as PERSON_NAME_PATTERN
from orchestrator.core.models.values import REFERENCE_PATTERN as REFERENCE_PATTERN
from orchestrator.core.models.values import CaldavDetails as CaldavDetails
from orchestrator.core.models.values import CalendarConfig as CalendarConfig
from orchestrator.core.models.values import ClockTime as ClockTime
from orchestrator.core.models.values import EmailAddress as EmailAddress
from orchestrator.core.models.values import OneLineText as OneLineText
from orchestrator.core.models.values import PersonName as PersonName
from orchestrator.core.models.values import PhoneNumber as PhoneNumber
from orchestrator.core.models.values import ReminderOffset as ReminderOffset
from orchestrator.core.models.values import TimeZoneName as TimeZoneName
from orchestrator.core.models.values import Weekday as Weekday
from orchestrator.core.models.values import check_person_name as check_person_name
from orchestrator.core.models.values import is_person_name as is_person_name
from orchestrator.core.models.values import not_null as not_null
from orchestrator.core.models.values import single_line as single_line
from orchestrator.core.models.vocabularies import FAMILY_ROLES as FAMILY_ROLES
from orchestrator.core.models.vocabularies import OPEN_CASE_STATUSES as OPEN_CASE_STATUSES
from orchestrator.core.models.vocabularies import ROLE_WORDS as ROLE_WORDS
from orchestrator.core.models.vocabularies import CaseKind as CaseKind
from orchestrator.core.models.vocabularies import CaseStatus as CaseStatus
from orchestrator.core.models.vocabularies import CaseStatusCause as CaseStatusCause
from orchestrator.core.models.vocabularies import CertificateKind as CertificateKind
from orchestrator.core.models.vocabularies import Channel as Channel
from orchestrator.core.models.vocabularies import DeliveryStatus as DeliveryStatus
from orchestrator.core.models.vocabularies import LinkScope as LinkScope
from orchestrator.core.models.vocabularies import MeetingMode as MeetingMode
from orchestrator.core.models.vocabularies import MeetingStatus as MeetingStatus
from orchestrator.core.models.vocabularies import OutboxKind as OutboxKind
from orchestrator.core.models.vocabularies import OutboxStatus as OutboxStatus
from orchestrator.core.models.vocabularies import OutcomeResult as OutcomeResult
from orchestrator.core.models.vocabularies import ParticipantStatus as ParticipantStatus
from orchestrator.core.models.vocabularies import PartStat as PartStat
from orchestrator.core.models.vocabularies import PartyRole as PartyRole
from orchestrator.core.models.vocabularies import PollAnswerValue as PollAnswerValue
from orchestrator.core.models.vocabularies import StaffRole as StaffRole
from orchestrator.core.models.vocabularies import in_words as in_words
from orchestrator.core.models.vocabularies import role_words as role_words
