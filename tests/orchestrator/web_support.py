"""Helpers for the staff web pages: sign in through the real form, post with the CSRF token."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from orchestrator.core.models import MediatorCreate, StaffRole
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import CLOCK, DB

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def make_user(
    client: TestClient[Any, Any], email: str, role: StaffRole, *, name: str = ""
) -> uuid.UUID:
    """A staff user with PASSWORD; mediators get their mediator record too."""
    from orchestrator.cases import panel

    async with client.app[DB].write() as session:
        user = await add_user(session, email=email, role=role, name=name, password=PASSWORD)
        if role is StaffRole.mediator:
            await panel.create_mediator(
                session,
                data=MediatorCreate(name=name or email, email=email, user_id=user.id),
                now=client.app[CLOCK](),
            )
        return user.id


@dataclass
class Browser:
    """One signed-in person on the test client (aiohttp keeps the cookie jar per client)."""

    client: TestClient[Any, Any]
    csrf: str = ""

    async def sign_in(
        self, email: str, password: str = PASSWORD, *, next: str = ""
    ) -> ClientResponse:
        data = {"email": email, "password": password, "next": next}
        response = await self.client.post("/sign-in", data=data, allow_redirects=False)
        if response.status == 303:
            page = await self.client.get("/staff/sessions" if "mediator" in email else "/staff")
            text = await page.text()
            if 'name="csrf_token"' in text:
                self.csrf = csrf_from(text)
        return response

    async def get(self, path: str, **kw: Any) -> tuple[int, str]:
        response = await self.client.get(path, allow_redirects=False, **kw)
        return response.status, await response.text()

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> ClientResponse:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self.client.post(path, data=body, allow_redirects=False)


async def case_id_by_reference(
    client: TestClient[web.Request, web.Application], reference: str
) -> uuid.UUID:
    from sqlmodel import col, select

    from orchestrator.core.models import Case

    async with client.app[DB].read() as session:
        found = await session.scalar(select(Case.id).where(col(Case.reference) == reference))
    assert found is not None
    return found
