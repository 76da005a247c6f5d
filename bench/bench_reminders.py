"""Reminders at scale: 30,000 pending, two replicas, one killed and restarted mid-run.

Measures, against baselines taken in the same run:
- time from process start to ready (app started, scheduler planned), with 30,000 pending;
- resident memory with 30,000 pending ÷ the same process with none (target <= 2);
- lateness of firing (sent_at - due_at, p50/p99) for the reminders that fall due during
  the run, while two app processes share the database and one is SIGKILLed and replaced;
- duplicates (more than one mail for a reminder) and losses (due but never sent): target 0;
- the burst: ``--burst`` reminders all due at once, claimed, re-checked against their
  meeting and party and queued in the outbox by ``reminder_sending.send_due`` in this
  process (no delivery): reminders a second (target >= 2,000), 0 lost, 0 doubled. Its
  baseline is the same database inserting as many outbox rows in bulk, for the ratio.

    .venv/bin/python bench/bench_reminders.py [--pending 30000] [--firing 600] [--seconds 20]
        [--burst 30000] [--only-burst]

SQLite by default; set ORCH_BENCH_DATABASE_URL=postgresql+asyncpg://... to use PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------- child process


async def child(db_url: str, data_dir: str, seconds: float, settle: float) -> None:
    from aiohttp import web

    from orchestrator.core.settings import Settings
    from orchestrator.web.app import create_app
    from orchestrator.web.keys import REMINDER_SCHEDULER

    began = time.perf_counter()  # imported: from here on it is the app's own start-up

    settings = Settings(
        env="dev",
        data_dir=Path(data_dir),
        database_url=db_url,
        run_background_jobs=True,
        reminder_sweep_seconds=5,
    )
    app = create_app(settings, migrate_on_start=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await app[REMINDER_SCHEDULER].plan()
    print(f"ready {time.perf_counter() - began:.3f}", flush=True)
    await asyncio.sleep(settle)
    print(f"rss {rss_kb()}", flush=True)
    await asyncio.sleep(max(seconds - settle, 0))
    await runner.cleanup()
    print("done", flush=True)


# ---------------------------------------------------------------------------- data


async def seed(
    db_url: str, *, pending: int, firing: int, first_due: datetime, spread: float
) -> None:
    """``pending`` reminders: ``firing`` fall due over ``spread`` seconds, the rest in weeks."""
    from sqlalchemy import insert

    from calendars.invite_spec import uid_for_meeting
    from orchestrator.core.db import connect
    from orchestrator.core.models import (
        Case,
        CaseKind,
        Invitation,
        Meeting,
        MeetingMode,
        Party,
        PartyRole,
        Reminder,
    )

    now = datetime.now(UTC)
    db = connect(db_url)
    case_id = uuid.uuid4()
    parties_per_meeting, kinds = 10, 30
    slow = pending - firing
    slow_meetings = -(-slow // (parties_per_meeting * kinds))
    meetings: list[dict[str, Any]] = []
    parties: list[dict[str, Any]] = []
    invitations: list[dict[str, Any]] = []
    reminders: list[dict[str, Any]] = []

    def meeting(start: datetime) -> uuid.UUID:
        mid = uuid.uuid4()
        meetings.append(
            {
                "id": mid,
                "case_id": case_id,
                "start_at": start,
                "end_at": start + timedelta(hours=2),
                "mode": MeetingMode.video,
                "ical_uid": uid_for_meeting(str(mid), "bench.example"),
                "room_key": uuid.uuid4().hex,
                "created_at": now,
                "updated_at": now,
            }
        )
        return mid

    def party(n: int) -> uuid.UUID:
        pid = uuid.uuid4()
        parties.append(
            {
                "id": pid,
                "case_id": case_id,
                "role": PartyRole.parent,
                "name": f"Person {n}",
                "email": f"p{n}@bench.example",
                "participant_ref": uuid.uuid4().hex,
                "created_at": now,
            }
        )
        return pid

    made = 0
    for m in range(slow_meetings):
        mid = meeting(now + timedelta(days=40 + m))
        for p in range(parties_per_meeting):
            pid = party(m * parties_per_meeting + p)
            invitations.append({"id": uuid.uuid4(), "meeting_id": mid, "party_id": pid})
            for k in range(1, kinds + 1):
                if made >= slow:
                    break
                start = meetings[-1]["start_at"]
                reminders.append(
                    {
                        "id": uuid.uuid4(),
                        "meeting_id": mid,
                        "party_id": pid,
                        "kind": f"before:{k}",
                        "due_at": start - timedelta(minutes=k),
                    }
                )
                made += 1
    for f in range(firing):
        due = first_due + timedelta(seconds=spread * f / max(firing - 1, 1))
        mid = meeting(due + timedelta(minutes=120))
        pid = party(10_000_000 + f)
        invitations.append({"id": uuid.uuid4(), "meeting_id": mid, "party_id": pid})
        reminders.append(
            {
                "id": uuid.uuid4(),
                "meeting_id": mid,
                "party_id": pid,
                "kind": "before:120",
                "due_at": due,
            }
        )
    async with db.write() as session:
        session.add(
            Case(
                id=case_id,
                reference=f"BENCH-{case_id.hex[:6]}",
                kind=CaseKind.mediation,
                local_authority="Bench",
                referral_date=now.date(),
            )
        )
        await session.flush()
        for table, rows in ((Meeting, meetings), (Party, parties), (Invitation, invitations)):
            for i in range(0, len(rows), 2000):
                await session.execute(insert(table), rows[i : i + 2000])
        for i in range(0, len(reminders), 2000):
            await session.execute(insert(Reminder), reminders[i : i + 2000])
    await db.dispose()


async def results(db_url: str, until: datetime) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import col, select

    from orchestrator.core.db import connect
    from orchestrator.core.models import OutboxMessage, Reminder

    db = connect(db_url)
    async with db.read() as session:
        due = (await session.scalars(select(Reminder).where(col(Reminder.due_at) <= until))).all()
        keys = (
            (
                await session.execute(
                    select(OutboxMessage.idempotency_key).where(
                        col(OutboxMessage.idempotency_key).startswith("reminder:")
                    )
                )
            )
            .scalars()
            .all()
        )
        pending = await session.scalar(
            select(func.count()).select_from(Reminder).where(col(Reminder.sent_at).is_(None))
        )
    await db.dispose()
    per_reminder: dict[str, int] = {}
    for key in keys:
        rid = key.split(":")[1]
        per_reminder[rid] = per_reminder.get(rid, 0) + 1
    late = [(r.sent_at - r.due_at).total_seconds() for r in due if r.sent_at is not None]
    return {
        "due": len(due),
        "sent": len(late),
        "lost": sum(1 for r in due if r.sent_at is None or str(r.id) not in per_reminder),
        "duplicates": sum(n - 1 for n in per_reminder.values() if n > 1),
        "late": late,
        "still_pending": pending,
    }


# ---------------------------------------------------------------------------- the burst


BURST_TARGET = 2000.0  # reminders claimed, re-checked and queued a second


async def time_burst(db_url: str, data_dir: Path, count: int) -> dict[str, Any]:
    """``count`` reminders all due now: time ``send_due`` claiming, re-checking and queueing
    every one (one replica, no delivery); then check each queued exactly once."""
    from orchestrator.core.db import connect
    from orchestrator.core.settings import Settings
    from orchestrator.messaging import reminder_sending

    now = datetime.now(UTC)
    await seed(
        db_url, pending=count, firing=count, first_due=now - timedelta(seconds=30), spread=20
    )
    settings = Settings(env="dev", data_dir=data_dir, database_url=db_url)
    db = connect(db_url)
    began = time.perf_counter()
    sent = await reminder_sending.send_due(
        db, settings=settings, now=datetime.now(UTC), worker_id="bench-burst"
    )
    elapsed = time.perf_counter() - began
    await db.dispose()
    found = await results(db_url, datetime.now(UTC))
    return {"count": count, "sent": sent, "seconds": elapsed, **found}


def report_burst(burst: dict[str, Any]) -> None:
    rate = burst["sent"] / burst["seconds"]
    verdict = "OK" if rate >= BURST_TARGET else "BELOW"
    print(
        f"burst, all due at once    : {burst['sent']}/{burst['count']} claimed, re-checked and queued in "
        f"{burst['seconds']:.1f} s = {rate:.0f}/s (target >= {BURST_TARGET:.0f}/s) {verdict}; "
        f"duplicates {burst['duplicates']}, losses {burst['lost']} (target 0, 0)"
    )


# ---------------------------------------------------------------------------- the run


def spawn(
    db_url: str, data_dir: Path, seconds: float, settle: float = 3.0
) -> tuple[subprocess.Popen[str], float]:
    launched = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", db_url, str(data_dir), str(seconds), str(settle)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    return process, launched


def read_line(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"child ended before printing {prefix!r}")
        if line.startswith(prefix):
            return line.split(maxsplit=1)[1].strip()


def fresh_database(work: Path, name: str) -> str:
    from orchestrator.core.migrate import upgrade_sync

    base = os.environ.get("ORCH_BENCH_DATABASE_URL")
    if base:
        import asyncpg  # noqa: F401 - fail early if missing
        from sqlalchemy.engine import make_url

        url = make_url(base)
        db_name = f"bench_{name}_{uuid.uuid4().hex[:6]}"
        admin = url.set(drivername="postgresql").render_as_string(hide_password=False)

        async def create() -> None:
            import asyncpg as pg

            conn = await pg.connect(admin)
            try:
                await conn.execute(f'CREATE DATABASE "{db_name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        target = url.set(database=db_name).render_as_string(hide_password=False)
    else:
        target = f"sqlite+aiosqlite:///{work / f'{name}.db'}"
    upgrade_sync(target)
    return target


def startup(db_url: str, data_dir: Path) -> tuple[float, float, int]:
    process, launched = spawn(db_url, data_dir, seconds=4, settle=3)
    inner = float(read_line(process, "ready"))
    outer = time.perf_counter() - launched
    rss = int(read_line(process, "rss"))
    process.wait(timeout=60)
    return outer, inner, rss


def main(pending: int, firing: int, seconds: float, burst_count: int, only_burst: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as tmp:
        work = Path(tmp)
        burst = asyncio.run(
            time_burst(fresh_database(work, "burst"), work / "data-burst", burst_count)
        )
        if only_burst:
            report_burst(burst)
            return
        empty_url = fresh_database(work, "empty")
        empty_outer, empty_inner, empty_rss = startup(empty_url, work / "data-empty")

        full_url = fresh_database(work, "full")
        t0 = time.perf_counter()
        far = datetime.now(UTC) + timedelta(days=1)
        asyncio.run(seed(full_url, pending=pending, firing=0, first_due=far, spread=1))
        seeded = time.perf_counter() - t0
        full_outer, full_inner, full_rss = startup(full_url, work / "data-startup")

        # The run: the same 30,000 pending, ``firing`` of them falling due while it lasts.
        url = fresh_database(work, "run")
        lead = 10.0  # seeding and the children's start-up fit well inside this
        spread = max(seconds - 6, 1)
        first_due = datetime.now(UTC) + timedelta(seconds=lead)
        asyncio.run(seed(url, pending=pending, firing=firing, first_due=first_due, spread=spread))
        lead = (first_due - datetime.now(UTC)).total_seconds()
        # Two replicas; one is killed part-way and replaced by a fresh process.
        run_for = lead + spread + 6
        a, _ = spawn(url, work / "data-a", run_for)
        b, _ = spawn(url, work / "data-b", run_for)
        read_line(a, "ready")
        read_line(b, "ready")
        time.sleep(max((first_due - datetime.now(UTC)).total_seconds(), 0) + spread / 3)
        b.send_signal(signal.SIGKILL)
        b.wait()
        c, _ = spawn(url, work / "data-c", run_for - lead - spread / 3)
        read_line(c, "ready")
        a.wait(timeout=run_for + 60)
        c.wait(timeout=run_for + 60)
        found = asyncio.run(results(url, first_due + timedelta(seconds=spread)))

    late = sorted(found["late"])
    cuts = quantiles(late, n=100) if len(late) >= 2 else [late[0]] * 99 if late else [0.0] * 99
    print(
        f"pending reminders        : {pending} ({firing} fall due during the run; seeded in {seeded:.1f} s)"
    )
    print(
        f"start to ready (process) : {full_outer:.2f} s with {pending} pending, {empty_outer:.2f} s with none (imports included)"
    )
    print(
        f"start to ready (app)     : {full_inner:.2f} s with {pending} pending, {empty_inner:.2f} s with none (target <= 2 s)"
    )
    print(
        f"resident memory          : {full_rss / 1024:.0f} MiB vs {empty_rss / 1024:.0f} MiB, ratio {full_rss / empty_rss:.2f} (target <= 2.00)"
    )
    print(
        f"lateness of firing       : p50 {cuts[49]:.3f} s, p99 {cuts[98]:.3f} s, max {late[-1] if late else 0:.3f} s (target p99 <= 1 s)"
    )
    print(
        f"two replicas, one killed : {found['sent']}/{found['due']} sent, duplicates {found['duplicates']}, losses {found['lost']} (target 0, 0)"
    )
    report_burst(burst)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=30_000)
    parser.add_argument("--firing", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=30_000, help="reminders all due at once")
    parser.add_argument("--only-burst", action="store_true", help="time the burst alone")
    args = parser.parse_args()
    main(args.pending, args.firing, args.seconds, args.burst, args.only_burst)
