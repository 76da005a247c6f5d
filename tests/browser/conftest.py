"""Browser fixtures: the real app on a loopback port, and Debian's Chromium driven by Playwright.

Chromium comes from ``ORCH_TEST_CHROMIUM`` or ``/usr/bin/chromium``; we never download one.
Without it every browser test skips with a one-line reason (CI runs strict and fails).
Browser tests use SQLite only: the storage contract is proven elsewhere on both databases.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from orchestrator.core.settings import Settings
from orchestrator.web.app import create_app
from tests.conftest import MutableClock

CHROMIUM_SKIP = "Chromium not installed: set ORCH_TEST_CHROMIUM or install chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    candidate = os.environ.get("ORCH_TEST_CHROMIUM") or "/usr/bin/chromium"
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("chromium")


@pytest.fixture
async def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """Override: one SQLite database per browser test (no PostgreSQL parametrisation)."""
    target = tmp_path / "orchestrator.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApp:
    url: str
    app: web.Application
    clock: MutableClock


@pytest.fixture
async def live_app(
    database_url: str, tmp_path: Path, clock: MutableClock
) -> AsyncIterator[LiveApp]:
    """The real service listening on 127.0.0.1, as a browser reaches it."""
    port = _free_port()
    settings = Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        secret_key="browser-test-secret-key-long-enough-0123456789",
        run_background_jobs=False,
    )
    app = create_app(settings, clock=clock, migrate_on_start=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield LiveApp(url=settings.base_url, app=app, clock=clock)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip(CHROMIUM_SKIP)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_page(browser: Any, *, viewport: dict[str, int] = DESKTOP, **kw: Any) -> Any:
    context = await browser.new_context(viewport=viewport, locale="en-GB", **kw)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    return page


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_accessible(page: Any, label: str) -> None:
    """axe-core on the page as it is now: no serious or critical violations."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{label}: " + "; ".join(bad)
