"""``orchestrator migrate``: bring the schema to the newest version of every branch."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.runner import load_settings


def add_command(sub: Any) -> None:
    migrate = sub.add_parser("migrate", help="bring the database schema to the newest version")
    migrate.set_defaults(func=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> None:
    from orchestrator.core.migrate import upgrade_sync

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.database_url)
    print("database is at the newest schema")
