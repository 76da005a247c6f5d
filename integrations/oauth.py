"""OAuth 2 client-credentials tokens, cached until shortly before they expire.

Zoom (Server-to-Server OAuth) and Microsoft Graph both hand out bearer tokens for a
client id and secret with no refresh token. ``ClientCredentials`` fetches one, keeps it
until ``expires_in`` minus a safety margin, lets only one refresh run at a time, and
sends API requests with it: a 401 from the API drops the token and retries once.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable

Clock = Callable[[], float]


@dataclass(frozen=True)
class TokenRequest:
    """How to ask a token endpoint for a client-credentials token."""

    url: str
    form: Mapping[str, str]
    basic_auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class ApiResponse:
    """A successful API answer: its status and decoded JSON body (None when empty)."""

    status: int
    body: Any = None


def basic_authorization(user: str, password: str) -> str:
    """Return an HTTP Basic ``Authorization`` header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ClientCredentials:
    """A cached client-credentials bearer token and the requests that carry it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_request: TokenRequest,
        *,
        provider: str,
        timeout_s: float = 10,
        safety_margin_s: float = 60,
        clock: Clock = time.monotonic,
    ) -> None:
        self._session = session
        self._token_request = token_request
        self._provider = provider
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._safety_margin_s = safety_margin_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._valid_until = 0.0

    async def access_token(self) -> str:
        """Return a valid token, fetching a new one if the cached one is near expiry."""
        token = self._cached()
        if token is not None:
            return token
        async with self._lock:
            # Another task may have refreshed while this one waited for the lock.
            token = self._cached()
            if token is not None:
                return token
            token, expires_in = await self._fetch()
            self._token = token
            self._valid_until = self._clock() + max(0.0, expires_in - self._safety_margin_s)
            return token

    def drop(self, token: str) -> None:
        """Forget ``token`` (the API refused it), unless a newer one has replaced it."""
        if self._token == token:
            self._token = None
            self._valid_until = 0.0

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send an authorised API request and decode its JSON answer.

        Statuses in ``accept`` (say 404 for "already gone") are returned, not raised.
        Raises ProviderAuthError (credentials or permissions refused), ProviderUnavailable
        (timeout, connection failure, 429 or 5xx) or ProviderRejected (other 4xx).
        """
        for attempt in (1, 2):
            token = await self.access_token()
            status, body = await self._send(
                method, url, token, json=json, params=params, headers=headers
            )
            if status == 401 and attempt == 1:
                self.drop(token)
                continue
            if status in accept:
                return ApiResponse(status=status, body=body)
            return self._judge(status, body, method=method)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ internals

    def _cached(self) -> str | None:
        if self._token is not None and self._clock() < self._valid_until:
            return self._token
        return None

    async def _fetch(self) -> tuple[str, float]:
        request = self._token_request
        headers = {"Accept": "application/json"}
        if request.basic_auth:
            headers["Authorization"] = basic_authorization(*request.basic_auth)
        try:
            async with self._session.post(
                request.url, data=dict(request.form), headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                payload: Any = await response.json(content_type=None) if status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(
                f"token endpoint unreachable: {type(exc).__name__}", provider=self._provider
            ) from exc
        if status in (400, 401, 403):
            raise ProviderAuthError(
                f"token endpoint refused the client credentials ({status})",
                provider=self._provider,
            )
        if status != 200:
            raise ProviderUnavailable(f"token endpoint answered {status}", provider=self._provider)
        try:
            return str(payload["access_token"]), float(payload["expires_in"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderUnavailable(
                "token endpoint answered without access_token/expires_in", provider=self._provider
            ) from exc

    async def _send(
        self,
        method: str,
        url: str,
        token: str,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        try:
            async with self._session.request(
                method,
                url,
                json=json,
                params=params,
                headers={
                    **(headers or {}),
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                },
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(
                f"{method} {self._path(url)} failed: {type(exc).__name__}",
                provider=self._provider,
            ) from exc
        body: Any = None
        if raw:
            try:
                body = jsonlib.loads(raw)
            except ValueError:
                body = None
        return status, body

    def _judge(self, status: int, body: Any, *, method: str) -> ApiResponse:
        if 200 <= status < 300:
            return ApiResponse(status=status, body=body)
        message = f"{method} answered {status}"
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, int | str):
            # Provider error codes only: their messages may quote personal data.
            message += f" (code {code})"
        if status in (401, 403):
            raise ProviderAuthError(message, provider=self._provider)
        if status == 429 or status >= 500:
            raise ProviderUnavailable(message, provider=self._provider)
        raise ProviderRejected(message, provider=self._provider)

    @staticmethod
    def _path(url: str) -> str:
        # Error messages carry the path only: query strings may hold identifiers.
        return url.split("?", 1)[0]
