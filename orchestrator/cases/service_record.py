"""The provider's own row: its name, help line, zone, target and mail identity.

The settings are the truth; the row is kept in step with them at start-up, so cases can
point at it and the clocks read its target.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import Service
from orchestrator.core.settings import Settings


async def default_service(session: AsyncSession) -> Service | None:
    return await session.scalar(select(Service).where(col(Service.is_default).is_(True)))


async def service_target_days(session: AsyncSession, *, fallback: int) -> int:
    """The target (in days) for cases that set none: the service's, else ``fallback``."""
    service = await default_service(session)
    return service.target_days if service is not None else fallback


async def sync_default_service(session: AsyncSession, *, settings: Settings) -> Service:
    """Keep the default service row in step with the settings (name, help line, zone)."""
    service = await default_service(session)
    if service is None:
        service = Service(is_default=True, name=settings.service_name)
        session.add(service)
    service.name = settings.service_name
    service.help_line = settings.help_line
    service.timezone = settings.timezone
    service.target_days = settings.target_days
    service.mail_from = settings.mail_from
    return service
