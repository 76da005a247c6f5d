"""One notion of mediator: whichever door adds a mediator, cases can be assigned to them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.cases import panel
from orchestrator.core.db import connect
from orchestrator.core.models import Mediator, MediatorCreate, StaffRole, StaffUser
from orchestrator.staff.enrolment import add_staff
from orchestrator.web.keys import CLOCK, DB
from tests.conftest import Staff
from tests.orchestrator.web_support import Browser, make_user

ADD_MO = ("users", "add", "--email", "mo@staff.example", "--role", "mediator", "--name", "Mo Ahmed")


async def test_a_mediator_account_comes_with_its_mediator_record(
    client: TestClient[Any, Any],
) -> None:
    now = client.app[CLOCK]()
    async with client.app[DB].write() as session:
        mo = await add_staff(
            session,
            email="mo@staff.example",
            role=StaffRole.mediator,
            name="Mo Ahmed",
            by=None,
            action="staff.added_by_cli",
            now=now,
        )
        await add_staff(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            by=None,
            action="staff.added_by_cli",
            now=now,
        )
    async with client.app[DB].read() as session:
        listed = await panel.list_mediators(session)
        assert [(m.name, m.user_id) for m in listed] == [("Mo Ahmed", mo.id)]
        assert await panel.mediator_ids_for_user(session, mo.id) == {listed[0].id}


async def test_a_record_made_before_the_account_is_linked_not_copied(
    client: TestClient[Any, Any],
) -> None:
    now = client.app[CLOCK]()
    async with client.app[DB].write() as session:
        early = await panel.create_mediator(
            session, data=MediatorCreate(name="Kim Lowe", email="Kim@Staff.example"), now=now
        )
    admin = Browser(client)
    await make_user(client, "ada@staff.example", StaffRole.admin)
    await admin.sign_in("ada@staff.example")
    response = await admin.post(
        "/staff/admin/users", {"email": "kim@staff.example", "name": "Kim", "role": "mediator"}
    )
    assert response.status == 200
    async with client.app[DB].read() as session:
        records = (await session.scalars(select(Mediator))).all()
        user = await session.scalar(
            select(StaffUser).where(col(StaffUser.email) == "kim@staff.example")
        )
    assert user is not None
    assert [(m.id, m.user_id) for m in records] == [(early.id, user.id)]


def test_users_add_makes_a_mediator_cases_can_be_given_to(tmp_path: Path) -> None:
    env = {**os.environ, "ORCH_DATA_DIR": str(tmp_path)}
    env.pop("ORCH_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", *ADD_MO],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    async def listed() -> list[tuple[str, str]]:
        db = connect(f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}")
        try:
            async with db.read() as session:
                return [(m.name, m.email) for m in await panel.list_mediators(session)]
        finally:
            await db.dispose()

    assert asyncio.run(listed()) == [("Mo Ahmed", "mo@staff.example")]


async def test_the_api_gives_an_account_one_mediator_record(staff: Staff) -> None:
    body = {"name": "Mo Ahmed", "email": "mo@staff.example"}
    body["user_id"] = str(staff.user_ids["mediator"])
    await staff.call("POST", "/api/v1/mediators", json=body, expect=201)
    again = await staff.call("POST", "/api/v1/mediators", json=body, expect=409)
    assert again["error"]["message"] == "that staff user already has a mediator record"
