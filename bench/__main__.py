"""Run every benchmark in turn: ``python -m bench [name ...]``.

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


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    failed = []
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        print(f"\n=== {module}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", f"bench.{module}"], check=False)
        print(f"--- {module} finished in {time.perf_counter() - started:.0f} s", flush=True)
        if result.returncode != 0:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
