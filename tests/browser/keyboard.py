"""Keyboard-only driving: Tab until the focus is where a person would want it."""

from __future__ import annotations

from typing import Any


async def tab_to(page: Any, test_js: str, *, limit: int = 200) -> None:
    """Press Tab until ``test_js`` (a function of the focused element) says yes."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"(el => ({test_js})(el))(document.activeElement)"):
            return
    raise AssertionError(f"never reached by keyboard: {test_js}")
