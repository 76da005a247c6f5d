"""The phone check every staff journey makes: axe at 390 pixels, and no sideways scroll.

Party pages and emails make it in each language we write in (``LANGUAGES``): the page
says which (``<html lang dir>``, right to left for Urdu), and ``said`` gives the words a
test looks for in that language, from the same catalogues the pages use.
"""

from __future__ import annotations

from typing import Any

from orchestrator.core import languages
from tests.browser.conftest import assert_accessible

PHONE_390 = {"width": 390, "height": 844}
LANGUAGES = list(languages.LANGUAGES)  # "en", "pl", "ur"


def said(code: str, english: str) -> str:
    """The words a page in this language shows for ``english``."""
    return languages.gettext_for(code, english)


async def fits_a_phone(page: Any, label: str, *, language: str | None = None) -> None:
    """No serious axe finding, and the page no wider than the 390-pixel screen; with a
    ``language``, the page is marked as that language and its direction."""
    if language is not None:
        chosen = languages.language(language)
        marked = await page.evaluate("[document.documentElement.lang, document.dir]")
        assert marked == [chosen.tag, chosen.direction], f"{label}: {marked}"
        label = f"{label} [{language}]"
    await assert_accessible(page, f"{label} at 390 px")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"], f"{label} is {width}px wide at 390 px"
