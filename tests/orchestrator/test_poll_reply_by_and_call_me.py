"""The reply-by rule, "none of these work, call me" as an answer, and the empty form's error."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from calendars.workdays import WorkingDays
from orchestrator.core.models import Poll, PollResponse, TimelineEntry
from orchestrator.scheduling.poll_deadline import reply_by
from orchestrator.web.keys import DB
from tests.conftest import Staff
from tests.orchestrator.availability_support import field, html_of, poll_emails, text_of
from tests.orchestrator.test_poll_pages import availability, polled_case, post

LONDON = ZoneInfo("Europe/London")
ENGLAND = WorkingDays("ENG")


def poll_sent(sent: datetime, *starts: datetime) -> Poll:
    return Poll(
        case_id=uuid.uuid4(),
        duration_minutes=180,
        window_start=sent,
        window_end=max(starts),
        candidates=[s.isoformat() for s in starts],
        created_at=sent,
    )


def test_reply_by_is_three_working_days_after_sending() -> None:
    # Sent on Thursday 5 March 2026: Friday, Monday, Tuesday.
    poll = poll_sent(datetime(2026, 3, 5, 15, tzinfo=UTC), datetime(2026, 3, 24, 10, tzinfo=UTC))
    assert reply_by(poll, zone=LONDON, calendar=ENGLAND) == date(2026, 3, 10)


def test_reply_by_skips_bank_holidays() -> None:
    # Sent on Thursday 2 April 2026: Good Friday and Easter Monday do not count.
    poll = poll_sent(datetime(2026, 4, 2, 9, tzinfo=UTC), datetime(2026, 4, 30, 10, tzinfo=UTC))
    assert reply_by(poll, zone=LONDON, calendar=ENGLAND) == date(2026, 4, 9)


def test_reply_by_leaves_a_working_day_before_the_first_time_on_offer() -> None:
    # Sent Monday 2 March; the first time is Wednesday 4 March: reply by Tuesday 3 March.
    poll = poll_sent(
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        datetime(2026, 3, 12, 10, tzinfo=UTC),
        datetime(2026, 3, 4, 10, tzinfo=UTC),
    )
    assert reply_by(poll, zone=LONDON, calendar=ENGLAND) == date(2026, 3, 3)


def test_reply_by_is_never_before_the_day_it_was_sent() -> None:
    poll = poll_sent(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 14, tzinfo=UTC))
    assert reply_by(poll, zone=LONDON, calendar=ENGLAND) == date(2026, 3, 2)


async def test_the_page_and_the_email_say_when_to_reply_by(staff: Staff) -> None:
    _, _, link = await polled_case(staff)
    async with staff.client.app[DB].read() as session:
        poll = (await session.scalars(select(Poll))).one()
    expected = reply_by(poll, zone=LONDON, calendar=ENGLAND)
    words = f"{expected:%A} {expected.day} {expected:%B %Y}"

    html = await (await staff.client.get(link)).text()

    assert f"Please reply by {words}." in html
    [(_, message)] = await poll_emails(staff)
    assert f"Please reply by {words}" in text_of(message)
    assert f"Please reply by {words}." in html_of(message)


async def test_none_of_these_work_call_me_is_kept_as_an_answer(staff: Staff) -> None:
    case, _, link = await polled_case(staff)

    answer = await post(staff.client, link, {"call_me": "yes", "note": ""})

    assert answer.status == 303
    async with staff.client.app[DB].read() as session:
        response = (await session.scalars(select(PollResponse))).one()
        entry = (
            await session.scalars(
                select(TimelineEntry).where(TimelineEntry.kind == "poll.answered")
            )
        ).one()
    assert response.call_me is True and response.answered_at is not None
    assert response.entered_by is None
    assert "none of these work, please call them" in entry.summary
    seen = await availability(staff, case["id"])
    row = seen["parties"][0]
    assert row["answered"] is True and row["call_me"] is True
    assert seen["waiting_for"] == []  # calling them counts as an answer
    thanks = await (await staff.client.get(f"{link}/thanks")).text()
    assert "None of these work – please call me" in thanks
    again = await (await staff.client.get(link)).text()
    assert re.search(r'id="call_me"[^>]*checked', again)


async def test_an_empty_form_links_its_error_to_the_first_time_and_keeps_the_page(
    staff: Staff,
) -> None:
    _, poll, link = await polled_case(staff)

    empty = await post(staff.client, link, {"note": ""})

    assert empty.status == 400
    html = await empty.text()
    assert re.search(r"<title>Error: When can you meet\?", html)
    first = field(poll["candidates"][0])
    assert f'href="#{first}-yes"' in html
    assert f'id="{first}-yes"' in html  # the link lands on a real control
    assert 'class="govuk-error-message" id="times-error"' in html
    assert html.count("<fieldset") == len(poll["candidates"])  # the whole form, again


def test_the_words_say_the_day_and_nothing_once_it_has_passed() -> None:
    from orchestrator.core.models import Case
    from orchestrator.core.settings import Settings
    from orchestrator.scheduling.poll_deadline import reply_by_words

    poll = poll_sent(datetime(2026, 3, 5, 15, tzinfo=UTC), datetime(2026, 3, 24, 10, tzinfo=UTC))
    case = Case.model_construct(timezone="Europe/London", referral_date=date(2026, 2, 27))
    settings = Settings(env="test", secret_key="x" * 48)
    assert reply_by_words(poll, case=case, settings=settings) == "Tuesday 10 March 2026"
    on_the_day = datetime(2026, 3, 10, 20, tzinfo=UTC)
    assert reply_by_words(poll, case=case, settings=settings, now=on_the_day) is not None
    after = datetime(2026, 3, 11, 9, tzinfo=UTC)
    assert reply_by_words(poll, case=case, settings=settings, now=after) is None
