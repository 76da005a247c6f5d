"""The case systems' webhook endpoints: registered, listed and changed by an administrator.

An endpoint is a URL, a secret and the event types it subscribes to; an https:// URL is
required in production. The secret is generated unless one is given, and shown once.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import WithJsonSchema, field_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel._compat import SQLModelConfig
from yarl import URL

from integrations.casework_webhook import EVENT_TYPES
from orchestrator.core.errors import NotFound, ValidationFailed
from orchestrator.core.models import WebhookEndpoint
from orchestrator.core.settings import Settings


def known_events(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    return sorted(set(value), key=EVENT_TYPES.index)


# One event type by name; the schema lists them so a client (and a fuzzer) knows.
EventName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


class WebhookEndpointCreate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    events: list[EventName] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field(default="", max_length=200)
    # Leave out to have one generated (it is shown once, in the answer).
    secret: str | None = Field(default=None, min_length=16, max_length=200)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return known_events(value)


class WebhookEndpointUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else known_events(value)


class WebhookEndpointPublic(SQLModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str


class WebhookEndpointList(SQLModel):
    endpoints: list[WebhookEndpointPublic]


def _check_url(url: str, settings: Settings) -> str:
    parsed = URL(url)
    allowed = ("https",) if settings.env == "production" else ("https", "http")
    if parsed.scheme not in allowed or not parsed.host:
        raise ValidationFailed(
            "url must be an https:// URL"
            if settings.env == "production"
            else "url must be an http(s) URL",
            details={"field": "url"},
        )
    return url


def endpoint_public(endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
    return WebhookEndpointPublic.model_validate(endpoint, from_attributes=True)


async def register_endpoint(
    session: AsyncSession, *, data: WebhookEndpointCreate, now: datetime, settings: Settings
) -> WebhookEndpoint:
    """Register a case system's endpoint; a secret is generated unless one is given."""
    endpoint = WebhookEndpoint(
        url=_check_url(data.url, settings),
        secret=data.secret or "whsec_" + secrets.token_urlsafe(32),
        events=list(data.events),
        description=data.description,
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))
    return list((await session.scalars(query)).all())


async def update_endpoint(
    session: AsyncSession,
    *,
    endpoint: WebhookEndpoint,
    data: WebhookEndpointUpdate,
    settings: Settings,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events or description, or switch it off and on."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        _check_url(changes["url"], settings)
    for key, value in changes.items():
        setattr(endpoint, key, value)
    await session.flush()
    return endpoint
