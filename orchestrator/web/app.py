"""The app factory: ``create_app(settings)`` builds the whole service; it reads no env."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiohttp
from aiohttp import web

from calendars.workdays import WorkingDays
from orchestrator import wiring
from orchestrator.cases import service_record
from orchestrator.core.db import connect
from orchestrator.core.metrics import Metrics
from orchestrator.core.migrate import upgrade
from orchestrator.core.models import utcnow
from orchestrator.core.settings import Settings
from orchestrator.core.throttle import Throttle
from orchestrator.messaging.mail_backend import build_mail_backend
from orchestrator.messaging.outbox import DeliveryPolicy, Dispatcher
from orchestrator.staff.accounts import PasswordWorkers
from orchestrator.web import health_watch, home, openapi, pages, ratelimit, system
from orchestrator.web.api import agreements as api_agreements
from orchestrator.web.api import attendance as api_attendance
from orchestrator.web.api import availability as api_availability
from orchestrator.web.api import cases as api_cases
from orchestrator.web.api import family_choices as api_family_choices
from orchestrator.web.api import feeds as api_feeds
from orchestrator.web.api import join_links as api_join_links
from orchestrator.web.api import meetings as api_meetings
from orchestrator.web.api import outcomes as api_outcomes
from orchestrator.web.api import planning as api_planning
from orchestrator.web.api import referrals as api_referrals
from orchestrator.web.api import reports as api_reports
from orchestrator.web.api import rooms as api_rooms
from orchestrator.web.api import views as api_views
from orchestrator.web.api import webhooks as api_webhooks
from orchestrator.web.clients import ClientAddress
from orchestrator.web.hooks import mail as hooks_mail
from orchestrator.web.hooks import notify as hooks_notify
from orchestrator.web.hooks import providers as hooks_providers
from orchestrator.web.keys import (
    API_ROUTES,
    BUS,
    CLIENT_ADDRESS,
    CLOCK,
    DB,
    DISPATCHER,
    HTTP,
    MAIL,
    METRICS,
    OPENAPI,
    PASSWORDS,
    PROVIDERS,
    SETTINGS,
    THROTTLE,
    WORKDAYS,
)
from orchestrator.web.middlewares import (
    bearer_auth_middleware,
    error_middleware,
    security_headers_middleware,
)
from orchestrator.web.party import agreement as party_agreement
from orchestrator.web.party import family as party_family
from orchestrator.web.party import feedback as party_feedback
from orchestrator.web.party import join as party_join
from orchestrator.web.party import meeting_papers as party_meeting_papers
from orchestrator.web.party import poll as party_poll
from orchestrator.web.party import prepare as party_prepare
from orchestrator.web.party import referral as party_referral
from orchestrator.web.party import reply as party_reply
from orchestrator.web.party import supporters as party_supporters
from orchestrator.web.party import waiting as party_waiting
from orchestrator.web.staff import admin as staff_admin
from orchestrator.web.staff import answer_for_party as staff_answer_for_party
from orchestrator.web.staff import board as staff_board
from orchestrator.web.staff import book as staff_book
from orchestrator.web.staff import cancel as staff_cancel
from orchestrator.web.staff import cases as staff_cases
from orchestrator.web.staff import console as staff_console
from orchestrator.web.staff import console_actions as staff_console_actions
from orchestrator.web.staff import family_choices as staff_family_choices
from orchestrator.web.staff import find_a_time as staff_find_a_time
from orchestrator.web.staff import meeting_papers as staff_meeting_papers
from orchestrator.web.staff import my_meetings as staff_my_meetings
from orchestrator.web.staff import outcome as staff_outcome
from orchestrator.web.staff import parties as staff_parties
from orchestrator.web.staff import party_links as staff_party_links
from orchestrator.web.staff import referrals as staff_referrals
from orchestrator.web.staff import reports as staff_reports
from orchestrator.web.staff import reschedule as staff_reschedule
from orchestrator.web.staff import signin as staff_signin
from orchestrator.web.staff import vocabulary as staff_vocabulary

log = logging.getLogger(__name__)

# Each capability adds its JSON routers here ...
API_ROUTERS = [
    api_cases.router,
    api_meetings.router,
    api_join_links.router,
    api_rooms.router,
    api_attendance.router,
    api_availability.router,
    api_outcomes.router,
    api_agreements.router,
    api_reports.router,
    api_webhooks.router,
    api_feeds.router,
    api_planning.router,
    api_referrals.router,
    api_family_choices.router,
]
# ... and its page/call-back route tables here.
PAGE_ROUTES: list[web.RouteTableDef] = [
    home.routes,
    staff_signin.routes,
    staff_board.routes,
    staff_cases.routes,
    staff_parties.routes,
    staff_answer_for_party.routes,
    staff_admin.routes,
    staff_find_a_time.routes,
    staff_book.routes,
    staff_reschedule.routes,
    staff_cancel.routes,
    staff_party_links.routes,
    staff_my_meetings.routes,
    staff_console.routes,
    staff_console_actions.routes,
    staff_outcome.routes,
    staff_meeting_papers.routes,
    staff_reports.routes,
    party_poll.routes,
    party_join.routes,
    party_waiting.routes,
    hooks_providers.routes,
    party_reply.routes,
    hooks_mail.routes,
    hooks_notify.routes,
    api_feeds.routes,
    party_prepare.routes,
    party_referral.routes,
    party_supporters.routes,
    staff_referrals.routes,
    party_family.routes,
    staff_family_choices.routes,
    party_meeting_papers.routes,
    party_agreement.routes,
    party_feedback.routes,
]
# Modules with ``install(app)`` that add app state and template globals (their long-lived
# work is a cleanup context, registered in ``create_app``).
# Who reacts to which event, and who delivers which outbox row, is ``orchestrator.wiring``.
CAPABILITIES: list[Callable[[web.Application], None]] = [
    staff_vocabulary.install,
    staff_console.install,
    api_meetings.install,
    party_join.install,
    api_availability.install,
    party_prepare.install,
    health_watch.install,
]


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    migrate_on_start: bool = True,
) -> web.Application:
    """Build the application for ``settings``; resources open and close with it."""
    app = web.Application(
        middlewares=[
            security_headers_middleware,
            ratelimit.failed_links_limiter,
            error_middleware,
            bearer_auth_middleware,
        ],
        client_max_size=12 * 1024 * 1024,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[CLIENT_ADDRESS] = ClientAddress(settings.trusted_proxies)
    app[METRICS] = Metrics()
    app[WORKDAYS] = WorkingDays(settings.bank_holiday_region)
    app[BUS] = wiring.build_bus(settings, on_reminder_change=hooks_mail.wake_scheduler(app))
    pages.setup(app)
    app[API_ROUTES] = api_views.install(app, API_ROUTERS)
    app[OPENAPI] = openapi.build_openapi(app[API_ROUTES], base_url=settings.base_url)
    app.router.add_routes(system.routes)
    for table in PAGE_ROUTES:
        app.router.add_routes(table)
    for install_capability in CAPABILITIES:
        install_capability(app)

    app.cleanup_ctx.append(_database_ctx(migrate_on_start))
    app.cleanup_ctx.append(_passwords_ctx)
    app.cleanup_ctx.append(_http_client_ctx)
    app.cleanup_ctx.append(_mail_ctx)
    app.cleanup_ctx.append(_dispatcher_ctx)
    # Long-lived work runs after every resource above opened and stops before any closes
    # (cleanup contexts unwind in reverse, once the running handlers have finished).
    app.cleanup_ctx.append(api_meetings.click_recorder_ctx)
    app.cleanup_ctx.append(hooks_mail.reminder_scheduler_ctx)
    app.cleanup_ctx.append(health_watch.health_watch_ctx)
    app.cleanup_ctx.append(staff_console.console_stopping_ctx)
    return app


def _database_ctx(migrate_on_start: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if migrate_on_start:
            await upgrade(settings.database_url)
        db = connect(
            settings.database_url,
            connect_timeout_s=settings.database_connect_timeout_s,
            statement_timeout_s=settings.database_statement_timeout_s,
            pool_timeout_s=settings.database_pool_timeout_s,
        )
        app[DB] = db
        app[THROTTLE] = Throttle(
            db, secret=settings.secret_key.get_secret_value(), clock=app[CLOCK]
        )
        await ensure_default_service(app)
        yield
        await db.dispose()

    return database


async def ensure_default_service(app: web.Application) -> None:
    """Keep the default service row in step with the settings (name, help line, zone)."""
    async with app[DB].write() as session:
        await service_record.sync_default_service(session, settings=app[SETTINGS])


async def _passwords_ctx(app: web.Application) -> AsyncIterator[None]:
    workers = PasswordWorkers()
    app[PASSWORDS] = workers
    yield
    workers.close()


async def _http_client_ctx(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    app[HTTP] = session
    yield
    await session.close()


async def _mail_ctx(app: web.Application) -> AsyncIterator[None]:
    backend = build_mail_backend(app[SETTINGS], app[HTTP])
    app[MAIL] = backend
    yield
    await backend.close()


async def _dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    handlers = wiring.outbox_handlers(
        db=app[DB],
        settings=settings,
        clock=app[CLOCK],
        metrics=app[METRICS],
        mail=app[MAIL],
        http=app[HTTP],
        providers=app[PROVIDERS],
    )
    dispatcher = Dispatcher(
        app[DB],
        handlers,
        clock=app[CLOCK],
        metrics=app[METRICS],
        policy=DeliveryPolicy(
            max_attempts=settings.outbox_max_attempts,
            backoff_base_s=settings.outbox_backoff_base_s,
            backoff_max_s=settings.outbox_backoff_max_s,
            lease_s=settings.outbox_lease_seconds,
        ),
        poll_s=settings.outbox_poll_seconds,
    )
    app[DISPATCHER] = dispatcher
    task = asyncio.create_task(dispatcher.run_forever()) if settings.run_background_jobs else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
