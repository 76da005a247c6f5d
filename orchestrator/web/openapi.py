"""The OpenAPI 3.1 description of the JSON API, built from the declared routes and models."""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

from orchestrator import __version__
from orchestrator.core import idempotency
from orchestrator.web.api.routes import ApiRoute

_PARAM = re.compile(r"\{(\w+)\}")
Refs = dict[tuple[Any, JsonSchemaMode], JsonSchemaValue]  # (model, mode) -> its $ref

ERROR_SCHEMA: dict[str, Any] = {
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
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": "a string unique to this request: a retry with the same "
    "key and body answers as the first did and creates nothing; the same key "
    "with a different body is refused (422 idempotency_key_reused)",
    "schema": {"type": "string", "pattern": idempotency.KEY_PATTERN},
}


def build_openapi(table: list[ApiRoute], *, base_url: str) -> dict[str, Any]:
    """OpenAPI 3.1 from the declared routes; schemas come from the pydantic models."""
    refs, components = _model_schemas(table)
    paths: dict[str, Any] = {}
    for route in table:
        path = "/api/v1" + route.path
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, refs, components)
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


def _model_schemas(table: list[ApiRoute]) -> tuple[Refs, dict[str, Any]]:
    """Each body model as it is read and each response model as it is written."""
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
    components["Error"] = copy.deepcopy(ERROR_SCHEMA)
    return refs, components


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(route: ApiRoute, refs: Refs, components: dict[str, Any]) -> dict[str, Any]:
    """One route's operation: its parameters, body, and every answer it may give."""
    responses: dict[str, Any] = {
        "401": _error("no or unknown token"),
        "403": _error("role not allowed"),
        "503": {
            **_error("database_unavailable: the database is out of reach; try again"),
            "headers": {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            },
        },
    }
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.tag}_{route.handler.__name__}",
        "tags": [route.tag],
        "security": [{"bearer": []}],
        "responses": responses,
    }
    if route.public:
        del responses["401"], responses["403"]
        op["security"] = []
        responses["429"] = {
            **_error("too_many_attempts: too many from this address; try again later"),
            "headers": {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            },
        }
    params = _parameters(route, components)
    if params:
        op["parameters"] = params
        responses["404"] = _error("unknown id")
        responses["422"] = _error("invalid parameters")
    if route.writes:
        responses["409"] = _error("conflicts with the current state")
        responses["422"] = _error("breaks a rule (fields, or the state of things)")
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
        responses["400"] = _error("malformed JSON")
        responses["422"] = _error("invalid fields")
        responses["409"] = _error("conflicts with the current state")
        responses["404"] = _error("an id in the body or path is unknown")
        responses["413"] = _error("body too large")
    responses[str(route.status)] = _success(route, refs)
    return op


def _parameters(route: ApiRoute, components: dict[str, Any]) -> list[dict[str, Any]]:
    """Path ids, query fields (their nested schemas join ``components``), idempotency key."""
    params: list[dict[str, Any]] = [
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
        params.append(copy.deepcopy(IDEMPOTENCY_KEY))
    return params


def _success(route: ApiRoute, refs: Refs) -> dict[str, Any]:
    if route.response is None:
        return {"description": "success"}
    return {
        "description": "success",
        "content": {
            route.response_content_type: {"schema": refs[(route.response, "serialization")]},
            **{kind: {"schema": {"type": "string"}} for kind in route.alternate_content_types},
        },
    }


def _allows_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_allows_null(one) for one in schema.get("anyOf", []) + schema.get("oneOf", []))


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """An update field that may be left out but not set to null has no ``null`` default."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and not _allows_null(prop):
            del prop["default"]
