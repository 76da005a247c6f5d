"""The ``orchestrator`` command: serve, migrate, users, demo, and operators' tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from orchestrator.settings import Settings

log = logging.getLogger("orchestrator")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"configuration error:\n{exc}")


def cmd_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from orchestrator.loop import new_event_loop
    from orchestrator.web.app import create_app

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    app = create_app(settings)

    async def announce(_app: web.Application) -> None:
        lines = [
            f"Mediation Orchestrator is running on {settings.base_url}",
            f"  database: {_redact(settings.database_url)}",
        ]
        if settings.mail_backend == "file":
            lines.append(f"  mail is written as .eml files to {settings.mail_dir.resolve()}")
        else:
            lines.append(f"  mail goes out by {settings.mail_backend}")
        lines += [
            "  get a staff API token with:",
            "    .venv/bin/orchestrator users add --email you@example.org --role scheduler",
            f"  then: curl -H 'Authorization: Bearer <token>' {settings.base_url}/api/v1/cases",
            "  load sample cases with: make demo      (Ctrl-C stops the service)",
        ]
        print("\n".join(lines), flush=True)

    app.on_startup.append(announce)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        loop=new_event_loop(settings.event_loop),
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_migrate(args: argparse.Namespace) -> None:
    from orchestrator.migrate import upgrade_sync

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.database_url)
    print("database is at the newest schema")


def _run_with_db(work: Callable[[Any], Awaitable[Any]]) -> Any:
    from orchestrator.db import connect
    from orchestrator.migrate import upgrade_sync

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.database_url)

    async def main() -> Any:
        db = connect(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_users_add(args: argparse.Namespace) -> None:
    from orchestrator.errors import Conflict, ValidationFailed
    from orchestrator.models import StaffRole
    from orchestrator.staff import add_user, issue_token

    async def work(db: Any) -> str:
        async with db.write() as session:
            user = await add_user(
                session,
                email=args.email,
                role=StaffRole(args.role),
                name=args.name or "",
                password=args.password,
            )
            return await issue_token(session, user_id=user.id, label="cli")

    try:
        token = _run_with_db(work)
    except (Conflict, ValidationFailed) as exc:
        sys.exit(str(exc))
    print(f"Added {args.role} {args.email}. API token (shown once, keep it safe):")
    print(token)


def cmd_users_token(args: argparse.Namespace) -> None:
    from sqlmodel import col, select

    from orchestrator.models import StaffUser
    from orchestrator.staff import issue_token

    async def work(db: Any) -> str | None:
        async with db.write() as session:
            user = await session.scalar(
                select(StaffUser).where(col(StaffUser.email) == args.email.lower())
            )
            if user is None:
                return None
            return await issue_token(session, user_id=user.id, label="cli")

    token = _run_with_db(work)
    if token is None:
        sys.exit(f"no staff user with email {args.email}")
    print(f"New API token for {args.email}:")
    print(token)


def cmd_demo(args: argparse.Namespace) -> None:
    from orchestrator.demo import load_demo

    settings = _settings()
    summary = _run_with_db(lambda db: load_demo(db, settings=settings))
    print(summary)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Organise SEND mediation meetings. Settings come from ORCH_* variables.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web service (migrates first)")
    serve.add_argument("--host", help="bind address (default ORCH_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ORCH_PORT or 8080)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema to the newest version")
    migrate.set_defaults(func=cmd_migrate)

    users = sub.add_parser("users", help="manage staff users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a staff user and print an API token last")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=["scheduler", "mediator", "admin"])
    add.add_argument("--name", default="")
    add.add_argument("--password", default=None, help="for signing in to the web pages")
    add.set_defaults(func=cmd_users_add)
    token = users_sub.add_parser("token", help="issue another API token for a staff user")
    token.add_argument("--email", required=True)
    token.set_defaults(func=cmd_users_token)

    demo = sub.add_parser("demo", help="load a realistic sample caseload")
    demo.set_defaults(func=cmd_demo)

    for extra in EXTRA_COMMANDS:
        extra(sub)
    return parser


# Other capabilities add their sub-commands here (mail ingest, retention, ...).
EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _retention_command(sub: Any) -> None:
    from orchestrator.retention import add_command

    add_command(sub)


EXTRA_COMMANDS.append(_retention_command)


def _mail_command(sub: Any) -> None:
    from orchestrator.replies import add_command

    add_command(sub)


EXTRA_COMMANDS.append(_mail_command)


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
