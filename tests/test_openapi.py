"""/openapi.json: a valid OpenAPI 3.1 document that describes exactly what the shim answers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from pydantic.alias_generators import to_camel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Mount, Route

from tests.conftest import lay
from tests.factories import make_order, payment_event
from tests.test_rest import FLOOR


async def fetch(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def body_errors(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> list[str]:
    responses = document["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, (
        f"{method} {path} answered an undocumented {response.status_code}"
    )
    schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:ours", Resource.from_contents(document, DRAFT202012)
    )
    if "items" in schema:  # an array of them (ListAreas)
        schema = {"type": "array", "items": {"$ref": "urn:ours" + schema["items"]["$ref"]}}
    else:
        schema = {"$ref": "urn:ours" + schema["$ref"]}
    validator = Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
    return [error.message for error in validator.iter_errors(response.json())]


async def test_the_document_is_valid_openapi_3_1(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        document = await fetch(client)
    validate(document)
    assert document["openapi"] == "3.1.0"


async def test_the_document_describes_exactly_the_routes_the_shim_serves(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        document = await fetch(client)
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = set()
    app = live_server.server.config.app
    (shim,) = [route for route in app.routes if isinstance(route, Mount) and route.path == "/v1"]
    for route in shim.routes:
        assert isinstance(route, Route)
        path = "/v1" + re.sub(r"\{(\w+)\}", lambda m: "{" + to_camel(m.group(1)) + "}", route.path)
        served |= {(method, path) for method in route.methods or () if method != "HEAD"}
    assert described == served


async def test_the_document_is_served_without_credentials(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        assert (await client.get("/openapi.json")).status_code == 200


async def test_responses_match_the_documents_own_schemas(live_server, dojo: httpx.AsyncClient):
    document = await fetch(dojo)
    created = await dojo.post("/v1/orders", json=make_order())
    calls = [
        ("/v1/orders", "post", created),
        ("/v1/orders", "post", await dojo.post("/v1/orders", json={})),
        ("/v1/orders/{orderId}", "get", await dojo.get(f"/v1/orders/{created.json()['id']}")),
        ("/v1/orders/{orderId}", "get", await dojo.get("/v1/orders/missing")),
        ("/v1/orders/search", "post", await dojo.post("/v1/orders/search", json={"cursor": {"limit": 1}})),
        ("/v1/events", "post", await dojo.post("/v1/events", json=payment_event("pi_1", "Captured"))),
        ("/v1/orders/{orderId}", "delete", await dojo.delete(f"/v1/orders/{created.json()['id']}")),
    ]
    await lay(live_server.settings, FLOOR)
    calls += [
        ("/v1/areas", "get", await dojo.get("/v1/areas")),
        ("/v1/tables/search", "post", await dojo.post("/v1/tables/search", json={"cursor": {"limit": 1}})),
        ("/v1/tables/search", "post", await dojo.post("/v1/tables/search", json={"cursor": {"after": "x"}})),
    ]
    for path, method, response in calls:
        assert body_errors(document, path, method, response) == [], (method, path, response.text)


def referenced(document: dict[str, Any], schema: Any) -> Iterator[str]:
    """The names of the schemas `schema` refers to, and theirs, each once."""
    seen: set[str] = set()
    todo = [schema]
    while todo:
        found = re.findall(r'"#/components/schemas/(\w+)"', json.dumps(todo.pop()))
        for name in set(found) - seen:
            seen.add(name)
            todo.append(document["components"]["schemas"][name])
            yield name


async def test_no_request_body_admits_null(live_server):
    """Dojo's request schemas mark no field nullable, and neither do ours: an optional field is
    left out, never null (server/orders/model.Omittable), so it is described by its type alone."""
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        document = await fetch(client)
    bodies = [
        op["requestBody"]
        for item in document["paths"].values()
        for op in item.values()
        if "requestBody" in op
    ]
    names = set(referenced(document, bodies))
    assert {"CreateOrderRequest", "Cursor", "DineInDetails", "PaymentWithLockId", "Event"} <= names
    for name in sorted(names):
        text = json.dumps(document["components"]["schemas"][name])
        assert '"null"' not in text, f"{name} admits null"
        assert '"default": null' not in text, f"{name} shows a default of null"
