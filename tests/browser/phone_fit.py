"""The phone check every staff journey makes: axe at 390 pixels, and no sideways scroll."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import assert_accessible

PHONE_390 = {"width": 390, "height": 844}


async def fits_a_phone(page: Any, label: str) -> None:
    """No serious axe finding, and the page no wider than the 390-pixel screen."""
    await assert_accessible(page, f"{label} at 390 px")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"], f"{label} is {width}px wide at 390 px"
