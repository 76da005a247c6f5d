"""The ``orchestrator`` command: serve, migrate, users, demo, and operators' tools.

The command line is parsed here, and only here; each command runs as a function in
``orchestrator/cli/`` that takes plain typed arguments.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from orchestrator.cli import demo, mail, migrate, retention, serve, users

STAFF_ROLES = ["scheduler", "mediator", "admin"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Organise SEND mediation meetings. Settings come from ORCH_* variables.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser in (_serve, _migrate, _users, _demo, _retention, _mail):
        add_parser(sub)
    return parser


def _group(sub: Any, name: str, help: str) -> Any:
    """A command with sub-commands of its own (``users add``, ``retention run``)."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def _serve(sub: Any) -> None:
    cmd = sub.add_parser("serve", help="run the web service (migrates first)")
    cmd.add_argument("--host", help="bind address (default ORCH_HOST or 127.0.0.1)")
    cmd.add_argument("--port", type=int, help="port (default ORCH_PORT or 8080)")
    cmd.set_defaults(run=lambda args: serve.serve(host=args.host, port=args.port))


def _migrate(sub: Any) -> None:
    cmd = sub.add_parser("migrate", help="bring the database schema to the newest version")
    cmd.set_defaults(run=lambda args: migrate.migrate())


def _users(sub: Any) -> None:
    users_sub = _group(sub, "users", "manage staff users")
    add = users_sub.add_parser("add", help="add a staff user and print an API token last")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--name", default="")
    add.add_argument("--password", default=None, help="for signing in to the web pages")
    add.set_defaults(
        run=lambda args: users.add(
            email=args.email, role=args.role, name=args.name, password=args.password
        )
    )
    token = users_sub.add_parser("token", help="issue another API token for a staff user")
    token.add_argument("--email", required=True)
    token.set_defaults(run=lambda args: users.token(email=args.email))


def _demo(sub: Any) -> None:
    cmd = sub.add_parser("demo", help="load a realistic sample caseload")
    cmd.set_defaults(run=lambda args: demo.load_sample())


def _retention(sub: Any) -> None:
    retention_sub = _group(sub, "retention", "anonymise closed cases past the retention period")
    cmd = retention_sub.add_parser(
        "run",
        help="anonymise closed cases older than ORCH_RETENTION_DAYS and say what was done",
    )
    cmd.add_argument(
        "--dry-run", action="store_true", help="only list the cases that would be anonymised"
    )
    cmd.set_defaults(run=lambda args: retention.run(dry_run=args.dry_run))


def _mail(sub: Any) -> None:
    mail_sub = _group(sub, "mail", "mail tools")
    ingest = mail_sub.add_parser(
        "ingest", help="apply a calendar reply read from stdin (for a mail-server pipe)"
    )
    ingest.set_defaults(run=lambda args: mail.ingest())


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(args.log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args.run(args)


if __name__ == "__main__":
    main()
