"""``orchestrator serve``: migrate, then run the web service."""

from __future__ import annotations

from orchestrator.cli.runner import load_settings


def serve(*, host: str | None = None, port: int | None = None) -> None:
    """Run the web service (it migrates first); ``host`` and ``port`` override the settings."""
    from aiohttp import web

    from orchestrator.core.loop import new_event_loop
    from orchestrator.web.app import create_app

    settings = load_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
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
