"""Operational endpoints: health, readiness, metrics, and the OpenAPI description."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from orchestrator import __version__
from orchestrator.core import idempotency
from orchestrator.core.migrate import is_current
from orchestrator.messaging.outbox import pending_counts
from orchestrator.web.api.routes import ApiRoute
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


_PARAM = re.compile(r"\{(\w+)\}")


def _allows_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_allows_null(one) for one in schema.get("anyOf", []) + schema.get("oneOf", []))


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """An update field that may be left out but not set to null has no ``null`` default."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and not _allows_null(prop):
            del prop["default"]


def build_openapi(table: list[ApiRoute], *, base_url: str) -> dict[str, Any]:
    """OpenAPI 3.1 from the declared routes; schemas come from the pydantic models."""
    models: set[type[BaseModel]] = set()
    for route in table:
        models.update(m for m in (route.body, route.response) if m is not None)
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation") for m in models if any(r.body is m for r in table)
    ]
    keyed += [(m, "serialization") for m in models if any(r.response is m for r in table)]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = dict(defs.get("$defs", {}))
    for schema in components.values():
        _drop_null_defaults(schema)
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {},
                },
            }
        },
    }
    error_ref = {"$ref": "#/components/schemas/Error"}

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": error_ref}}}

    paths: dict[str, Any] = {}
    for route in table:
        path = "/api/v1" + route.path
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.tag}_{route.handler.__name__}",
            "tags": [route.tag],
            "security": [{"bearer": []}],
            "responses": {
                "401": error("no or unknown token"),
                "403": error("role not allowed"),
                "503": {
                    **error("database_unavailable: the database is out of reach; try again"),
                    "headers": {
                        "Retry-After": {
                            "description": "seconds to wait before trying again",
                            "schema": {"type": "integer"},
                        }
                    },
                },
            },
        }
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
            for name in _PARAM.findall(route.path)
        ]
        if route.query is not None:
            schema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.get("$defs", {}))
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                params.append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        if route.creates:
            params.append(
                {
                    "name": idempotency.HEADER,
                    "in": "header",
                    "required": False,
                    "description": "a string unique to this request: a retry with the same "
                    "key and body answers as the first did and creates nothing; the same key "
                    "with a different body is refused (422 idempotency_key_reused)",
                    "schema": {"type": "string", "pattern": idempotency.KEY_PATTERN},
                }
            )
        if params:
            op["parameters"] = params
            op["responses"]["404"] = error("unknown id")
            op["responses"]["422"] = error("invalid parameters")
        if route.writes:
            op["responses"]["409"] = error("conflicts with the current state")
            op["responses"]["422"] = error("breaks a rule (fields, or the state of things)")
        if route.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
            op["responses"]["400"] = error("malformed JSON")
            op["responses"]["422"] = error("invalid fields")
            op["responses"]["409"] = error("conflicts with the current state")
            op["responses"]["404"] = error("an id in the body or path is unknown")
            op["responses"]["413"] = error("body too large")
        if route.response is not None:
            op["responses"][str(route.status)] = {
                "description": "success",
                "content": {
                    route.response_content_type: {
                        "schema": refs[(route.response, "serialization")]
                    },
                    **{
                        kind: {"schema": {"type": "string"}}
                        for kind in route.alternate_content_types
                    },
                },
            }
        else:
            op["responses"][str(route.status)] = {"description": "success"}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mediation Orchestrator API", "version": __version__},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
