"""Which staff roles may use which staff pages."""

from __future__ import annotations

from orchestrator.core.models import StaffRole

SCHEDULERS = (StaffRole.scheduler,)
CASE_READERS = (StaffRole.scheduler, StaffRole.mediator)
ADMINS = (StaffRole.admin,)
ROOM_STAFF = (StaffRole.mediator,)
