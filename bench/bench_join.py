"""The join click under load: ``GET /j/{token}/video`` against a bare aiohttp 303, same run.

The service runs in its own process (the real ``create_app``, SQLite by default, PostgreSQL
when ``--database-url`` or ``ORCH_BENCH_DATABASE_URL`` names a server); so does the
baseline, an aiohttp handler that only answers 303. One aiohttp client with 64 concurrent
connections on 127.0.0.1 sends a fixed number of requests to each and stops by itself,
in alternating rounds (bare, service, bare, ...) so that a busy moment elsewhere on the
machine falls on both alike.
Every click must be durably recorded before its 303: the script counts the rows after.

Prints throughput(service) / throughput(bare) (target >= 0.6) and the service's resident
memory after all clicks / after the first 1,000 (target <= 1.10).

    .venv/bin/python bench/bench_join.py [--clicks 100000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from orchestrator.core.db import Database
    from orchestrator.core.models import Meeting
    from orchestrator.core.settings import Settings

CONCURRENCY = 64
WARM_UP = 1_000
ROUNDS = 10
PARTIES = 8
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settings_for(database_url: str, data_dir: Path, port: int) -> Settings:
    from orchestrator.core.settings import Settings

    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        secret_key=SECRET,
        run_background_jobs=False,
        log_level="WARNING",
    )


# ---------------------------------------------------------------------------- servers


def serve_app(database_url: str, data_dir: str, port: int) -> None:
    """Run the real service (child process)."""
    from aiohttp import web

    from orchestrator.core.loop import new_event_loop
    from orchestrator.web.app import create_app

    settings = settings_for(database_url, Path(data_dir), port)
    app = create_app(settings, migrate_on_start=False)
    loop = new_event_loop(settings.event_loop)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


def serve_bare(port: int) -> None:
    """Run the baseline: a handler that only answers 303 (child process), on the same kind
    of event loop as the service, so the ratio compares the service's work, not two loops."""
    from aiohttp import web

    from orchestrator.core.loop import new_event_loop
    from orchestrator.core.settings import Settings

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=303, headers={"Location": "https://meet.jit.si/room"})

    app = web.Application()
    app.router.add_get("/j/{token}/video", redirect)
    loop = new_event_loop(Settings().event_loop)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


def start(args: list[str], port: int, script: str = __file__) -> subprocess.Popen[bytes]:
    """Run ``script`` (this file unless told) with ``args``; return once ``port`` accepts."""
    process = subprocess.Popen([sys.executable, script, *args])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


# ---------------------------------------------------------------------------- data


async def seed(database_url: str, data_dir: Path, meetings: int = 1) -> list[str]:
    """Cases, each with its mediator and parties and a booked video meeting starting in 10
    minutes; return every party's join path."""
    import aiohttp as client_lib

    from orchestrator.cases import links
    from orchestrator.core.db import connect
    from orchestrator.core.migrate import upgrade
    from orchestrator.core.models import OutboxKind
    from orchestrator.meeting.provider_calls import ProviderCalls
    from orchestrator.meeting.providers import Providers
    from orchestrator.messaging.outbox import Dispatcher
    from orchestrator.scheduling import lookups

    settings = settings_for(database_url, data_dir, 8080)
    await upgrade(database_url)
    db = connect(database_url)
    now = datetime.now(UTC)
    booked = [await _book_one(db, settings, now, n) for n in range(meetings)]
    async with client_lib.ClientSession() as http:
        providers = Providers(settings, lambda: http)
        calls = ProviderCalls(db=db, providers=providers, settings=settings, clock=lambda: now)
        await Dispatcher(db, {OutboxKind.provider_call: calls}, clock=lambda: now).run_once()
    found = []
    async with db.read() as session:
        for meeting in booked:
            found += await lookups.current_join_links(session, meeting)
    await db.dispose()
    return [
        links.url_for(link, base_url="", secret=SECRET) + "/video"
        for link in found
        if link.party_id is not None
    ]


async def _book_one(db: Database, settings: Settings, now: datetime, n: int) -> Meeting:
    """One case with its own mediator and ``PARTIES`` parties, booked in 10 minutes."""
    from calendars.workdays import WorkingDays
    from orchestrator.cases import intake, panel, roster
    from orchestrator.core.events import EventBus
    from orchestrator.core.models import CaseCreate, MediatorCreate, MeetingMode, PartyCreate
    from orchestrator.scheduling import booking

    bus = EventBus(settings)
    async with db.write() as session:
        case = await intake.create_case(
            session,
            data=CaseCreate(
                reference=f"BENCH-{uuid.uuid4().hex[:8]}",
                kind="mediation",  # type: ignore[arg-type]
                local_authority="Kent",
                referral_date=date.today(),
            ),
            now=now,
            bus=bus,
        )
        mediator = await panel.create_mediator(
            session,
            data=MediatorCreate(name=f"Bench Mediator {n}", email=f"bench{n}@example.org"),
            now=now,
        )
        case.mediator_id = mediator.id
        for p in range(PARTIES):
            await roster.add_party(
                session,
                case=case,
                data=PartyCreate(
                    role="parent",  # type: ignore[arg-type]
                    name=f"Party {p}",
                    email=f"party-{n}-{p}@bench.example",
                ),
                now=now,
                bus=bus,
                actor=None,
            )
        return await booking.book(
            session,
            case=case,
            start=now + timedelta(minutes=10),
            duration_minutes=180,
            mode=MeetingMode.video,
            now=now,
            bus=bus,
            settings=settings,
            workdays=WorkingDays(),
            waiver="Benchmark: a meeting about to start",
        )


async def count_clicks(database_url: str) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from orchestrator.core.db import connect
    from orchestrator.core.models import ParticipantEvent

    db = connect(database_url)
    async with db.read() as session:
        total = await session.scalar(select(func.count()).select_from(ParticipantEvent))
    await db.dispose()
    return int(total or 0)


# ---------------------------------------------------------------------------- load


async def load(port: int, paths: list[str], total: int, concurrency: int = CONCURRENCY) -> float:
    """Send ``total`` GETs over ``concurrency`` connections; return requests per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    sent = 0
    failures = 0

    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(index: int) -> None:
            nonlocal sent, failures
            while sent < total:
                sent += 1
                path = paths[sent % len(paths)]
                async with http.get(
                    f"http://127.0.0.1:{port}{path}", allow_redirects=False
                ) as response:
                    await response.read()
                    if response.status != 303:
                        failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} requests did not answer 303")
    return total / elapsed


# ---------------------------------------------------------------------------- main


def pg_database(base_url: str) -> tuple[str, str, str]:
    from sqlalchemy.engine import make_url

    from orchestrator.core.settings import normalise_database_url

    base = make_url(normalise_database_url(base_url))
    name = f"orch_bench_{os.getpid()}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    return base.set(database=name).render_as_string(hide_password=False), admin, name


async def admin_sql(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(clicks: int, database_url: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-join-"))
    dropped: tuple[str, str] | None = None
    try:
        if database_url:
            url, admin, name = pg_database(database_url)
            await admin_sql(admin, f'CREATE DATABASE "{name}"')
            dropped = (admin, name)
            label = "PostgreSQL"
        else:
            url = f"sqlite+aiosqlite:///{workdir / 'orchestrator.db'}"
            label = "SQLite"
        paths = await seed(url, workdir)

        # Both servers run side by side and are measured in alternating rounds, so a busy
        # moment on the machine falls on both alike rather than on whichever ran second.
        bare_port, port = free_port(), free_port()
        bare = start(["--serve-bare", str(bare_port)], bare_port)
        service = start(["--serve-app", url, str(workdir), str(port)], port)
        try:
            await load(bare_port, paths, WARM_UP)
            await load(port, paths, WARM_UP)
            rss_first = rss_kib(service.pid)
            bare_total, service_total = clicks // 4, clicks - WARM_UP
            bare_time = service_time = 0.0
            for round_ in range(ROUNDS):
                share = bare_total * (round_ + 1) // ROUNDS - bare_total * round_ // ROUNDS
                bare_time += share / await load(bare_port, paths, share)
                share = service_total * (round_ + 1) // ROUNDS - service_total * round_ // ROUNDS
                service_time += share / await load(port, paths, share)
            rss_last = rss_kib(service.pid)
        finally:
            for process in (bare, service):
                process.terminate()
                process.wait()
        bare_rps, service_rps = bare_total / bare_time, service_total / service_time
        elapsed = service_time
        recorded = await count_clicks(url)
        loop_kind = settings_for(url, workdir, port).event_loop
        print(f"join click on {label}, {CONCURRENCY} connections, {clicks:,} clicks")
        print(f"  event loop:         {loop_kind} (service and baseline alike)")
        print(f"  bare aiohttp 303:   {bare_rps:8.0f} req/s")
        print(f"  /j/{{token}}/video:   {service_rps:8.0f} req/s ({elapsed:.1f} s)")
        print(f"  ratio:              {service_rps / bare_rps:8.2f}  (target >= 0.6)")
        print(f"  clicks recorded:    {recorded:,} of {clicks:,}")
        print(
            f"  RSS after 1,000:    {rss_first / 1024:8.1f} MiB; after {clicks:,}: "
            f"{rss_last / 1024:.1f} MiB; ratio {rss_last / rss_first:.3f} (target <= 1.10)"
        )
        if recorded != clicks:
            raise SystemExit("some clicks were not recorded")
    finally:
        if dropped is not None:
            await admin_sql(dropped[0], f'DROP DATABASE IF EXISTS "{dropped[1]}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-app":
        serve_app(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("ORCH_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    asyncio.run(run(args.clicks, args.database_url))


if __name__ == "__main__":
    main()
