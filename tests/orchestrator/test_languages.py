"""Pages, emails and texts in the person's own language: Polish and Urdu beside English.

The catalogues must translate every word people read (none left half-English); a Polish
parent's invitation and text read Polish with Polish dates; the poll and join pages speak
Urdu right to left for an Urdu speaker, and the language switch on them is remembered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from orchestrator.core import languages
from orchestrator.core.settings import Settings
from tests.conftest import MutableClock, Staff
from tests.orchestrator.availability_support import (
    add_party,
    make_case,
    make_mediator,
    poll_link_for,
    request_poll,
)
from tests.orchestrator.invites_support import mail_to, read_folder, text_of, with_method
from tests.orchestrator.meetings_support import book, deliver_outbox, join_links, path_of
from tests.orchestrator.test_notify_texts import ALEX, client_settings, notify_app

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "orchestrator" / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalogue(code: str) -> Any:
    with (CATALOGUES / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=code)


def template_ids() -> list[str]:
    with (CATALOGUES / "messages.pot").open("rb") as source:
        return [str(message.id) for message in read_po(source) if message.id]


@pytest.mark.parametrize("code", ["pl", "ur"])
def test_every_word_in_the_catalogue_is_translated_with_its_placeholders(code: str) -> None:
    translated = {message.id: message.string for message in catalogue(code) if message.id}
    untranslated = [msgid for msgid in template_ids() if not translated.get(msgid, "").strip()]
    assert untranslated == []
    for msgid in template_ids():
        said = translated[msgid]
        assert sorted(PLACEHOLDER.findall(said)) == sorted(PLACEHOLDER.findall(msgid)), msgid
        if " " in msgid.strip():  # a sentence copied over untranslated is half-English
            assert said != msgid, msgid


def test_the_catalogue_holds_every_word_the_code_and_templates_mark() -> None:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    marked = {
        found[2] if isinstance(found[2], str) else found[2][0]
        for found in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "N_": None, "gettext": None}
        )
    }
    missing = sorted(marked - set(template_ids()) - {""})
    assert missing == [], "run `make translations` and translate the new words"


def test_an_unknown_language_reads_english_and_urdu_reads_right_to_left() -> None:
    assert languages.language("cy-GB").code == "en"
    assert languages.language("PL_pl").code == "pl"
    assert languages.context_for("ur")["lang_dir"] == "rtl"
    assert languages.gettext_for("cy", "Maybe") == "Maybe"
    assert languages.gettext_for("pl", "Maybe") == "Może"


async def test_a_polish_parent_is_invited_and_texted_in_polish_with_polish_dates(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    from tests.orchestrator.meetings_support import ready_case

    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=("parent", "la_officer", "young_person"))
    for role in ("parent", "young_person"):
        await staff.call(
            "PATCH",
            f"/api/v1/cases/{ready.case_id}/parties/{ready.parties[role]}",
            json={"language": "pl"},
            expect=200,
        )
    await book(staff, ready.case_id)
    await deliver_outbox(client)

    invites = with_method(read_folder(client_settings(client).mail_dir), "REQUEST")
    sam = mail_to(invites, "sam@family.example")[0]
    assert str(sam["Subject"]).startswith(
        "Zaproszenie: spotkanie mediacyjne SEND – wtorek, 10 marca 2026, 10:00–13:00"
    )
    body = text_of(sam)
    assert "Dzień dobry, Sam Parent," in body and "Kto będzie obecny:" in body
    assert "Invitation" not in body and "Tuesday" not in body and "Dear" not in body
    lee = mail_to(invites, "lee@kent.example")[0]  # no language noted: English as before
    assert str(lee["Subject"]).startswith("Invitation: your SEND mediation meeting – Tuesday")

    text = fake.texts_to(ALEX)[0].personalisation["body"]
    assert "zostało zaplanowane" in text and "wtorek, 10 marca 2026" in text
    assert "booked" not in text and "Tuesday" not in text


async def polled_for(staff: Staff, language: str | None) -> str:
    """The poll link of a parent whose language the scheduler noted (or did not)."""
    made = await make_case(staff)
    await make_mediator(staff, made["id"], email=f"mo-{made['reference']}@mediation.example")
    email = f"parent-{made['reference']}@family.example"
    await add_party(staff, made["id"], email=email, language=language)
    await request_poll(staff, made["id"])
    return await poll_link_for(staff, email)


async def test_the_poll_page_speaks_urdu_right_to_left_and_the_switch_is_remembered(
    staff: Staff,
) -> None:
    link = await polled_for(staff, "ur")

    html = await (await staff.client.get(link)).text()
    assert '<html lang="ur" dir="rtl"' in html
    assert "آپ کب مل سکتے ہیں؟" in html  # "When can you meet?"
    assert "پیر، 9 مارچ، 2026" in html  # Monday 9 March 2026, in Urdu
    assert "When can you meet?" not in html and "Monday" not in html
    switch = re.findall(
        r'<a class="govuk-language-navigation__link" href="([^"]+)" rel="alternate" '
        r'lang="([^"]+)" hreflang="\2"',
        html,
    )
    assert [tag for _, tag in switch] == ["en-GB", "pl"]  # the page's own language is not a link

    english = await staff.client.get(switch[0][0].replace("&amp;", "&"))
    assert "orch_lang=en" in english.headers.get("Set-Cookie", "")
    assert '<html lang="en-GB" dir="ltr"' in await english.text()
    again = await (await staff.client.get(link)).text()  # the cookie outranks the party's own
    assert "When can you meet?" in again and "Monday 9 March 2026" in again


async def test_a_browser_asking_for_polish_gets_polish_when_no_language_was_noted(
    staff: Staff,
) -> None:
    link = await polled_for(staff, None)
    page = await staff.client.get(link, headers={"Accept-Language": "fr;q=0.9, pl;q=0.8, en;q=0.5"})
    html = await page.text()
    assert '<html lang="pl" dir="ltr"' in html and "Kiedy mogą się Państwo spotkać?" in html
    assert "poniedziałek, 9 marca 2026" in html


async def test_the_join_page_speaks_urdu_right_to_left(
    client: Any, staff: Staff, clock: MutableClock
) -> None:
    from tests.orchestrator.meetings_support import ready_case

    ready = await ready_case(staff)
    await staff.call(
        "PATCH",
        f"/api/v1/cases/{ready.case_id}/parties/{ready.parties['parent']}",
        json={"language": "ur"},
        expect=200,
    )
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    link = (await join_links(staff, meeting["id"]))[ready.parties["parent"]]
    html = await (await client.get(path_of(link["url"]))).text()
    assert '<html lang="ur" dir="rtl"' in html
    assert "آپ کی ثالثی میٹنگ" in html  # "Your mediation meeting"
    assert "منگل، 10 مارچ، 2026" in html  # Tuesday 10 March 2026
    assert "Your mediation meeting" not in html and "Tuesday" not in html


async def test_a_dead_links_page_is_worded_in_the_language_chosen_whole(staff: Staff) -> None:
    page = await staff.client.get("/p/not-a-real-link?lang=pl")
    html = await page.text()
    assert page.status in (403, 404) and '<html lang="pl" dir="ltr"' in html
    assert "Ten link nie działa" in html and "Ten link jest nieprawidłowy." in html
    assert "not valid" not in html and "Need help?" not in html
