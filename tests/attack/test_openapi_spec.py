"""The published ``/openapi.json`` is a valid OpenAPI 3.1 document: every ``$ref`` resolves."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate


async def test_openapi_json_validates(client: TestClient[Any, Any]) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    spec = await response.json()
    validate(spec)  # raises on a dangling reference or a malformed operation
    assert "CaseStatus" in spec["components"]["schemas"]
