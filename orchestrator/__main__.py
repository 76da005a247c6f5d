"""The ``orchestrator`` command: serve, migrate, users, demo, and operators' tools.

Each command group lives in ``orchestrator/cli/``; this module only assembles the parser.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from orchestrator.cli import demo, mail, migrate, retention, serve, users

COMMAND_GROUPS = (serve, migrate, users, demo, retention, mail)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Organise SEND mediation meetings. Settings come from ORCH_* variables.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(args.log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args.func(args)


if __name__ == "__main__":
    main()
