"""Ending a staff user's access: deactivation, token revocation, the last admin, the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.cases import panel
from orchestrator.core.errors import NotFound
from orchestrator.core.models import AuditEvent, StaffRole, StaffUser
from orchestrator.staff import access
from orchestrator.staff.accounts import issue_token, user_for_token
from orchestrator.staff.sessions import open_session, session_for_cookie
from orchestrator.web.keys import CLOCK, DB
from tests.orchestrator.web_support import Browser, make_user


async def audit_of(client: TestClient[Any, Any], action: str) -> list[AuditEvent]:
    async with client.app[DB].read() as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == action)
        return list((await session.scalars(query)).all())


async def test_deactivating_ends_sessions_tokens_and_mediator_listing(
    client: TestClient[Any, Any],
) -> None:
    now = client.app[CLOCK]()
    admin = await make_user(client, "ada@staff.example", StaffRole.admin)
    mo = await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo Ahmed")
    async with client.app[DB].write() as session:
        user = await session.get(StaffUser, mo)
        assert user is not None
        cookie = await open_session(session, user=user, now=now)
        token = await issue_token(session, user_id=mo, label="laptop")
    async with client.app[DB].write() as session:
        done = await access.deactivate_user(session, user_id=mo, by=admin, now=now)
    assert done.tokens_revoked == 1 and not done.user.active
    async with client.app[DB].read() as session:
        assert await session_for_cookie(session, cookie, now=now) is None
        assert await user_for_token(session, token, now=now) is None
        assert await access.live_tokens(session, mo) == []
        assert [m.name for m in await panel.list_mediators(session)] == []
    (event,) = await audit_of(client, "staff.deactivated")
    assert (event.actor_id, event.target_id, event.at) == (admin, str(mo), now)
    assert event.details == {"tokens_revoked": 1}

    async with client.app[DB].write() as session:
        await access.reactivate_user(session, user_id=mo, by=admin, now=now)
    async with client.app[DB].read() as session:
        assert [m.name for m in await panel.list_mediators(session)] == ["Mo Ahmed"]
        assert await user_for_token(session, token, now=now) is None  # stays revoked
    assert len(await audit_of(client, "staff.reactivated")) == 1


async def test_the_service_keeps_an_admin_who_can_sign_in(client: TestClient[Any, Any]) -> None:
    now = client.app[CLOCK]()
    ada = await make_user(client, "ada@staff.example", StaffRole.admin)
    sam = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    async with client.app[DB].write() as session:
        with pytest.raises(access.OwnAccount):
            await access.deactivate_user(session, user_id=ada, by=ada, now=now)
    # However it is called (here as if by someone who is not an admin), the last admin stays.
    async with client.app[DB].write() as session:
        with pytest.raises(access.LastAdmin):
            await access.deactivate_user(session, user_id=ada, by=sam, now=now)
    bea = await make_user(client, "bea@staff.example", StaffRole.admin)
    async with client.app[DB].write() as session:
        await access.deactivate_user(session, user_id=ada, by=bea, now=now)
    async with client.app[DB].write() as session:
        with pytest.raises(access.LastAdmin):
            await access.deactivate_user(session, user_id=bea, by=sam, now=now)


async def test_revoking_one_token_leaves_the_others(client: TestClient[Any, Any]) -> None:
    now = client.app[CLOCK]()
    admin = await make_user(client, "ada@staff.example", StaffRole.admin)
    sam = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    async with client.app[DB].write() as session:
        laptop = await issue_token(session, user_id=sam, label="laptop")
        script = await issue_token(session, user_id=sam, label="script")
        other = await issue_token(session, user_id=admin, label="mine")
    async with client.app[DB].read() as session:
        tokens = {t.label: t.id for t in await access.live_tokens(session, sam)}
        mine = (await access.live_tokens(session, admin))[0].id
    async with client.app[DB].write() as session:
        with pytest.raises(NotFound):  # another user's token, by this user's address
            await access.revoke_token(session, user_id=sam, token_id=mine, by=admin, now=now)
        await access.revoke_token(
            session, user_id=sam, token_id=tokens["laptop"], by=admin, now=now
        )
    async with client.app[DB].read() as session:
        assert await user_for_token(session, laptop, now=now) is None
        assert await user_for_token(session, script, now=now) is not None
        assert await user_for_token(session, other, now=now) is not None
    (event,) = await audit_of(client, "staff.token_revoked")
    assert (event.actor_id, event.target_id, event.details) == (
        admin,
        str(sam),
        {"token": "laptop"},
    )
    async with client.app[DB].write() as session:
        assert await access.revoke_tokens(session, user_id=sam, by=admin, now=now) == 1
    async with client.app[DB].read() as session:
        assert await user_for_token(session, script, now=now) is None


async def test_the_admin_page_lists_tokens_and_confirms_each_action(
    client: TestClient[Any, Any],
) -> None:
    ada = await make_user(client, "ada@staff.example", StaffRole.admin, name="Ada Admin")
    sam = await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam Rota")
    async with client.app[DB].write() as session:
        await issue_token(session, user_id=sam, label="rota script")
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    status, page = await admin.get("/staff/admin/users")
    assert status == 200 and f'href="/staff/admin/users/{sam}"' in page
    status, page = await admin.get(f"/staff/admin/users/{sam}")
    assert status == 200 and "rota script" in page and "Never" in page
    assert "Deactivate Sam Rota" in page

    response = await admin.post(f"/staff/admin/users/{sam}/tokens/revoke-all")
    assert response.status == 200
    assert "1 API token stopped working." in await response.text()
    response = await admin.post(f"/staff/admin/users/{sam}/deactivate")
    text = await response.text()
    assert "Sam Rota can no longer sign in." in text and "No, deactivated" in text

    own = await admin.get(f"/staff/admin/users/{ada}")
    assert "You cannot deactivate your own account" in own[1]
    refused = await admin.post(f"/staff/admin/users/{ada}/deactivate")
    assert refused.status == 409
    assert "You cannot deactivate your own account: ask another admin" in await refused.text()
    missing = await admin.post(f"/staff/admin/users/{sam}/tokens/{uuid.uuid4()}/revoke")
    assert missing.status == 404


async def test_only_admins_manage_staff_users(client: TestClient[Any, Any]) -> None:
    sam = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    status, page = await browser.get(f"/staff/admin/users/{sam}")
    assert status == 403 and "Only admins can manage staff users." in page
    assert (await browser.post(f"/staff/admin/users/{sam}/deactivate")).status == 403
