"""Who is calling: the connection's peer, or behind our own proxies the address they saw.

Behind a reverse proxy, keying limits on the peer would put every party and every member
of staff in one bucket, and one person's mistyped links would lock out all. So when the
peer is one of the service's own proxies (``ORCH_TRUSTED_PROXIES``), the caller is the
nearest address in ``X-Forwarded-For`` that is not one of them.

An IPv6 caller is counted as its /64, the network one home or one server is given: the
addresses inside it cost nothing to change, so keying on each would give a guesser a
fresh budget with every request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The network an IPv6 caller is counted as: one subscriber's (RFC 6177 gives each a /64 or more).
IPV6_SOURCE_PREFIX = 64


def source_of(address: str) -> str:
    """The source an address is counted as: an IPv4 address itself, an IPv6 one's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_SOURCE_PREFIX}", strict=False))
    return str(ip)


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
        """The caller's source, as limits count it (``source_of`` the caller's address)."""
        return source_of(self._address(request))

    def _address(self, request: web.Request) -> str:
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
