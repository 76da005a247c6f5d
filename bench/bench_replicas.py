"""Re-run slots, join click, invites and reminders on PostgreSQL with two app replicas.

    .venv/bin/python bench/bench_replicas.py [--database-url postgresql://...] [--quick]

Without a database URL (the flag, or ORCH_BENCH_DATABASE_URL) it says so in one line and
exits. Each benchmark gets a fresh PostgreSQL database, created here and dropped when it
ends, so no benchmark inherits another's pending mail or 30,000 reminder rows; on it run
two real app processes (the real ``create_app``, each on its own loopback port with its own
data directory, started from this file), and each figure is a ratio against a baseline
measured in the same run, the way its single-process script measures it:

- slots: cached ``/slots`` ÷ a trivial authenticated GET (``/cases/{id}``), medians of
  interleaved one-at-a-time requests that alternate between the replicas. The replicas run
  on bench_slots.py's fixed clock, the feeds its loopback server's, the case its seeding.
- join click: ``/j/{token}/video`` ÷ a bare aiohttp 303, in alternating rounds, the 64
  connections split 32 + 32 over the two replicas (jobs off, as in bench_join.py). The
  baseline is *two* bare servers with the same 32 + 32 split: the same client, the same
  number of server processes sharing the two cores, so the ratio shows what the service
  adds to a click rather than what a second process adds to the server side. Every click
  is counted in the database afterwards; each replica's memory after all clicks is divided
  by its memory after its first 1,000.
- invites: bookings through the API, alternating replicas, 8 in flight; each booking's
  transaction renders its five invites (the mediator's and four parties') into the outbox,
  and both replicas' dispatchers deliver them to the SMTP sink. Time runs from the first
  booking request to the last invite's arrival; the baseline sends the very same stored
  bytes over one raw aiosmtplib connection (bench_invites.run_baseline). Every invite must
  arrive exactly once, by Message-ID. Then the same bytes are queued again as new outbox
  rows (as bench_invites.run_outbox does) for delivery alone, first to last arrival.
- reminders: N pending reminders (bench_reminders.seed), of which 600 fall due evenly over
  30 s (300 over 20 s with --quick; every one over a minute with --reminder-stress), both replicas started after the seeding (each timed from process
  start to accepting connections, the app's own share from its ready hook beside it).
  Lateness is the reminder row's ``sent_at - due_at`` (as bench_reminders.py measures it;
  ``sent_at`` is when the sending pass began, so under a backlog it reads early) and the
  mail's arrival at the sink ``- due_at``; each reminder's mail must arrive exactly once.

One SMTP sink (aiosmtpd) runs in a process of its own for the whole run and logs, per
message accepted, its arrival time and Message-ID. Every wait is bounded, everything
listens on 127.0.0.1, and every process started is stopped however the run ends. Replicas
log warnings to files in their data directories; each benchmark prints what they logged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, ``bench`` is not on the path by itself
    sys.path.insert(0, str(ROOT))

from bench.bench_join import (  # noqa: E402
    CONCURRENCY,
    ROUNDS,
    WARM_UP,
    admin_sql,
    count_clicks,
    free_port,
    load,
    pg_database,
    rss_kib,
    settings_for,
    start,
)
from bench.bench_join import seed as seed_join  # noqa: E402

BOOKERS = 8  # bookings in flight at once, half on each replica
PARTIES = 4  # with the mediator, five recipients per booking
MAIL_FROM = "mediation@mediate.example"
READY_FILE = "ready-seconds"
SENT_MAIL = 'orchestrator_outbox_deliveries_total{"kind": "email", "result": "sent"}'
LATENCY = "orchestrator_http_request_seconds"
BOOKING_ROUTE = "POST /cases/{case_id}/meetings"
LOG_FILE = "replica.log"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)
SKIP = "bench_replicas skipped: it needs PostgreSQL (--database-url or ORCH_BENCH_DATABASE_URL)"


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does: the full run, or ``--quick``."""

    slot_pairs: int  # interleaved cached /slots and trivial GETs
    clicks: int
    bookings: int
    reminders: int  # pending
    firing: int  # of those, how many fall due during the run (the rest in weeks)
    window_s: float  # the firing ones fall due over this long
    drain_s: float  # the longest wait for the last mail after the work is sent


FULL = Sizes(
    slot_pairs=50,
    clicks=100_000,
    bookings=1_000,
    reminders=30_000,
    firing=600,
    window_s=30,
    drain_s=600,
)
# bench_reminders.py's shape is 300 due over 20 s; ``--reminder-stress`` makes every one of
# the 30,000 fall due within a minute, to find the replicas' sending capacity.
QUICK = Sizes(
    slot_pairs=30,
    clicks=10_000,
    bookings=60,
    reminders=3_000,
    firing=300,
    window_s=20,
    drain_s=60,
)


# ---------------------------------------------------------------------------- child processes


def serve_replica(config: dict[str, Any]) -> None:
    """Run the real service with ``config``'s settings, optionally on a fixed clock (child)."""
    import logging

    from aiohttp import web

    from orchestrator.core.loop import new_event_loop
    from orchestrator.core.models import utcnow
    from orchestrator.web.app import create_app

    began = time.perf_counter()  # imported: from here on it is the app's own start-up
    data_dir = Path(config["data_dir"])
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=data_dir / LOG_FILE,
        level=logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings = settings_for(config["url"], data_dir, config["port"]).model_copy(
        update=config["settings"]
    )
    fixed = datetime.fromisoformat(config["clock"]) if config["clock"] else None
    app = create_app(
        settings, clock=(lambda: fixed) if fixed is not None else utcnow, migrate_on_start=False
    )

    async def ready(_app: web.Application) -> None:  # after every resource and job started
        (data_dir / READY_FILE).write_text(f"{time.perf_counter() - began:.3f}")

    app.on_startup.append(ready)
    loop = new_event_loop(settings.event_loop)
    web.run_app(app, host="127.0.0.1", port=config["port"], print=None, access_log=None, loop=loop)


class ArrivalLog:
    """aiosmtpd handler: accept every message and log "arrival-time Message-ID" for it."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = message_id(envelope.original_content or b"")
        self._file.write(f"{time.time():.6f} {found or '-'}\n")
        return "250 OK"


def serve_smtp(port: int, log_path: str) -> None:
    """Run the SMTP sink until SIGTERM (child process)."""
    from aiosmtpd.controller import Controller

    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # the server's thread inherits it
    controller = Controller(ArrivalLog(Path(log_path)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        signal.sigwait(stop_signals)
    finally:
        controller.stop()


def message_id(raw: bytes) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = MESSAGE_ID.search(head)
    return found.group(1).decode() if found else None


class Children:
    """The processes a benchmark starts, stopped (SIGTERM, then SIGKILL) when it ends."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def start(self, args: list[str], port: int, script: str | None = None) -> Server:
        """Start a server (bench_join.start) and keep it; time launch to accepting."""
        launched = time.perf_counter()
        process = start(args, port, script) if script else start(args, port)
        self.processes.append(process)
        return Server(process, port, time.perf_counter() - launched)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    launch_to_listen_s: float
    data_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app_start_s(self) -> float:
        assert self.data_dir is not None
        return float((self.data_dir / READY_FILE).read_text())

    def problems(self) -> list[str]:
        """What the replica logged at WARNING and above."""
        assert self.data_dir is not None
        path = self.data_dir / LOG_FILE
        lines = path.read_text().splitlines() if path.exists() else []
        return [line for line in lines if line.startswith(("WARNING", "ERROR", "CRITICAL"))]


def start_replica(
    children: Children,
    url: str,
    data_dir: Path,
    *,
    settings: dict[str, Any] | None = None,
    clock: datetime | None = None,
) -> Server:
    """One replica: bench_join's settings, with ``settings`` on top (background jobs, mail)."""
    port = free_port()
    config = {
        "url": url,
        "data_dir": str(data_dir),
        "port": port,
        "settings": settings or {},
        "clock": clock.isoformat() if clock else None,
    }
    server = children.start(["--serve-replica", json.dumps(config)], port, script=__file__)
    server.data_dir = data_dir
    return server


def jobs_on(sink: Sink) -> dict[str, Any]:
    """Settings of a replica that delivers mail and sends reminders: to the sink, over SMTP."""
    return {
        "run_background_jobs": True,
        "mail_backend": "smtp",
        "smtp_port": sink.port,
        "mail_from": MAIL_FROM,
        "reminder_sweep_seconds": 5.0,  # as bench_reminders.py runs its replicas
    }


def report_problems(replicas: list[Server]) -> None:
    """Print what the replicas logged at WARNING and above, alike lines counted together."""
    for n, replica in enumerate(replicas):
        lines = replica.problems()
        if lines:
            alike = Counter(re.sub(r"[0-9][0-9:. -]*", "#", line)[:150] for line in lines)
            summary = "; ".join(f"{count} x {line}" for line, count in alike.most_common(3))
            print(f"  ! replica {n} logged {len(lines)} warnings/errors: {summary}")


# ---------------------------------------------------------------------------- SMTP sink


@dataclass
class Sink:
    """The SMTP sink process and the log of what reached it."""

    port: int
    log: Path

    def mark(self) -> int:
        """How many messages have arrived so far (a benchmark counts from here)."""
        return len(self.arrivals())

    def arrivals(self, since: int = 0, until: int | None = None) -> list[tuple[float, str]]:
        """Arrival time and Message-ID of each message from mark ``since`` to mark ``until``."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()[since:until]
        return [(float(at), mid) for at, mid in (line.split(" ", 1) for line in lines)]


# ---------------------------------------------------------------------------- database


@contextlib.asynccontextmanager
async def fresh_database(base_url: str, tag: str) -> AsyncIterator[str]:
    """A new, migrated database for one benchmark, dropped when it ends."""
    from sqlalchemy.engine import make_url

    from orchestrator.core.migrate import upgrade

    url, admin, name = pg_database(base_url)
    name = f"{name}_{tag}"
    url = make_url(url).set(database=name).render_as_string(hide_password=False)
    await admin_sql(admin, f'CREATE DATABASE "{name}"')
    try:
        await upgrade(url)
        yield url
    finally:
        await admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def staff_headers(url: str) -> dict[str, str]:
    """A scheduler's bearer token, made in the database."""
    from orchestrator.core.db import connect
    from orchestrator.core.models import StaffRole
    from orchestrator.staff.accounts import add_user, issue_token

    db = connect(url)
    async with db.write() as session:
        user = await add_user(session, email="bench@staff.example", role=StaffRole.scheduler)
        token = await issue_token(session, user_id=user.id)
    await db.dispose()
    return {"Authorization": f"Bearer {token}"}


async def queued_ids(url: str, key_prefix: str) -> dict[str, str]:
    """Message-ID -> outbox key of every email queued under ``key_prefix`` (read in SQL)."""
    rows = await fetch(
        url,
        "SELECT idempotency_key AS key, "
        "substring(payload->>'raw' from '(?in)^Message-ID:\\s*(<[^>]+>)') AS mid "
        "FROM outbox_message WHERE kind = 'email' AND idempotency_key LIKE $1",
        key_prefix + "%",
    )
    assert all(row["mid"] for row in rows), "every queued email carries a Message-ID"
    return {row["mid"]: row["key"] for row in rows}


async def stored_mail(url: str, key_prefix: str) -> list[tuple[str, str, bytes]]:
    """Every email queued under ``key_prefix`` as bench_invites.run_baseline sends it."""
    rows = await fetch(
        url,
        "SELECT idempotency_key AS key, payload->'to'->>0 AS to_addr, payload->>'raw' AS raw "
        "FROM outbox_message WHERE kind = 'email' AND idempotency_key LIKE $1",
        key_prefix + "%",
    )
    return [
        (row["to_addr"], row["key"], row["raw"].encode("utf-8", "surrogateescape")) for row in rows
    ]


async def until(check: Callable[[], Awaitable[bool]], *, deadline: float) -> bool:
    """Poll ``check`` each half second until it holds or ``deadline`` (monotonic) passes."""
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return False


@dataclass
class Delivery:
    """What reached the sink against what the outbox queued: exactly once, or not."""

    queued: int
    arrived_once: int
    duplicates: int  # extra copies of a queued message
    missing: int  # queued, never arrived
    strangers: int  # arrived, never queued
    arrival: dict[str, float] = field(default_factory=dict)  # Message-ID -> first arrival

    @classmethod
    def of(cls, queued: dict[str, Any], arrivals: list[tuple[float, str]]) -> Delivery:
        counts = Counter(mid for _, mid in arrivals)
        first: dict[str, float] = {}
        for at, mid in arrivals:
            first.setdefault(mid, at)
        return cls(
            queued=len(queued),
            arrived_once=sum(1 for mid in queued if counts[mid] == 1),
            duplicates=sum(counts[mid] - 1 for mid in queued if counts[mid] > 1),
            missing=sum(1 for mid in queued if counts[mid] == 0),
            strangers=sum(n for mid, n in counts.items() if mid not in queued),
            arrival=first,
        )

    def text(self) -> str:
        return (
            f"{self.arrived_once:,}/{self.queued:,} once, {self.duplicates} duplicates, "
            f"{self.missing} missing, {self.strangers} unexpected"
        )


async def metrics(http: aiohttp.ClientSession, replica: Server) -> dict[str, float]:
    """A replica's /metrics samples, by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    async with http.get(replica.url + "/metrics") as response:
        text = await response.text()
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def mean_latency(
    before: list[dict[str, float]], after: list[dict[str, float]], route: str
) -> float:
    """Mean server time of ``route`` between two readings of every replica's /metrics."""
    key = json.dumps({"route": route})
    total = count = 0.0
    for early, late in zip(before, after, strict=True):
        total += late.get(LATENCY + "_sum" + key, 0) - early.get(LATENCY + "_sum" + key, 0)
        count += late.get(LATENCY + "_count" + key, 0) - early.get(LATENCY + "_count" + key, 0)
    return total / count if count else 0.0


# ---------------------------------------------------------------------------- slots


async def bench_slots(base_url: str, sizes: Sizes, work: Path) -> dict[str, Any]:
    """Cached /slots ÷ a trivial authenticated GET, alternating over two replicas."""
    from bench import bench_slots as single
    from bench.bench_busy import EVENTS_PER_FEED, FEEDS, generate_feed

    feeds = single.Feeds([generate_feed(EVENTS_PER_FEED, seed) for seed in range(FEEDS)])
    await feeds.server.start_server()
    try:
        async with fresh_database(base_url, "slots") as url:
            headers = await staff_headers(url)
            with Children() as children:
                replicas = [
                    start_replica(children, url, work / f"slots-{n}", clock=single.NOW)
                    for n in range(2)
                ]
                async with aiohttp.ClientSession(headers=headers) as http:
                    timings = await measure_slots(http, replicas, feeds, sizes.slot_pairs)
                report_problems(replicas)
    finally:
        await feeds.server.close()
    cached, trivial = statistics.median(timings["cached"]), statistics.median(timings["trivial"])
    print(
        f"slots: GET /slots cached {cached * 1000:.2f} ms, GET /cases/{{id}} {trivial * 1000:.2f} ms"
    )
    return {"ratio": cached / trivial}


async def measure_slots(
    http: aiohttp.ClientSession, replicas: list[Server], feeds: Any, pairs: int
) -> dict[str, list[float]]:
    from bench import bench_slots as single

    async def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.request(method, replicas[0].url + path, json=body) as response:
            assert response.status in (200, 201), (response.status, await response.text())
            return dict(await response.json())

    async def get(url: str) -> dict[str, Any]:
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    case_id = await single.seed_case(call, feeds)
    slots_path = f"/api/v1/cases/{case_id}/slots{single.SLOTS_QUERY}"
    case_path = f"/api/v1/cases/{case_id}"
    for replica in replicas:  # each replica reads and caches the feeds itself
        answer = await get(replica.url + slots_path)
        assert not answer["calendar_errors"], answer["calendar_errors"]
    for _ in range(3):  # warm both paths on both replicas
        for replica in replicas:
            await get(replica.url + slots_path)
            await get(replica.url + case_path)
    cached, trivial = [], []
    for n in range(pairs):  # interleaved, so a noisy neighbour slows both alike
        base = replicas[n % 2].url
        cached.append(await single.timed(1, functools.partial(get, base + slots_path)))
        trivial.append(await single.timed(1, functools.partial(get, base + case_path)))
    return {"cached": cached, "trivial": trivial}


# ---------------------------------------------------------------------------- join click


async def spread_load(ports: list[int], paths: list[str], total: int) -> float:
    """Send ``total`` clicks split evenly over ``ports``, CONCURRENCY connections in all."""
    began = time.perf_counter()
    await asyncio.gather(
        *(
            load(port, paths, share(total, n, len(ports)), CONCURRENCY // len(ports))
            for n, port in enumerate(ports)
        )
    )
    return total / (time.perf_counter() - began)


def share(total: int, n: int, parts: int) -> int:
    """The ``n``-th of ``parts`` near-equal parts of ``total`` (they add up to it)."""
    return total * (n + 1) // parts - total * n // parts


async def bench_join(base_url: str, sizes: Sizes, work: Path) -> dict[str, Any]:
    """/j/{token}/video on two replicas ÷ two bare aiohttp 303 servers, alternating rounds."""
    async with fresh_database(base_url, "join") as url:
        paths = await seed_join(url, work)
        with Children() as children:
            bare = [children.start(["--serve-bare", str(port)], port) for port in ports(2)]
            # bench_join's settings: background jobs off, nothing but the click to do.
            replicas = [start_replica(children, url, work / f"join-{n}") for n in range(2)]
            bare_ports, service_ports = [s.port for s in bare], [s.port for s in replicas]
            await spread_load(bare_ports, paths, WARM_UP)
            for replica in replicas:  # memory is compared to each one's after its first 1,000
                await load(replica.port, paths, WARM_UP)
            rss_first = [rss_kib(r.process.pid) for r in replicas]
            bare_total, service_total = sizes.clicks // 4, sizes.clicks - 2 * WARM_UP
            bare_time = service_time = 0.0
            for round_ in range(ROUNDS):
                part = share(bare_total, round_, ROUNDS)
                bare_time += part / await spread_load(bare_ports, paths, part)
                part = share(service_total, round_, ROUNDS)
                service_time += part / await spread_load(service_ports, paths, part)
            rss_last = [rss_kib(r.process.pid) for r in replicas]
        report_problems(replicas)
        recorded = await count_clicks(url)
    bare_rps, service_rps = bare_total / bare_time, service_total / service_time
    print(
        f"join click: bare 303 {bare_rps:.0f} req/s, /j/{{token}}/video {service_rps:.0f} req/s "
        f"({service_time:.1f} s), {recorded:,} of {sizes.clicks:,} clicks recorded"
    )
    return {
        "ratio": service_rps / bare_rps,
        "recorded": recorded,
        "rss": [last / first for first, last in zip(rss_first, rss_last, strict=True)],
        "rss_mib": [last / 1024 for last in rss_last],
    }


def ports(count: int) -> list[int]:
    return [free_port() for _ in range(count)]


# ---------------------------------------------------------------------------- invites


async def make_case(http: aiohttp.ClientSession, base: str, headers: dict[str, str], n: int) -> str:
    """A case with its own mediator and PARTIES parties, all with email, through the API."""

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(f"{base}/api/v1{path}", json=body, headers=headers) as response:
            assert response.status in (200, 201), (response.status, await response.text())
            return dict(await response.json())

    case = await post(
        "/cases",
        {
            "reference": f"BENCH-INV-{n:05d}",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": datetime.now(UTC).date().isoformat(),
        },
    )
    mediator = await post(
        "/mediators", {"name": f"Mediator {n}", "email": f"mediator{n}@bench.example"}
    )
    await post(f"/cases/{case['id']}/mediator", {"mediator_id": mediator["id"]})
    for p, role in enumerate(["parent", "parent", "school", "la_officer"][:PARTIES]):
        await post(
            f"/cases/{case['id']}/parties",
            {"role": role, "name": f"Person {n}-{p}", "email": f"p{n}-{p}@bench.example"},
        )
    return str(case["id"])


async def book(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], case_id: str, n: int
) -> None:
    start_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=14, minutes=15 * n)
    body = {
        "start": start_at.isoformat(),
        "duration_minutes": 180,
        "mode": "video",
        # Real-clock times fall on any day and hour: book them outside the rules on purpose.
        "waive_rules": True,
        "waiver_reason": "Benchmark load",
    }
    url = f"{base}/api/v1/cases/{case_id}/meetings"
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status == 201, (response.status, await response.text())


async def bounded(limit: int, work: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the ``work`` with at most ``limit`` in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await item()

    return list(await asyncio.gather(*(one(item) for item in work)))


async def bench_invites(base_url: str, sizes: Sizes, sink: Sink, work: Path) -> dict[str, Any]:
    """Bookings × 5 invites through two replicas and the outbox ÷ raw aiosmtplib, same bytes."""
    from bench.bench_invites import run_baseline

    async with fresh_database(base_url, "invites") as url:
        headers, start_mark = await staff_headers(url), sink.mark()
        with Children() as children:
            replicas = [
                start_replica(children, url, work / f"invites-{n}", settings=jobs_on(sink))
                for n in range(2)
            ]
            bases = [r.url for r in replicas]
            async with aiohttp.ClientSession() as http:
                case_ids = await bounded(
                    BOOKERS,
                    [
                        functools.partial(make_case, http, bases[n % 2], headers, n)
                        for n in range(sizes.bookings)
                    ],
                )
                # Adding parties mails them an introduction: let that go out before the clock.
                drained = functools.partial(all_arrived, url, sink, start_mark, "")
                await until(drained, deadline=time.monotonic() + sizes.drain_s)
                before = [await metrics(http, r) for r in replicas]
                booked = await book_all(http, url, sink, bases, headers, case_ids, sizes.drain_s)
                after = [await metrics(http, r) for r in replicas]
                again = await deliver_again(url, sink, sizes.drain_s)
            report_problems(replicas)
        queued, stored = await queued_ids(url, "invite:"), await stored_mail(url, "invite:")
        statements = await booking_statements(url, headers, work)
    delivery = Delivery.of(queued, sink.arrivals(booked.mark, again))
    redelivery = Delivery.of(queued, sink.arrivals(again))
    service_s = span([booked.began, *delivery.arrival.values()])
    outbox_s = span(redelivery.arrival.values())
    baseline_s = await run_baseline(sink.port, stored)
    messages = len(queued)
    sent = [a.get(SENT_MAIL, 0) - b.get(SENT_MAIL, 0) for a, b in zip(after, before, strict=True)]
    print(
        f"invites: {sizes.bookings:,} bookings, {messages:,} invites; booked in "
        f"{booked.seconds:.1f} s (server time per booking "
        f"{mean_latency(before, after, BOOKING_ROUTE) * 1000:.0f} ms, {BOOKERS} in flight), "
        f"all delivered {service_s:.1f} s after the first booking ({messages / service_s:.0f} "
        f"msg/s; replicas sent {sent[0]:.0f} + {sent[1]:.0f}); {delivery.text()}"
    )
    print(
        f"  the same bytes again as outbox rows: {messages / outbox_s:.0f} msg/s "
        f"({redelivery.text()}); raw aiosmtplib {messages / baseline_s:.0f} msg/s"
    )
    print(f"  one booking ({PARTIES} parties and the mediator): {statements} SQL statements")
    return {
        "statements": statements,
        "ratio": baseline_s / service_s,
        "outbox_ratio": baseline_s / outbox_s,
        "delivery": delivery,
    }


async def booking_statements(url: str, headers: dict[str, str], work: Path) -> int:
    """How many SQL statements one booking through the API sends (savepoints included):
    the app in this process, on the same database, with a listener on its engines."""
    from aiohttp.test_utils import TestServer
    from sqlalchemy import event

    from orchestrator.web.app import create_app
    from orchestrator.web.keys import DB

    app = create_app(settings_for(url, work / "statements", free_port()), migrate_on_start=False)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        case_id = await make_case(http, base, headers, 99_999)
        engines = {
            id(e.sync_engine): e.sync_engine for e in (app[DB].writer_engine, app[DB].reader_engine)
        }
        for engine in engines.values():
            event.listen(engine, "before_cursor_execute", count)
        await book(http, base, headers, case_id, 0)
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def span(times: Iterable[float]) -> float:
    """First to last of ``times``, in seconds (NaN for fewer than two)."""
    values = list(times)
    return max(values) - min(values) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class Booked:
    mark: int  # the sink's mark before the first booking
    began: float  # wall clock (the sink logs wall-clock arrivals)
    seconds: float  # until the last booking answered


async def book_all(
    http: aiohttp.ClientSession,
    url: str,
    sink: Sink,
    bases: list[str],
    headers: dict[str, str],
    case_ids: list[str],
    drain_s: float,
) -> Booked:
    """Book every case, alternating replicas, and wait (bounded) for every invite to arrive."""
    mark, began = sink.mark(), time.time()
    await bounded(
        BOOKERS,
        [
            functools.partial(book, http, bases[(n + 1) % 2], headers, case_id, n)
            for n, case_id in enumerate(case_ids)
        ],
    )
    seconds = time.time() - began
    delivered = functools.partial(all_arrived, url, sink, mark, "invite:")
    await until(delivered, deadline=time.monotonic() + drain_s)
    await asyncio.sleep(1)  # a duplicate in flight would land now
    return Booked(mark=mark, began=began, seconds=seconds)


async def deliver_again(url: str, sink: Sink, drain_s: float) -> int:
    """Queue every invite's stored bytes again under new keys, as bench_invites.run_outbox
    does, and wait (bounded) until the replicas' dispatchers have delivered them all; return
    the sink's mark from before. Delivery alone, without the bookings, on two replicas."""
    mark = sink.mark()
    await fetch(
        url,
        "INSERT INTO outbox_message "
        "(id, kind, topic, idempotency_key, payload, status, attempts, next_attempt_at, "
        "created_at) "
        "SELECT gen_random_uuid(), kind, topic, 'again:' || idempotency_key, payload, "
        "'pending', 0, now(), now() FROM outbox_message "
        "WHERE kind = 'email' AND idempotency_key LIKE 'invite:%'",
    )
    delivered = functools.partial(all_arrived, url, sink, mark, "again:")
    await until(delivered, deadline=time.monotonic() + drain_s)
    await asyncio.sleep(1)  # a duplicate in flight would land now
    return mark


async def all_arrived(url: str, sink: Sink, since: int, key_prefix: str) -> bool:
    """No email (keyed ``key_prefix``...) waits in the outbox, and as many reached the sink."""
    rows = await fetch(
        url,
        "SELECT count(*) FILTER (WHERE status = 'pending') AS waiting, count(*) AS queued "
        "FROM outbox_message WHERE kind = 'email' AND idempotency_key LIKE $1",
        key_prefix + "%",
    )
    waiting, queued = int(rows[0]["waiting"]), int(rows[0]["queued"])
    return waiting == 0 and len(sink.arrivals(since)) >= queued


# ---------------------------------------------------------------------------- reminders


async def bench_reminders(base_url: str, sizes: Sizes, sink: Sink, work: Path) -> dict[str, Any]:
    """N reminders falling due over the next minute, two replicas: start, lateness, once."""
    from bench import bench_reminders as single

    count, firing, window = sizes.reminders, sizes.firing, sizes.window_s
    async with fresh_database(base_url, "reminders") as url:
        # Seeding (~4,500 rows/s here) and two replica starts must fit before the first is due.
        first_due = datetime.now(UTC) + timedelta(seconds=15 + count / 2000)
        last_due = first_due + timedelta(seconds=window)
        began = time.perf_counter()
        await single.seed(url, pending=count, firing=firing, first_due=first_due, spread=window)
        seeded_s = time.perf_counter() - began
        mark = sink.mark()
        with Children() as children:
            replicas = [
                start_replica(children, url, work / f"reminders-{n}", settings=jobs_on(sink))
                for n in range(2)
            ]
            margin = (first_due - datetime.now(UTC)).total_seconds()
            deadline = time.monotonic() + margin + window + sizes.drain_s
            finished = await until(
                functools.partial(reminders_done, url, sink, mark, last_due), deadline=deadline
            )
            await asyncio.sleep(1)  # a duplicate in flight would land now
            async with aiohttp.ClientSession() as http:
                sent = [(await metrics(http, r)).get(SENT_MAIL, 0) for r in replicas]
            report_problems(replicas)
        found = await single.results(url, last_due)
        queued = await queued_ids(url, "reminder:")
        due_at = {
            str(row["id"]): row["due_at"].timestamp()
            for row in await fetch(url, "SELECT id, due_at FROM reminder")
        }
    delivery = Delivery.of(queued, sink.arrivals(mark))
    at_sink = sorted(
        delivery.arrival[mid] - due_at[key.split(":")[1]]
        for mid, key in queued.items()
        if mid in delivery.arrival
    )
    late = sorted(found["late"])
    # Mail reaching the sink per second, from the first due time to the last arrival.
    last = max(delivery.arrival.values(), default=first_due.timestamp())
    pace = len(at_sink) / max(last - first_due.timestamp(), window)
    print(
        f"reminders: {count:,} pending, {firing:,} due over {window:.0f} s "
        f"({firing / window:.0f}/s), seeded in "
        f"{seeded_s:.1f} s, the first due {margin:.1f} s after both replicas were up; "
        f"{'all sent' if finished else 'NOT all sent by the deadline'}, replicas mailed "
        f"{sent[0]:.0f} + {sent[1]:.0f}; at the sink: {delivery.text()}"
    )
    print(
        f"  lateness sent_at - due_at: p50 {pct(late, 50):.2f} s, p99 {pct(late, 99):.2f} s, "
        f"max {pct(late, 100):.2f} s; arrival at the sink - due_at: p50 {pct(at_sink, 50):.2f} s,"
        f" p99 {pct(at_sink, 99):.2f} s, max {pct(at_sink, 100):.2f} s; {pace:.0f} mails/s"
    )
    return {
        "starts": [(r.launch_to_listen_s, r.app_start_s()) for r in replicas],
        "late_p99": pct(late, 99),
        "sink_p99": pct(at_sink, 99),
        "pace": pace,
        "duplicates": found["duplicates"],
        "lost": found["lost"],
        "delivery": delivery,
        "finished": finished,
    }


async def reminders_done(url: str, sink: Sink, since: int, last_due: datetime) -> bool:
    """Every reminder due by ``last_due`` sent, and its mail at the sink."""
    if datetime.now(UTC) < last_due:
        return False
    rows = await fetch(
        url,
        "SELECT count(*) AS n FROM reminder "
        "WHERE sent_at IS NULL AND cancelled_at IS NULL AND due_at <= $1",
        last_due,
    )
    return int(rows[0]["n"]) == 0 and await all_arrived(url, sink, since, "reminder:")


def pct(values: list[float], p: int) -> float:
    """The ``p``-th percentile of sorted ``values`` (0 for none)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100)[p - 1] if p < 100 else values[-1]


# ---------------------------------------------------------------------------- the table


Row = tuple[str, str, str, str, str]  # benchmark, measure, target, single process, replicas


def slots_rows(result: dict[str, Any], sizes: Sizes) -> list[Row]:
    return [
        (
            "slots",
            "cached `/slots` ÷ trivial authenticated GET",
            "≤ 2.0",
            "1.65 (runs 1.5–1.9)",
            f"{result['ratio']:.2f}",
        )
    ]


def join_rows(result: dict[str, Any], sizes: Sizes) -> list[Row]:
    return [
        (
            "join click",
            f"`/j/{{token}}/video` ÷ bare aiohttp 303, 64 connections, {sizes.clicks:,} clicks",
            "≥ 0.6",
            "0.64–0.72 (PostgreSQL)",
            f"{result['ratio']:.2f}",
        ),
        ("join click", "clicks durably recorded", "all", "all", f"{result['recorded']:,}"),
        (
            "join click",
            "resident memory after all clicks ÷ after 1,000, each replica",
            "≤ 1.10",
            "1.003–1.004 (PostgreSQL)",
            " / ".join(f"{ratio:.3f}" for ratio in result["rss"]),
        ),
    ]


def invites_rows(result: dict[str, Any], sizes: Sizes) -> list[Row]:
    return [
        (
            "invites",
            f"{sizes.bookings:,} bookings through the API × 5 invites delivered ÷ raw aiosmtplib",
            "≥ 0.5",
            "0.55–0.57 render+send (no booking)",
            f"{result['ratio']:.2f}",
        ),
        (
            "invites",
            "the same stored bytes as outbox rows, delivered ÷ raw aiosmtplib",
            "≥ 0.5",
            "0.72–0.97",
            f"{result['outbox_ratio']:.2f}",
        ),
        (
            "invites",
            f"SQL statements in one booking through the API ({PARTIES} parties)",
            "–",
            "103 before bulk inserts (3 parties, SQLite)",
            str(result["statements"]),
        ),
        (
            "invites",
            "each invite at the SMTP sink exactly once",
            "all",
            "–",
            result["delivery"].text(),
        ),
    ]


def reminders_rows(result: dict[str, Any], sizes: Sizes) -> list[Row]:
    unsent = "" if result["finished"] else " (not all sent by the deadline)"
    due_rate = sizes.firing / sizes.window_s
    return [
        (
            "reminders",
            f"with {sizes.reminders:,} pending: app start → ready, each replica",
            "≤ 2 s",
            "0.17 s (1.23 s with imports, PostgreSQL)",
            ", ".join(
                f"{app:.2f} s ({outer:.1f} s with imports)" for outer, app in result["starts"]
            ),
        ),
        (
            "reminders",
            f"lateness p99 / duplicates / losses, {sizes.firing:,} due over {sizes.window_s:.0f} s",
            "≤ 1 s / 0 / 0",
            "0.48 s (PostgreSQL) / 0 / 0",
            f"{result['late_p99']:.2f} s / {result['duplicates']} / {result['lost']}{unsent}",
        ),
        (
            "reminders",
            "their mail at the SMTP sink: lateness p99; pace; exactly once",
            "–",
            "–",
            f"{result['sink_p99']:.2f} s; {result['pace']:.0f}/s arrived ({due_rate:.0f}/s fell "
            f"due); {result['delivery'].text()}",
        ),
    ]


TABLE_ROWS: dict[str, Callable[[dict[str, Any], Sizes], list[Row]]] = {
    "slots": slots_rows,
    "join": join_rows,
    "invites": invites_rows,
    "reminders": reminders_rows,
}


def print_table(results: dict[str, dict[str, Any]], sizes: Sizes) -> None:
    """The table for the README: each benchmark's figures beside the single-process ones."""
    header = (
        "benchmark",
        "measure",
        "target",
        "single process (README)",
        "two replicas, PostgreSQL",
    )
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, result in results.items():
        for row in TABLE_ROWS[name](result, sizes):
            print("| " + " | ".join(row) + " |")


# ---------------------------------------------------------------------------- main


@contextlib.contextmanager
def smtp_sink(work: Path) -> Iterator[Sink]:
    with Children() as children:
        sink = Sink(port=free_port(), log=work / "smtp-arrivals.log")
        children.start(["--serve-smtp", str(sink.port), str(sink.log)], sink.port, __file__)
        yield sink


async def run(base_url: str, sizes: Sizes, only: list[str]) -> None:
    results: dict[str, dict[str, Any]] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    try:
        with smtp_sink(work) as sink:
            benchmarks: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
                "slots": lambda: bench_slots(base_url, sizes, work),
                "join": lambda: bench_join(base_url, sizes, work),
                "invites": lambda: bench_invites(base_url, sizes, sink, work),
                "reminders": lambda: bench_reminders(base_url, sizes, sink, work),
            }
            for name in only or list(benchmarks):
                began = time.perf_counter()
                results[name] = await benchmarks[name]()
                print(f"  ({name}: {time.perf_counter() - began:.0f} s)", flush=True)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print_table(results, sizes)


def interrupt(signum: int, frame: object) -> None:
    """Unwind on SIGTERM as on Ctrl-C, so every child is stopped and the databases dropped."""
    raise KeyboardInterrupt


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-replica":
        serve_replica(json.loads(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-smtp":
        serve_smtp(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("ORCH_BENCH_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="less of everything, ~3 minutes")
    parser.add_argument(
        "--only", action="append", choices=["slots", "join", "invites", "reminders"], default=[]
    )
    parser.add_argument(
        "--reminder-stress",
        action="store_true",
        help="every pending reminder falls due within the run (sending capacity)",
    )
    args = parser.parse_args()
    if not args.database_url:
        print(SKIP)
        return
    signal.signal(signal.SIGTERM, interrupt)
    sizes = QUICK if args.quick else FULL
    if args.reminder_stress:
        sizes = dataclasses.replace(sizes, firing=sizes.reminders, window_s=2 * sizes.window_s)
    asyncio.run(run(args.database_url, sizes, args.only))


if __name__ == "__main__":
    main()
