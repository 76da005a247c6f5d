"""A real Radicale CalDAV server on a loopback ephemeral port, for tests.

Radicale runs in its own process (``python -m radicale --config <file>``) with storage and
an htpasswd file (plain-text password) in a temporary directory. Radicale refuses port 0,
so we reserve a free ephemeral port, hand it over, and try another if a parallel run
snatched it in between.

Use the ``radicale_server`` fixture (module-scoped: one server per test module; give each
test its own calendar name), or ``async with RadicaleServer() as server:`` directly.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import aiohttp
import pytest

_LISTENING = re.compile(r"Listening on ")
_START_TIMEOUT_S = 20.0
_PORT_ATTEMPTS = 5


class RadicaleError(RuntimeError):
    """Radicale did not start, or answered a set-up request with an error."""


class RadicaleServer:
    """One Radicale process with one user, owning its temporary storage."""

    def __init__(self, *, username: str = "mediator", password: str | None = None) -> None:
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # ----------------------------------------------------------------- lifecycle

    def start_sync(self) -> None:
        """Launch Radicale and block until it answers HTTP."""
        if self._process is not None:
            raise RadicaleError("Radicale is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix="radicale-"))
        try:
            for _attempt in range(_PORT_ATTEMPTS):
                port = _free_loopback_port()
                if self._launch(port):
                    self.url = f"http://127.0.0.1:{port}"
                    self._wait_until_answering()
                    return
            raise RadicaleError("Radicale could not bind a loopback port")
        except BaseException:
            self.stop_sync()
            raise

    def stop_sync(self) -> None:
        """Stop Radicale (SIGTERM, then SIGKILL) and delete its storage."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    async def start(self) -> None:
        """Launch Radicale and wait until it answers HTTP."""
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        """Stop Radicale and delete its storage."""
        await asyncio.to_thread(self.stop_sync)

    async def __aenter__(self) -> RadicaleServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- CalDAV set-up

    def calendar_url(self, name: str) -> str:
        """Return the URL of the user's calendar collection called ``name``."""
        return f"{self.url}/{self.username}/{name}/"

    async def make_calendar(self, name: str) -> str:
        """Create the calendar ``name`` with MKCALENDAR and return its URL."""
        url = self.calendar_url(name)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            "<D:set><D:prop><D:displayname>"
            f"{name}"
            "</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        await self._request("MKCALENDAR", url, body.encode(), "application/xml; charset=utf-8")
        return url

    async def put_event(self, calendar_url: str, uid: str, ics_text: str) -> None:
        """Store ``ics_text`` as ``<uid>.ics`` in the calendar. Raises RadicaleError on non-2xx."""
        url = calendar_url.rstrip("/") + f"/{uid}.ics"
        await self._request("PUT", url, ics_text.encode(), "text/calendar; charset=utf-8")

    # ----------------------------------------------------------------- internals

    async def _request(self, method: str, url: str, body: bytes, content_type: str) -> None:
        credentials = f"{self.username}:{self.password}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Content-Type": content_type,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, data=body, headers=headers) as response,
        ):
            if not 200 <= response.status < 300:
                detail = (await response.text())[:500]
                raise RadicaleError(f"{method} {url} answered {response.status}: {detail}")

    def _write_config(self, workdir: Path, port: int) -> Path:
        users = workdir / "users"
        users.write_text(f"{self.username}:{self.password}\n", encoding="utf-8")
        storage = workdir / "collections"
        storage.mkdir(exist_ok=True)
        config = workdir / "config"
        config.write_text(
            "\n".join(
                [
                    "[server]",
                    f"hosts = 127.0.0.1:{port}",
                    "[auth]",
                    "type = htpasswd",
                    f"htpasswd_filename = {users}",
                    "htpasswd_encryption = plain",
                    "delay = 0",
                    "[rights]",
                    "type = owner_only",
                    "[storage]",
                    f"filesystem_folder = {storage}",
                    "[logging]",
                    "level = info",
                    "mask_passwords = True",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    def _launch(self, port: int) -> bool:
        """Start the process on ``port``; False if the port was taken meanwhile."""
        assert self._workdir is not None
        config_path = self._write_config(self._workdir, port)
        log_path = self._workdir / f"radicale-{port}.log"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            if _LISTENING.search(text):
                return True
            if self._process.poll() is not None:
                self._process = None
                if "cannot create server socket" in text:
                    return False
                raise RadicaleError(f"Radicale exited at start-up:\n{text[-2000:]}")
            time.sleep(0.05)
        raise RadicaleError("Radicale did not report listening in time")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(self.url + "/", method="OPTIONS")
                with urllib.request.urlopen(request, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it is serving
            except OSError:
                time.sleep(0.05)
        raise RadicaleError("Radicale did not answer HTTP in time")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def radicale_server() -> Iterator[RadicaleServer]:
    """Run one Radicale for the test module; tests should use distinct calendar names.

    Synchronous on purpose: the server is a separate process, so it does not depend on
    any test's event loop and can outlive one.
    """
    server = RadicaleServer()
    server.start_sync()
    try:
        yield server
    finally:
        server.stop_sync()
