"""The outcome page: the mediator records what came of the session, then issues its certificate.

One page for the whole close of a meeting. Until a certificate stands, the outcome form
(any number of issues and next steps, ``outcome_form``) records or corrects the outcome;
the certificate is then issued from here through the same use-case the API calls, its
PDF can be viewed or downloaded, and the page says whom it was emailed to and when.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestrator.cases import roster
from orchestrator.closing import (
    agreements,
    certificate_files,
    certificate_mail,
    certificates,
    outcomes,
)
from orchestrator.core.errors import DomainError, NotFound
from orchestrator.core.models import OutboxStatus, OutcomeResult
from orchestrator.web import pages
from orchestrator.web.keys import DB, WORKDAYS
from orchestrator.web.staff import agreement_form, outcome_form
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.my_meetings import audit_meeting_write, changing_my_meeting, my_meeting
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


RESULT_WORDS = {
    OutcomeResult.agreement: "Agreement on everything",
    OutcomeResult.partial_agreement: "Agreement on some issues",
    OutcomeResult.no_agreement: "No agreement",
    OutcomeResult.withdrawn: "A party withdrew",
    OutcomeResult.not_attended: "A party did not attend",
}
DELIVERY_WORDS = {
    OutboxStatus.pending: "Waiting to be sent",
    OutboxStatus.sent: "Sent",
    OutboxStatus.failed: "Could not be sent",
    OutboxStatus.dead: "Could not be sent",
    OutboxStatus.cancelled: "Not sent (cancelled)",
}
NOTICES = {
    "saved": "Outcome recorded",
    "issued": "Certificate issued and sent",
    "agreement": "Agreement sent to everyone to confirm",
}


@routes.get("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_page(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    notice = NOTICES.get(request.query.get("done", ""), "")
    if request.query.get("saved") == "1":
        notice = NOTICES["saved"]
    return await _render(request, staff, form=None, notice=notice)


@routes.post("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_submit(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Save the outcome, or (``add``) show the form again with one more blank row."""
    form = outcome_form.posted(staff.form)
    add = str(staff.form.get("add", ""))
    if add in ("issue", "step"):
        return await _render(request, staff, form=form.with_blank_rows(add=add))
    data = outcome_form.to_outcome(form)
    if data is not None:
        try:
            async with changing_my_meeting(request, staff) as (session, meeting, _):
                await outcomes.record_outcome(
                    session,
                    meeting=meeting,
                    data=data,
                    now=staff.now,
                    bus=staff.bus,
                    actor=staff.actor,
                    recorded_by=staff.user.id,
                )
                audit_meeting_write(session, staff, "outcome.record", meeting)
        except NotFound:
            raise
        except DomainError as exc:
            form.errors["result"] = pages.as_sentence(exc.message)
        else:
            raise see_other(f"/staff/meetings/{meeting.id}/outcome?done=saved")
    return await _render(request, staff, form=form.with_blank_rows(), status=422)


@routes.post("/staff/meetings/{meeting_id}/agreement")
@staff_page(roles=ROOM_STAFF)
async def send_agreement(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Send the written agreement (or its revision) to every party to confirm."""
    form, draft = agreement_form.posted(staff.form)
    if draft is not None:
        try:
            async with changing_my_meeting(request, staff) as (session, meeting, case):
                await agreements.send_for_confirmation(
                    session,
                    case=case,
                    meeting=meeting,
                    draft=draft,
                    settings=staff.settings,
                    now=staff.now,
                    actor=staff.actor,
                    drafted_by=staff.user.id,
                )
                audit_meeting_write(session, staff, "agreement.send", meeting)
        except NotFound:
            raise
        except DomainError as exc:
            form.errors["agreed_text"] = pages.as_sentence(exc.message)
            form.with_blank_rows()
        else:
            raise see_other(f"/staff/meetings/{meeting.id}/outcome?done=agreement#agreement")
    return await _render(request, staff, form=None, agreement=form, status=422)


@routes.post("/staff/meetings/{meeting_id}/certificate")
@staff_page(roles=ROOM_STAFF)
async def issue_certificate(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Issue the meeting's certificate (numbered, stored, emailed), as the API does."""
    try:
        async with changing_my_meeting(request, staff) as (session, meeting, case):
            await certificates.issue_certificate(
                session,
                case=case,
                request=certificates.CertificateRequest(
                    kind=outcomes.certificate_kind_for(case), meeting_id=meeting.id
                ),
                now=staff.now,
                bus=staff.bus,
                settings=staff.settings,
                calendar=request.app[WORKDAYS],
                actor=staff.actor,
            )
            audit_meeting_write(session, staff, "certificate.issue", meeting)
    except NotFound:
        raise
    except DomainError as exc:
        return await _render(
            request, staff, form=None, certificate_error=pages.as_sentence(exc.message), status=409
        )
    raise see_other(f"/staff/meetings/{meeting.id}/outcome?done=issued")


@routes.get("/staff/meetings/{meeting_id}/certificate.pdf")
@staff_page(roles=ROOM_STAFF)
async def certificate_pdf(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The certificate's PDF: shown in the browser, or (``?download=1``) saved as a file."""
    async with request.app[DB].read() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        certificate = await certificates.meeting_certificate(session, meeting.id)
    if certificate is None:
        raise NotFound("certificate", meeting.id)
    body = certificate_files.read_pdf(certificate)
    await staff.audit(
        "page.certificate.pdf",
        case_id=case.id,
        target_type="certificate",
        target_id=str(certificate.id),
        details={"certificate": certificate.number},
    )
    how = "attachment" if request.query.get("download") == "1" else "inline"
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'{how}; filename="{certificate.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


async def _render(
    request: web.Request,
    staff: StaffContext,
    *,
    form: outcome_form.OutcomeForm | None,
    notice: str = "",
    certificate_error: str = "",
    agreement: agreement_form.AgreementForm | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """The page for the meeting in the path: the outcome (as typed, or as recorded), and
    its certificate (to issue, or issued with whom it went to)."""
    async with request.app[DB].read() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        parties = await roster.list_parties(session, case_id=case.id)
        outcome = await outcomes.find_outcome(session, meeting_id=meeting.id)
        certificate = await certificates.meeting_certificate(session, meeting.id)
        sent = []
        if certificate is not None:
            sent = await certificate_mail.deliveries(
                session, certificate=certificate, parties=parties
            )
        written = await agreement_form.section(
            session, meeting=meeting, case=case, outcome=outcome, form=agreement
        )
    if form is None:
        form = outcome_form.of_outcome(outcome) if outcome else outcome_form.OutcomeForm()
        form.with_blank_rows()
    due = None
    if outcome is not None:
        public = outcomes.outcome_public(outcome, case=case, calendar=request.app[WORKDAYS])
        due = public.certificate_due
    on_time = certificate is not None and (
        certificates.issued_on(certificate, case) <= certificate.due_date
    )
    context: dict[str, Any] = staff.page(
        meeting=meeting,
        case=case,
        result_words=RESULT_WORDS,
        form=form,
        notice=notice,
        outcome=outcome,
        certificate=certificate,
        certificate_on_time=on_time,
        certificate_error=certificate_error,
        certificate_due=due,
        deliveries=sent,
        delivery_words=DELIVERY_WORDS,
        **written,
    )
    return pages.render("staff/outcome.html", request, context, status=status)
