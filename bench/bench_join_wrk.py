"""The join click driven by ``wrk``: ``/j/{token}/video`` against a bare aiohttp 303, same run.

``bench_join`` drives both servers with an aiohttp client, which on a small machine takes
much of the CPU itself. Here the load comes from ``wrk`` (C, two threads, 64 connections)
with a Lua script that hands each request the next of 2,000 distinct party tokens (250
booked meetings of 8 parties), and the client's own share of the machine's CPU is printed.

Two figures, each against the bare 303 measured in the same run:
- the 10:00 burst: 2,000 distinct *first* clicks spread over 10 seconds (every connection
  paced), p99 latency of the service ÷ p99 of the bare server paced alike (target <= 3);
- throughput, unpaced, in alternating rounds (bare, service, ...): service ÷ bare
  (target >= 0.85).
Every click must be durably recorded before its 303: the rows are counted after.

    .venv/bin/python bench/bench_join_wrk.py [--seconds 10] [--rounds 3] [--database-url ...]

Skips (exit 0, one line) where ``wrk`` is not installed (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, ``bench`` is not on the path by itself
    sys.path.insert(0, str(ROOT))

from bench import bench_join  # noqa: E402

CONNECTIONS = 64
THREADS = 2
MEETINGS = 250  # x 8 parties: 2,000 distinct tokens
BURST_SECONDS = 10
LATENCY_TARGET = 3.0
THROUGHPUT_TARGET = 0.85

LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local made = 0
local pace = tonumber(os.getenv("BENCH_DELAY_MS"))

function setup(thread)
  thread:set("first", made)
  made = made + 1
end

function init(args)
  at = first
end

-- Each thread walks its own stripe of the tokens: no two requests share one until all
-- have been used.
function request()
  local path = paths[(at % #paths) + 1]
  at = at + THREADS
  return wrk.format("GET", path)
end

if pace > 0 then
  function delay() return pace end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(99), latency:percentile(50),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p99_ms: float
    p50_ms: float
    errors: int
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(port: int, script: Path, paths: Path, *, seconds: float, delay_ms: int = 0) -> Run:
    """Run wrk against ``port`` for ``seconds``; its figures and its own CPU time."""
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    env = {**os.environ, "BENCH_PATHS": str(paths), "BENCH_DELAY_MS": str(delay_ms)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    out, _ = process.communicate()
    cpu = _children_cpu()
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed:\n{out}")
    requests, micros, p99, p50, errors = (int(x) for x in line.split()[1:])
    return Run(requests, micros / 1e6, p99 / 1000, p50 / 1000, errors, cpu)


_seen_cpu = 0.0


def _children_cpu() -> float:
    """CPU time of the wrk that just ended (children's totals grow by one wrk at a time)."""
    global _seen_cpu
    times = os.times()
    total = times.children_user + times.children_system
    spent, _seen_cpu = total - _seen_cpu, total
    return spent


async def run(seconds: float, rounds: int, database_url: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-join-wrk-"))
    dropped: tuple[str, str] | None = None
    try:
        if database_url:
            url, admin, name = bench_join.pg_database(database_url)
            await bench_join.admin_sql(admin, f'CREATE DATABASE "{name}"')
            dropped = (admin, name)
            label = "PostgreSQL"
        else:
            url = f"sqlite+aiosqlite:///{workdir / 'orchestrator.db'}"
            label = "SQLite"
        paths = await bench_join.seed(url, workdir, meetings=MEETINGS)
        path_file = workdir / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        script = workdir / "distinct.lua"
        script.write_text(LUA.replace("THREADS", str(THREADS)))
        _children_cpu()
        bare_port, port = bench_join.free_port(), bench_join.free_port()
        bare = bench_join.start(["--serve-bare", str(bare_port)], bare_port)
        service = bench_join.start(["--serve-app", url, str(workdir), str(port)], port)
        try:
            # Paced so that 64 connections send about one token each in ``BURST_SECONDS``/32.
            pace = int(CONNECTIONS * BURST_SECONDS * 1000 / len(paths))
            bare_burst = wrk(bare_port, script, path_file, seconds=BURST_SECONDS, delay_ms=pace)
            burst = wrk(port, script, path_file, seconds=BURST_SECONDS, delay_ms=pace)
            first_clicks = await bench_join.count_clicks(url)
            bare_runs, service_runs = [], []
            for _ in range(rounds):
                bare_runs.append(wrk(bare_port, script, path_file, seconds=seconds))
                service_runs.append(wrk(port, script, path_file, seconds=seconds))
        finally:
            for process in (bare, service):
                process.terminate()
                process.wait()
        recorded = await bench_join.count_clicks(url)
        report(label, len(paths), bare_burst, burst, first_clicks, bare_runs, service_runs)
        sent = burst.requests + sum(r.requests for r in service_runs)
        print(f"  clicks recorded:  {recorded:,} (wrk counted {sent:,} answered)")
        if first_clicks < burst.requests or recorded < sent:
            raise SystemExit("some clicks were not recorded")
        if burst.requests > len(paths):
            print("  note: the burst sent more requests than there are tokens (not all first)")
    finally:
        if dropped is not None:
            await bench_join.admin_sql(
                dropped[0], f'DROP DATABASE IF EXISTS "{dropped[1]}" WITH (FORCE)'
            )
        shutil.rmtree(workdir, ignore_errors=True)


def report(
    label: str,
    tokens: int,
    bare_burst: Run,
    burst: Run,
    first_clicks: int,
    bare_runs: list[Run],
    service_runs: list[Run],
) -> None:
    cores = os.cpu_count() or 1

    def share(runs: list[Run]) -> float:
        return sum(r.client_cpu_s for r in runs) / sum(r.seconds for r in runs) / cores

    bare_rate = sum(r.requests for r in bare_runs) / sum(r.seconds for r in bare_runs)
    rate = sum(r.requests for r in service_runs) / sum(r.seconds for r in service_runs)
    errors = sum(r.errors for r in [burst, *service_runs])
    print(f"join click with wrk on {label}, {CONNECTIONS} connections, {tokens:,} tokens")
    print(
        f"  10:00 burst:      {burst.requests:,} first clicks in {burst.seconds:.1f} s "
        f"({first_clicks:,} recorded); p99 {burst.p99_ms:.1f} ms vs bare {bare_burst.p99_ms:.1f}"
        f" ms; ratio {burst.p99_ms / max(bare_burst.p99_ms, 0.001):.2f} "
        f"(target <= {LATENCY_TARGET:g})"
    )
    print(f"  bare aiohttp 303: {bare_rate:8.0f} req/s (wrk: {share(bare_runs):.0%} of the CPU)")
    print(
        f"  /j/{{token}}/video: {rate:8.0f} req/s (wrk: {share(service_runs):.0%} of the CPU); "
        f"ratio {rate / bare_rate:.2f} (target >= {THROUGHPUT_TARGET:g})"
    )
    if errors:
        print(f"  errors (non-2xx/3xx, timeouts): {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("ORCH_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_join_wrk: skipped: wrk is not installed (Debian: apt-get install wrk)")
        return
    asyncio.run(run(args.seconds, args.rounds, args.database_url))


if __name__ == "__main__":
    main()
