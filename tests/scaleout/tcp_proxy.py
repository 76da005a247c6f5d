"""A loopback TCP proxy in front of PostgreSQL that can play a database restart.

The app processes connect to the proxy, never to the server itself, so a "restart" here
(every open connection cut, new ones refused for a while, then accepted again) touches
only this test's connections: the machine's PostgreSQL, which others share, keeps running.
The proxy runs its own event loop in a thread, so the test's blocking calls (the CLI run
with ``subprocess.run``) cannot stall the connections passing through it.

It can also play a database that hangs rather than restarts (``go_silent``): every
connection, open or new, stays up and accepted, but nothing passes either way until
``speak_again``; what was sent meanwhile is then delivered, as a stalled network does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from tests.scaleout.conftest import free_port


class RestartingProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; ``go_down`` and ``come_back`` restart it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.cut = 0  # client connections cut by restarts
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.StreamWriter, asyncio.StreamWriter] = {}  # client -> upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._speaking: asyncio.Event | None = None  # made on the proxy's own loop

    def start(self) -> None:
        self._thread.start()
        self._run(self._make_gate())
        self.come_back()

    def close(self) -> None:
        self.speak_again()
        self.go_down()
        self._run(self._finish())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def come_back(self) -> None:
        """Listen on the same port again: new connections reach the database."""
        self._run(self._listen())

    def go_down(self) -> None:
        """Refuse new connections and cut every open one, as a restarting server does."""
        self._run(self._cut())

    def go_silent(self) -> None:
        """Keep every connection up, accept new ones, and pass nothing: a hung server."""
        self._run(self._gate(speaking=False))

    def speak_again(self) -> None:
        """Pass bytes again, those held back first."""
        self._run(self._gate(speaking=True))

    async def _finish(self) -> None:
        """Wait for the connections' own tasks to end (cut, they end at once)."""
        current = asyncio.current_task()
        rest = [task for task in asyncio.all_tasks() if task is not current]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*rest, return_exceptions=True), timeout=5)

    async def _make_gate(self) -> None:
        self._speaking = asyncio.Event()
        self._speaking.set()

    async def _gate(self, *, speaking: bool) -> None:
        assert self._speaking is not None
        if speaking:
            self._speaking.set()
        else:
            self._speaking.clear()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client, upstream in list(self._open.items()):
            client.transport.abort()
            upstream.transport.abort()
        self.cut += len(self._open)
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open[writer] = upstream_writer
        assert self._speaking is not None
        pipes = (
            _pipe(reader, upstream_writer, self._speaking),
            _pipe(upstream_reader, writer, self._speaking),
        )
        try:
            await asyncio.gather(*pipes)
        finally:
            self._open.pop(writer, None)


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, speaking: asyncio.Event
) -> None:
    """Copy bytes one way (held while the proxy is silent) until either side goes."""
    try:
        while data := await source.read(65536):
            await speaking.wait()
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.close()
