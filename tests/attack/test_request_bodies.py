"""Request bodies over a real socket: chunked bodies are read whole, capped whole, and a
client that hangs up mid-body is a client going away, not a 500."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.core.settings import Settings
from orchestrator.web.api.parsing import MAX_JSON_BYTES
from orchestrator.web.keys import SETTINGS
from tests.attack.attack_support import attack_settings, live_app
from tests.conftest import MutableClock, Staff
from tests.fakes.zoom import FakeZoom
from tests.orchestrator import meetings_support
from tests.orchestrator.test_replies import SAMPLES, TOKEN, partstat, sample_meeting

CASE = {
    "reference": "CHUNK-1",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-02-20",
}


async def send_raw(
    client: TestClient[Any, Any],
    path: str,
    headers: dict[str, str],
    pieces: list[bytes],
    *,
    chunked: bool = True,
) -> tuple[int, bytes]:
    """POST ``pieces`` over a fresh connection, one network write (and chunk) each."""
    assert client.server.host is not None and client.server.port is not None
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if chunked:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {sum(len(p) for p in pieces)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            # Let the server read what has arrived before the next piece is on the wire.
            await asyncio.sleep(0.05)
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), body


def halves(data: bytes) -> list[bytes]:
    return [data[: len(data) // 2], data[len(data) // 2 :]]


async def test_a_chunked_json_body_is_read_whole(staff: Staff) -> None:
    headers = {**staff.headers("scheduler"), "Content-Type": "application/json"}
    status, body = await send_raw(
        staff.client, "/api/v1/cases", headers, halves(json.dumps(CASE).encode())
    )
    assert status == 201, body
    assert json.loads(body)["reference"] == "CHUNK-1"
    shown = await staff.call("GET", "/api/v1/cases", expect=200)
    assert [c["reference"] for c in shown["cases"]] == ["CHUNK-1"]


async def test_an_oversized_chunked_json_body_gets_413(staff: Staff) -> None:
    headers = {**staff.headers("scheduler"), "Content-Type": "application/json"}
    filler = b'{"reference": "' + b"x" * MAX_JSON_BYTES + b'"}'
    status, body = await send_raw(staff.client, "/api/v1/cases", headers, halves(filler))
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "too_large"


async def test_a_correctly_signed_chunked_zoom_event_is_verified(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    zoom = FakeZoom()
    client, _ = await meetings_support.live_app(
        aiohttp_client,
        settings,
        clock,
        zoom_account_id=zoom.account_id,
        zoom_client_id=zoom.client_id,
        zoom_client_secret=SecretStr(zoom.client_secret),
        zoom_webhook_secret_token=SecretStr(zoom.webhook_secret_token),
        zoom_oauth_url="http://127.0.0.1:9/oauth/token",
        zoom_api_base="http://127.0.0.1:9/v2",
    )
    now_s = int(clock().timestamp())
    event = zoom.url_validation_event("plain-1", event_ts_ms=now_s * 1000)
    headers, body = zoom.signed_webhook(event, timestamp=now_s)
    status, answer = await send_raw(client, "/hooks/zoom/events", headers, halves(body))
    assert status == 200, answer
    assert json.loads(answer)["plainToken"] == "plain-1"
    oversized = b" " * (256 * 1024) + body
    status, answer = await send_raw(client, "/hooks/zoom/events", headers, halves(oversized))
    assert status == 413, answer


async def test_a_chunked_inbound_reply_is_applied_whole(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    client.app[SETTINGS].inbound_mail_token = SecretStr(TOKEN)
    email = "dan.oneill@icloud.com"
    people = [{"role": "parent", "name": "Person", "email": email}]
    ids = await sample_meeting(client, staff, sequence=0, people=people)
    raw = (SAMPLES / "apple_reply.eml").read_bytes()
    headers = {"X-Orchestrator-Token": TOKEN, "Content-Type": "message/rfc822"}
    status, answer = await send_raw(client, "/hooks/mail/inbound", headers, halves(raw))
    assert status == 200, answer
    assert json.loads(answer)["result"] == "updated"
    assert (await partstat(client, ids[email])).value == "ACCEPTED"
    client.app[SETTINGS].inbound_mail_max_bytes = len(raw) - 1
    status, answer = await send_raw(client, "/hooks/mail/inbound", headers, halves(raw))
    assert status == 413, answer


@pytest.mark.parametrize("chunked", [False, True])
def test_a_client_hanging_up_mid_body_is_no_server_error(
    sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    """Served as in production (the test server cancels handlers on hang-up; we do not)."""
    caplog.set_level(logging.INFO)
    with live_app(attack_settings(tmp_path, sqlite_template)) as live:
        host, port = live.base_url.removeprefix("http://").split(":")

        async def hang_up() -> None:
            _reader, writer = await asyncio.open_connection(host, int(port))
            head = [
                "POST /api/v1/cases HTTP/1.1",
                "Host: 127.0.0.1",
                f"Authorization: Bearer {live.admin_token}",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked" if chunked else "Content-Length: 5000",
            ]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            writer.write(b"10\r\n" + b'{"reference": "H' if chunked else b'{"reference": "HANG')
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
            await writer.wait_closed()
            # Wait for the server to have finished with the request, however it ended.
            for _ in range(500):
                if any(r.name.startswith("orchestrator") for r in caplog.records):
                    break
                await asyncio.sleep(0.01)

        asyncio.run(hang_up())
        with requests.Session() as http:
            shown = http.get(
                live.base_url + "/api/v1/cases",
                headers={"Authorization": f"Bearer {live.admin_token}"},
                timeout=30,
            )
    logged = [r for r in caplog.records if r.name.startswith("orchestrator")]
    assert logged, "the server never finished with the request"
    assert all(r.levelno <= logging.INFO for r in logged), [r.getMessage() for r in logged]
    assert not any(r.exc_info for r in logged)
    assert "went away" in logged[0].getMessage()
    assert shown.status_code == 200 and shown.json()["cases"] == []
