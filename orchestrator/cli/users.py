"""``orchestrator users add|token``: staff users and their API tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orchestrator.cli.runner import load_settings, run_with_database
from orchestrator.core.db import Database


def add_command(sub: Any) -> None:
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


def cmd_users_add(args: argparse.Namespace) -> None:
    from orchestrator.core.errors import Conflict, ValidationFailed
    from orchestrator.core.models import StaffRole
    from orchestrator.staff.accounts import add_user, issue_token

    async def work(db: Database) -> str:
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
        token = run_with_database(work, settings=load_settings())
    except (Conflict, ValidationFailed) as exc:
        sys.exit(str(exc))
    print(f"Added {args.role} {args.email}. API token (shown once, keep it safe):")
    print(token)


def cmd_users_token(args: argparse.Namespace) -> None:
    from sqlmodel import col, select

    from orchestrator.core.models import StaffUser
    from orchestrator.staff.accounts import issue_token

    async def work(db: Database) -> str | None:
        async with db.write() as session:
            user = await session.scalar(
                select(StaffUser).where(col(StaffUser.email) == args.email.lower())
            )
            if user is None:
                return None
            return await issue_token(session, user_id=user.id, label="cli")

    token = run_with_database(work, settings=load_settings())
    if token is None:
        sys.exit(f"no staff user with email {args.email}")
    print(f"New API token for {args.email}:")
    print(token)
