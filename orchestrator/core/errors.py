"""Domain errors. Only ``orchestrator.web`` turns them into HTTP responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a use-case raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """A thing looked up by id does not exist (or is not visible to the caller)."""

    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found", details={"kind": kind, "id": str(ident)})
        self.kind = kind
        self.ident = ident


class Conflict(DomainError):
    """The request clashes with the current state (double booking, duplicate reference)."""

    code = "conflict"


class InvalidState(DomainError):
    """The request is not allowed in the current state (e.g. admit on a closed meeting)."""

    code = "invalid_state"


class ValidationFailed(DomainError):
    """Input is well-formed but breaks a domain rule."""

    code = "validation_failed"


class RulesBroken(ValidationFailed):
    """A meeting time breaks a scheduling rule and the rules were not waived."""

    code = "scheduling_rules_broken"


class IdempotencyKeyReused(ValidationFailed):
    """An ``Idempotency-Key`` already used for a different request."""

    code = "idempotency_key_reused"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class LinkInvalid(DomainError):
    """A party link is tampered, expired, revoked or not for this page."""

    code = "link_invalid"
