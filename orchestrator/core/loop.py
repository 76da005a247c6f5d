"""The event loop the service runs on.

uvloop (libuv under asyncio's interface) runs the same code with a cheaper loop: each
request of the join click spends less of its time in the loop's own bookkeeping and socket
calls. It is the default wherever it is installed; ``ORCH_EVENT_LOOP=asyncio`` (or a
platform uvloop does not support, such as Windows) gives the standard loop.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def new_event_loop(kind: str = "uvloop") -> asyncio.AbstractEventLoop:
    """A new loop of ``kind``; asyncio's own when uvloop is asked for but not installed."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed here; running on asyncio's own loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
