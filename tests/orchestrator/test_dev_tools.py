"""Development tools show every email and every party's link: staff in development only.

The tools are taken from the running app's route table (everything under ``/dev/``), so a
new one added without the guard fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.app import create_app
from orchestrator.web.keys import SETTINGS as SETTINGS_KEY
from tests.conftest import MutableClock
from tests.orchestrator.web_support import Browser, make_user

PARTY_LINK = "http://testserver.local/j/party-secret-token"
MESSAGE = "invite-1.eml"


def dev_tools(client: TestClient[Any, Any]) -> Iterator[str]:
    """Every GET path under /dev/ of the running app, with its parameters filled in."""
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "GET" and path.startswith("/dev/"):
            yield re.sub(r"\{name\}", MESSAGE, path)


async def mailbox_app(
    aiohttp_client: Any, settings: Settings, clock: MutableClock, env: str
) -> Any:
    """The app in ``env``, with one invitation written to its mail folder."""
    configured = settings.model_copy(update={"env": env})
    configured.mail_dir.mkdir(parents=True, exist_ok=True)
    (configured.mail_dir / MESSAGE).write_bytes(
        b"From: s@x.example\r\nTo: Zoe <zoe@family.example>\r\nSubject: Invitation: hello\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nJoin: " + PARTY_LINK.encode() + b"\r\n"
    )
    client = await aiohttp_client(create_app(configured, clock=clock, migrate_on_start=False))
    await make_user(client, "scheduler@staff.example", StaffRole.scheduler)
    return client


async def test_anyone_not_signed_in_is_sent_to_sign_in_and_sees_no_mail(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client = await mailbox_app(aiohttp_client, settings, clock, "dev")
    tools = list(dev_tools(client))
    assert "/dev/mail" in tools  # the table is the one in use

    for path in tools:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, (path, response.status)
        assert response.headers["Location"].startswith("/sign-in?next=")
        assert "party-secret-token" not in await response.text()


async def test_signed_in_staff_in_development_read_the_mailbox(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client = await mailbox_app(aiohttp_client, settings, clock, "dev")
    browser = Browser(client)
    assert (await browser.sign_in("scheduler@staff.example")).status == 303

    for path in dev_tools(client):
        status, _ = await browser.get(path)
        assert status == 200, path
    _, listing = await browser.get("/dev/mail")
    assert "Invitation: hello" in listing
    _, page = await browser.get(f"/dev/mail/{MESSAGE}")
    assert f'<a class="govuk-link" href="{PARTY_LINK}">' in page
    assert (await browser.get("/dev/mail/..%2Fsecret.eml"))[0] == 404


async def test_mail_written_before_names_were_checked_still_shows(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client = await mailbox_app(aiohttp_client, settings, clock, "dev")
    # An address that decodes to a line break, as stored names once could.
    (client.app[SETTINGS_KEY].mail_dir / "certificate-1.eml").write_bytes(
        b'From: s@x.example\r\nTo: "LA officer =?utf-8?q?=0D=0ABcc:_evil@evil.example?="'
        b" <lee@kent.example>\r\nSubject: Certificate\r\n\r\nAttached.\r\n"
    )
    browser = Browser(client)
    assert (await browser.sign_in("scheduler@staff.example")).status == 303
    status, listing = await browser.get("/dev/mail")
    assert status == 200 and "Certificate" in listing
    status, shown = await browser.get("/dev/mail/certificate-1.eml")
    assert status == 200 and "lee@kent.example" in shown


@pytest.mark.parametrize("env", ["production", "test"])
async def test_outside_development_the_tools_do_not_exist_even_for_staff(
    aiohttp_client: Any, settings: Settings, clock: MutableClock, env: str
) -> None:
    client = await mailbox_app(aiohttp_client, settings, clock, env)
    browser = Browser(client)
    tools = list(dev_tools(client))
    assert "/dev/mail" in tools
    for signed_in in (False, True):
        if signed_in:
            assert (await browser.sign_in("scheduler@staff.example")).status == 303
        for path in tools:
            status, body = await browser.get(path)
            assert status == 404, (env, signed_in, path, status)
            assert "party-secret-token" not in body
