"""Every GET the app serves carries the security headers; HTML pages carry a strict CSP."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from tests.conftest import Staff
from tests.orchestrator.meetings_support import book, ready_case

SAMPLE_IDS = {"token": "sample-token", "name": "sample", "tail": "", "provider": "jitsi"}


def sample_path(resource: web.AbstractResource) -> str | None:
    info = resource.get_info()
    if "path" in info:
        return str(info["path"])
    formatter = info.get("formatter")
    if formatter is None:
        return None
    names = re.findall(r"\{(\w+)\}", formatter)
    return str(formatter).format(**{n: SAMPLE_IDS.get(n, str(uuid.UUID(int=7))) for n in names})


async def test_every_get_route_answers_with_security_headers(staff: Staff) -> None:
    client = staff.client
    ready = await ready_case(staff)
    await book(staff, ready.case_id)
    paths = sorted(
        {
            path
            for route in client.app.router.routes()
            if route.method == "GET" and (path := sample_path(route.resource)) is not None
        }
    )
    assert len(paths) > 30
    html_pages = 0
    for path in paths:
        headers = staff.headers("admin") if path.startswith("/api/") else {}
        response = await client.get(path, headers=headers, allow_redirects=False)
        await response.read()
        got = response.headers
        assert got.get("X-Content-Type-Options") == "nosniff", path
        assert got.get("Referrer-Policy") == "no-referrer", path
        assert got.get("X-Frame-Options") == "DENY", path
        if response.content_type == "text/html":
            html_pages += 1
            csp = got.get("Content-Security-Policy", "")
            assert "frame-ancestors 'none'" in csp, path
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    assert html_pages > 10
