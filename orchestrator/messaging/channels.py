"""Which ways a person is told: a text message for phone people and those with only a mobile.

Email goes to everyone with an address, as it always has. A text goes as well to a person
whose channel is the phone, or who has no email address, when their number is a UK mobile
and GOV.UK Notify is configured to send texts (``Settings.sends_sms``). Someone with
neither an email address nor a mobile is sent letters, when their postal address is known
and Notify is configured to post them (``Settings.sends_letters``).
"""

from __future__ import annotations

import re

from orchestrator.core.models import Channel, Party
from orchestrator.core.settings import Settings

_SEPARATORS = re.compile(r"[\s()\-]")
# 07xxx xxxxxx, +447xxx xxxxxx or 00447xxx xxxxxx: what Notify calls a UK mobile number.
_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7\d{9})$")


def mobile_number(phone: str | None) -> str | None:
    """The number in international form (+447…) if it is a UK mobile, else None."""
    if not phone:
        return None
    match = _UK_MOBILE.match(_SEPARATORS.sub("", phone))
    return f"+44{match.group(1)}" if match else None


def texts_person(party: Party, settings: Settings) -> bool:
    """True when this person is sent text messages as well as (or instead of) email."""
    if not settings.sends_sms or party.removed_at is not None:
        return False
    if mobile_number(party.phone) is None:
        return False
    return party.channel is Channel.phone or not party.email


def posts_to(party: Party, settings: Settings) -> bool:
    """True when this person is sent letters: no email, no texts, and an address to post to."""
    if not settings.sends_letters or party.removed_at is not None or party.email:
        return False
    if texts_person(party, settings):
        return False
    return bool(party.postal_address and party.postcode)


def reachable(party: Party, settings: Settings) -> bool:
    """True when the service can send this person anything at all (email or text)."""
    return bool(party.email) or texts_person(party, settings)
