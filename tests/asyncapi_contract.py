"""Dojo's WebSocket contract (epos-data-api.asyncapi.yml in ../shared/dojo) as validators of the
JSON-RPC frames that Dojo sends to the POS and the POS answers.

Every channel of the document is one method. Its `subscribe` message is Dojo's request (the POS
subscribes to what Dojo sends) and its `publish` message the POS's answer (what the POS
publishes back); the operationIds (`*_Request`, `*_Response`) agree. From those two payloads the
`methods` table below finds, by walking `allOf` and `$ref`, where each method's `params` and
`result` schemas live, so nothing here is written out by hand.

What the document does not say, and so is not checked here: that `jsonrpc` is "2.0" (it is only
`type: string`, with no example) and that an answer's `method` and `id` echo the request's. The
fake checks those against the request it sent (tests/fake_dojo_ws.py).

Absent files mean no contract; `load()` answers None and callers skip with `MISSING`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.dojo_contract import EPOS_ASYNCAPI, MISSING

__all__ = ["MISSING", "AsyncContract", "Method", "load"]

URI = "urn:dojo:epos-data-api.asyncapi.yml"
_ENVELOPE = f"{URI}#/components/schemas/JsonrpcResponseV1"  # for answers to no known method
Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Method:
    """Where one method's schemas live in the document, as absolute `$ref`s."""

    name: str
    request: str  # the whole request frame
    response: str  # the whole answer frame when it succeeds
    params: str  # the request's `params` (the REST body, path values and `headers`)
    result: str  # the successful answer's `result`
    envelope: tuple[str, ...]  # what every answer shares, `error` included

    @property
    def error(self) -> Schema:
        """A failed answer. The document has no such message: every answer schema requires
        `result` (an Order for CreateOrderV1), which leaves no room for an answer that carries
        `error` instead. So a failed answer is held to the envelope, which types `error` as an
        EPOSError, and must carry one."""
        return {"allOf": [*({"$ref": ref} for ref in self.envelope), {"required": ["error"]}]}


@dataclass(frozen=True)
class AsyncContract:
    document: dict[str, Any]
    registry: Registry[Any]
    methods: Mapping[str, Method]

    def errors(self, schema: Schema, body: Any) -> list[str]:
        validator = Draft7Validator(schema, registry=self.registry, format_checker=FormatChecker())
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def schema(self, name: str) -> Schema:
        return {"$ref": f"{URI}#/components/schemas/{name}"}

    def params_errors(self, method: str, params: Any) -> list[str]:
        """What Dojo would never send as this method's `params` (for tests that send them)."""
        return self.errors({"$ref": self.methods[method].params}, params)

    def result_errors(self, method: str, result: Any) -> list[str]:
        return self.errors({"$ref": self.methods[method].result}, result)

    def answer_errors(self, method: str | None, frame: Any) -> list[str]:
        """An answer frame against the schema of the method it answers: success or failure by
        whether it carries `error`. An answer to no known method meets the envelope."""
        known = self.methods.get(method or "")
        if known is None:
            return self.errors({"$ref": _ENVELOPE}, frame)
        failed = isinstance(frame, Mapping) and "error" in frame
        return self.errors(known.error if failed else {"$ref": known.response}, frame)


@cache
def load() -> AsyncContract | None:
    if not EPOS_ASYNCAPI.exists():
        return None
    document = yaml.safe_load(EPOS_ASYNCAPI.read_text())
    # AsyncAPI 2.0's Schema Object is a superset of JSON Schema Draft 07; its extras
    # (`example`, `x-*`) are annotations a Draft 7 validator ignores.
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(URI, resource)
    methods = {name: _method(registry, name, channel) for name, channel in document["channels"].items()}
    return AsyncContract(document, registry, methods)


def _method(registry: Registry[Any], name: str, channel: Mapping[str, Any]) -> Method:
    request = _absolute(channel["subscribe"]["message"]["payload"]["$ref"])
    response = _absolute(channel["publish"]["message"]["payload"]["$ref"])
    result, envelope = _split(registry, response, "result")
    params, _ = _split(registry, request, "params")
    return Method(name, request, response, params, result, envelope)


def _split(registry: Registry[Any], ref: str, field: str) -> tuple[str, tuple[str, ...]]:
    """The `$ref` of the member of `ref`'s allOf that holds `field`, and those of the others."""
    holding: list[str] = []
    others: list[str] = []
    for member in _members(registry, ref):
        properties = registry.resolver().lookup(member).contents.get("properties", {})
        (holding if field in properties else others).append(member)
    if len(holding) != 1:
        raise LookupError(f"{ref}: expected one allOf member with `{field}`, found {holding}")
    return f"{holding[0]}/properties/{field}", tuple(others)


def _members(registry: Registry[Any], ref: str) -> Iterator[str]:
    """The schemas `ref` is made of: itself, or its allOf members, each followed through `$ref`."""
    contents = registry.resolver().lookup(ref).contents
    if "$ref" in contents:
        yield from _members(registry, _absolute(contents["$ref"]))
    elif "allOf" in contents:
        for index in range(len(contents["allOf"])):
            yield from _members(registry, f"{ref}/allOf/{index}")
    else:
        yield ref


def _absolute(ref: str) -> str:
    return f"{URI}{ref}" if ref.startswith("#") else ref
