"""The shared client-credentials token cache, exercised against the fake Zoom token endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from integrations.oauth import ClientCredentials, TokenRequest
from tests.fakes.zoom import FakeZoom


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def fake() -> FakeZoom:
    return FakeZoom()


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, fake: FakeZoom) -> TestServer:
    return await aiohttp_server(fake.app)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def credentials(
    session: aiohttp.ClientSession,
    server: TestServer,
    fake: FakeZoom,
    clock: ManualClock,
    *,
    secret: str | None = None,
    timeout_s: float = 5,
) -> ClientCredentials:
    return ClientCredentials(
        session,
        TokenRequest(
            url=str(server.make_url("/oauth/token")),
            form={"grant_type": "account_credentials", "account_id": fake.account_id},
            basic_auth=(fake.client_id, secret or fake.client_secret),
        ),
        provider="zoom",
        timeout_s=timeout_s,
        clock=clock,
    )


def meeting_url(server: TestServer) -> str:
    return str(server.make_url("/v2/meetings/1"))


async def test_token_is_reused_until_it_nears_expiry(session, server, fake, clock) -> None:
    creds = credentials(session, server, fake, clock)
    first = await creds.access_token()
    clock.now += 3600 - 61  # still inside expires_in minus the 60 s margin
    assert await creds.access_token() == first
    assert fake.token_requests == 1


async def test_token_is_refreshed_once_the_safety_margin_is_reached(
    session, server, fake, clock
) -> None:
    creds = credentials(session, server, fake, clock)
    first = await creds.access_token()
    clock.now += 3600 - 60
    second = await creds.access_token()
    assert second != first
    assert fake.token_requests == 2


async def test_concurrent_callers_share_one_refresh(session, server, fake, clock) -> None:
    creds = credentials(session, server, fake, clock)
    tokens = await asyncio.gather(*(creds.access_token() for _ in range(8)))
    assert len(set(tokens)) == 1
    assert fake.token_requests == 1


async def test_a_revoked_token_is_dropped_and_the_request_retried_once(
    session, server, fake, clock
) -> None:
    creds = credentials(session, server, fake, clock)
    await creds.access_token()
    fake.revoke_tokens()
    fake.meetings["1"] = {"id": 1, "start_url": "https://zoom.example/s/1"}
    response = await creds.request("GET", meeting_url(server))
    assert response.body["id"] == 1
    assert fake.token_requests == 2


async def test_an_api_that_keeps_refusing_tokens_is_an_auth_error(
    session, server, fake, clock
) -> None:
    creds = credentials(session, server, fake, clock)
    fake.fail_status = 401
    with pytest.raises(ProviderAuthError):
        await creds.request("GET", meeting_url(server))
    assert fake.token_requests == 2  # one retry, no more


async def test_wrong_client_secret_is_an_auth_error(session, server, fake, clock) -> None:
    creds = credentials(session, server, fake, clock, secret="wrong")
    with pytest.raises(ProviderAuthError) as caught:
        await creds.access_token()
    assert not caught.value.retryable
    assert "wrong" not in str(caught.value)


async def test_token_endpoint_outage_is_retryable(session, server, fake, clock) -> None:
    fake.token_endpoint_status = 503
    creds = credentials(session, server, fake, clock)
    with pytest.raises(ProviderUnavailable) as caught:
        await creds.access_token()
    assert caught.value.retryable


async def test_unreachable_token_endpoint_is_retryable(session, unused_tcp_port, clock) -> None:
    creds = ClientCredentials(
        session,
        TokenRequest(url=f"http://127.0.0.1:{unused_tcp_port}/token", form={}),
        provider="zoom",
        clock=clock,
    )
    with pytest.raises(ProviderUnavailable):
        await creds.access_token()


async def test_api_server_error_and_hang_are_retryable(session, server, fake, clock) -> None:
    creds = credentials(session, server, fake, clock, timeout_s=0.2)
    fake.fail_status = 502
    with pytest.raises(ProviderUnavailable):
        await creds.request("GET", meeting_url(server))
    fake.fail_status = None
    fake.hang = True
    with pytest.raises(ProviderUnavailable):
        await creds.request("GET", meeting_url(server))


async def test_not_found_is_rejected_unless_accepted(session, server, fake, clock) -> None:
    creds = credentials(session, server, fake, clock)
    with pytest.raises(ProviderRejected) as caught:
        await creds.request("GET", meeting_url(server))
    assert "3001" in str(caught.value)
    response = await creds.request("GET", meeting_url(server), accept=(404,))
    assert response.status == 404
