"""An admin revokes a staff user's API token, then deactivates them, from the admin pages."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from orchestrator.core.models import ApiToken, AuditEvent, StaffRole, StaffSession, StaffUser
from orchestrator.staff.accounts import add_user, issue_token
from orchestrator.web.keys import DB
from tests.browser.both_sizes import assert_fits_both
from tests.browser.conftest import LiveApp, new_page, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


async def api_status(live: LiveApp, token: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{live.url}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status


async def sign_in(page: Any, live: LiveApp, email: str) -> None:
    await page.goto(f"{live.url}/sign-in")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_admin_revokes_a_token_then_deactivates_the_user(
    live_app: LiveApp, browser: Any
) -> None:
    async with live_app.app[DB].write() as session:
        ada = await add_user(
            session,
            email="ada@staff.example",
            role=StaffRole.admin,
            name="Ada Lin",
            password=PASSWORD,
        )
        sam = await add_user(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            name="Sam Rota",
            password=PASSWORD,
        )
        laptop = await issue_token(session, user_id=sam.id, label="laptop")
        script = await issue_token(session, user_id=sam.id, label="rota script")
    assert await api_status(live_app, laptop) == 200

    # Sam is at work in their browser.
    sam_page = await new_page(browser)
    await sign_in(sam_page, live_app, "sam@staff.example")
    await sam_page.get_by_role("heading", name="Deadline board").wait_for()

    admin = await new_page(browser)
    await sign_in(admin, live_app, "ada@staff.example")
    await admin.get_by_role("link", name="Staff users").click()
    await admin.get_by_role("heading", name="Staff users").wait_for()
    await assert_fits_both(admin, "staff users")
    await admin.get_by_role("link", name="Sam Rota").click()
    await admin.get_by_role("heading", name="Sam Rota").wait_for()
    tokens = admin.locator("#token-table")
    assert await tokens.get_by_role("cell", name="laptop", exact=True).count() == 1
    assert await tokens.get_by_role("cell", name="rota script", exact=True).count() == 1
    assert await tokens.get_by_role("cell", name="Never", exact=True).count() == 1  # the script's
    await assert_fits_both(admin, "a staff user's page")
    await screenshot(admin, "staff-user")

    # Revoke one token: it stops at once, the other keeps working.
    await admin.get_by_role("button", name="Revoke the token laptop").click()
    await admin.get_by_text("The API token “laptop” no longer works.").wait_for()
    assert await api_status(live_app, laptop) == 401
    assert await api_status(live_app, script) == 200
    assert await admin.locator("#token-table").get_by_text("laptop").count() == 0

    # Deactivate Sam: signed out at their next click, and their last token stops too.
    await admin.get_by_role("button", name="Deactivate Sam Rota").click()
    await admin.get_by_text(
        "Sam Rota can no longer sign in. They were signed out everywhere and "
        "1 API token stopped working."
    ).wait_for()
    assert (await admin.locator("#status").inner_text()) == "No, deactivated"
    await assert_fits_both(admin, "a deactivated staff user's page")
    await screenshot(admin, "staff-user-deactivated")

    await sam_page.get_by_role("link", name="Deadline board").click()
    await sam_page.get_by_role("heading", name="Sign in").wait_for()
    assert "/sign-in" in sam_page.url
    await sam_page.get_by_label("Email address").fill("sam@staff.example")
    await sam_page.get_by_label("Password").fill(PASSWORD)
    await sam_page.get_by_role("button", name="Sign in").click()
    await sam_page.get_by_text("The email address or password is not right").first.wait_for()
    assert await api_status(live_app, script) == 401

    # The list says so, and Ada cannot deactivate herself.
    await admin.get_by_role("link", name="Back to staff users").click()
    row = admin.locator("#staff-users tr", has_text="Sam Rota")
    assert "Deactivated" in await row.inner_text()
    await admin.get_by_role("link", name="Ada Lin").click()
    await admin.get_by_text("You cannot deactivate your own account.").wait_for()
    assert await admin.get_by_role("button", name="Deactivate Ada Lin").count() == 0

    async with live_app.app[DB].read() as session:
        stored = await session.get(StaffUser, sam.id)
        assert stored is not None and not stored.active
        left = await session.scalars(
            select(StaffSession).where(col(StaffSession.user_id) == sam.id)
        )
        assert left.all() == []
        revoked = await session.scalars(
            select(ApiToken.revoked_at).where(col(ApiToken.user_id) == sam.id)
        )
        assert all(at is not None for at in revoked.all())
        trail = await session.scalars(
            select(AuditEvent)
            .where(col(AuditEvent.target_id) == str(sam.id))
            .order_by(col(AuditEvent.at))
        )
        actions = [(e.action, e.actor_id) for e in trail.all()]
    assert ("staff.token_revoked", ada.id) in actions
    assert ("staff.deactivated", ada.id) in actions
