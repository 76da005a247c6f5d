"""Guessing links and passwords is slowed to a crawl; free text never becomes markup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.core.throttle import LINK_ALLOWANCE, SET_PASSWORD_ALLOWANCE
from orchestrator.staff.signin import ACCOUNT_BACKOFF, SOURCE_ALLOWANCE
from orchestrator.web.app import create_app
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import book as book_at
from tests.orchestrator.invites_support import make_case
from tests.orchestrator.meetings_support import book, join_links, path_of, ready_case
from tests.orchestrator.web_support import PASSWORD, Browser, make_user

FEED_MEETING_AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


async def test_guessing_party_links_is_answered_with_429_yet_valid_links_still_open(
    staff: Staff, clock: MutableClock
) -> None:
    client = staff.client
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    good = path_of((await join_links(staff, meeting["id"]))[ready.parties["parent"]]["url"])
    # Plenty of successful visits cost nothing.
    for _ in range(int(LINK_ALLOWANCE.burst) + 5):
        assert (await client.get(good)).status == 200
    prefixes = ["/p/", "/j/", "/r/", "/c/", "/prepare/"]
    for attempt in range(int(LINK_ALLOWANCE.burst)):
        forged = f"{prefixes[attempt % len(prefixes)]}forged-token-{attempt}"
        assert (await client.get(forged)).status == 404
    blocked = await client.get("/j/yet-another-guess")
    assert blocked.status == 429
    page = await blocked.text()
    assert "Too many attempts" in page and "try again" in page
    wait = int(blocked.headers["Retry-After"])
    assert 0 < wait <= LINK_ALLOWANCE.refill_seconds
    assert blocked.headers["X-Content-Type-Options"] == "nosniff"
    # A good link from the same address still opens: a whole school or council may sit
    # behind one address, and only failures are ever refused.
    assert (await client.get(good)).status == 200
    assert (await client.get("/p/and-another-guess")).status == 429
    clock.advance(seconds=wait)
    assert (await client.get("/r/a-later-guess")).status == 404


async def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(staff: Staff) -> None:
    """With no trusted proxy configured, X-Forwarded-For is the caller's word: ignored."""
    client = staff.client
    for attempt in range(int(LINK_ALLOWANCE.burst)):
        forged = await client.get(
            f"/j/forged-token-{attempt}", headers={"X-Forwarded-For": f"192.0.2.{attempt}"}
        )
        assert forged.status == 404
    blocked = await client.get("/j/another", headers={"X-Forwarded-For": "192.0.2.250"})
    assert blocked.status == 429


async def test_repeated_failed_sign_ins_are_slowed_down(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    await make_user(client, "ada@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    for attempt in range(int(SOURCE_ALLOWANCE.burst)):
        # Different unknown emails, so no single account's lock-out is what stops them.
        response = await browser.sign_in(f"guess{attempt}@staff.example", "wrong-password-1")
        assert response.status == 400
    blocked = await browser.sign_in("ada@staff.example", PASSWORD)
    assert blocked.status == 429
    assert "Too many attempts" in await blocked.text()
    clock.advance(seconds=int(blocked.headers["Retry-After"]))
    assert (await browser.sign_in("ada@staff.example", PASSWORD)).status == 303


async def test_a_successful_sign_in_costs_nothing(client: TestClient[Any, Any]) -> None:
    await make_user(client, "bo@staff.example", StaffRole.scheduler)
    for _ in range(int(SOURCE_ALLOWANCE.burst) * 2):
        client.session.cookie_jar.clear()  # a new browser each time: no known-device cookie
        assert (await Browser(client).sign_in("bo@staff.example", PASSWORD)).status == 303


async def test_guessing_feed_urls_is_limited_and_the_real_feed_still_opens(
    staff: Staff,
) -> None:
    booked = await book_at(staff, await make_case(staff), FEED_MEETING_AT)
    feed = await staff.call("GET", f"/api/v1/mediators/{booked.mediator_id}/feed", expect=200)
    real = urlsplit(feed["url"]).path
    for attempt in range(int(LINK_ALLOWANCE.burst)):
        guess = await staff.client.get(f"/feeds/mediators/guess-{attempt}.ics")
        assert guess.status == 404
    blocked = await staff.client.get("/feeds/mediators/one-more.ics")
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert (await staff.client.get(real)).status == 200


async def test_guessing_set_password_links_is_limited(client: TestClient[Any, Any]) -> None:
    for attempt in range(int(SET_PASSWORD_ALLOWANCE.burst)):
        guess = await client.get(f"/set-password/guess-{attempt}")
        assert guess.status == 410
    blocked = await client.post("/set-password/one-more", data={"password": "x", "confirm": "x"})
    assert blocked.status == 429
    assert "Too many attempts" in await blocked.text()


async def test_two_app_replicas_on_one_database_share_each_budget(
    aiohttp_client: Any, client: TestClient[Any, Any], settings: Settings, clock: MutableClock
) -> None:
    """Counts live in the database: a second replica does not double a guesser's budget."""
    other = await aiohttp_client(create_app(settings, clock=clock, migrate_on_start=False))
    replicas = [client, other]
    for attempt in range(int(LINK_ALLOWANCE.burst)):
        guess = await replicas[attempt % 2].get(f"/j/forged-token-{attempt}")
        assert guess.status == 404
    assert (await other.get("/j/one-more")).status == 429
    assert (await client.get("/j/and-one-more")).status == 429

    await make_user(client, "ada@staff.example", StaffRole.scheduler)
    for attempt in range(ACCOUNT_BACKOFF.free):
        wrong = await Browser(replicas[attempt % 2]).sign_in("ada@staff.example", "wrong-1")
        assert wrong.status == 400
    for replica in replicas:
        assert (await Browser(replica).sign_in("ada@staff.example", "wrong-2")).status == 429


async def test_a_link_for_one_party_does_not_open_another_partys_things(staff: Staff) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    links = await join_links(staff, meeting["id"])
    parent = path_of(links[ready.parties["parent"]]["url"])
    officer = path_of(links[ready.parties["la_officer"]]["url"])
    # Splice one party's signature onto the other's token: refused, and nothing leaks.
    _, _, sig = parent.rpartition(".")
    other_head, _, _ = officer.rpartition(".")
    for forged in (f"{other_head}.{sig}", parent[:-3] + "abc", parent.replace("/j/", "/p/")):
        response = await staff.client.get(forged)
        assert response.status == 404
        text = await response.text()
        assert "Sam Parent" not in text and "Lee Officer" not in text and "Kent" not in text


async def test_html_in_free_text_is_shown_as_text_on_staff_pages(
    staff: Staff, client: TestClient[Any, Any]
) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "INJ-1",
            "kind": "mediation",
            "local_authority": payload,
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/parties",
        json={"role": "parent", "name": payload, "email": "inj@family.example"},
        expect=201,
    )
    await make_user(client, "viewer@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    assert (await browser.sign_in("viewer@staff.example")).status == 303
    for path in ("/staff", f"/staff/cases/{case['id']}"):
        status, html = await browser.get(path)
        assert status == 200
        assert "<script>alert" not in html and "<img src=x" not in html
    status, html = await browser.get(f"/staff/cases/{case['id']}")
    assert "&lt;script&gt;alert" in html


async def test_line_breaks_in_names_cannot_add_mail_headers_or_calendar_lines(
    staff: Staff,
) -> None:
    ready = await ready_case(staff, parties=("la_officer",))
    sneaky = "Eve\r\nBcc: spy@evil.example\r\nATTENDEE:mailto:spy@evil.example"
    response = await staff.client.post(
        f"/api/v1/cases/{ready.case_id}/parties",
        json={"role": "parent", "name": sneaky, "email": "eve@family.example"},
        headers=staff.headers("scheduler"),
    )
    if response.status == 201:
        await book(staff, ready.case_id)
        from tests.orchestrator.meetings_support import deliver_outbox

        await deliver_outbox(staff.client)
        from orchestrator.web.keys import SETTINGS

        folder = staff.client.app[SETTINGS].mail_dir
        sent = b"".join(p.read_bytes() for p in folder.glob("**/*.eml"))
        assert sent, "the invitations were written"
        assert b"\nBcc:" not in sent and b"spy@evil.example" not in sent.replace(b"\r\n ", b"")
    else:
        assert response.status == 422
