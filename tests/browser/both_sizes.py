"""Check a page as staff see it on a desk and on a phone: axe at both sizes, no sideways scroll."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import DESKTOP, assert_accessible

PHONE_390 = {"width": 390, "height": 844}


async def assert_fits_both(page: Any, label: str) -> None:
    """axe on the page at desktop and at 390x844; at 390 px the page must not scroll sideways."""
    await assert_accessible(page, f"{label} (desktop)")
    await page.set_viewport_size(PHONE_390)
    try:
        await assert_accessible(page, f"{label} (phone)")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_390["width"], f"{label}: {width} px wide on a 390 px phone"
    finally:
        await page.set_viewport_size(DESKTOP)
