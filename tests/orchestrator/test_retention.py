"""Retention: a closed case past the period keeps its figures and loses every personal string."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from orchestrator.__main__ import main
from orchestrator.cases import retention
from orchestrator.core.models import Case, CaseStatus
from orchestrator.web.keys import DB, DISPATCHER, SETTINGS
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

AGREEMENT = "Quillborough Academy will provide a Zephyrine reading scheme"
NOTES = "Mother mentioned Grandpa Hethersett attends hospital on Tuesdays"
SECRETS = [
    PARENT["name"],
    PARENT["email"],
    PARENT["phone"],
    PARENT["needs"],
    "Wimbleworth",  # the street of the parent's postal address
    PARENT["postcode"],
    LA_OFFICER["name"],
    LA_OFFICER["email"],
    LA_OFFICER["organisation"],
    SCHOOL["name"],
    SCHOOL["organisation"],
    "Quigglesworth",
    "Zephyrine",
    "Hethersett",
    "Speech hours for Ottoline",
]


async def closed_case_with_everything(staff: Staff, clock: MutableClock) -> dict[str, Any]:
    mediator_id = await mediator_for(staff)
    case, party = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 20, 10), attended={party["parent"]: (0, 90)}
    )
    clock.set(utc(2026, 3, 20, 15))
    await record(
        staff,
        meeting_id,
        result="partial_agreement",
        issues=[
            {"summary": "Speech hours for Ottoline", "agreed": True},
            {"summary": "Transport", "agreed": False},
        ],
        agreement_text=AGREEMENT,
        next_steps=[{"action": "Write to Quigglesworth family", "who": "LA", "due": "2026-04-03"}],
        notes=NOTES,
    )
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    await staff.client.app[DISPATCHER].run_once()  # the certificate emails go out
    await staff.call("PATCH", f"/api/v1/cases/{case['id']}", json={"status": "closed"}, expect=200)
    return case


async def figures(staff: Staff) -> dict[str, Any]:
    report: dict[str, Any] = await staff.call(
        "GET", "/api/v1/reports/summary?group_by=local_authority", expect=200
    )
    return report


async def personal_data_left(staff: Staff) -> list[str]:
    """Every secret still found anywhere in the database or its files."""
    db = staff.client.app[DB]
    found: list[str] = []
    if db.is_sqlite:
        path = Path(str(make_url(db.url).database))
        raw = b"".join(
            p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file()
        ).lower()
        found += [s for s in SECRETS if s.lower().encode() in raw]
    else:
        async with db.read() as session:
            columns = (
                await session.execute(
                    text(
                        "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND data_type IN "
                        "('text', 'character varying', 'json', 'jsonb')"
                    )
                )
            ).all()
            for table, column in columns:
                for secret in SECRETS:
                    hits = await session.scalar(
                        text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE :s'),
                        {"s": f"%{secret}%"},
                    )
                    if hits:
                        found.append(f"{secret} in {table}.{column}")
    data_dir = staff.client.app[SETTINGS].data_dir
    for file in data_dir.rglob("*"):
        if file.is_file() and not file.name.startswith("orchestrator.db"):
            content = file.read_bytes().lower()
            found += [f"{s} in {file.name}" for s in SECRETS if s.lower().encode() in content]
    return found


async def test_anonymising_removes_every_personal_string_and_keeps_the_figures(
    staff: Staff, clock: MutableClock, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    case = await closed_case_with_everything(staff, clock)
    assert await personal_data_left(staff)  # the check can see them before
    before = await figures(staff)
    certificate = (await staff.call("GET", f"/api/v1/cases/{case['id']}/certificates", expect=200))[
        "certificates"
    ][0]

    # The case closed long ago (the command runs on the real clock).
    async with staff.client.app[DB].write() as session:
        await session.execute(
            update(Case)
            .where(col(Case.id) == uuid.UUID(case["id"]))
            .values(closed_at=utc(2020, 1, 1), updated_at=utc(2020, 1, 1))
        )
    settings = staff.client.app[SETTINGS]
    monkeypatch.setenv("ORCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ORCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ORCH_RETENTION_DAYS", "730")

    await asyncio.to_thread(main, ["retention", "run", "--dry-run"])
    assert "Would anonymise 1 closed case(s)" in capsys.readouterr().out
    assert await personal_data_left(staff)  # a dry run changes nothing

    await asyncio.to_thread(main, ["retention", "run"])
    said = capsys.readouterr().out
    assert "Anonymised 1 closed case(s)" in said and "KIDS-2026-0100" in said
    assert "3 parties made anonymous" in said
    for secret in SECRETS:
        assert secret not in said

    assert await personal_data_left(staff) == []
    assert await figures(staff) == before
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert (shown["reference"], shown["status"]) == ("KIDS-2026-0100", "closed")
    parties = await staff.call("GET", f"/api/v1/cases/{case['id']}/parties", expect=200)
    assert sorted(p["name"] for p in parties["parties"]) == [
        "Local authority 2",
        "Parent or carer 1",
        "School 3",
    ]
    await staff.call("GET", certificate["pdf_url"], expect=404)

    await asyncio.to_thread(main, ["retention", "run"])  # nothing left to do
    assert "No closed cases to anonymise" in capsys.readouterr().out


async def test_open_and_recently_closed_cases_are_left_alone(
    staff: Staff, clock: MutableClock
) -> None:
    await closed_case_with_everything(staff, clock)
    other, _ = await open_case(staff, clock, reference="KIDS-2026-0200", parties=(SCHOOL,))
    settings = staff.client.app[SETTINGS]
    db = staff.client.app[DB]
    # 729 days after closing: not yet.
    report = await retention.run(db, settings=settings, now=clock() + timedelta(days=729))
    assert report.references == []
    report = await retention.run(db, settings=settings, now=clock() + timedelta(days=731))
    assert report.references == ["KIDS-2026-0100"]
    async with db.read() as session:
        statuses = {
            c.reference: (c.status, c.anonymised_at is not None)
            for c in (await session.scalars(select(Case))).all()
        }
    assert statuses == {
        "KIDS-2026-0100": (CaseStatus.closed, True),
        "KIDS-2026-0200": (CaseStatus.referred, False),
    }
    parties = await staff.call("GET", f"/api/v1/cases/{other['id']}/parties", expect=200)
    assert parties["parties"][0]["name"] == SCHOOL["name"]
