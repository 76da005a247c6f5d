"""A whole flow leaves no token, password, key or personal detail in the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.core.models import StaffRole
from orchestrator.web.keys import SETTINGS
from tests.conftest import Staff
from tests.orchestrator.meetings_support import (
    book,
    deliver_outbox,
    join_links,
    path_of,
    ready_case,
)
from tests.orchestrator.web_support import PASSWORD, Browser, make_user


async def test_a_full_flow_logs_nothing_secret_or_personal(
    staff: Staff, client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # production logs at INFO; DEBUG SQL echo is off there
    settings = client.app[SETTINGS]
    settings.inbound_mail_token = SecretStr("inbound-secret-token-123")
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    secrets = [settings.secret_key.get_secret_value(), PASSWORD, "inbound-secret-token-123"]
    secrets += list(staff.tokens.values())
    for link in links.values():
        path = path_of(link["url"])
        secrets.append(path.rsplit("/", 1)[-1])
        await client.get(path)
        await client.get(path + "tampered")
    # Call-backs, inbound mail and sign-in, good and bad.
    await client.post("/hooks/jitsi/events", json={"event": "x", "room": "r"})
    await client.post(
        "/hooks/mail/inbound",
        data=b"From: sam@family.example\r\n\r\nhello",
        headers={"X-Orchestrator-Token": "inbound-secret-token-123"},
    )
    await make_user(client, "signer@staff.example", StaffRole.scheduler)
    await Browser(client).sign_in("signer@staff.example", "not-the-password-9")
    await Browser(client).sign_in("signer@staff.example")
    await deliver_outbox(client)

    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert caplog.records, "the flow logged something to check"
    personal = [
        "Sam Parent",
        "Lee Officer",
        "sam@family.example",
        "lee@kent.example",
        "signer@staff.example",
        "07700 900001",
        "07700900001",
    ]
    for needle in secrets + personal:
        assert needle not in logged, f"{needle[:12]}... appears in the logs"
    assert not re.search(r"[\w.+-]+@[\w-]+\.example", logged), "an email address was logged"
