"""Staff forms speak plainly: pydantic's refusals mapped per field, three-box dates read."""

from __future__ import annotations

from datetime import date

import pytest
from multidict import MultiDict

from orchestrator.core.models import CaseCreate, PartyCreate
from orchestrator.web import govuk
from orchestrator.web.staff.forms import (
    EMAIL_FORMAT,
    MESSAGES,
    date_parts,
    domain_date_error,
    plain_message,
    read_date,
    read_dates,
    validate,
)


def test_an_empty_new_case_form_says_what_to_enter() -> None:
    _, errors = validate(CaseCreate, {})
    assert errors == {
        "reference": "Enter the case reference",
        "kind": "Choose the kind of case",
        "local_authority": "Enter the local authority",
        "referral_date": "Enter the referral date",
    }
    assert all("Field required" not in message for message in errors.values())


def test_a_bad_email_and_an_empty_name_are_said_plainly() -> None:
    _, errors = validate(PartyCreate, {"role": "parent", "name": "", "email": "kim.example.org"})
    assert errors["name"] == "Enter the full name"
    assert errors["email"] == EMAIL_FORMAT
    assert errors["email"] == "Enter an email address in the correct format, like name@example.com"
    _, errors = validate(PartyCreate, {"role": "parent", "name": "Kim", "phone": "call me"})
    assert errors["phone"].startswith("Enter a phone number, like")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("twenty", "Enter the target as a whole number of days, like 20"),
        ("0", "The target must be at least 1 day"),
        ("400", "The target must be 365 days or fewer"),
    ],
)
def test_the_target_days_are_said_plainly(value: str, message: str) -> None:
    _, errors = validate(
        CaseCreate,
        {
            "reference": "K-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
            "target_days": value,
        },
    )
    assert errors == {"target_days": message}


def test_every_mapped_message_is_a_plain_sentence() -> None:
    for field, by_type in MESSAGES.items():
        for error_type, message in by_type.items():
            assert message[0].isupper() and not message.endswith("."), (field, error_type)
            assert plain_message(field, error_type, "pydantic words") == message


def test_an_unmapped_refusal_keeps_its_words_as_a_sentence() -> None:
    assert plain_message("notes", "odd", "Value error, too odd") == "Too odd"
    assert plain_message("referral_date", "date_parsing", "Input should be…") == (
        "The referral date must be a real date"
    )


def boxes(name: str, day: str, month: str, year: str) -> MultiDict[str]:
    return MultiDict({f"{name}-day": day, f"{name}-month": month, f"{name}-year": year})


@pytest.mark.parametrize(
    ("day", "month", "year", "value", "error"),
    [
        ("27", "2", "2026", "2026-02-27", None),
        (" 7 ", "03", "2026", "2026-03-07", None),
        ("", "", "", None, "Enter the referral date"),
        ("27", "", "2026", None, "The referral date must include a month"),
        ("", "", "2026", None, "The referral date must include a day and month"),
        ("27", "2", "", None, "The referral date must include a year"),
        ("31", "2", "2026", None, "The referral date must be a real date"),
        ("27", "Feb", "2026", None, "The referral date must be a real date"),
        ("27", "2", "26", None, "The year must include 4 numbers"),
    ],
)
def test_a_three_box_date_is_read_or_refused_plainly(
    day: str, month: str, year: str, value: str | None, error: str | None
) -> None:
    answer = read_date(boxes("referral_date", day, month, year), "referral_date", required=True)
    assert (answer.value, answer.error) == (value, error)
    assert answer.parts == {"day": day.strip(), "month": month.strip(), "year": year.strip()}


def test_an_optional_date_left_empty_is_no_refusal() -> None:
    answer = read_date(boxes("decision_date", "", "", ""), "decision_date", required=False)
    assert (answer.value, answer.error) == (None, None)


def test_a_form_may_post_a_date_as_one_iso_field() -> None:
    form = MultiDict({"referral_date": "2026-02-27", **boxes("decision_date", "1", "", "2026")})
    found = read_dates(form, ("referral_date", "decision_date"), required=("referral_date",))
    assert found.values == {"referral_date": "2026-02-27"}
    assert found.shown["referral_date"] == {"day": "27", "month": "2", "year": "2026"}
    assert found.errors == {"decision_date": "The decision date must include a month"}


def test_the_boxes_show_a_stored_day_without_leading_zeros() -> None:
    assert date_parts(date(2026, 3, 6)) == {"day": "6", "month": "3", "year": "2026"}
    assert date_parts(None) == {}


def test_a_future_day_refused_by_the_use_case_is_said_in_the_dates_words() -> None:
    assert (
        domain_date_error("icb_notified_on", "icb_notified_on cannot be in the future: it is…")
        == "The date the ICB was told must be today or in the past"
    )
    assert domain_date_error("reference", "reference already exists") == "Reference already exists"


def test_the_govuk_macros_draw_the_error_summary_and_date_input() -> None:
    summary = govuk.component(
        "error-summary",
        {"titleText": "There is a problem", "errorList": [{"text": "Enter <x>", "href": "#x"}]},
    )
    assert 'data-module="govuk-error-summary"' in summary
    assert '<a href="#x">Enter &lt;x&gt;</a>' in summary
    date_input = govuk.component("date-input", {"id": "d", "namePrefix": "d"})
    assert 'name="d-day"' in date_input and 'id="d-year"' in date_input
    field = govuk.component(
        "input",
        {
            "id": "email",
            "name": "email",
            "label": {"text": "Email"},
            "errorMessage": {"text": EMAIL_FORMAT},
        },
    )
    assert 'aria-describedby="email-error"' in field and "govuk-input--error" in field
    assert '<span class="govuk-visually-hidden">Error:</span> ' + EMAIL_FORMAT in field
