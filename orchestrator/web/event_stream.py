"""Server-Sent Events: the one way our pages' event streams open (the room console, our lobby).

``open_stream`` answers with ``text/event-stream``, never cached nor buffered by a proxy,
and tells the browser to reconnect after two seconds if the stream drops. Each stream
then polls the database for its own state, so a change made on any replica reaches it.
"""

from __future__ import annotations

from aiohttp import web


async def open_stream(request: web.Request) -> web.StreamResponse:
    """The prepared response of an event stream, its reconnect delay already sent."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    return response
