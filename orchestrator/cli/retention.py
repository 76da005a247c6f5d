"""``orchestrator retention run [--dry-run]``: anonymise closed cases past the retention period."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.runner import load_settings, run_with_database


def add_command(sub: Any) -> None:
    retention = sub.add_parser("retention", help="anonymise closed cases past the retention period")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run_parser = retention_sub.add_parser(
        "run",
        help="anonymise closed cases older than ORCH_RETENTION_DAYS and say what was done",
    )
    run_parser.add_argument(
        "--dry-run", action="store_true", help="only list the cases that would be anonymised"
    )
    run_parser.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> None:
    from orchestrator.cases.retention import run
    from orchestrator.core.models import utcnow

    settings = load_settings()
    report = run_with_database(
        lambda db: run(db, settings=settings, now=utcnow(), dry_run=args.dry_run),
        settings=settings,
    )
    print(report.describe())
