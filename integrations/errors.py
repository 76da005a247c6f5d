"""Errors raised by adapters: each says whether a retry can help."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every adapter error."""

    retryable: bool = False

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderAuthError(IntegrationError):
    """Credentials were refused: stop and alert an operator; retrying will not help."""

    retryable = False


class ProviderUnavailable(IntegrationError):
    """The remote end timed out, refused the connection or answered 5xx: retry later."""

    retryable = True


class ProviderRejected(IntegrationError):
    """The remote end understood and refused the request (4xx other than auth)."""

    retryable = False


class SignatureInvalid(IntegrationError):
    """A call-back's signature, checksum or shared header did not verify, or it was stale."""

    retryable = False


class CalendarSourceError(IntegrationError):
    """A calendar (ICS feed or CalDAV) could not be read or understood."""

    retryable = True


class PluginLoadError(IntegrationError):
    """A provider named in configuration could not be found or built."""
