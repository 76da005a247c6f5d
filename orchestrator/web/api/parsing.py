"""Reading an API request: its JSON body and query, refused with the field errors."""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime
from typing import Any, get_args

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError

MAX_JSON_BYTES = 1_000_000


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Field errors as the API shows them: where, what, and never the rejected value."""
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


async def parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await read_body(request, limit=MAX_JSON_BYTES)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, "malformed_json", f"request body is not valid JSON: {exc}"
            ) from None
        except RecursionError:
            raise ApiError(400, "malformed_json", "request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "request body must be a JSON object")
    _refuse_nul(data)
    _refuse_timestamps(model, data)
    return _validated(model, data, "request body is invalid")


def _refuse_nul(data: Any, loc: tuple[str, ...] = ()) -> None:
    """No text holds U+0000: PostgreSQL cannot store it, and no name or note needs it."""
    if isinstance(data, str):
        if "\x00" in data:
            error = {"loc": list(loc), "msg": "must not contain U+0000 (NUL)", "type": "nul_char"}
            raise ApiError(422, "validation_failed", "request body is invalid", [error])
    elif isinstance(data, dict):
        for key, value in data.items():
            _refuse_nul(key, loc)
            _refuse_nul(value, (*loc, str(key)))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            _refuse_nul(value, (*loc, str(n)))


_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


@functools.cache
def _temporal_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names (as sent) of the model's top-level date and date-time fields."""
    names = set()
    for name, info in model.model_fields.items():
        if any(t in (date, datetime) for t in (info.annotation, *get_args(info.annotation))):
            names.add(info.alias or name)
    return frozenset(names)


def _refuse_timestamps(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Dates and times are ISO 8601 strings, as the schema says; pydantic alone would also
    read a number (or a numeric string) as a Unix timestamp."""
    errors = [
        {"loc": [name], "msg": "must be an ISO 8601 date or date-time", "type": "iso_8601"}
        for name in sorted(_temporal_fields(model) & data.keys())
        if data[name] is not None
        and not (isinstance(data[name], str) and _ISO_DATE_START.match(data[name]))
    ]
    if errors:
        raise ApiError(422, "validation_failed", "request is invalid", errors)


def parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    query = dict(request.query)
    _refuse_timestamps(model, query)
    return _validated(model, query, "query parameters are invalid")


def _validated(model: type[BaseModel], data: dict[str, Any], problem: str) -> BaseModel:
    """``data`` as ``model``, or 422 saying ``problem`` with the field errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_failed", problem, validation_details(exc)) from None
