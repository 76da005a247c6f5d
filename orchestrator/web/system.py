"""Operational endpoints: health, readiness, metrics, and serving the OpenAPI description."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator import __version__
from orchestrator.core.migrate import is_current
from orchestrator.messaging.outbox import pending_counts
from orchestrator.web.keys import DB, METRICS, OPENAPI

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "ok", "version": __version__})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The database answers and its schema is current."""
    db = request.app[DB]
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if await is_current(db.writer_engine) else "behind"
    except Exception as exc:  # any failure to reach the database means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    request.app[METRICS].dependency_up.labels("database").set(checks["database"] == "ok")
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    registry = request.app[METRICS]
    try:
        async with request.app[DB].read() as session:
            counts = await pending_counts(session)
        for kind in ("email", "webhook", "provider_call"):
            registry.outbox_pending.labels(kind).set(counts.get(kind, 0))
    except Exception:  # metrics must answer even while the database is down
        registry.dependency_up.labels("database").set(0)
    body = generate_latest(registry.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The API description, generated from the route table and its models."""
    return web.json_response(request.app[OPENAPI])
