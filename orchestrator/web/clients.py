"""Who is calling: the connection's peer, or behind our own proxies the address they saw.

Behind a reverse proxy, keying limits on the peer would put every party and every member
of staff in one bucket, and one person's mistyped links would lock out all. So when the
peer is one of the service's own proxies (``ORCH_TRUSTED_PROXIES``), the caller is the
nearest address in ``X-Forwarded-For`` that is not one of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """Who is calling: the peer, or behind our own proxies the address they were asked by."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )

    def _is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, request: web.Request) -> str:
        peer = request.remote or "unknown"
        if not self.trusted or not self._is_proxy(peer):
            return peer
        # Each proxy appends the address it was asked by; read from the right, past our own
        # proxies. What lies further left was written by the caller and proves nothing.
        hops = [
            hop.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            if not self._is_proxy(hop):
                return hop
        return hops[0] if hops else peer
