"""Who is asking: a signed-in staff member's request, as the staff pages and the API see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from orchestrator.core.events import EventBus
from orchestrator.core.models import StaffUser
from orchestrator.core.settings import Settings
from orchestrator.web.keys import BUS, SETTINGS, WORKDAYS


class OnRequest:
    """What every handler's context reads through its request: the app, settings and bus."""

    request: web.Request

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    @property
    def bus(self) -> EventBus:
        return self.request.app[BUS]


@dataclass
class Caller(OnRequest):
    """The request, the person behind it and the time; what both kinds of handler share."""

    request: web.Request
    user: StaffUser
    now: datetime

    @property
    def actor(self) -> str:
        return f"{self.user.role.value}:{self.user.id}"

    def booking_terms(self, waiver: str | None) -> dict[str, Any]:
        """Who books or moves a meeting, when, and under which rules (``waiver`` says why
        they are set aside): the keywords ``booking.book`` and ``rescheduling.reschedule`` share."""
        return {
            "now": self.now,
            "bus": self.bus,
            "settings": self.settings,
            "workdays": self.app[WORKDAYS],
            "actor": self.actor,
            "actor_id": self.user.id,
            "waiver": waiver,
        }
