"""A mediator added with ``orchestrator users add`` can be given a case and sees their sessions."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from orchestrator.cases import intake
from orchestrator.core.models import Mediator, StaffUser
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.both_sizes import assert_fits_both
from tests.browser.conftest import LiveApp, new_page
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def run_cli(live: LiveApp, tmp_path: Path, *args: str) -> str:
    """The real command, against the database the live service uses."""
    env = {
        **os.environ,
        "ORCH_DATA_DIR": str(tmp_path / "cli"),
        "ORCH_DATABASE_URL": live.app[SETTINGS].database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_mediator_added_by_the_cli_is_assigned_and_sees_the_session(
    live_app: LiveApp, browser: Any, tmp_path: Path
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    said = await run_cli(
        live_app,
        tmp_path,
        *("users", "add", "--email", "nia@staff.example", "--role", "mediator"),
        *("--name", "Nia Okafor", "--password", PASSWORD),
    )
    assert "Added mediator nia@staff.example" in said

    # The scheduler finds Nia in the case's mediator list and gives her the case.
    sam = await new_page(browser)
    await sam.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await sam.get_by_label("Email address").fill("sam@staff.example")
    await sam.get_by_label("Password").fill(PASSWORD)
    await sam.get_by_role("button", name="Sign in").click()
    chooser = sam.get_by_label("Mediator for this case")
    assert "Nia Okafor" in await chooser.inner_text()
    await assert_fits_both(sam, "case page before assigning")
    await chooser.select_option(label="Nia Okafor")
    await sam.get_by_role("button", name="Assign mediator").click()
    await sam.get_by_text("Mediator assigned.").wait_for()
    summary = sam.locator(".govuk-summary-list__row", has_text="Mediator")
    assert "Nia Okafor" in await summary.first.inner_text()
    async with live_app.app[DB].read() as session:
        case = await intake.get_case(session, scenario.case_id)
        nia = await session.scalar(
            select(Mediator)
            .join(StaffUser, col(StaffUser.id) == col(Mediator.user_id))
            .where(col(StaffUser.email) == "nia@staff.example")
        )
    assert nia is not None and case.mediator_id == nia.id

    # With a meeting booked, Nia signs in and finds it among her sessions.
    await book_best_slot(live_app, scenario)
    page = await new_page(browser)
    await page.goto(f"{live_app.url}/sign-in")
    await page.get_by_label("Email address").fill("nia@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="My sessions").wait_for()
    sessions = await page.locator("main").inner_text()
    assert "KIDS-2026-021" in sessions and "You have no sessions booked" not in sessions
    assert await page.get_by_role("link", name="Open the room console").count() == 1
    await assert_fits_both(page, "Nia's sessions")
