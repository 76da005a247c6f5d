"""The real app on a loopback port in its own thread, for tools that speak plain HTTP."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from orchestrator.core.migrate import upgrade_sync
from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.staff.accounts import add_user, issue_token
from orchestrator.web.app import create_app
from orchestrator.web.keys import DB

SECRET_KEY = "attack-secret-key-that-is-long-enough-0123456789"
# Monday 2 March 2026, 09:00 UTC: the same fixed "now" as the rest of the suite.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class LiveApp:
    """A running app: its base URL and an admin token."""

    base_url: str
    admin_token: str
    app: web.Application


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def attack_settings(tmp_path: Path, template: Path | None = None) -> Settings:
    target = tmp_path / "orchestrator.db"
    if template is not None:
        shutil.copy(template, target)
    else:
        upgrade_sync(f"sqlite+aiosqlite:///{target}")
    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{target}",
        base_url="http://testserver.local",
        secret_key=SECRET_KEY,
        run_background_jobs=False,
    )


@contextmanager
def live_app(settings: Settings, clock: Callable[[], datetime] = lambda: NOW) -> Iterator[LiveApp]:
    """Serve ``create_app(settings)`` on 127.0.0.1 from a background event loop."""
    loop = asyncio.new_event_loop()
    port = free_port()
    app = create_app(settings, clock=clock, migrate_on_start=False)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with app[DB].write() as session:
            user = await add_user(session, email="admin@staff.example", role=StaffRole.admin)
            return await issue_token(session, user_id=user.id)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        token = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
        yield LiveApp(base_url=f"http://127.0.0.1:{port}", admin_token=token, app=app)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
