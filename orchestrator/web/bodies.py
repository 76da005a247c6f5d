"""Request bodies read whole and within a cap, however they are framed.

A body may come with a ``Content-Length`` or as ``Transfer-Encoding: chunked`` pieces;
``StreamReader.read(n)`` hands back whatever has arrived so far, which for a chunked body
is the first chunk only. Every handler that reads a raw body reads it here, so the cap is
applied to the whole body and a client that goes away mid-body is told apart from a bug.
"""

from __future__ import annotations

from aiohttp import web

from orchestrator.web.errors import ApiError, ClientDisconnected

_PIECE = 64 * 1024


async def read_body(request: web.Request, *, limit: int, what: str = "request body") -> bytes:
    """Return the whole body; 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = ApiError(413, "too_large", f"{what} is too large")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    pieces: list[bytes] = []
    size = 0
    try:
        async for piece in request.content.iter_chunked(_PIECE):
            size += len(piece)
            if size > limit:
                raise too_large
            pieces.append(piece)
    except ConnectionResetError as exc:
        raise ClientDisconnected() from exc
    return b"".join(pieces)
