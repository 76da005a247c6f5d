"""Building cases over HTTP against replicas: the calls a scheduler makes, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.scaleout.conftest import call


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class BookedCase:
    case_id: str
    mediator_id: str
    parties: dict[str, str]
    meeting_id: str | None = None


async def make_case(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    n: int,
    *,
    mediator_id: str | None = None,
    attempts: int = 1,
) -> BookedCase:
    """A case with a mediator (new unless given) and two parties who have email."""
    api = base + "/api/v1"
    _, case = await call(
        http,
        "POST",
        api + "/cases",
        headers=headers,
        json_body={
            "reference": f"KIDS-SCALE-{n:05d}",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-11-20",
        },
        expect=201,
        attempts=attempts,
    )
    if mediator_id is None:
        _, mediator = await call(
            http,
            "POST",
            api + "/mediators",
            headers=headers,
            json_body={
                "name": f"Mediator {n}",
                "email": f"mediator{n}@staff.example",
                "max_sessions_per_day": 6,
                "buffer_minutes": 0,
            },
            expect=201,
            attempts=attempts,
        )
        mediator_id = mediator["id"]
    await call(
        http,
        "POST",
        f"{api}/cases/{case['id']}/mediator",
        headers=headers,
        json_body={"mediator_id": mediator_id},
        expect=200,
        attempts=attempts,
    )
    parties: dict[str, str] = {}
    for role, name in (("parent", "Sam Parent"), ("la_officer", "Lee Officer")):
        _, party = await call(
            http,
            "POST",
            f"{api}/cases/{case['id']}/parties",
            headers=headers,
            json_body={"role": role, "name": name, "email": f"{role}{n}@example.org"},
            expect=201,
            attempts=attempts,
        )
        parties[role] = party["id"]
    return BookedCase(case_id=case["id"], mediator_id=str(mediator_id), parties=parties)


async def book(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    case_id: str,
    start: datetime,
    *,
    duration_minutes: int = 30,
    attempts: int = 1,
    expect: int | tuple[int, ...] | None = 201,
) -> tuple[int, Any]:
    return await call(
        http,
        "POST",
        f"{base}/api/v1/cases/{case_id}/meetings",
        headers=headers,
        json_body={
            "start": iso(start),
            "duration_minutes": duration_minutes,
            "mode": "video",
            # Minutes away on the real clock, whatever the day: inside every notice rule.
            "waive_rules": True,
            "waiver_reason": "A meeting minutes away, for the replica tests",
        },
        expect=expect,
        attempts=attempts,
    )


def soon(seconds: float) -> datetime:
    """Real time from now: these tests run real processes on the real clock."""
    return datetime.now(UTC) + timedelta(seconds=seconds)
