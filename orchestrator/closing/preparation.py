"""Preparation papers: each party's case summary and the family's Child's View.

Parties write or upload them through their own prepare link before the meeting; the
mediator decides who else sees each one (``Document.shared_with``, a list of party ids).
Uploaded files are checked by their first bytes, never trusted by name, and stored under
``data_dir/uploads/`` with random names; the uploaded name is kept only as a label.
"""

from __future__ import annotations

import io
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from html import escape
from pathlib import Path, PurePath
from typing import Literal
from urllib.parse import unquote

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.imip import build_plain_message
from orchestrator.cases import links, roster, timeline
from orchestrator.core.errors import NotFound, ValidationFailed
from orchestrator.core.languages import N_
from orchestrator.core.models import (
    Case,
    Document,
    Link,
    LinkScope,
    OutboxKind,
    Party,
    PartyRole,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging import outbox

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARS = 20_000
CASE_SUMMARY = "case_summary"
CHILDS_VIEW = "childs_view"
KINDS = (CASE_SUMMARY, CHILDS_VIEW)
KIND_LABELS = {CASE_SUMMARY: N_("Case summary"), CHILDS_VIEW: N_("Child's View")}
FAMILY_ROLES = (PartyRole.parent, PartyRole.young_person)
CHILDS_VIEW_QUESTIONS = (
    ("going_well", N_("What is going well?")),
    ("hard", N_("What is hard?")),
    ("would_help", N_("What would help?")),
    ("important_people", N_("Who is important to you?")),
)
# Accepted file types: the extensions each may carry, by the type its bytes show.
FILE_TYPES = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
}


class UploadRefused(ValidationFailed):
    """The file is not one we accept (type, name or size)."""


class UploadTooLarge(UploadRefused):
    """The file is larger than MAX_UPLOAD_BYTES."""


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are (of those we accept), or None."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def check_upload(filename: str, data: bytes) -> str:
    """The file's content type if we accept it; UploadRefused (or UploadTooLarge) if not."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge("the file is larger than 10 MB")
    if not data:
        raise UploadRefused("the file is empty")
    content_type = sniff(data)
    if content_type is None:
        raise UploadRefused("the file must be a PDF, a Word document (.docx), or a PNG or JPEG")
    suffix = PurePath(unquote(filename)).suffix.lower()
    if suffix not in FILE_TYPES[content_type]:
        raise UploadRefused("the file's name does not match what is inside it")
    return content_type


def safe_label(filename: str) -> str:
    """The uploaded name, reduced to a harmless label (no path, no control characters)."""
    name = PurePath(unquote(filename).replace("\\", "/")).name
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"\r\n')
    return cleaned[-120:] or "document"


def uploads_dir(settings: Settings) -> Path:
    return settings.data_dir / "uploads"


def childs_view_text(answers: dict[str, str]) -> str:
    """The four answers as one plain text, question by question."""
    parts = []
    for key, question in CHILDS_VIEW_QUESTIONS:
        answer = answers.get(key, "").strip()
        if answer:
            parts.append(f"{question}\n{answer}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------- writing


def _check_kind(party: Party, kind: str) -> None:
    """Refuse a kind of paper we do not know, and a Child's View from outside the family."""
    if kind not in KINDS:
        raise ValidationFailed("unknown kind of paper")
    if kind == CHILDS_VIEW and party.role not in FAMILY_ROLES:
        raise ValidationFailed("only the family writes the Child's View")


async def _record_paper(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    done: Literal["written", "uploaded"],
    now: datetime,
) -> None:
    """Save the party's paper and put it on the case's timeline."""
    await session.flush()
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        kind=f"document.{done}",
        summary=f"{KIND_LABELS[kind]} {done} by {timeline.a_party(party.role, first=False)}",
        at=now,
        actor=f"party:{party.id}",
    )


async def save_text(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    text: str,
    now: datetime,
) -> Document:
    """Save (or replace) the party's written paper of this kind."""
    _check_kind(party, kind)
    text = text.strip()
    if not text:
        raise ValidationFailed(N_("write something first"))
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationFailed(N_("please keep it under 20,000 characters"))
    document = await session.scalar(
        select(Document).where(
            col(Document.party_id) == party.id,
            col(Document.kind) == kind,
            col(Document.storage_path).is_(None),
        )
    )
    if document is None:
        document = Document(case_id=party.case_id, party_id=party.id, kind=kind, created_at=now)
        session.add(document)
    document.text = text
    document.created_at = now
    await _record_paper(session, party=party, kind=kind, done="written", now=now)
    return document


async def save_upload(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    filename: str,
    data: bytes,
    settings: Settings,
    now: datetime,
) -> Document:
    """Check the file, store it under a random name, and record it for the party."""
    _check_kind(party, kind)
    content_type = check_upload(filename, data)
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = secrets.token_hex(16)
    (folder / stored).write_bytes(data)
    (folder / stored).chmod(0o600)
    document = Document(
        case_id=party.case_id,
        party_id=party.id,
        kind=kind,
        filename=safe_label(filename),
        content_type=content_type,
        size_bytes=len(data),
        storage_path=stored,
        created_at=now,
    )
    session.add(document)
    await _record_paper(session, party=party, kind=kind, done="uploaded", now=now)
    return document


async def set_sharing(
    session: AsyncSession,
    *,
    document: Document,
    party_ids: list[uuid.UUID],
    now: datetime,
    actor: str | None,
) -> Document:
    """Choose which other parties of the case may see this paper."""
    parties = {p.id: p for p in await roster.list_parties(session, case_id=document.case_id)}
    chosen = [pid for pid in party_ids if pid in parties and pid != document.party_id]
    document.shared_with = sorted({str(pid) for pid in chosen})
    session.add(document)
    names = ", ".join(sorted(parties[pid].name for pid in set(chosen))) or "nobody"
    add_timeline(
        session,
        case_id=document.case_id,
        party_id=document.party_id,
        kind="document.shared",
        summary=f"{KIND_LABELS.get(document.kind, 'Paper')} shared with {names}",
        at=now,
        actor=actor,
    )
    await session.flush()
    return document


# ---------------------------------------------------------------------------- reading


async def case_documents(session: AsyncSession, *, case_id: uuid.UUID) -> list[Document]:
    found = await session.scalars(
        select(Document)
        .where(col(Document.case_id) == case_id)
        .order_by(col(Document.created_at), col(Document.id))
    )
    return list(found.all())


@dataclass(frozen=True)
class PartyPapers:
    own: list[Document]
    shared: list[Document]


async def papers_for_party(session: AsyncSession, *, party: Party) -> PartyPapers:
    """The party's own papers, and the others' papers shared with them."""
    own: list[Document] = []
    shared: list[Document] = []
    for document in await case_documents(session, case_id=party.case_id):
        if document.party_id == party.id:
            own.append(document)
        elif str(party.id) in (document.shared_with or []):
            shared.append(document)
    return PartyPapers(own=own, shared=shared)


async def document_for_party(
    session: AsyncSession, *, party: Party, document_id: uuid.UUID
) -> Document:
    """A paper the party wrote or that is shared with them; NotFound for anything else."""
    document = await session.get(Document, document_id)
    if (
        document is None
        or document.case_id != party.case_id
        or (document.party_id != party.id and str(party.id) not in (document.shared_with or []))
    ):
        raise NotFound("document", document_id)
    return document


async def document_of_case(
    session: AsyncSession, *, case_id: uuid.UUID, document_id: uuid.UUID
) -> Document:
    document = await session.get(Document, document_id)
    if document is None or document.case_id != case_id:
        raise NotFound("document", document_id)
    return document


def file_bytes(document: Document, settings: Settings) -> bytes:
    """The stored file of an uploaded paper."""
    if not document.storage_path:
        raise NotFound("document", document.id)
    path = uploads_dir(settings) / PurePath(document.storage_path).name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound("document", document.id) from None


# ---------------------------------------------------------------------------- the link


async def send_prepare_link(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    settings: Settings,
    now: datetime,
    actor: str | None,
) -> str:
    """Issue a fresh prepare link (older ones stop working) and email it; return its URL."""
    if party.case_id != case.id or party.removed_at is not None:
        raise NotFound("party", party.id)
    if not party.email:
        raise ValidationFailed("this person has no email address; add one first")
    await links.revoke_for(session, now=now, party_id=party.id, scope=LinkScope.prepare)
    link: Link = await links.issue(
        session, case_id=case.id, scope=LinkScope.prepare, party_id=party.id, now=now
    )
    secret = settings.secret_key.get_secret_value()
    url = links.url_for(link, base_url=settings.base_url, secret=secret)
    text, html = _invitation(party, url=url, settings=settings)
    key = f"prepare:{link.id}"
    message = build_plain_message(
        subject="Preparing for your mediation meeting",
        from_name=settings.mail_from_name or settings.service_name,
        from_addr=settings.mail_from,
        to_name=party.name,
        to_addr=party.email,
        text_body=text,
        html_body=html,
        message_id_key=key,
        domain=parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost",
        date=now,
    )
    await outbox.enqueue(
        session,
        kind=OutboxKind.email,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[party.email]),
        now=now,
        topic="prepare",
        case_id=case.id,
    )
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="prepare.link_sent",
        summary=f"Preparation link sent to {timeline.a_party(party.role, first=False)}",
        at=now,
        actor=actor,
    )
    return url


def _invitation(party: Party, *, url: str, settings: Settings) -> tuple[str, str]:
    """The email's words, as plain text and as HTML: what to prepare, and the link."""
    service, help_line = settings.service_name, settings.help_line
    family = party.role in FAMILY_ROLES
    extra = " and the Child's View" if family else ""
    text = (
        f"Dear {party.name},\n\n"
        f"Before your mediation meeting, please tell us about the case in your own words"
        f"{extra}. You can write it on the page or upload a document:\n\n"
        f"{url}\n\n"
        "The mediator reads it first and decides, with you, what is shared.\n"
        "This link is only for you: please do not forward it.\n\n"
        + (f"If you need help, call us on {help_line}.\n\n" if help_line else "")
        + f"{service}\n"
    )
    html = (
        f"<p>Dear {escape(party.name)},</p>"
        "<p>Before your mediation meeting, please tell us about the case in your own words"
        f"{escape(extra)}. You can write it on the page or upload a document.</p>"
        f'<p><a href="{escape(url)}">Prepare for your meeting</a></p>'
        "<p>The mediator reads it first and decides, with you, what is shared. "
        "This link is only for you: please do not forward it.</p>"
        + (f"<p>If you need help, call us on {escape(help_line)}.</p>" if help_line else "")
        + f"<p>{escape(service)}</p>"
    )
    return text, html
