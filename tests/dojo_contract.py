"""Dojo's published contract, read from ../shared/dojo, as a validator for what we send and receive.

Absent files mean no contract to check against; callers skip with `MISSING`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SHARED = Path(__file__).resolve().parents[2] / "shared" / "dojo"
EPOS_OPENAPI = SHARED / "epos-data-api.openapi.json"
EPOS_ASYNCAPI = SHARED / "epos-data-api.asyncapi.yml"
MISSING = f"Dojo's contract is not at {SHARED} (the shared folder beside the repository)"
_OPENAPI_URI = "urn:dojo:epos-data-api.openapi.json"
_ASYNCAPI_URI = "urn:dojo:epos-data-api.asyncapi.yml"

# Where Dojo's notes (NOTES.md, "Areas and tables") tell us to answer otherwise than its REST
# description, and only there: (method, path template, status) -> (what the description says,
# what we check instead). SearchTables' 200 is published as an *array* of PagedTablesResponse;
# every other search, and the WebSocket's SearchTablesV1, answer one paged object, and so do we.
# Should Dojo correct the description, the published schema no longer matches and is used as is.
DOCUMENTED_EXCEPTIONS: dict[tuple[str, str, int], tuple[dict[str, Any], dict[str, Any]]] = {
    ("post", "/v1/tables/search", 200): (
        {"type": "array", "items": {"$ref": "#/components/schemas/PagedTablesResponse"}},
        {"$ref": "#/components/schemas/PagedTablesResponse"},
    ),
}


@dataclass(frozen=True)
class Contract:
    spec: dict[str, Any]
    registry: Registry[Any]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        found = self._operation(method, path)
        return found[1] if found else None

    def _operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The path template that matches, and its operation."""
        for template, item in self.spec["paths"].items():
            pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method.lower() in item:
                operation: dict[str, Any] = item[method.lower()]
                return template, operation
        return None

    def schema(self, name: str) -> dict[str, Any]:
        return {"$ref": f"{_OPENAPI_URI}#/components/schemas/{name}"}

    def errors(self, schema: dict[str, Any], body: Any) -> list[str]:
        validator = Draft202012Validator(schema, registry=self.registry, format_checker=FormatChecker())
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        found = self._operation(method, path)
        if found is None:
            return []  # not a Dojo REST operation (HandleEvent, health checks)
        template, operation = found
        responses = operation["responses"]
        response = (
            responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        )
        if response is None:
            return [f"{method} {path}: status {status} is not documented by Dojo"]
        schema = response["content"]["application/json"]["schema"]
        published, instead = DOCUMENTED_EXCEPTIONS.get((method.lower(), template, status), (None, None))
        if instead is not None and schema == published:
            schema = instead
        return self.errors(_absolute(schema), body)

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        operation = self.operation(method, path)
        if operation is None or "requestBody" not in operation:
            return []
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return self.errors(_absolute(schema), body)

    def event_errors(self, body: Any) -> list[str]:
        return self.errors({"$ref": f"{_ASYNCAPI_URI}#/components/schemas/Event"}, body)


def _absolute(schema: Any) -> Any:
    """A schema taken out of Dojo's document, its references (an array's items' too) still into it."""
    if isinstance(schema, list):
        return [_absolute(part) for part in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref", "")
    if isinstance(ref, str) and ref.startswith("#"):
        return {**schema, "$ref": f"{_OPENAPI_URI}{ref}"}
    return {key: _absolute(value) for key, value in schema.items()}


@cache
def load() -> Contract | None:
    if not EPOS_OPENAPI.exists() or not EPOS_ASYNCAPI.exists():
        return None
    spec = orjson.loads(EPOS_OPENAPI.read_bytes())
    asyncapi = yaml.safe_load(EPOS_ASYNCAPI.read_text())
    registry: Registry[Any] = Registry().with_resources(
        [
            (_OPENAPI_URI, Resource.from_contents(spec, default_specification=DRAFT202012)),
            (_ASYNCAPI_URI, Resource.from_contents(asyncapi, default_specification=DRAFT202012)),
        ]
    )
    return Contract(spec, registry)
