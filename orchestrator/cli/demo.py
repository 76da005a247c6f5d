"""``orchestrator demo``: load a realistic sample caseload (once)."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.runner import load_settings, run_with_database


def add_command(sub: Any) -> None:
    demo = sub.add_parser("demo", help="load a realistic sample caseload")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> None:
    from orchestrator.cases.demo import load_demo

    settings = load_settings()
    summary = run_with_database(lambda db: load_demo(db, settings=settings), settings=settings)
    print(summary)
