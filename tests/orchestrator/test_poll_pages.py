"""The party's poll page through the real app: answering, changing, and links that fail."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import MutableClock, Staff
from tests.orchestrator.availability_support import (
    add_party,
    field,
    make_case,
    make_mediator,
    poll_link_for,
    request_poll,
)


async def polled_case(staff: Staff, **case: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A case with a mediator and a parent who has been sent a poll: (case, poll, link path)."""
    made = await make_case(staff, **case)
    await make_mediator(staff, made["id"], email=f"mo-{made['reference']}@mediation.example")
    await add_party(staff, made["id"], email=f"parent-{made['reference']}@family.example")
    poll = await request_poll(staff, made["id"])
    link = await poll_link_for(staff, f"parent-{made['reference']}@family.example")
    return made, poll, link


async def availability(staff: Staff, case_id: str) -> dict[str, Any]:
    return dict(await staff.call("GET", f"/api/v1/cases/{case_id}/availability", expect=200))


async def post(client: TestClient[Any, Any], path: str, data: dict[str, str]) -> Any:
    return await client.post(path, data=data, allow_redirects=False)


async def test_the_page_lists_times_by_day_with_labelled_choices_and_no_script(
    staff: Staff,
) -> None:
    _, poll, link = await polled_case(staff)

    page = await staff.client.get(link)

    assert page.status == 200
    html = await page.text()
    assert "When can you meet?" in html
    assert "All times are UK time." in html
    assert "Monday 9 March 2026" in html
    assert "9:30am to 12:30pm" in html and "1pm to 4pm" in html
    # One fieldset with a legend per offered time, and each radio has its own label.
    assert html.count("<fieldset") == len(poll["candidates"])
    assert html.count("<legend") == len(poll["candidates"])
    for choice in re.findall(r'<input [^>]*type="radio"[^>]*>', html):
        ident = re.search(r'id="([^"]+)"', choice)
        assert ident and f'for="{ident.group(1)}"' in html
    # A plain form that posts back to the same link; no JavaScript needed.
    assert re.search(r'<form method="post"', html)
    assert "<script" not in html
    assert '<textarea class="govuk-textarea" id="note" name="note"' in html
    assert 'label class="govuk-label govuk-label--m" for="note"' in html


async def test_answers_are_saved_shown_back_and_seen_by_the_scheduler(staff: Staff) -> None:
    case, poll, link = await polled_case(staff)
    first, second, third = poll["candidates"][:3]

    answer = await post(
        staff.client,
        link,
        {field(first): "yes", field(second): "if_need_be", field(third): "no", "note": ""},
    )

    assert answer.status == 303
    assert answer.headers["Location"] == f"{link}/thanks"
    thanks = await staff.client.get(answer.headers["Location"])
    assert thanks.status == 200
    html = await thanks.text()
    assert "your answers are saved" in html
    assert "Yes, I can" in html and "If need be" in html and "No, I cannot" in html
    assert f'href="{link}"' in html  # a way back to change them

    seen = await availability(staff, case["id"])
    row = seen["parties"][0]
    assert row["answered"] is True and row["polled"] is True
    assert row["answers"][first] == "yes"
    assert row["answers"][second] == "if_need_be"
    assert row["answers"][third] == "no"
    assert row["answers"][poll["candidates"][3]] == "unknown"
    assert seen["waiting_for"] == []


async def test_answers_can_be_changed_and_a_note_left(staff: Staff, clock: MutableClock) -> None:
    case, poll, link = await polled_case(staff)
    first, second = poll["candidates"][:2]
    await post(staff.client, link, {field(first): "yes", field(second): "yes"})
    clock.advance(hours=2)

    again = await post(
        staff.client,
        link,
        {field(first): "no", "note": "Any Tuesday after 10am works for me."},
    )

    assert again.status == 303
    page = await staff.client.get(link)
    html = await page.text()
    assert re.search(rf'id="{field(first)}-no"[^>]*checked', html)
    assert not re.search(rf'id="{field(second)}-yes"[^>]*checked', html)
    assert "Any Tuesday after 10am works for me." in html
    row = (await availability(staff, case["id"]))["parties"][0]
    assert row["answers"][first] == "no"
    assert row["answers"][second] == "unknown"
    assert row["note"] == "Any Tuesday after 10am works for me."


async def test_an_empty_form_is_shown_again_with_the_problem(staff: Staff) -> None:
    case, _, link = await polled_case(staff)

    empty = await post(staff.client, link, {"note": "   "})

    assert empty.status == 400
    html = await empty.text()
    assert "There is a problem" in html
    assert "Choose an answer for at least one time" in html
    assert (await availability(staff, case["id"]))["waiting_for"] != []


async def test_times_not_in_the_poll_and_odd_answers_are_refused(staff: Staff) -> None:
    case, poll, link = await polled_case(staff)

    stranger = await post(staff.client, link, {"slot-20260310T0300Z": "yes"})
    assert stranger.status == 422
    assert "does not offer" in await stranger.text()
    junk = await post(staff.client, link, {"slot-notatime": "yes"})
    assert junk.status == 422
    odd = await post(staff.client, link, {field(poll["candidates"][0]): "maybe"})
    assert odd.status == 422
    row = (await availability(staff, case["id"]))["parties"][0]
    assert row["answered"] is False
    assert set(row["answers"].values()) == {"unknown"}


async def test_tampered_expired_and_withdrawn_links_get_a_friendly_page(
    staff: Staff, clock: MutableClock
) -> None:
    case, _, link = await polled_case(staff)
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")

    for bad in (tampered, "/p/not-a-token", link + "x"):
        page = await staff.client.get(bad)
        assert page.status == 404
        html = await page.text()
        assert "This link does not work" in html
        assert "0333 006 2835" in html
        assert case["reference"] not in html and "Pat Parent" not in html
        posted = await post(staff.client, bad, {"note": "hello"})
        assert posted.status == 404

    parties = await staff.call("GET", f"/api/v1/cases/{case['id']}/parties", expect=200)
    party_id = parties["parties"][0]["id"]
    await staff.call("DELETE", f"/api/v1/cases/{case['id']}/parties/{party_id}", expect=204)
    withdrawn = await staff.client.get(link)
    assert withdrawn.status == 404
    assert "withdrawn" in await withdrawn.text()


async def test_links_expire_after_the_poll_window(staff: Staff, clock: MutableClock) -> None:
    _, poll, link = await polled_case(staff)
    assert (await staff.client.get(link)).status == 200

    clock.advance(days=60)

    expired = await staff.client.get(link)
    assert expired.status == 404
    html = await expired.text()
    assert "expired" in html and "Pat Parent" not in html
    assert (await post(staff.client, link, {field(poll["candidates"][0]): "yes"})).status == 404


async def test_another_cases_link_cannot_read_or_write_this_case(staff: Staff) -> None:
    ours, our_poll, our_link = await polled_case(staff, reference="OURS-1")
    theirs, _, their_link = await polled_case(staff, reference="THEIRS-1")
    await post(staff.client, our_link, {field(our_poll["candidates"][0]): "yes"})

    # Their link, our times: the answer lands on their poll only (same times, other case).
    await post(staff.client, their_link, {field(our_poll["candidates"][0]): "no"})

    mine = (await availability(staff, ours["id"]))["parties"][0]
    assert mine["answers"][our_poll["candidates"][0]] == "yes"
    other = (await availability(staff, theirs["id"]))["parties"][0]
    assert other["answers"][our_poll["candidates"][0]] == "no"
    # A page for our link never shows the other party's answers.
    ours_page = await (await staff.client.get(our_link)).text()
    assert re.search(rf'id="{field(our_poll["candidates"][0])}-yes"[^>]*checked', ours_page)


async def test_a_closed_poll_shows_answers_but_takes_no_more(
    staff: Staff, clock: MutableClock
) -> None:
    case, poll, link = await polled_case(staff)
    await post(staff.client, link, {field(poll["candidates"][0]): "yes"})
    await staff.call(
        "PATCH", f"/api/v1/cases/{case['id']}", json={"status": "withdrawn"}, expect=200
    )
    refused = await post(staff.client, link, {field(poll["candidates"][0]): "no"})
    assert refused.status == 409
    row = (await availability(staff, case["id"]))["parties"][0]
    assert row["answers"][poll["candidates"][0]] == "yes"
    clock.advance(hours=1)
    assert (await staff.client.get(link + "/thanks")).status == 200
