"""Preparation pages: a party's ``/prepare/{token}`` and the case page's "Preparation" section.

A party writes or uploads their case summary (and the family their Child's View) through
their own link; the mediator reads everything on the case page and chooses what is shared
with whom. Files go back only to staff who may see the case and to the parties a paper is
shared with, always as an attachment with ``nosniff``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import links, roster
from orchestrator.closing import preparation
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.languages import N_
from orchestrator.core.models import Case, Document, LinkScope, Party
from orchestrator.web.keys import CLOCK, DB, SETTINGS
from orchestrator.web.languages import choose
from orchestrator.web.pages import render
from orchestrator.web.staff.cases import CASE_PAGE_SECTIONS, case_and_party, visible_case
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.roles import CASE_READERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()

TEXT_FIELDS = ("form", "summary", *(key for key, _ in preparation.CHILDS_VIEW_QUESTIONS))
MAX_FIELD_BYTES = 64 * 1024


# ---------------------------------------------------------------------------- helpers


async def _party_for(session: AsyncSession, request: web.Request) -> Party:
    resolved = await links.resolve(
        session,
        request.match_info["token"],
        scope=LinkScope.prepare,
        secret=request.app[SETTINGS].secret_key.get_secret_value(),
        now=request.app[CLOCK](),
    )
    if resolved.party is None:
        raise links.refusal(links.Verdict.unknown)
    return resolved.party


class PostedForm:
    """Text fields and at most one file from a multipart (or urlencoded) form."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.data = b""
        self.too_large = False


async def read_form(request: web.Request) -> PostedForm:
    """Read the form, streaming the file and stopping as soon as it passes the size cap."""
    posted = PostedForm()
    if not request.content_type.startswith("multipart/"):
        form = await request.post()
        posted.fields = {k: str(form[k])[:MAX_FIELD_BYTES] for k in TEXT_FIELDS if k in form}
        return posted
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename is not None:
            if part.name != "upload" or posted.filename or posted.too_large:
                await part.release()
                continue
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > preparation.MAX_UPLOAD_BYTES:
                    posted.too_large = True
                    break
                chunks.append(chunk)
            await part.release()
            if not posted.too_large and size:
                posted.filename, posted.data = part.filename, b"".join(chunks)
        elif part.name in TEXT_FIELDS:
            raw = await part.read(decode=True)
            posted.fields[part.name] = raw[:MAX_FIELD_BYTES].decode("utf-8", errors="replace")
        else:
            await part.release()
    return posted


def download(document: Document, data: bytes) -> web.Response:
    """The file as an attachment under a name of our making, never sniffed as a page."""
    suffix = preparation.FILE_TYPES.get(document.content_type or "", (".bin",))[0]
    name = document.kind.replace("_", "-") + suffix
    return web.Response(
        body=data,
        content_type=document.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def paper_view(document: Document, href: str) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "kind": document.kind,
        "label": preparation.KIND_LABELS.get(document.kind, "Paper"),
        "text": document.text,
        "filename": document.filename,
        "size_kb": max(1, (document.size_bytes or 0) // 1024),
        "href": href if document.storage_path else None,
        "created_at": document.created_at,
    }


# ---------------------------------------------------------------------------- party pages


async def _party_context(
    session: AsyncSession, request: web.Request, party: Party
) -> dict[str, Any]:
    token = request.match_info["token"]
    papers = await preparation.papers_for_party(session, party=party)
    parties = {p.id: p for p in await roster.list_parties(session, case_id=party.case_id)}

    def view(document: Document) -> dict[str, Any]:
        found = paper_view(document, f"/prepare/{token}/documents/{document.id}")
        author = parties.get(document.party_id) if document.party_id else None
        found["author"] = author.name if author else N_("the mediator")
        return found

    return {
        "language": choose(request, party.language),
        "party_name": party.name.split(" ")[0],
        "family": party.role in preparation.FAMILY_ROLES,
        "own": [view(d) for d in papers.own],
        "shared": [view(d) for d in papers.shared],
        "questions": preparation.CHILDS_VIEW_QUESTIONS,
        "values": {},
        "errors": {},
        "saved": request.query.get("saved", "") in preparation.KINDS,
        "action": f"/prepare/{token}",
        "max_mb": preparation.MAX_UPLOAD_BYTES // (1024 * 1024),
    }


@routes.get("/prepare/{token}")
async def prepare_page(request: web.Request) -> web.Response:
    """The party's own preparation page: what they sent, what is shared with them, the forms."""
    async with request.app[DB].read() as session:
        party = await _party_for(session, request)
        context = await _party_context(session, request, party)
    return render("prepare/prepare.html", request, context, language=str(context["language"]))


@routes.post("/prepare/{token}")
async def prepare_submit(request: web.Request) -> web.StreamResponse:
    """Save a written summary or Child's View, or an uploaded file, then show the page again."""
    app = request.app
    now = app[CLOCK]()
    async with app[DB].read() as session:
        await _party_for(session, request)  # a dead link is refused before reading any file
    posted = await read_form(request)
    kind = posted.fields.get("form", "")
    if kind not in preparation.KINDS:
        kind = preparation.CASE_SUMMARY
    errors: dict[str, str] = {}
    status = 422
    if posted.too_large:
        errors[f"{kind}-upload"] = N_("The file is larger than 10 MB. Choose a smaller file.")
        status = 413
    else:
        async with app[DB].write() as session:
            party = await _party_for(session, request)
            try:
                if posted.filename:
                    await preparation.save_upload(
                        session,
                        party=party,
                        kind=kind,
                        filename=posted.filename,
                        data=posted.data,
                        settings=app[SETTINGS],
                        now=now,
                    )
                else:
                    text = (
                        preparation.childs_view_text(posted.fields)
                        if kind == preparation.CHILDS_VIEW
                        else posted.fields.get("summary", "")
                    )
                    await preparation.save_text(session, party=party, kind=kind, text=text, now=now)
            except ValidationFailed as exc:
                field = f"{kind}-upload" if posted.filename else kind
                errors[field] = exc.message
        if not errors:
            raise see_other(f"/prepare/{request.match_info['token']}?saved={kind}#saved")
    async with app[DB].read() as session:
        party = await _party_for(session, request)
        context = await _party_context(session, request, party)
    context["values"] = posted.fields
    context["errors"] = errors
    language = str(context["language"])
    return render("prepare/prepare.html", request, context, status=status, language=language)


@routes.get("/prepare/{token}/documents/{document_id}")
async def prepare_download(request: web.Request) -> web.StreamResponse:
    """A file the party sent, or one shared with them; 404 for anything else."""
    document_id = parse_uuid(request.match_info["document_id"], "document")
    async with request.app[DB].read() as session:
        party = await _party_for(session, request)
        document = await preparation.document_for_party(
            session, party=party, document_id=document_id
        )
    return download(document, preparation.file_bytes(document, request.app[SETTINGS]))


# ---------------------------------------------------------------------------- staff


async def preparation_section(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    parties: list[Party],
) -> dict[str, Any] | None:
    """Everyone's papers on the case page, with who each is shared with."""
    if not parties:
        return None
    papers = await preparation.case_documents(session, case_id=case.id)
    rows = []
    for party in parties:
        own = [
            {
                **paper_view(d, f"/staff/cases/{case.id}/documents/{d.id}"),
                "shared_with": set(d.shared_with or []),
            }
            for d in papers
            if d.party_id == party.id
        ]
        rows.append({"party": party, "papers": own})
    return {"rows": rows, "others": parties}


SECTION = ("staff/_preparation.html", preparation_section)


def install(app: web.Application) -> None:
    """Put the "Preparation" section on the case page, after the sections imported earlier."""
    if SECTION not in CASE_PAGE_SECTIONS:
        CASE_PAGE_SECTIONS.append(SECTION)


@routes.post("/staff/cases/{case_id}/parties/{party_id}/prepare-link")
@staff_page(roles=CASE_READERS)
async def send_prepare_link(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Email the party a fresh preparation link (an older one stops working)."""
    async with request.app[DB].write() as session:
        case, party = await case_and_party(session, request, seen_by=staff)
        await preparation.send_prepare_link(
            session,
            case=case,
            party=party,
            settings=staff.settings,
            now=staff.now,
            actor=staff.actor,
        )
    raise see_other(f"/staff/cases/{case.id}?notice=prepare-sent#preparation")


@routes.post("/staff/cases/{case_id}/documents/{document_id}/sharing")
@staff_page(roles=CASE_READERS)
async def share_document(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Set which other parties see this paper on their preparation page."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    document_id = parse_uuid(request.match_info["document_id"], "document")
    chosen: list[uuid.UUID] = []
    for raw in staff.form.getall("share_with", []):
        try:
            chosen.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    async with request.app[DB].write() as session:
        case = await visible_case(session, staff, case_id)
        document = await preparation.document_of_case(
            session, case_id=case.id, document_id=document_id
        )
        await preparation.set_sharing(
            session, document=document, party_ids=chosen, now=staff.now, actor=staff.actor
        )
    raise see_other(f"/staff/cases/{case_id}?notice=shared#preparation")


@routes.get("/staff/cases/{case_id}/documents/{document_id}")
@staff_page(roles=CASE_READERS)
async def staff_download(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    document_id = parse_uuid(request.match_info["document_id"], "document")
    async with request.app[DB].read() as session:
        case = await visible_case(session, staff, case_id)
        document = await preparation.document_of_case(
            session, case_id=case.id, document_id=document_id
        )
    await staff.audit(
        "document.read", case_id=case.id, target_type="document", target_id=str(document.id)
    )
    return download(document, preparation.file_bytes(document, staff.settings))
