"""Busy time from a CalDAV calendar by an RFC 4791 free-busy-query REPORT."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, cast

from calendars.busy import busy_from_freebusy
from calendars.errors import CalendarParseError
from calendars.intervals import Interval
from integrations.base import CalendarSource
from integrations.errors import CalendarSourceError


class CalDavSource(CalendarSource):
    """One CalDAV calendar collection, asked for free/busy over its own connection.

    Uses caldav's async client; error messages never include the URL or credentials.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout_s: float = 10,
        tentative_is_busy: bool = True,
    ) -> None:
        self.url = url
        self._username = username
        self._password = password
        self._timeout_s = timeout_s
        self._tentative_is_busy = tentative_is_busy

    async def busy(self, start: datetime, end: datetime) -> list[Interval]:
        """Busy intervals overlapping [start, end). Raises CalendarSourceError."""
        from caldav.lib import error as caldav_error  # loaded when a CalDAV source is used

        try:
            async with asyncio.timeout(self._timeout_s):
                data = await self._freebusy(start.astimezone(UTC), end.astimezone(UTC))
        except TimeoutError:
            raise _error(
                f"CalDAV server timed out after {self._timeout_s:g} s", retryable=True
            ) from None
        except caldav_error.AuthorizationError:
            raise _error(
                "CalDAV server refused the username or password", retryable=False
            ) from None
        except caldav_error.NotFoundError:
            raise _error("CalDAV calendar was not found", retryable=False) from None
        except caldav_error.DAVError as exc:
            raise _error(
                f"CalDAV server refused the free-busy query ({type(exc).__name__})",
                retryable=False,
            ) from None
        except OSError as exc:  # niquests' ConnectionError and timeouts derive from OSError
            raise _error(
                f"CalDAV server could not be reached ({type(exc).__name__})", retryable=True
            ) from None
        try:
            return busy_from_freebusy(data, tentative_is_busy=self._tentative_is_busy)
        except CalendarParseError as exc:
            raise _error("CalDAV server answered invalid free/busy data", retryable=False) from exc

    async def _freebusy(self, start: datetime, end: datetime) -> str:
        from caldav import aio

        async with aio.AsyncDAVClient(
            url=self.url,
            username=self._username,
            password=self._password,
            timeout=max(1, round(self._timeout_s)),
            enable_rfc6764=False,
        ) as client:
            # caldav's domain objects are dual-mode; its type hints only describe sync use.
            calendar = aio.Calendar(client=cast(Any, client), url=self.url)
            pending = cast("Awaitable[aio.FreeBusy]", calendar.freebusy_request(start, end))
            freebusy = await pending
            return str(freebusy.data)


def _error(message: str, *, retryable: bool) -> CalendarSourceError:
    error = CalendarSourceError(message, provider="caldav")
    error.retryable = retryable
    return error
