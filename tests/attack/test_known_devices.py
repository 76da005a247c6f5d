"""Many addresses guessing one account: slowed in total, while its owner's browser signs in.

A botnet gets a few tries per address per account; the account as a whole gets
``ACCOUNT_WIDE_BACKOFF.free`` failures from browsers it does not know, then growing waits.
A browser that has signed in to the account before carries a signed known-device cookie:
its tries are slowed only by their own run, so the owner is not held up by the botnet.

As in test_proxied_clients, the app is told its proxy is on loopback, so each request's
address is read from X-Forwarded-For. Each request is sent from a browser with an empty
cookie jar, carrying only the cookie the test gives it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.staff.signin import (
    ACCOUNT_WIDE_BACKOFF,
    DEVICE_BACKOFF,
    DEVICE_TRUSTED_FAILURES,
    KNOWN_DEVICE_TTL,
)
from orchestrator.web.app import create_app
from tests.conftest import MutableClock
from tests.orchestrator.web_support import PASSWORD, Browser, make_user

SAM, BO = "sam@staff.example", "bo@staff.example"
BOTNET = 25
DEVICE = "orch_device"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8", "::1/128"]})


async def attempt(
    client: TestClient[Any, Any], address: str, email: str, password: str, device: str = ""
) -> Any:
    """One sign-in from a browser at ``address`` holding only the known-device cookie given."""
    client.session.cookie_jar.clear()
    headers = {"X-Forwarded-For": address}
    if device:
        headers["Cookie"] = f"{DEVICE}={device}"
    return await client.post(
        "/sign-in",
        data={"email": email, "password": password},
        headers=headers,
        allow_redirects=False,
    )


async def known_device(client: TestClient[Any, Any], address: str, email: str) -> str:
    """Sign in once from ``address``; the known-device cookie that browser was given."""
    response = await attempt(client, address, email, PASSWORD)
    assert response.status == 303
    return str(response.cookies[DEVICE].value)


async def spray(client: TestClient[Any, Any], email: str, network: str) -> list[Any]:
    """Wrong passwords for ``email``, one from each of ``BOTNET`` addresses."""
    return [
        await attempt(client, f"{network}.{n}", email, f"guess-{n}") for n in range(1, BOTNET + 1)
    ]


async def test_a_botnet_spraying_one_account_is_slowed_yet_its_owner_signs_in(
    client: TestClient[Any, Any],
) -> None:
    await make_user(client, SAM, StaffRole.scheduler)
    await make_user(client, BO, StaffRole.scheduler)
    sams_laptop = await known_device(client, "198.51.100.20", SAM)
    bos_laptop = await known_device(client, "198.51.100.30", BO)

    answers = await spray(client, SAM, "203.0.113")
    free = ACCOUNT_WIDE_BACKOFF.free
    assert [answer.status for answer in answers] == [400] * free + [429] * (BOTNET - free)
    later = answers[-1]
    assert int(later.headers["Retry-After"]) > 0
    assert "Too many attempts" in await later.text()

    # Sam, on their own laptop, from yet another address, signs straight in.
    owner = await attempt(client, "192.0.2.77", SAM, PASSWORD, device=sams_laptop)
    assert owner.status == 303
    # A new browser, even with the right password, waits while the account's budget is spent.
    assert (await attempt(client, "192.0.2.78", SAM, PASSWORD)).status == 429
    # Bo's known device is not Sam's.
    assert (await attempt(client, "192.0.2.79", SAM, PASSWORD, device=bos_laptop)).status == 429
    # Nor is a cookie someone edited: a changed account, or a changed signature.
    header, claims, signature = sams_laptop.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    forged_claims["sub"] = "0" * 32
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    for tampered in (
        f"{header}.{forged}.{signature}",
        f"{header}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        "not-a-cookie",
    ):
        refused = await attempt(client, "192.0.2.80", SAM, PASSWORD, device=tampered)
        assert refused.status == 429
    # Bo, whose account nobody sprayed, signs in from anywhere.
    assert (await attempt(client, "192.0.2.81", BO, PASSWORD)).status == 303


async def test_forty_addresses_guessing_one_account_at_once_are_each_counted(
    client: TestClient[Any, Any],
) -> None:
    """The account's budget is counted in the database before each check, under a lock."""
    await make_user(client, SAM, StaffRole.scheduler)
    attempts = [
        client.post(
            "/sign-in",
            data={"email": SAM, "password": f"guess-{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            allow_redirects=False,
        )
        for n in range(1, 41)
    ]
    statuses = sorted(response.status for response in await asyncio.gather(*attempts))
    free = ACCOUNT_WIDE_BACKOFF.free
    assert statuses == [400] * free + [429] * (40 - free)


async def test_an_unknown_email_is_sprayed_and_answered_the_same(
    client: TestClient[Any, Any],
) -> None:
    """The account-wide budget is keyed on the email as typed: no answer says it exists."""
    await make_user(client, SAM, StaffRole.scheduler)
    real = [answer.status for answer in await spray(client, SAM, "203.0.113")]
    unknown = [answer.status for answer in await spray(client, "nobody@staff.example", "192.0.2")]
    assert real == unknown
    assert set(real[ACCOUNT_WIDE_BACKOFF.free :]) == {429}


async def test_a_stolen_known_device_that_keeps_failing_is_no_longer_honoured(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    await make_user(client, SAM, StaffRole.scheduler)
    laptop = await known_device(client, "198.51.100.20", SAM)
    # The thief has the laptop but not the password: slowed on it, then it is not trusted.
    for n in range(DEVICE_TRUSTED_FAILURES):
        wrong = await attempt(client, f"198.51.100.{40 + n}", SAM, f"guess-{n}", device=laptop)
        assert wrong.status == 400
        if n + 1 < DEVICE_TRUSTED_FAILURES and n + 1 >= DEVICE_BACKOFF.free:
            waiting = await attempt(client, "198.51.100.50", SAM, PASSWORD, device=laptop)
            assert waiting.status == 429
            clock.advance(seconds=int(waiting.headers["Retry-After"]))
    # From now on the laptop is a browser like any other: the botnet's spray holds it up too.
    await spray(client, SAM, "203.0.113")
    assert (await attempt(client, "198.51.100.60", SAM, PASSWORD, device=laptop)).status == 429


async def test_the_known_device_cookie_is_hardened_and_outlives_sign_out(
    client: TestClient[Any, Any],
) -> None:
    await make_user(client, SAM, StaffRole.scheduler)
    browser = Browser(client)
    response = await browser.sign_in(SAM)
    cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith(DEVICE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={int(KNOWN_DEVICE_TTL.total_seconds())}" in cookie
    out = await browser.post("/staff/sign-out")
    assert out.status == 303
    assert not any(c.startswith(DEVICE) for c in out.headers.getall("Set-Cookie", []))
    assert DEVICE in {morsel.key for morsel in client.session.cookie_jar}


async def test_over_https_the_known_device_cookie_is_secure_and_host_only(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    https = settings.model_copy(update={"base_url": "https://orchestrator.example"})
    client = await aiohttp_client(create_app(https, clock=clock, migrate_on_start=False))
    await make_user(client, SAM, StaffRole.scheduler)
    response = await attempt(client, "198.51.100.20", SAM, PASSWORD)
    assert response.status == 303
    cookie = next(
        c for c in response.headers.getall("Set-Cookie") if c.startswith("__Host-orch_device=")
    )
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
