"""Reading staff forms: trimmed fields, refusals as plain sentences, ids and redirects."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.core.errors import NotFound
from orchestrator.web import pages


def form_data(form: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a posted form, trimmed; empty ones left out."""
    out: dict[str, str] = {}
    for name in fields:
        value = form.get(name) if form is not None else None
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as 'field -> plain sentence' (the first error of each field)."""
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        name = str(err["loc"][0]) if err["loc"] else "form"
        message = str(err["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, pages.as_sentence(message))
    return errors


def validate(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    # PostgreSQL cannot store U+0000; no name or note needs it (the API refuses it too).
    hidden = {
        name: "Remove the hidden control character (U+0000) from this field"
        for name, value in data.items()
        if isinstance(value, str) and "\x00" in value
    }
    if hidden:
        return None, hidden
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def parse_uuid(raw: str, kind: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(kind, raw) from None
