"""GraphQL over HTTP's media types (graphql.github.io/graphql-over-http/draft): which one an
answer is in, what a request body may be, and which status an answer gets.

- `application/graphql-response+json`, when the Accept header prefers it: a request GraphQL
  refused before executing anything (JSON or parameters it cannot read, a document that does not
  parse or validate, variables that do not coerce) is a 400 whose body has `errors` and no
  `data`; a document that executed is a 200, field errors and all.
- `application/json` otherwise (no Accept, `*/*`, or a legacy client naming only it): a
  well-formed request's answer is always a 200 with `data`, as before this media type existed.
- An Accept that admits neither is a 406; a POST body that is not UTF-8 `application/json`, a 415.

The draft has since moved validation failures to 422 and partial answers to 294; the
graphql-http audit (tests/test_graphql_http.py) still checks 400 and 200, and so do we.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from schema.context import Context

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"
CONTENT_TYPES: Final = {GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8", JSON: JSON}
MEDIA_TYPE: Final = "orderpass.media_type"  # what the Accept header chose, for the whole request
WILDCARDS: Final = ("application/*", "*/*")  # the ranges that admit both, narrowest first
UTF8: Final = frozenset({"utf-8", "utf8"})


class _Request(StarletteRequestAdapter):
    @property
    def content_type(self) -> str | None:
        found = super().content_type
        return found.lower() if found else found  # Application/JSON is JSON (RFC 9110 §8.3.1)


class GraphQLOverHTTP(GraphQL[Context, None]):
    """Strawberry's ASGI view, answering as GraphQL over HTTP says (see the module docstring)."""

    request_adapter_class = _Request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        media_type = response_type(Headers(scope=scope).get("accept"))
        if media_type is None:
            message = f"Accept admits neither {GRAPHQL_RESPONSE} nor {JSON}"
            response = problem(406, message, "INVALID_INPUT")
        else:
            scope[MEDIA_TYPE] = media_type
            try:
                response = await self.run(Request(scope, receive))
            except HTTPException as refused:
                response = _refused(refused, media_type)
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # GraphiQL is its own page; a GET without a query lacks one (400)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        wrong = body_type_problem(request.content_type) if request.method == "POST" else None
        if wrong is not None:
            raise HTTPException(415, wrong)
        return await super().parse_http_body(request)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = await super().get_sub_response(request)
        response.media_type = request.scope[MEDIA_TYPE]
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """With the spec's media type, a request GraphQL refused before executing has no `data`."""
        body = await super().process_result(request, result)
        media_type = request.scope.get(MEDIA_TYPE)
        if media_type == GRAPHQL_RESPONSE and refused_before_execution(result):
            body.pop("data", None)
        return body

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.status_code = status_of(response_data)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = CONTENT_TYPES[media_type]
        return response


def _refused(refused: HTTPException, media_type: str) -> Response:
    """What the door itself refuses, as a GraphQL response: a mutation over GET is a 405."""
    status = 405 if isinstance(refused.__cause__, InvalidOperationTypeError) else refused.status_code
    headers = {"Allow": "GET, POST"} if status == 405 else None
    return problem(status, refused.reason, "INVALID_INPUT", headers, media_type)


def problem(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    media_type: str = JSON,
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, headers, CONTENT_TYPES[media_type])


def response_type(accept: str | None) -> str | None:
    """The media type to answer in, or None for a 406. On equal quality, a type named exactly
    beats one a wildcard admits, and the spec's own type beats `application/json` only when the
    client named both: `*/*` alone keeps a legacy client on `application/json`."""
    if not accept or not accept.strip():
        return JSON
    ranges = dict(_ranges(accept))
    best, best_key = None, (0.0, False, False)
    for candidate in (JSON, GRAPHQL_RESPONSE):
        quality, exact = _quality(candidate, ranges)
        key = (quality, exact, exact and candidate == GRAPHQL_RESPONSE)
        if quality > 0 and key > best_key:
            best, best_key = candidate, key
    return best


def _quality(candidate: str, ranges: Mapping[str, float]) -> tuple[float, bool]:
    """RFC 9110 §12.5.1: the most specific range that matches decides."""
    if candidate in ranges:
        return ranges[candidate], True
    for wider in WILDCARDS:
        if wider in ranges:
            return ranges[wider], False
    return 0.0, False


def _ranges(accept: str) -> Iterator[tuple[str, float]]:
    """Each media range with its quality; a range asking for a charset other than UTF-8 (which
    is all we write) matches nothing."""
    for part in accept.split(","):
        name, params = _parsed(part)
        if not name or params.get("charset", "utf-8") not in UTF8:
            continue
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        yield name, quality if 0 <= quality <= 1 else 0.0


def body_type_problem(content_type: str | None) -> str | None:
    """Why a POST body's Content-Type is refused (415), or None for UTF-8 `application/json`
    (UTF-8 is assumed when no charset is given)."""
    name, params = _parsed(content_type or "")
    if name != JSON:
        return f"a POST body must be {JSON} (Content-Type), not {name or 'unlabelled'}"
    if params.get("charset", "utf-8") not in UTF8:
        return f"a POST body must be UTF-8, not {params['charset']}"
    return None


def _parsed(value: str) -> tuple[str, dict[str, str]]:
    name, *rest = value.split(";")
    params = {}
    for param in rest:
        key, _, found = param.partition("=")
        params[key.strip().lower()] = found.strip().strip('"').lower()
    return name.strip().lower(), params


def refused_before_execution(result: ExecutionResult) -> bool:
    """A GraphQL request error: parsing, validation (ours too: cost, depth, NUL, staff only) or
    variable coercion stopped it, so nothing executed. A field error carries a path; these do not."""
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def status_of(body: Any) -> int:
    """The spec's rule: an answer without `data` is a request error (400)."""
    return 200 if isinstance(body, list) or "data" in body else 400
