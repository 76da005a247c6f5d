"""Real processes for the scale-out tests: replicas of ``orchestrator serve``, an SMTP sink.

Everything listens on 127.0.0.1. Each replica is a subprocess with its own port and data
directory, sharing one database; every wait here is bounded, and every process started is
stopped (SIGTERM, then SIGKILL) when its fixture ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.smtp import Envelope, Session

from orchestrator.core.migrate import upgrade_sync
from orchestrator.core.settings import normalise_database_url
from tests.conftest import PG_SKIP_REASON, PG_URL, run_blocking
from tests.integrations.test_mail_smtp import EphemeralController

ROOT = Path(__file__).resolve().parents[2]
SECRET = "scaleout-secret-key-that-is-long-enough-0123456789"
EVENT_SYNC_TOKEN = "scaleout-event-sync-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- PostgreSQL


def _admin_dsn() -> tuple[str, Any]:
    from sqlalchemy.engine import make_url

    assert PG_URL
    base = make_url(normalise_database_url(PG_URL))
    return base.set(drivername="postgresql").render_as_string(hide_password=False), base


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn()[0])
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    _, base = _admin_dsn()
    name = f"orch_scale_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    run_blocking(_admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade_sync(url)
    yield url
    run_blocking(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def plain_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    """Run one query against the shared PostgreSQL database (the tests' view of the truth)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


# ---------------------------------------------------------------------------- SMTP sink


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@dataclass
class MailSink:
    """Accepts every message and counts what arrived on the wire, by Message-ID."""

    received: list[str] = field(default_factory=list)  # Message-IDs, one per DATA accepted
    arrived: int = 0  # messages whose DATA arrived, whether answered yet or not
    # Clear it to hold every arriving message's "250 OK" (the server runs in its own thread).
    answering: threading.Event = field(default_factory=_open_gate)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.arrived += 1
        if not self.answering.is_set():
            await asyncio.to_thread(self.answering.wait, 30)
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.SMTP)
        self.received.append(str(parsed.get("Message-ID", "")).strip())
        return "250 OK"

    def counts(self) -> Counter[str]:
        return Counter(self.received)


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can be taken down and brought back."""

    def __init__(self) -> None:
        self.sink = MailSink()
        self.port = free_port()
        self._controller: EphemeralController | None = None

    def start(self) -> None:
        controller = EphemeralController(self.sink, hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------------------- replicas


def replica_env(database_url: str, smtp_port: int, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of one replica: shared database and mail server, quick background jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update(
        {
            "ORCH_ENV": "test",
            "ORCH_DATA_DIR": str(data_dir),
            "ORCH_DATABASE_URL": database_url,
            "ORCH_SECRET_KEY": SECRET,
            "ORCH_MAIL_BACKEND": "smtp",
            "ORCH_SMTP_HOST": "127.0.0.1",
            "ORCH_SMTP_PORT": str(smtp_port),
            "ORCH_SMTP_TIMEOUT_S": "3",
            "ORCH_MAIL_FROM": "mediation@service.example",
            "ORCH_RUN_BACKGROUND_JOBS": "true",
            "ORCH_OUTBOX_POLL_SECONDS": "0.2",
            "ORCH_OUTBOX_BACKOFF_BASE_S": "0.5",
            "ORCH_OUTBOX_BACKOFF_MAX_S": "2",
            "ORCH_OUTBOX_MAX_ATTEMPTS": "50",
            "ORCH_OUTBOX_LEASE_SECONDS": "10",
            "ORCH_REMINDER_OFFSETS_MINUTES": "[1]",
            "ORCH_REMINDER_SWEEP_SECONDS": "1",
            "ORCH_INVITE_CHASE_MAX": "0",
            "ORCH_POLL_CHASE_MAX": "0",
            "ORCH_VIDEO_PROVIDER": "jitsi",
            "ORCH_JITSI_EVENT_SYNC_TOKEN": EVENT_SYNC_TOKEN,
            "ORCH_HEALTH_CHECK_SECONDS": "0.5",
            "ORCH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class Replica:
    """One ``orchestrator serve`` subprocess; can be SIGKILLed and started again."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {**env, "ORCH_PORT": str(self.port), "ORCH_HOST": "127.0.0.1"}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"replica exited: {self.log_path.read_text()[-3000:]}")
                try:
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"replica not up in {within}s: {self.log_path.read_text()[-3000:]}")

    async def start(self) -> None:
        self.spawn()
        await self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no commits, no goodbyes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def add_staff_user(
    env: dict[str, str], email: str, role: str, *, password: str | None = None
) -> str:
    """Create a staff user with the CLI; the token is the last line it prints."""
    command = [sys.executable, "-m", "orchestrator", "users", "add", "--email", email]
    command += ["--role", role] + (["--password", password] if password else [])
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Cluster:
    replicas: list[Replica]
    token: str
    database_url: str
    smtp: SmtpServer
    env: dict[str, str] = field(default_factory=dict)  # the replicas' environment, for the CLI

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()


async def start_cluster(
    database_url: str, smtp: SmtpServer, tmp_path: Path, *, count: int = 2, **extra: str
) -> Cluster:
    env = replica_env(database_url, smtp.port, tmp_path / "data", **extra)
    token = add_staff_user(env, "scheduler@staff.example", "scheduler")
    replicas = [Replica(env, tmp_path / f"replica-{n}.log") for n in range(count)]
    for replica in replicas:
        replica.spawn()
    for replica in replicas:
        await replica.wait_ready()
    return Cluster(replicas=replicas, token=token, database_url=database_url, smtp=smtp, env=env)


@pytest.fixture
async def cluster(pg_database: str, smtp: SmtpServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Two replicas on one PostgreSQL database and one SMTP server."""
    running = await start_cluster(pg_database, smtp, tmp_path)
    yield running
    running.stop()


# ---------------------------------------------------------------------------- API calls


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json_body: Any = None,
    expect: int | tuple[int, ...] | None = None,
    attempts: int = 1,
) -> tuple[int, Any]:
    """One API call; with ``attempts`` > 1, a refused connection (a killed replica) is retried."""
    for attempt in range(attempts):
        try:
            async with http.request(method, url, headers=headers, json=json_body) as response:
                text = await response.text()
                body = json.loads(text) if text and response.content_type.endswith("json") else text
                if expect is not None:
                    wanted = (expect,) if isinstance(expect, int) else expect
                    assert response.status in wanted, (response.status, body)
                return response.status, body
        except (aiohttp.ClientConnectionError, TimeoutError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.3)
    raise AssertionError("unreachable")


async def expected_message_ids(database_url: str) -> dict[str, str]:
    """Message-ID -> outbox key for every email the database says it sent."""
    rows = await fetch(
        database_url,
        "SELECT idempotency_key, payload, status FROM outbox_message WHERE kind = 'email'",
    )
    wanted: dict[str, str] = {}
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        raw = str(payload["raw"]).encode("utf-8", errors="surrogateescape")
        parsed = message_from_bytes(raw, policy=policy.SMTP)
        wanted[str(parsed["Message-ID"]).strip()] = row["idempotency_key"]
    return wanted


async def until(check: Callable[[], Awaitable[bool]], *, within: float) -> bool:
    """Poll ``check`` until it holds (True) or ``within`` seconds have passed (False)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def metric(http: aiohttp.ClientSession, base: str, name: str) -> float | None:
    """One sample from a replica's ``/metrics`` (None while it has never been set)."""
    async with http.get(base + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def wait_drained(database_url: str, *, within: float, settle_kinds: str = "email") -> int:
    """Wait (bounded) until no outbox row of those kinds is pending; return how many still are."""
    deadline = time.monotonic() + within
    pending = -1
    while time.monotonic() < deadline:
        rows = await fetch(
            database_url,
            "SELECT count(*) AS n FROM outbox_message WHERE status = 'pending' AND kind = ANY($1::text[])",
            settle_kinds.split(","),
        )
        pending = int(rows[0]["n"])
        if pending == 0:
            return 0
        await asyncio.sleep(0.5)
    return pending
