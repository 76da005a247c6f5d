"""Where an in-person or hybrid meeting can happen: the service's venues and the child's school.

The booking page offers these as a list (a scheduler picks one; nobody types an address at
booking time), and shows the towns the family gave, so the place chosen is near them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.core.errors import ValidationFailed
from orchestrator.core.models import FAMILY_ROLES, Party, PartyRole
from orchestrator.core.settings import ServiceVenue
from orchestrator.scheduling.booking import Venue

CHOOSE_A_VENUE = "Choose where the meeting will be held"


@dataclass(frozen=True)
class VenueChoice:
    """One place on the booking page's list: its form value, what staff read, the venue."""

    key: str
    label: str
    venue: Venue


def venue_choices(venues: Sequence[ServiceVenue], parties: Sequence[Party]) -> list[VenueChoice]:
    """The service's venues in their configured order, then each school taking part."""
    choices = [
        VenueChoice(
            key=f"service-{index}",
            label=f"{place.name}, {place.address}",
            venue=Venue(name=place.name, address=place.address, access_notes=place.access_notes),
        )
        for index, place in enumerate(venues)
    ]
    for party in parties:
        if party.role is PartyRole.school and party.organisation:
            where = ", ".join(part for part in (party.organisation, party.town) if part)
            choices.append(
                VenueChoice(
                    key=f"school-{party.id}",
                    label=f"The child's school: {where}",
                    venue=Venue(
                        name=party.organisation,
                        address=where,
                        access_notes="Ask at the school's reception",
                    ),
                )
            )
    return choices


def chosen_venue(choices: Sequence[VenueChoice], key: str | None) -> Venue:
    """The venue the scheduler picked; ValidationFailed when nothing on the list was picked."""
    for choice in choices:
        if choice.key == key:
            return choice.venue
    raise ValidationFailed(CHOOSE_A_VENUE, details={"field": "venue"})


def family_towns(parties: Sequence[Party]) -> list[str]:
    """The towns the family (parents, carers, the young person) gave, each once."""
    return list(dict.fromkeys(p.town for p in parties if p.role in FAMILY_ROLES and p.town))
