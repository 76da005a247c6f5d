"""Run every benchmark in turn: ``python -m bench [--quick] [name ...]``.

``--quick`` runs each at a CI-sized scale (``QUICK``): the same ratios from fewer runs and
smaller loads, noisier but in a few minutes.

Each benchmark prints its own figures as ratios against a baseline measured in the same
run; nothing here asserts on time. Benchmarks only ever talk to loopback addresses and stop
by themselves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

# Each benchmark's own options for a CI-sized run.
QUICK: dict[str, list[str]] = {
    "bench_busy": ["--repeat", "1"],
    "bench_feed_read": ["--quick"],
    "bench_invites": ["--bookings", "100"],
    "bench_join": ["--clicks", "5000"],
    "bench_join_wrk": ["--seconds", "5", "--rounds", "1"],
    "bench_planner": ["--cases", "60", "--mediators", "6", "--time-limit", "10"],
    "bench_reminders": [
        "--pending",
        "3000",
        "--firing",
        "100",
        "--seconds",
        "5",
        "--burst",
        "3000",
    ],
    "bench_replicas": ["--quick"],
    "bench_signin": ["--rounds", "1"],
    "bench_slots": ["--quick"],
    "bench_solver": ["--quick"],
}


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [arg for arg in argv if arg != "--quick"] or available()
    failed = []
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        options = QUICK.get(module, []) if quick else []
        print(f"\n=== {module} {' '.join(options)}".rstrip(), flush=True)
        started = time.perf_counter()
        command = [sys.executable, "-m", f"bench.{module}", *options]
        result = subprocess.run(command, check=False)
        print(f"--- {module} finished in {time.perf_counter() - started:.0f} s", flush=True)
        if result.returncode != 0:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
