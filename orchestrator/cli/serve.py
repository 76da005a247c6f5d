"""``orchestrator serve``: migrate, then run the web service."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.runner import load_settings


def add_command(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the web service (migrates first)")
    serve.add_argument("--host", help="bind address (default ORCH_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ORCH_PORT or 8080)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from orchestrator.core.loop import new_event_loop
    from orchestrator.web.app import create_app

    settings = load_settings()
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
