"""Every invite kind's HTML on a 390×844 phone, and its plain text, as a family reads them.

The invite once rendered 2,685 px wide with a bare 400-character join URL and said when the
room opens in minutes. Each kind (the invite, its update, the easy-read one, the reminders
and the chaser) is rendered here through the real content path for a hybrid meeting, for a
parent on each channel, and loaded into Chromium: no sideways scroll, the person's own way
in on the first screen (the button for video), axe finds nothing serious; the text part has
no long URL line, and the times read "9:30am", never "09:30".
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from orchestrator.core.models import Channel, Meeting, MeetingMode
from orchestrator.mail_templates import RenderedMail, render_mail
from orchestrator.messaging import invite_content, invitees
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import LiveApp, new_page, screenshot
from tests.browser.phone_fit import LANGUAGES, PHONE_390, fits_a_phone, said
from tests.browser.scenario import book_best_slot, case_with_people

pytestmark = pytest.mark.browser

DIAL_IN = "+44 20 7946 0000"
KINDS = [
    ("invite", False, False),
    ("invite", False, True),  # the update after a move
    ("invite", True, False),  # easy read
    ("reminder", False, False),
    ("reminder", True, False),
    ("chase_invite", False, False),
]
ZERO_PADDED = re.compile(r"\b0\d:\d\d\b")


async def _hybrid(live: LiveApp) -> tuple[uuid.UUID, uuid.UUID]:
    """A booked meeting made hybrid: a venue, the video room, and its dial-in and PIN."""
    scenario = await case_with_people(live)
    meeting_id = await book_best_slot(live, scenario)
    async with live.app[DB].write() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.mode = MeetingMode.hybrid
        meeting.venue = {
            "name": "Canterbury Family Centre",
            "address": "12 Castle Street, Canterbury CT1 2QD",
            "access_notes": "Step-free entrance on Castle Row",
        }
        meeting.dial_in_pin = "54321"
        meeting.provider_room = {"provider": "jitsi", "dial_in_number": DIAL_IN}
    return meeting_id, scenario.parent_id


async def _mail(
    live: LiveApp,
    meeting_id: uuid.UUID,
    parent_id: uuid.UUID,
    channel: Channel,
    kind: Any,
    language: str | None = None,
) -> RenderedMail:
    """One kind of mail to the parent, whose channel is ``channel``, by the real path."""
    name, easy, update = kind
    app = live.app
    async with app[DB].write() as session:
        facts = await invitees.load_meeting(session, meeting_id)
        assert facts is not None
        party = next(p for p, _ in facts.parties if p.id == parent_id)
        party.channel = channel
        party.language = language
        recipient = next(r for r in invitees.recipients(facts, app[SETTINGS]) if r.party is party)
        _spec, context = await invite_content.invite_context(
            session, facts, recipient, app[SETTINGS], now=live.clock()
        )
    context["update"] = update
    return render_mail(name, context, easy_read=easy, language=language)


def _no_long_url_lines(text: str, language: str = "en") -> None:
    long = [line for line in text.splitlines() if "http" in line and len(line) > 100]
    assert not long, long
    if language == "en":  # GOV.UK's "9:30am"; other languages write their own 09:30
        assert not ZERO_PADDED.search(text), text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", [Channel.video, Channel.phone, Channel.in_person])
async def test_every_invite_kind_fits_a_phone_with_their_own_way_in_first(
    live_app: LiveApp, browser: Any, channel: Channel, language: str
) -> None:
    meeting_id, parent_id = await _hybrid(live_app)
    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    also = said(language, "If you need to, you can also join another way:")
    for kind in KINDS:
        mail = await _mail(live_app, meeting_id, parent_id, channel, kind, language)
        label = f"{kind[0]}{' easy' if kind[1] else ''}{' update' if kind[2] else ''} ({channel})"
        _no_long_url_lines(mail.text, language)
        assert "minutes before" not in mail.text and "minutes before" not in mail.html
        await phone.set_content(mail.html)
        await fits_a_phone(phone, label, language=language)
        body = await phone.locator("body").inner_text()
        if language == "en":  # GOV.UK's "9:30am"; other languages write their own 09:30
            assert not ZERO_PADDED.search(body), body
        assert "/j/" not in body and "/r/" not in body  # links are words, not addresses
        if kind[0] == "chase_invite":
            main = phone.get_by_role("link", name=said(language, "Yes, I will come"))
        else:
            main = {
                Channel.video: phone.get_by_role("link", name=said(language, "Join the meeting")),
                Channel.phone: phone.get_by_text("54321"),
                Channel.in_person: phone.get_by_text("12 Castle Street"),
            }[channel]
            # Everyone is told every way in; their own comes first, the others after.
            assert also in body and also in mail.text
            order = [body.index(said(language, w)) for w in _ways(channel)]
            assert order == sorted(order), (label, order)
        box = await main.first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE_390["height"], (label, box)
        await screenshot(phone, f"mail-{label.replace(' ', '-')}-{language}")


def _ways(channel: Channel) -> list[str]:
    """What each way in says in the mail, the person's own first."""
    words = {
        Channel.video: "Join by video",
        Channel.phone: "Join by phone:",
        Channel.in_person: "Where:",
    }
    rest = [c for c in (Channel.in_person, Channel.video, Channel.phone) if c is not channel]
    return [words[channel], *(words[c] for c in rest)]


async def test_the_join_button_is_a_table_not_a_styled_link_and_opens_on_the_day(
    live_app: LiveApp,
) -> None:
    meeting_id, parent_id = await _hybrid(live_app)
    mail = await _mail(live_app, meeting_id, parent_id, Channel.video, KINDS[0])
    button = re.search(
        r'<td[^>]*bgcolor="#00703c"[^>]*>\s*<a href="([^"]+)"[^>]*>Join the meeting</a>', mail.html
    )
    assert button is not None, mail.html
    assert re.search(r"opens at \d{1,2}(:\d\d)?(am|pm) on the day", mail.text), mail.text
    short = button.group(1)
    assert short in mail.text and len(short) < 80  # the same short link in both parts
