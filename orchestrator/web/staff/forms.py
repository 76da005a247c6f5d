"""Reading staff forms: trimmed fields, three-box dates, refusals as plain sentences."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.core.errors import NotFound
from orchestrator.web import pages

# What staff read when a field is refused, by field and pydantic's error type. Pydantic's own
# words ("Field required", "value is not a valid email address: …") are for developers.
EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.com"
MESSAGES: dict[str, dict[str, str]] = {
    "reference": {
        "missing": "Enter the case reference",
        "string_too_short": "Enter the case reference",
        "string_too_long": "The case reference must be 64 characters or fewer",
        "value_error": "Enter the case reference on one line",
    },
    "kind": {"missing": "Choose the kind of case", "enum": "Choose the kind of case"},
    "local_authority": {
        "missing": "Enter the local authority",
        "string_too_short": "Enter the local authority",
        "string_too_long": "The local authority must be 200 characters or fewer",
    },
    "region": {"string_too_long": "The region must be 100 characters or fewer"},
    "target_days": {
        "int_parsing": "Enter the target as a whole number of days, like 20",
        "int_from_float": "Enter the target as a whole number of days, like 20",
        "greater_than_equal": "The target must be at least 1 day",
        "less_than_equal": "The target must be 365 days or fewer",
    },
    "role": {"missing": "Choose who they are in the case", "enum": "Choose who they are"},
    "name": {
        "missing": "Enter the full name",
        "string_too_short": "Enter the full name",
        "string_too_long": "The name must be 200 characters or fewer",
    },
    "email": {
        "missing": "Enter an email address",
        "value_error": EMAIL_FORMAT,
        "string_too_long": "The email address must be 320 characters or fewer",
    },
    "phone": {
        "string_pattern_mismatch": "Enter a phone number, like 01632 960 001 or 07700 900 982",
        "string_too_long": "The phone number must be 40 characters or fewer",
    },
    "organisation": {"value_error": "Enter the organisation on one line"},
    "town": {"value_error": "Enter the town on one line"},
    "postal_address": {
        "value_error": "Enter the address above the postcode in at most 5 lines",
        "string_too_long": "The address must be 300 characters or fewer",
    },
    "postcode": {"value_error": "Enter a UK postcode, like SW1A 1AA"},
}

# How a date field is named in a sentence ("The referral date must include a month").
DATE_LABELS = {
    "referral_date": "referral date",
    "decision_date": "decision date",
    "icb_notified_on": "date the ICB was told",
}
DATE_PARTS = ("day", "month", "year")


def form_data(form: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a posted form, trimmed; empty ones left out."""
    out: dict[str, str] = {}
    for name in fields:
        value = form.get(name) if form is not None else None
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def plain_message(field: str, error_type: str, fallback: str) -> str:
    """The sentence staff read for this refusal of this field (pydantic's words otherwise)."""
    known = MESSAGES.get(field, {}).get(error_type)
    if known is not None:
        return known
    if field in DATE_LABELS:
        if error_type == "missing":
            return f"Enter the {DATE_LABELS[field]}"
        return f"The {DATE_LABELS[field]} must be a real date"
    return pages.as_sentence(fallback.removeprefix("Value error, "))


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as 'field -> plain sentence' (the first error of each field)."""
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        name = str(err["loc"][0]) if err["loc"] else "form"
        errors.setdefault(name, plain_message(name, str(err["type"]), str(err["msg"])))
    return errors


def domain_date_error(field: str, message: str) -> str:
    """A refusal from the use case about a date field, in the date's words.

    The rule (no day in the future) lives in the capability package; this only says it.
    """
    if field in DATE_LABELS and "future" in message:
        return f"The {DATE_LABELS[field]} must be today or in the past"
    return pages.as_sentence(message)


@dataclass(frozen=True)
class DateAnswer:
    """What was typed into a three-box date: the ISO day, or why it is not one."""

    value: str | None
    parts: dict[str, str]
    error: str | None = None


def read_date(form: Any, name: str, *, required: bool) -> DateAnswer:
    """The GOV.UK date input ``name-day``, ``name-month``, ``name-year`` as one ISO day."""
    parts = form_data(form, tuple(f"{name}-{part}" for part in DATE_PARTS))
    typed = {part: parts.get(f"{name}-{part}", "") for part in DATE_PARTS}
    label = DATE_LABELS.get(name, name.replace("_", " "))
    missing = [part for part in DATE_PARTS if not typed[part]]
    if len(missing) == len(DATE_PARTS):
        return DateAnswer(None, typed, f"Enter the {label}" if required else None)
    if missing:
        return DateAnswer(None, typed, f"The {label} must include a {' and '.join(missing)}")
    if not all(typed[part].isdigit() for part in DATE_PARTS):
        return DateAnswer(None, typed, f"The {label} must be a real date")
    if len(typed["year"]) != 4:
        return DateAnswer(None, typed, "The year must include 4 numbers")
    try:
        day = date(int(typed["year"]), int(typed["month"]), int(typed["day"]))
    except ValueError:
        return DateAnswer(None, typed, f"The {label} must be a real date")
    return DateAnswer(day.isoformat(), typed)


@dataclass(frozen=True)
class DateFields:
    """The date fields of one posted form: ISO days to validate, boxes to show, refusals."""

    values: dict[str, str]
    shown: dict[str, dict[str, str]]
    errors: dict[str, str]


def read_dates(form: Any, names: tuple[str, ...], *, required: tuple[str, ...]) -> DateFields:
    """Each named date from its three boxes, or from one ISO field (scripts post ``name=``)."""
    values: dict[str, str] = {}
    shown: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for name in names:
        single = form_data(form, (name,)).get(name)
        if single is not None and not any(form_data(form, (f"{name}-{p}",)) for p in DATE_PARTS):
            values[name] = single
            shown[name] = _iso_parts(single)
            continue
        answer = read_date(form, name, required=name in required)
        shown[name] = answer.parts
        if answer.value is not None:
            values[name] = answer.value
        if answer.error is not None:
            errors[name] = answer.error
    return DateFields(values, shown, errors)


def _iso_parts(raw: str) -> dict[str, str]:
    try:
        return date_parts(raw)
    except ValueError:
        return {}


def date_parts(day: date | str | None) -> dict[str, str]:
    """A stored day as the three boxes show it (day and month without a leading zero)."""
    if not day:
        return {}
    found = date.fromisoformat(day) if isinstance(day, str) else day
    return {"day": str(found.day), "month": str(found.month), "year": str(found.year)}


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
