"""Preparation papers: a party's /prepare/ page, uploads, sharing, and who may read what."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.cases import intake, panel, roster
from orchestrator.closing import preparation
from orchestrator.core.models import (
    CaseCreate,
    CaseKind,
    Document,
    OutboxMessage,
    PartyCreate,
    PartyRole,
    StaffRole,
)
from orchestrator.web.keys import BUS, CLOCK, DB, SETTINGS
from tests.orchestrator.web_support import Browser, csrf_from, make_user

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@dataclass
class Setup:
    case_id: uuid.UUID
    parent_id: uuid.UUID
    school_id: uuid.UUID
    parent_path: str
    school_path: str


async def prepared_case(
    client: TestClient[Any, Any], *, reference: str = "KIDS-PREP-1", mediator: str = "mo"
) -> Setup:
    """A case with a parent and a school, its mediator, and each party's prepare link."""
    app = client.app
    now = app[CLOCK]()
    await make_user(client, f"{mediator}@staff.example", StaffRole.mediator, name=mediator)
    async with app[DB].write() as session:
        found = await panel.list_mediators(session)
        chosen = next(m for m in found if m.email == f"{mediator}@staff.example")
        case = await intake.create_case(
            session,
            data=CaseCreate(
                reference=reference,
                kind=CaseKind.mediation,
                local_authority="Kent",
                referral_date=date(2026, 2, 27),
            ),
            now=now,
            bus=app[BUS],
        )
        await panel.assign_mediator(
            session, case=case, mediator=chosen, now=now, actor=None, bus=app[BUS]
        )
        parent = await roster.add_party(
            session,
            case=case,
            data=PartyCreate(role=PartyRole.parent, name="Pat Jordan", email="pat@family.example"),
            now=now,
            bus=app[BUS],
            actor=None,
        )
        school = await roster.add_party(
            session,
            case=case,
            data=PartyCreate(role=PartyRole.school, name="Hill School", email="head@hill.example"),
            now=now,
            bus=app[BUS],
            actor=None,
        )
        urls = [
            await preparation.send_prepare_link(
                session, case=case, party=p, settings=app[SETTINGS], now=now, actor=None
            )
            for p in (parent, school)
        ]
    return Setup(
        case_id=case.id,
        parent_id=parent.id,
        school_id=school.id,
        parent_path=urlsplit(urls[0]).path,
        school_path=urlsplit(urls[1]).path,
    )


async def upload(
    client: TestClient[Any, Any], path: str, data: bytes, filename: str, kind: str = "case_summary"
) -> Any:
    form = FormData()
    form.add_field("form", kind)
    form.add_field("upload", data, filename=filename, content_type="application/octet-stream")
    return await client.post(path, data=form, allow_redirects=False)


async def stored_documents(client: TestClient[Any, Any]) -> list[Document]:
    async with client.app[DB].read() as session:
        return list((await session.scalars(select(Document))).all())


async def test_party_writes_a_summary_and_the_family_a_childs_view(
    client: TestClient[Any, Any],
) -> None:
    setup = await prepared_case(client)
    page = await client.get(setup.parent_path)
    text = await page.text()
    assert page.status == 200
    assert "Prepare for your meeting" in text and "The Child's View" in text
    assert "Hill School" not in text  # nothing of the other party shows

    school_page = await (await client.get(setup.school_path)).text()
    assert "The Child's View" not in school_page  # only the family is asked for it

    saved = await client.post(
        setup.parent_path,
        data={"form": "childs_view", "going_well": "Art club", "hard": "Noisy lunch hall"},
        allow_redirects=False,
    )
    assert saved.status == 303
    again = await (await client.get(saved.headers["Location"])).text()
    assert "Thank you" in again
    assert "What is going well?<br>Art club" in again and "Noisy lunch hall" in again


async def test_upload_is_stored_under_a_random_name_and_comes_back_as_attachment(
    client: TestClient[Any, Any],
) -> None:
    setup = await prepared_case(client)
    for data, name in ((PDF, "../../etc/Our summary.pdf"), (docx_bytes(), "notes.DOCX")):
        response = await upload(client, setup.parent_path, data, name)
        assert response.status == 303, await response.text()
    found = await stored_documents(client)
    assert {d.content_type for d in found} == {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
    uploads = client.app[SETTINGS].data_dir / "uploads"
    on_disk = sorted(p.name for p in uploads.iterdir())
    assert sorted(d.storage_path or "" for d in found) == on_disk
    assert not any("summary" in name or "notes" in name for name in on_disk)
    pdf = next(d for d in found if d.content_type == "application/pdf")
    assert pdf.filename == "Our summary.pdf"

    page = await (await client.get(setup.parent_path)).text()
    assert "Download Our summary.pdf" in page
    got = await client.get(f"{setup.parent_path}/documents/{pdf.id}")
    assert got.status == 200 and await got.read() == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"


async def test_oversize_upload_is_refused_with_413(client: TestClient[Any, Any]) -> None:
    setup = await prepared_case(client)
    big = PDF + b"0" * (preparation.MAX_UPLOAD_BYTES + 1 - len(PDF))
    response = await upload(client, setup.parent_path, big, "big.pdf")
    assert response.status == 413
    assert "larger than 10 MB" in await response.text()
    assert await stored_documents(client) == []


async def test_wrong_types_and_lying_extensions_are_refused(client: TestClient[Any, Any]) -> None:
    setup = await prepared_case(client)
    refused = [
        (b"MZ\x90\x00 program", "setup.exe"),
        (b"<html><script>alert(1)</script></html>", "summary.pdf"),  # HTML claiming PDF
        (PNG, "summary.pdf"),  # a real PNG with a lying name
        (PDF, "summary.png"),
        (b"PK\x03\x04not really a zip", "summary.docx"),
    ]
    for data, name in refused:
        response = await upload(client, setup.parent_path, data, name)
        assert response.status == 422, name
        text = await response.text()
        assert "There is a problem" in text
    assert await stored_documents(client) == []
    assert (
        await upload(client, setup.parent_path, PNG, "drawing.png", "childs_view")
    ).status == 303


async def test_a_party_sees_only_what_the_mediator_shares_with_them(
    client: TestClient[Any, Any],
) -> None:
    setup = await prepared_case(client)
    assert (await upload(client, setup.parent_path, PDF, "ours.pdf")).status == 303
    await client.post(setup.parent_path, data={"form": "case_summary", "summary": "Our words"})
    pdf = next(d for d in await stored_documents(client) if d.storage_path)
    school_download = f"{setup.school_path}/documents/{pdf.id}"
    response = await client.get(school_download)
    assert response.status == 404
    assert "ours.pdf" not in await response.text()
    assert "Our words" not in await (await client.get(setup.school_path)).text()

    mo = Browser(client)
    assert (await mo.sign_in("mo@staff.example")).status == 303
    status, case_page = await mo.get(f"/staff/cases/{setup.case_id}")
    assert status == 200
    assert 'id="preparation"' in case_page and "Our words" in case_page
    mo.csrf = csrf_from(case_page)
    shared = await mo.post(
        f"/staff/cases/{setup.case_id}/documents/{pdf.id}/sharing",
        {"share_with": str(setup.school_id)},
    )
    assert shared.status == 303
    got = await client.get(school_download)
    assert got.status == 200 and await got.read() == PDF
    school_page = await (await client.get(setup.school_path)).text()
    assert "Shared with you by the mediator" in school_page and "Pat Jordan" in school_page
    assert "Our words" not in school_page  # the written summary was not shared


async def test_mediator_of_another_case_gets_404(client: TestClient[Any, Any]) -> None:
    setup = await prepared_case(client)
    await prepared_case(client, reference="KIDS-PREP-2", mediator="kim")
    assert (await upload(client, setup.parent_path, PDF, "ours.pdf")).status == 303
    pdf = next(d for d in await stored_documents(client) if d.case_id == setup.case_id)
    kim = Browser(client)
    assert (await kim.sign_in("kim@staff.example")).status == 303
    status, page = await kim.get(f"/staff/cases/{setup.case_id}/documents/{pdf.id}")
    assert status == 404 and "%PDF" not in page
    status, _ = await kim.get(f"/staff/cases/{setup.case_id}")
    assert status == 404


async def test_staff_resend_queues_an_email_and_kills_the_old_link(
    client: TestClient[Any, Any],
) -> None:
    setup = await prepared_case(client)
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    _, case_page = await mo.get(f"/staff/cases/{setup.case_id}")
    mo.csrf = csrf_from(case_page)
    response = await mo.post(f"/staff/cases/{setup.case_id}/parties/{setup.parent_id}/prepare-link")
    assert response.status == 303
    async with client.app[DB].read() as session:
        mails = list(
            (
                await session.scalars(
                    select(OutboxMessage).where(col(OutboxMessage.topic) == "prepare")
                )
            ).all()
        )
    to_pat = [m for m in mails if m.payload["to"] == ["pat@family.example"]]
    assert len(to_pat) == 2  # the first link, and the resend
    assert "Preparing for your mediation meeting" in to_pat[-1].payload["raw"]
    old = await client.get(setup.parent_path)
    assert old.status in (404, 410) and "Pat" not in await old.text()


async def test_script_in_a_summary_renders_inert(client: TestClient[Any, Any]) -> None:
    setup = await prepared_case(client)
    await client.post(setup.parent_path, data={"form": "case_summary", "summary": XSS})
    page = await (await client.get(setup.parent_path)).text()
    assert XSS not in page and "&lt;script&gt;alert(" in page
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    _, case_page = await mo.get(f"/staff/cases/{setup.case_id}")
    assert XSS not in case_page and "&lt;img src=x onerror=alert(1)&gt;" in case_page
