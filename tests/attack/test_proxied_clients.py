"""Behind the service's own reverse proxy, each caller has their own failed-attempts bucket.

The app is told its proxy is on loopback (where the test client connects from), as
deploy/compose.yaml tells it the compose network: the caller is then read from
X-Forwarded-For, right to left, past the proxy's own addresses.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.core.throttle import LINK_ALLOWANCE
from orchestrator.staff.signin import ACCOUNT_BACKOFF
from tests.conftest import Staff
from tests.orchestrator.meetings_support import book, join_links, path_of, ready_case
from tests.orchestrator.web_support import PASSWORD, make_user

GUESSER, PARENT, OWNER = "203.0.113.5", "198.51.100.7", "198.51.100.20"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8", "::1/128"]})


async def good_link(staff: Staff) -> str:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    return path_of((await join_links(staff, meeting["id"]))[ready.parties["parent"]]["url"])


async def exhaust(staff: Staff, forwarded_for: list[str]) -> int:
    """Guess links until refused, the header made anew each time; the last status."""
    status = 0
    for attempt in range(int(LINK_ALLOWANCE.burst) + 1):
        header = forwarded_for[attempt % len(forwarded_for)]
        response = await staff.client.get(
            f"/j/forged-{attempt}", headers={"X-Forwarded-For": header}
        )
        status = response.status
    return status


async def test_one_guesser_behind_the_proxy_does_not_lock_out_a_parent(staff: Staff) -> None:
    good = await good_link(staff)
    assert await exhaust(staff, [GUESSER]) == 429
    parent = await staff.client.get(good, headers={"X-Forwarded-For": PARENT})
    assert parent.status == 200
    guess = await staff.client.get("/j/forged-again", headers={"X-Forwarded-For": GUESSER})
    assert guess.status == 429


async def test_addresses_the_caller_writes_before_the_proxys_own_do_not_help(
    staff: Staff,
) -> None:
    """The proxy appends the address it saw; whatever the guesser put in front is ignored."""
    forged = [f"10.9.8.{n}, {GUESSER}" for n in range(1, 200)]
    assert await exhaust(staff, forged) == 429


async def test_a_chain_of_our_own_proxies_is_read_past(staff: Staff) -> None:
    good = await good_link(staff)
    assert await exhaust(staff, [f"{GUESSER}, 127.0.0.9"]) == 429
    parent = await staff.client.get(good, headers={"X-Forwarded-For": f"{PARENT}, 127.0.0.9"})
    assert parent.status == 200


async def sign_in_from(staff: Staff, address: str, email: str, password: str) -> int:
    """One sign-in from a browser of its own at ``address`` (no cookies from earlier ones)."""
    staff.client.session.cookie_jar.clear()
    response = await staff.client.post(
        "/sign-in",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
    )
    return response.status


async def test_a_stranger_who_knows_a_staff_email_cannot_lock_its_owner_out(
    staff: Staff,
) -> None:
    await make_user(staff.client, "sam@staff.example", StaffRole.scheduler)
    for attempt in range(ACCOUNT_BACKOFF.free):
        assert await sign_in_from(staff, GUESSER, "sam@staff.example", f"guess-{attempt}") == 400
    assert await sign_in_from(staff, GUESSER, "sam@staff.example", PASSWORD) == 429
    # Sam, at their own desk, signs straight in.
    assert await sign_in_from(staff, OWNER, "sam@staff.example", PASSWORD) == 303
    assert await sign_in_from(staff, GUESSER, "sam@staff.example", "one more") == 429


async def test_a_guesser_changing_address_inside_one_ipv6_network_is_slowed_all_the_same(
    staff: Staff,
) -> None:
    """Every address of a /64 is one subscriber's: a new one for each guess buys nothing."""
    await make_user(staff.client, "sam@staff.example", StaffRole.scheduler)
    statuses = [
        await sign_in_from(staff, f"2001:db8:5:7::{n:x}", "sam@staff.example", f"guess-{n}")
        for n in range(1, 3 * ACCOUNT_BACKOFF.free)
    ]
    assert statuses[: ACCOUNT_BACKOFF.free] == [400] * ACCOUNT_BACKOFF.free
    assert set(statuses[ACCOUNT_BACKOFF.free :]) == {429}
    # Link guesses from the same network share one budget too; another network's owner and
    # a parent elsewhere are not held up.
    assert await exhaust(staff, [f"2001:db8:5:7:{n:x}::1" for n in range(1, 99)]) == 429
    assert await sign_in_from(staff, "2001:db8:9:1::20", "sam@staff.example", PASSWORD) == 303
    good = await good_link(staff)
    parent = await staff.client.get(good, headers={"X-Forwarded-For": "2001:db8:9:2::7"})
    assert parent.status == 200


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(trusted_proxies=["caddy"])
