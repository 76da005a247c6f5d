"""Certificates through the real app: numbered PDFs, read back, emailed, clocks and deadlines."""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from email import message_from_bytes, policy
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from orchestrator.closing.certificate_files import certificates_dir
from orchestrator.closing.certificates import CertificateRequest, issue_certificate
from orchestrator.core.models import (
    Case,
    CertificateKind,
    MeetingStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from orchestrator.web.keys import BUS, DB, DISPATCHER, SETTINGS, WORKDAYS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import (
    LA_OFFICER,
    PARENT,
    SCHOOL,
    held_meeting,
    mediator_for,
    open_case,
    record,
    utc,
)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


async def pdf_of(staff: Staff, certificate: dict[str, object]) -> bytes:
    response = await staff.client.get(
        str(certificate["pdf_url"]), headers=staff.headers("scheduler")
    )
    assert response.status == 200
    assert response.content_type == "application/pdf"
    return await response.read()


async def test_mediation_certificate_is_numbered_readable_emailed_and_sets_the_appeal_clock(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, _ = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 4, 2, 9))
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="agreement")
    clock.set(utc(2026, 4, 8, 10))  # Wednesday after Easter: 2nd of the 3 working days

    certificate = await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )

    assert certificate["number"] == "CERT-2026-00001"
    assert certificate["event_date"] == "2026-04-02"
    assert certificate["due_date"] == "2026-04-09"
    assert certificate["on_time"] is True
    # The later of 20 Jan + 2 months and 8 April + 1 month.
    assert certificate["appeal_deadline"] == "2026-05-08"
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["status"] == "certificate_issued"
    assert shown["deadlines"]["appeal"]["date"] == "2026-05-08"
    assert shown["deadlines"]["certificate_due"] is None  # done

    pdf = await pdf_of(staff, certificate)
    assert hashlib.sha256(pdf).hexdigest() == certificate["sha256"]
    text = pdf_text(pdf)
    for expected in (
        "Mediation certificate",
        "CERT-2026-00001",
        "KIDS-2026-0100",
        "Mediation took place on 2 April 2026",
        PARENT["name"],
        LA_OFFICER["name"],
        "Morwenna Ashdown",
        "must be made by 8 May 2026",
    ):
        assert expected in text, expected

    # One email each to the family and the LA (not the school), the PDF attached.
    dispatcher = staff.client.app[DISPATCHER]
    await dispatcher.run_once()
    async with staff.client.app[DB].read() as session:
        keys = (
            await session.scalars(
                select(col(OutboxMessage.status)).where(
                    col(OutboxMessage.kind) == OutboxKind.email,
                    col(OutboxMessage.topic) == "certificate",
                )
            )
        ).all()
    assert keys == [OutboxStatus.sent, OutboxStatus.sent]
    folder = staff.client.app[SETTINGS].mail_dir
    recipients = set()
    for eml in folder.glob("certificate-*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        recipients.add(message["To"].addresses[0].addr_spec)
        assert "CERT-2026-00001" in message["Subject"]
        attachments = list(message.iter_attachments())
        assert [a.get_filename() for a in attachments] == ["CERT-2026-00001.pdf"]
        assert attachments[0].get_content() == pdf
    assert recipients == {PARENT["email"], LA_OFFICER["email"]}

    again = await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=409
    )
    assert again["error"]["details"]["number"] == "CERT-2026-00001"
    listed = await staff.call("GET", f"/api/v1/cases/{case['id']}/certificates", expect=200)
    assert [c["number"] for c in listed["certificates"]] == ["CERT-2026-00001"]


async def test_declined_certificate_moves_an_appeal_deadline_out_of_christmas(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 11, 24, 10))
    case, _ = await open_case(staff, clock, referral_date="2026-11-20", decision_date="2026-10-28")
    clock.set(utc(2026, 11, 27, 16))  # Friday: the third working day after Tuesday
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/certificates",
        json={"kind": "declined", "event_date": "2026-11-24"},
        expect=201,
    )
    assert certificate["due_date"] == "2026-11-27"
    assert certificate["on_time"] is True
    # 28 Oct + 2 months = 28 Dec, inside the Christmas window: the first working day of
    # January after the 1st is Monday 4 January 2027.
    assert certificate["appeal_deadline"] == "2027-01-04"
    text = pdf_text(await pdf_of(staff, certificate))
    assert "decided not to go to mediation" in text
    assert "4 January 2027" in text
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["deadlines"]["appeal"]["date"] == "2027-01-04"


async def test_late_certificate_over_christmas_bank_holidays_is_marked_late(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 23, 10))
    case, _ = await open_case(staff, clock, referral_date="2026-12-01")
    # The LA says on Wednesday 23 Dec it cannot meet the 30 days; Christmas Day and
    # Boxing Day (observed Monday 28th) do not count: due Wednesday 30 December.
    clock.set(utc(2026, 12, 31, 10))
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/certificates",
        json={"kind": "missed_30_days", "event_date": "2026-12-23"},
        expect=201,
    )
    assert certificate["due_date"] == "2026-12-30"
    assert certificate["on_time"] is False
    timeline = await staff.call("GET", f"/api/v1/cases/{case['id']}/timeline", expect=200)
    assert any("late (due Wednesday 30 December 2026)" in e["summary"] for e in timeline["entries"])


async def test_mias_certificates_number_in_sequence_and_bad_requests_are_refused(
    staff: Staff, clock: MutableClock
) -> None:
    case, _ = await open_case(staff, clock, kind="mias", reference="KIDS-MIAS-1")
    path = f"/api/v1/cases/{case['id']}/certificates"
    await staff.call("POST", path, json={"kind": "mias"}, expect=422)  # which session?
    await staff.call("POST", path, json={"kind": "mediation"}, expect=422)
    await staff.call("POST", path, json={"kind": "missed_30_days"}, expect=422)
    await staff.call(
        "POST", path, json={"kind": "mias", "event_date": "2026-03-05"}, expect=422
    )  # in the future
    first = await staff.call(
        "POST", path, json={"kind": "mias", "event_date": "2026-02-26"}, expect=201
    )
    other, _ = await open_case(staff, clock, kind="mias", reference="KIDS-MIAS-2", parties=())
    second = await staff.call(
        "POST",
        f"/api/v1/cases/{other['id']}/certificates",
        json={"kind": "mias", "event_date": "2026-02-27"},
        expect=201,
    )
    assert (first["number"], second["number"]) == ("CERT-2026-00001", "CERT-2026-00002")
    assert "information and advice about mediation on 26 February 2026" in pdf_text(
        await pdf_of(staff, first)
    )
    # Nobody to email on the second case: the timeline says to post it.
    timeline = await staff.call("GET", f"/api/v1/cases/{other['id']}/timeline", expect=200)
    assert any(e["kind"] == "certificate.not_emailed" for e in timeline["entries"])
    await staff.call("GET", "/api/v1/certificates/not-a-uuid.pdf", expect=404)


async def test_names_in_any_european_script_print_as_written(
    staff: Staff, clock: MutableClock
) -> None:
    """A certificate goes to the Tribunal: a name that lost its letters is a wrong name."""
    names = {
        "parent": "Łucja Wiśniewska",
        "young_person": "Nguyễn Thị Hương",
        "la_officer": "Ахмед Іваненко",
        "school": "Ιωάννης Παπαδόπουλος",
    }
    mediator_id = await mediator_for(staff, name="Dr Şebnem Yılmaz")
    people: tuple[dict[str, Any], ...] = (
        PARENT,
        {**PARENT, "role": "young_person", "email": None},
        LA_OFFICER,
        SCHOOL,
    )
    parties = tuple({**party, "name": names[party["role"]]} for party in people)
    case, _ = await open_case(staff, clock, mediator_id=mediator_id, parties=parties)
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 4, 2, 9))
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="agreement")
    certificate = await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    text = pdf_text(await pdf_of(staff, certificate))
    for written in [*names.values(), "Dr Şebnem Yılmaz"]:
        assert written in text, written


async def test_a_certificate_whose_transaction_rolls_back_leaves_no_pdf_behind(
    staff: Staff, clock: MutableClock
) -> None:
    """A PDF nothing refers to would keep the family's names out of reach of retention."""
    app = staff.client.app
    mediator_id = await mediator_for(staff)
    case, _ = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 4, 2, 9))
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="agreement")
    folder = certificates_dir(app[SETTINGS])

    async def issue(then_fail: bool) -> None:
        async with app[DB].write() as session:
            row = await session.get(Case, uuid.UUID(case["id"]))
            assert row is not None
            await issue_certificate(
                session,
                case=row,
                request=CertificateRequest(kind=CertificateKind.mediation),
                now=clock(),
                bus=app[BUS],
                settings=app[SETTINGS],
                calendar=app[WORKDAYS],
            )
            assert [p.name[:16] for p in folder.glob("*.pdf")] == ["CERT-2026-00001-"]
            with contextlib.suppress(IntegrityError):  # a savepoint failing inside: kept
                async with session.begin_nested():
                    await session.execute(text("INSERT INTO service (id) VALUES (NULL)"))
            if then_fail:
                raise RuntimeError("the transaction fails after the PDF was written")

    with pytest.raises(RuntimeError):
        await issue(then_fail=True)
    assert list(folder.glob("*.pdf")) == []
    await issue(then_fail=False)
    listed = await staff.call("GET", f"/api/v1/cases/{case['id']}/certificates", expect=200)
    assert [c["number"] for c in listed["certificates"]] == ["CERT-2026-00001"]
    assert (
        hashlib.sha256(await pdf_of(staff, listed["certificates"][0])).hexdigest()
        == (listed["certificates"][0]["sha256"])
    )


async def test_a_declined_certificate_is_refused_while_a_meeting_is_booked(
    staff: Staff, clock: MutableClock
) -> None:
    case, _ = await open_case(staff, clock)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 12, 10), status=MeetingStatus.scheduled
    )
    path = f"/api/v1/cases/{case['id']}/certificates"
    refused = await staff.call(
        "POST", path, json={"kind": "declined", "event_date": "2026-03-02"}, expect=409
    )
    assert refused["error"]["message"] == (
        "a meeting is still booked for 12 March 2026: cancel it (everyone is told) before "
        "issuing the certificate that says the family declined mediation"
    )
    assert refused["error"]["details"] == {"meeting_id": str(meeting_id)}
    listed = await staff.call("GET", path, expect=200)
    assert listed["certificates"] == []
    async with staff.client.app[DB].read() as session:
        queued = (
            await session.scalars(
                select(OutboxMessage).where(col(OutboxMessage.topic) == "certificate")
            )
        ).all()
    assert queued == []  # nothing emailed

    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting_id}/cancel",
        json={"reason": "The family decided not to go to mediation"},
        expect=200,
    )
    issued = await staff.call(
        "POST", path, json={"kind": "declined", "event_date": "2026-03-02"}, expect=201
    )
    assert issued["event_date"] == "2026-03-02"


async def test_a_declined_disagreement_resolution_certificate_speaks_of_the_other_party(
    staff: Staff, clock: MutableClock
) -> None:
    case, _ = await open_case(staff, clock, kind="disagreement_resolution")
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 12, 10), status=MeetingStatus.scheduled
    )
    path = f"/api/v1/cases/{case['id']}/certificates"
    missing = await staff.call("POST", path, json={"kind": "declined"}, expect=422)
    assert missing["error"]["message"] == (
        "give the event_date on which the other party said it would not take part"
    )
    refused = await staff.call(
        "POST", path, json={"kind": "declined", "event_date": "2026-03-02"}, expect=409
    )
    assert refused["error"]["message"] == (
        "a meeting is still booked for 12 March 2026: cancel it (everyone is told) before "
        "issuing the certificate that says the other party said it would not take part"
    )
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting_id}/cancel",
        json={"reason": "The school will not take part"},
        expect=200,
    )
    issued = await staff.call(
        "POST", path, json={"kind": "declined", "event_date": "2026-03-02"}, expect=201
    )
    text = pdf_text(await pdf_of(staff, issued))
    assert "on 2 March 2026 the other party said it would not take part" in text
    assert "decided not to go to mediation" not in text


async def test_a_certificate_never_brings_the_appeal_deadline_forward(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 1, 10))
    # 27 Oct + 2 months = Sun 27 Dec, in the Christmas window: Monday 4 January 2027.
    case, _ = await open_case(staff, clock, referral_date="2026-11-20", decision_date="2026-10-27")
    assert case["deadlines"]["appeal"]["date"] == "2027-01-04"
    clock.set(utc(2026, 12, 3, 10))
    # 3 Dec + 1 month = Sunday 3 January, later than 27 Dec but not than the 4th.
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/certificates",
        json={"kind": "declined", "event_date": "2026-12-01"},
        expect=201,
    )
    assert certificate["appeal_deadline"] == "2027-01-04"
    assert "4 January 2027" in pdf_text(await pdf_of(staff, certificate))
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["deadlines"]["appeal"]["date"] == "2027-01-04"


async def test_certificate_emails_carry_a_date_and_a_subject_without_a_leading_space(
    staff: Staff, clock: MutableClock
) -> None:
    # "Mediation information certificate CERT-2026-00001 (case KIDS-2026-0100)" just
    # misses the first line of the header: the subject that came out as " Mediation...".
    case, _ = await open_case(staff, clock, kind="mias")
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/certificates",
        json={"kind": "mias", "event_date": "2026-02-26"},
        expect=201,
    )
    await staff.client.app[DISPATCHER].run_once()
    messages = [
        message_from_bytes(eml.read_bytes(), policy=policy.default)
        for eml in staff.client.app[SETTINGS].mail_dir.glob("certificate-*.eml")
    ]
    assert len(messages) == 2
    for message in messages:
        assert message["Subject"] == (
            "Mediation information certificate CERT-2026-00001 (case KIDS-2026-0100)"
        )
        assert message["Date"].datetime == clock()
        attachments = list(message.iter_attachments())
        assert [a.get_filename() for a in attachments] == ["CERT-2026-00001.pdf"]
        assert attachments[0].get_content().startswith(b"%PDF")


async def test_ending_a_mias_call_starts_its_certificate_clock(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, _ = await open_case(staff, clock, kind="mias", mediator_id=mediator_id)
    assert case["deadlines"]["certificate_due"] is None
    # A 20-minute call on Thursday 2 April 2026, the day before Good Friday.
    meeting_id = await held_meeting(
        staff,
        case["id"],
        start=utc(2026, 4, 2, 9),
        hours=0.5,
        mediator_id=mediator_id,
        status=MeetingStatus.scheduled,
    )
    clock.set(utc(2026, 4, 2, 9))
    await staff.call("POST", f"/api/v1/meetings/{meeting_id}/start", role="mediator", expect=200)
    clock.set(utc(2026, 4, 2, 9, 20))
    await staff.call("POST", f"/api/v1/meetings/{meeting_id}/end", role="mediator", expect=200)

    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    # Good Friday and Easter Monday do not count: Tue 7, Wed 8, Thu 9 April.
    assert shown["deadlines"]["certificate_due"]["date"] == "2026-04-09"
    clock.set(utc(2026, 4, 7, 10))
    certificate = await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mias"}, expect=201
    )
    assert (certificate["event_date"], certificate["due_date"]) == ("2026-04-02", "2026-04-09")
    assert certificate["on_time"] is True
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["deadlines"]["certificate_due"] is None


async def test_a_name_stored_before_names_were_checked_does_not_block_the_certificate(
    staff: Staff, clock: MutableClock
) -> None:
    from orchestrator.core.models import Party

    mediator_id = await mediator_for(staff)
    case, ids = await open_case(staff, clock, mediator_id=mediator_id)
    async with staff.client.app[DB].write() as session:
        officer = await session.get(Party, uuid.UUID(ids["la_officer"]))
        assert officer is not None
        officer.name = "LA officer =?utf-8?q?=0D=0ABcc:_evil@evil.example?="
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 4, 2, 9))
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="agreement")
    clock.set(utc(2026, 4, 8, 10))
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    await staff.client.app[DISPATCHER].run_once()
    folder = staff.client.app[SETTINGS].mail_dir
    headers = [
        message_from_bytes(eml.read_bytes(), policy=policy.default)
        for eml in folder.glob("certificate-*.eml")
    ]
    to = {m["To"].addresses[0].addr_spec for m in headers}
    assert LA_OFFICER["email"] in to
    assert not any("evil" in str(m.get("Bcc", "")) for m in headers)
