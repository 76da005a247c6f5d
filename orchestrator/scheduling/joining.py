"""When people may join a meeting, and how each person dials in.

One rule for the invite, its calendar event, the join page and the room's door: the join
window around the meeting's times, and the number and PIN a person keys when they join by
phone (their own PIN on the phone bridge or Jitsi's dial-in, else the room's shared one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core.models import Invitation, Meeting, MeetingMode
from orchestrator.core.settings import Settings


def join_opens_at(meeting: Meeting, settings: Settings) -> datetime:
    return meeting.start_at - timedelta(minutes=settings.join_opens_minutes)


def join_closes_at(meeting: Meeting, settings: Settings) -> datetime:
    return meeting.end_at + timedelta(minutes=settings.join_grace_minutes)


def has_own_pins(meeting: Meeting) -> bool:
    """True when each person dials in with a PIN of their own (the mediator's among them)."""
    return meeting.mediator_pin is not None


def uses_phone_bridge(meeting: Meeting) -> bool:
    """True when people join this meeting by dialling the bridge and keying their own PIN:
    a phone or hybrid meeting, or a video one whose room the bridge's line reaches (every
    provider but Jitsi, whose own dial-in takes each person's PIN; ``phone_lines``)."""
    if not has_own_pins(meeting):
        return False
    if meeting.mode in (MeetingMode.phone, MeetingMode.hybrid):
        return True
    return meeting.mode is MeetingMode.video and meeting.provider != "jitsi"


def uses_jitsi_dial_in(meeting: Meeting, settings: Settings) -> bool:
    """True when people dial into this meeting's Jitsi room with their own PIN (Jigasi)."""
    return (
        has_own_pins(meeting)
        and meeting.provider == "jitsi"
        and bool(settings.jitsi_dial_in_number)
    )


@dataclass(frozen=True)
class DialIn:
    """The number a person calls and the PIN they key."""

    number: str
    pin: str
    own: bool  # their own PIN; False: the room's, which everyone in the meeting keys


def dial_in(meeting: Meeting, settings: Settings, *, own_pin: str | None) -> DialIn | None:
    """How this person joins by phone: their own PIN where the meeting gives each person
    one (the phone bridge, Jitsi's dial-in), else the PIN of the provider's room."""
    if own_pin:
        # Jitsi's own dial-in puts callers in the video room itself, so it comes first.
        if uses_jitsi_dial_in(meeting, settings):
            return DialIn(str(settings.jitsi_dial_in_number), own_pin, own=True)
        if uses_phone_bridge(meeting) and settings.phone_dial_in_number:
            return DialIn(settings.phone_dial_in_number, own_pin, own=True)
    if meeting.dial_in_pin:
        stored = (meeting.provider_room or {}).get("dial_in_number")
        number = stored or (settings.jitsi_dial_in_number if meeting.provider == "jitsi" else None)
        if number:
            return DialIn(str(number), meeting.dial_in_pin, own=False)
    return None


def dial_in_for(
    meeting: Meeting, settings: Settings, *, invitation: Invitation | None, mediator: bool
) -> DialIn | None:
    """How one person joins by phone: the one rule for their invite, its calendar event and
    their join page. The mediator keys the meeting's mediator PIN, a party the PIN of their
    invitation; ``dial_in`` then picks the number (and the room's PIN where they have none)."""
    own_pin = meeting.mediator_pin if mediator else invitation.phone_pin if invitation else None
    return dial_in(meeting, settings, own_pin=own_pin)
