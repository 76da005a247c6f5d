"""Staff sign-in: cookies, CSRF, lock-out, sign-out, next URLs, set-password links."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlmodel import col

from orchestrator.core.models import StaffRole, StaffSession, StaffUser
from orchestrator.staff.sessions import set_password_token
from orchestrator.staff.signin import ACCOUNT_BACKOFF
from orchestrator.web.keys import DB, SETTINGS
from orchestrator.web.staff.sessions import safe_next
from tests.conftest import MutableClock
from tests.orchestrator.web_support import PASSWORD, Browser, make_user


async def test_signed_out_visitor_is_sent_to_sign_in_with_next(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/staff/cases/new?x=1", allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sign-in"
    assert parse_qs(location.query)["next"] == ["/staff/cases/new?x=1"]


async def test_sign_in_sets_a_hardened_cookie_and_goes_to_next(
    client: TestClient[Any, Any],
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    response = await Browser(client).sign_in("Sam@Staff.example", next="/staff/cases/new")
    assert response.status == 303
    assert response.headers["Location"] == "/staff/cases/new"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("orch_staff=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    page = await client.get("/staff/cases/new")
    assert page.status == 200
    assert "Open a case from a referral" in await page.text()
    # Only the hash of the cookie is stored.
    value = cookie.split(";")[0].split("=", 1)[1]
    async with client.app[DB].read() as session:
        ids = (await session.scalars(select(col(StaffSession.id)))).all()
    assert value not in ids and len(ids) == 1


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
async def test_next_is_only_ever_a_local_path(client: TestClient[Any, Any], target: str) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    response = await Browser(client).sign_in("sam@staff.example", next=target)
    assert response.headers["Location"] == "/staff"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/staff/cases/1?x=2") == "/staff/cases/1?x=2"
    assert safe_next("staff") == "/staff"


async def test_wrong_password_and_unknown_email_read_the_same(client: TestClient[Any, Any]) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    wrong = await Browser(client).sign_in("sam@staff.example", "not the password")
    unknown = await Browser(client).sign_in("nobody@staff.example", "not the password")
    assert wrong.status == unknown.status == 400
    assert "Set-Cookie" not in wrong.headers
    wrong_text, unknown_text = await wrong.text(), await unknown.text()
    assert "The email address or password is not right" in wrong_text
    assert wrong_text.replace("sam@", "X@") == unknown_text.replace("nobody@", "X@")


async def test_five_failures_slow_that_address_down_with_growing_waits(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    for _ in range(ACCOUNT_BACKOFF.free):
        assert (await browser.sign_in("sam@staff.example", "guess")).status == 400
    # Then even the right password waits, told how long, before anything is checked.
    waiting = await browser.sign_in("sam@staff.example")
    assert waiting.status == 429
    assert "Too many attempts" in await waiting.text()
    first_wait = int(waiting.headers["Retry-After"])
    assert first_wait == ACCOUNT_BACKOFF.first_s
    clock.advance(seconds=first_wait)
    assert (await browser.sign_in("sam@staff.example", "guess again")).status == 400
    longer = await browser.sign_in("sam@staff.example")
    assert int(longer.headers["Retry-After"]) == 2 * first_wait
    clock.advance(seconds=2 * first_wait)
    assert (await browser.sign_in("sam@staff.example")).status == 303
    # The right password ended the run: the next mistake is a plain mistake again, even
    # from a browser without the known-device cookie that sign-in gave.
    client.session.cookie_jar.clear()
    assert (await Browser(client).sign_in("sam@staff.example", "typo")).status == 400


async def test_forty_wrong_passwords_at_once_are_each_counted(
    client: TestClient[Any, Any],
) -> None:
    """Counted in the database before each check, so racing tries get no further than five."""
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    attempts = [
        client.post(
            "/sign-in",
            data={"email": "sam@staff.example", "password": f"guess-{n}"},
            allow_redirects=False,
        )
        for n in range(40)
    ]
    statuses = sorted(response.status for response in await asyncio.gather(*attempts))
    assert statuses == [400] * ACCOUNT_BACKOFF.free + [429] * (40 - ACCOUNT_BACKOFF.free)
    assert (await Browser(client).sign_in("sam@staff.example")).status == 429


async def test_posts_without_the_csrf_token_are_refused(client: TestClient[Any, Any]) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    form = {
        "reference": "KIDS-1",
        "kind": "mediation",
        "local_authority": "Kent",
        "referral_date": "2026-02-27",
    }
    missing = await browser.post("/staff/cases/new", form, csrf=False)
    assert missing.status == 403
    assert "This form has expired" in await missing.text()
    forged = await browser.post("/staff/cases/new", {**form, "csrf_token": "x" * 43})
    assert forged.status == 403
    header = await client.post(
        "/staff/cases/new", data=form, headers={"X-CSRF-Token": browser.csrf}, allow_redirects=False
    )
    assert header.status == 303


async def test_sign_out_ends_the_session_on_the_server(client: TestClient[Any, Any]) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    response = await browser.sign_in("sam@staff.example")
    stolen = response.headers["Set-Cookie"].split(";")[0]
    out = await browser.post("/staff/sign-out")
    assert out.status == 303 and out.headers["Location"].startswith("/sign-in")
    # Replaying the old cookie gets nowhere.
    again = await client.get("/staff", headers={"Cookie": stolen}, allow_redirects=False)
    assert again.status == 303
    async with client.app[DB].read() as session:
        assert await session.scalar(select(func.count()).select_from(StaffSession)) == 0


async def test_session_expires(client: TestClient[Any, Any], clock: MutableClock) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    await Browser(client).sign_in("sam@staff.example")
    assert (await client.get("/staff", allow_redirects=False)).status == 200
    clock.advance(hours=11)
    assert (await client.get("/staff", allow_redirects=False)).status == 303


async def test_roles_are_enforced_on_pages(client: TestClient[Any, Any]) -> None:
    await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo")
    browser = Browser(client)
    await browser.sign_in("mo@staff.example")
    status, text = await browser.get("/staff/cases/new")
    assert status == 403
    assert "You cannot see this page" in text
    assert (await browser.get("/staff/admin/users"))[0] == 403


async def test_admin_invites_staff_with_a_one_time_set_password_link(
    client: TestClient[Any, Any],
) -> None:
    await make_user(client, "ada@staff.example", StaffRole.admin)
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    status, _ = await admin.get("/staff/admin/users")
    assert status == 200
    response = await admin.post(
        "/staff/admin/users", {"email": "new@staff.example", "name": "Nia", "role": "scheduler"}
    )
    assert response.status == 200
    text = await response.text()
    link = text.split('id="invite-link"')[1].split(">")[1].split("<")[0]
    path = link.removeprefix("http://testserver.local")
    assert path.startswith("/set-password/")
    await client.post("/staff/sign-out", data={"csrf_token": admin.csrf})

    newcomer = Browser(client)
    status, page = await newcomer.get(path)
    assert status == 200 and "new@staff.example" in page
    short = await newcomer.post(path, {"password": "short", "confirm": "short"}, csrf=False)
    assert short.status == 400
    done = await newcomer.post(path, {"password": PASSWORD, "confirm": PASSWORD}, csrf=False)
    assert done.status == 303
    assert (await newcomer.sign_in("new@staff.example")).status == 303
    # The link worked once.
    assert (await newcomer.get(path))[0] == 410


async def test_set_password_link_expires_and_resists_tampering(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    user_id = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    secret = client.app[SETTINGS].secret_key.get_secret_value()
    async with client.app[DB].write() as session:
        user = await session.get(StaffUser, user_id)
        assert user is not None
        token = set_password_token(user, secret=secret, now=clock())
    assert (await client.get(f"/set-password/{token[:-2]}xx")).status == 410
    assert (await client.get(f"/set-password/{token}")).status == 200
    clock.advance(hours=73)
    assert (await client.get(f"/set-password/{token}")).status == 410


async def reset_link(admin: Browser, user_id: object) -> str:
    """Ask for a new set-password link on the admin page, as an admin does."""
    response = await admin.post(f"/staff/admin/users/{user_id}/reset")
    assert response.status == 200
    text = await response.text()
    link = text.split('id="invite-link"')[1].split(">")[1].split("<")[0]
    return link.removeprefix("http://testserver.local")


async def test_a_new_reset_link_kills_the_older_one(client: TestClient[Any, Any]) -> None:
    await make_user(client, "ada@staff.example", StaffRole.admin)
    user_id = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    older = await reset_link(admin, user_id)
    newer = await reset_link(admin, user_id)
    assert (await admin.get(older))[0] == 410
    refused = await admin.post(older, {"password": PASSWORD, "confirm": PASSWORD}, csrf=False)
    assert refused.status == 410
    status, page = await admin.get(newer)
    assert status == 200 and "sam@staff.example" in page


async def test_a_used_link_stays_used_after_a_later_reset(client: TestClient[Any, Any]) -> None:
    await make_user(client, "ada@staff.example", StaffRole.admin)
    user_id = await make_user(client, "sam@staff.example", StaffRole.scheduler)
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    first = await reset_link(admin, user_id)
    sam = Browser(client)
    done = await sam.post(first, {"password": PASSWORD, "confirm": PASSWORD}, csrf=False)
    assert done.status == 303
    await reset_link(admin, user_id)  # the password is cleared again, and a new link made
    assert (await sam.get(first))[0] == 410
    again = await sam.post(
        first, {"password": "someone else's 1", "confirm": "someone else's 1"}, csrf=False
    )
    assert again.status == 410
