"""Typed application state: every shared object is declared here once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from calendars.workdays import WorkingDays
from integrations.base import MailBackend
from orchestrator.core.db import Database
from orchestrator.core.events import EventBus
from orchestrator.core.metrics import Metrics
from orchestrator.core.models import StaffUser
from orchestrator.core.settings import Settings
from orchestrator.core.throttle import Throttle
from orchestrator.meeting.clicks import ClickRecorder
from orchestrator.meeting.link_cache import JoinLinkCache
from orchestrator.meeting.providers import Providers
from orchestrator.messaging.outbox import Dispatcher
from orchestrator.messaging.reminder_scheduler import ReminderScheduler
from orchestrator.scheduling.busy_reader import BusyReader
from orchestrator.staff.accounts import PasswordWorkers
from orchestrator.web.clients import ClientAddress
from orchestrator.web.errors import ApiError

if TYPE_CHECKING:
    from orchestrator.web.health_watch import HealthWatch

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
DB = web.AppKey("db", Database)
METRICS = web.AppKey("metrics", Metrics)
WORKDAYS = web.AppKey("workdays", WorkingDays)
HTTP = web.AppKey("http", aiohttp.ClientSession)
MAIL = web.AppKey("mail", MailBackend)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
BUS = web.AppKey("bus", EventBus)
# Failed-attempt budgets shared by every replica (made when the database opens).
THROTTLE = web.AppKey("throttle", Throttle)
# Argon2 in worker threads, off the event loop.
PASSWORDS = web.AppKey("passwords", PasswordWorkers)
# Who is calling, read past the service's own proxies.
CLIENT_ADDRESS = web.AppKey("client_address", ClientAddress)
# Calendar busy time read on demand: feed bodies and parsed intervals (availability).
BUSY_READER = web.AppKey("busy_reader", BusyReader)
# Video providers and the phone bridge, built on first use (meetings).
PROVIDERS = web.AppKey("providers", Providers)
API_ROUTES = web.AppKey("api_routes", list[Any])
# Wakes this replica when a reminder falls due (only when background jobs run).
REMINDER_SCHEDULER = web.AppKey("reminder_scheduler", ReminderScheduler)
# The join click's group commit: each click answers once its row is committed.
JOIN_CLICKS = web.AppKey("join_clicks", ClickRecorder)
# Verified join links kept for a few seconds, so a burst of clicks costs one read per link.
JOIN_LINK_CACHE = web.AppKey("join_link_cache", JoinLinkCache)
# This replica's last health check and the gauge it publishes (staff pages' banner).
HEALTH_WATCH: web.AppKey[HealthWatch] = web.AppKey("health_watch")
# Set when the service starts to stop: open console event streams end at once.
CONSOLE_STOPPING = web.AppKey("console_stopping", asyncio.Event)

# Renders a friendly HTML error page for people (set by the pages module).
ErrorPage = Callable[[web.Request, ApiError], Awaitable[web.StreamResponse]]
ERROR_PAGE: web.AppKey[ErrorPage] = web.AppKey("error_page")
OPENAPI = web.AppKey("openapi", dict[str, Any])

# Per-request values.
REQUEST_USER = web.RequestKey("user", StaffUser)
REQUEST_TOKEN_ID = web.RequestKey("token_id", uuid.UUID)
REQUEST_TOKEN_STALE = web.RequestKey("token_stale", bool)
