"""GraphQL over real HTTP (GraphQL over HTTP's media types, status codes and the graphql-http
audit) and real WebSockets (graphql-transport-ws) against a running server."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from schema.over_http import GRAPHQL_RESPONSE, JSON, response_type
from server.clock import SystemClock
from server.settings import Settings
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, dojo_client, fresh_database, mint, start_server
from tests.factories import make_order
from tests.processes import DOJO_AUTH

SUBSCRIBE = "subscription($since: Int) { orderChanges(since: $since) { sequence kind order { id status } } }"


@pytest.fixture
async def admin_token(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.ADMIN)


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def socket(
    server: LiveServer, *, token: str | None = None, header: str | None = None
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": header} if header else None
    async with connect(
        ws_url(server), subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
    ) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        yield ws


async def receive(ws: ClientConnection, *, skip_pings: bool = True, seconds: float = 10) -> dict[str, Any]:
    """The next message (pings skipped), within `seconds` however many pings come meanwhile: the
    server pings every few seconds, and a wait per message let a missing change hang a test."""
    async with asyncio.timeout(seconds):
        while True:
            message: dict[str, Any] = orjson.loads(await ws.recv())
            if not (skip_pings and message["type"] == "ping"):
                return message


async def subscribe(ws: ClientConnection, since: int | None, op: str = "1") -> None:
    assert (await receive(ws))["type"] == "connection_ack"
    message = {"id": op, "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"since": since}}}
    await ws.send(orjson.dumps(message).decode())


async def changes(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    found = []
    for _ in range(count):
        message = await receive(ws)
        assert message["type"] == "next", message
        found.append(message["payload"]["data"]["orderChanges"])
    return found


# -- HTTP ---------------------------------------------------------------------------------------


async def test_a_query_over_http_with_a_token(live_server: LiveServer, admin_token: str):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert response.status_code == 200
    assert response.json() == {"data": {"lastSequence": 0}}


@pytest.mark.parametrize("header", [None, "Bearer opt_not-a-real-token", "Basic ZG9qbzpzZWNyZXQ=", "Bearer"])
async def test_http_without_a_valid_token_is_401(live_server: LiveServer, header):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ lastSequence }"},
            headers={"Authorization": header} if header else {},
        )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


async def test_a_revoked_token_is_refused(live_server: LiveServer):
    token = await mint(live_server.settings, Role.VIEWER, "leaked")
    store = create_store(live_server.settings)
    await Tokens(store=store, clock=SystemClock()).revoke("leaked")
    await store.close()
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401


async def test_a_browser_without_a_token_is_sent_to_the_graphiql_page(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/graphiql"


async def test_a_kitchen_token_cannot_create_orders_over_http(live_server: LiveServer):
    token = await mint(live_server.settings, Role.KITCHEN)
    mutation = """mutation { createOrder(input: {details: {orderType: COLLECTION, collection: {asap: true}},
        items: [], totalAmount: {value: 0, currencyCode: "GBP"}}) { __typename ... on Problem { message } } }"""
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.json()["data"]["createOrder"]["__typename"] == "Forbidden"


# -- GraphQL over HTTP: media types and status codes --------------------------------------------


async def ask(server: LiveServer, token: str, *, accept: str | None = None, **request: Any) -> httpx.Response:
    """One POST (or, with `params`, a GET) to /graphql with a staff token and this Accept."""
    headers = {"Authorization": f"Bearer {token}", **request.pop("headers", {})}
    if accept is not None:
        headers["Accept"] = accept
    method = "GET" if "params" in request else "POST"
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.request(method, "/graphql", headers=headers, **request)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),  # no Accept: a legacy client
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (
            f"{GRAPHQL_RESPONSE}, application/json;q=0.9",
            GRAPHQL_RESPONSE,
        ),  # what the spec tells clients to send
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),  # both named, equal: the spec's type
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", JSON),
        (f"{GRAPHQL_RESPONSE};q=0.5, */*", JSON),
        (f"{GRAPHQL_RESPONSE}, */*", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=UTF-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=latin-1, application/json", JSON),  # we write UTF-8 only
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
        ("text/html", None),
        ("application/xml, text/plain", None),
        ("application/json;q=0", None),
        (f"{GRAPHQL_RESPONSE};q=0, application/json;q=0", None),
        ("application/json;q=nonsense", None),
        ("multipart/mixed", None),  # no incremental delivery here
    ],
)
def test_the_accept_header_chooses_the_media_type(accept: str | None, chosen: str | None):
    assert response_type(accept) == chosen


async def test_a_request_error_with_the_specs_media_type_is_a_400_without_data(live_server, admin_token):
    response = await ask(live_server, admin_token, accept=GRAPHQL_RESPONSE, json={"query": "{ nope }"})
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert "data" not in response.json()
    assert "nope" in response.json()["errors"][0]["message"]


async def test_the_same_request_error_for_a_legacy_client_is_a_200_with_null_data(live_server, admin_token):
    for accept in (None, "application/json", "*/*"):
        response = await ask(live_server, admin_token, accept=accept, json={"query": "{ nope }"})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == JSON
        assert response.json()["data"] is None
        assert "nope" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ lastSequence(x: 1) }"},  # an argument the field does not take
        {"query": "query($n: Int!) { lastSequence }", "variables": {"n": "one"}},  # variables not coerced
        {"query": "query A { lastSequence }", "operationName": "B"},  # no such operation
        {"query": "subscription { orderChanges { sequence } }"},  # over the WebSocket only
        {"query": "{ " + " ".join(f"a{n}: activeOrders {{ id }}" for n in range(15)) + " }"},  # too costly
    ],
)
async def test_every_refusal_before_execution_is_a_400_with_the_specs_media_type(
    live_server, admin_token, body
):
    response = await ask(live_server, admin_token, accept=GRAPHQL_RESPONSE, json=body)
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert response.json()["errors"]


async def test_a_field_error_is_a_200_with_data_with_either_media_type(live_server, admin_token):
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await ask(
            live_server, admin_token, accept=accept, json={"query": "{ orders(first: 0) { totalCount } }"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(accept)
        body = response.json()
        assert body["data"] is None  # executed: the field failed, the request did not
        assert body["errors"][0]["path"] == ["orders"]
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json;q=0", "text/event-stream"]
)
async def test_an_accept_admitting_neither_media_type_is_a_406(live_server, admin_token, accept):
    response = await ask(live_server, admin_token, accept=accept, json={"query": "{ lastSequence }"})
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "lastSequence" not in response.text


async def test_the_token_is_checked_before_the_accept_header(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        for accept in (GRAPHQL_RESPONSE, "application/xml"):
            response = await client.post(
                "/graphql", json={"query": "{ lastSequence }"}, headers={"Accept": accept}
            )
            assert response.status_code == 401, accept
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "not unlabelled"),
        ("text/plain", "not text/plain"),
        ("application/graphql", "not application/graphql"),
        ("application/x-www-form-urlencoded", "not application/x-www-form-urlencoded"),
        ("application/json; charset=latin-1", "UTF-8, not latin-1"),
        ("application/json; charset=utf-16", "UTF-8, not utf-16"),
    ],
)
async def test_a_post_body_that_is_not_utf8_json_is_a_415(live_server, admin_token, content_type, says):
    headers = {"Content-Type": content_type} if content_type else {}
    content = orjson.dumps({"query": "{ lastSequence }"})
    response = await ask(live_server, admin_token, accept=GRAPHQL_RESPONSE, content=content, headers=headers)
    assert response.status_code == 415
    assert says in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"]
)
async def test_a_utf8_json_body_is_read_however_its_type_is_spelled(live_server, admin_token, content_type):
    content = orjson.dumps({"query": '{ __type(name: "Tea☕") { name } }'})
    headers = {"Content-Type": content_type}
    response = await ask(live_server, admin_token, accept=GRAPHQL_RESPONSE, content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__type": None}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_mutation_over_get_is_a_405_that_names_post(live_server, admin_token, accept):
    mutation = 'mutation { cancelOrder(id: "ord_1") { __typename } }'
    response = await ask(live_server, admin_token, accept=accept, params={"query": mutation})
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert response.headers["content-type"].startswith(accept)
    assert "data" not in response.json()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_another_method_is_a_405_that_names_the_two_it_takes(live_server, admin_token, method):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        headers = {"Authorization": f"Bearer {admin_token}", "content-type": "application/json"}
        response = await client.request(
            method, "/graphql", headers=headers, content=b'{"query": "{ __typename }"}'
        )
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
    assert "traceId" in response.json()


async def test_a_query_over_get_answers_in_the_chosen_media_type(live_server, admin_token):
    params = {"query": "query($n: String!) { __type(name: $n) { name } }", "variables": '{"n": "Order"}'}
    response = await ask(live_server, admin_token, accept=GRAPHQL_RESPONSE, params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json() == {"data": {"__type": {"name": "Order"}}}


async def test_a_get_without_a_query_is_a_400_not_an_ide(live_server, admin_token):
    for accept in ("*/*", GRAPHQL_RESPONSE):
        response = await ask(live_server, admin_token, accept=accept, params={})
        assert response.status_code == 400, accept
        assert "No GraphQL query" in response.json()["errors"][0]["message"]


# -- the graphql-http audit ---------------------------------------------------------------------

# The server audit of the graphql-http package, version 1.23.1 (package-lock.json): every case
# of its src/audits/server.ts, one row each, with its id and name as the audit words them, the
# request it sends and what it checks. `test_the_graphql_http_audit_itself_passes` below runs
# the package's own audit against the same server and checks this table names the same ids.
QUERY: Final = {"query": "{ __typename }"}
TYPE: Final = "query Type($name: String!) { __type(name: $name) { name } }"
INVALID: Final = {"object": {"obj": "ect"}, "number": 0, "boolean": False, "array": ["array"]}
INVALID_MAPS: Final = {"string": "string", "number": 0, "boolean": False, "array": ["array"]}
NOT_JSON: Final = b'{ "not a JSON'
UNKNOWN_FIELD: Final = {"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}
COERCION: Final = {"query": "query CoerceFailure($id: ID!){ __typename }", "variables": {"id": None}}


@dataclass(frozen=True)
class Audit:
    id: str
    name: str
    body: Mapping[str, Any] | bytes | None = None  # sent as JSON; bytes as they are; None: no body
    accept: str | None = None
    content_type: str | None = JSON
    params: Mapping[str, str] | None = None  # a GET with these, instead of a POST
    status: int | tuple[int, int] = 200  # exactly, or within (low, high)
    media: str | None = None  # the Content-Type answered contains this
    errors: bool | None = None  # the body has `errors` (True), has none (False), unchecked (None)
    no_data: bool = False  # the body has no `data`

    def send(self, client: httpx.Client) -> httpx.Response:
        headers = {"Accept": self.accept} if self.accept else {}
        if self.params is not None:
            return client.get("/graphql", params=self.params, headers=headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        content = self.body if isinstance(self.body, bytes | None) else orjson.dumps(self.body)
        return client.post("/graphql", content=content, headers=headers)

    def check(self, response: httpx.Response) -> None:
        low, high = self.status if isinstance(self.status, tuple) else (self.status, self.status)
        assert low <= response.status_code <= high, response.text
        if self.media:
            assert self.media in response.headers["content-type"]
        response.content.decode("utf-8")  # MUST use utf-8 encoding when responding
        if self.errors is not None:
            assert ("errors" in response.json()) is self.errors, response.text
        if self.no_data:
            assert "data" not in response.json(), response.text


GR: Final = GRAPHQL_RESPONSE
AUDITS: Final = (
    # Media types
    Audit("22EB", "SHOULD accept application/graphql-response+json and match the content-type", QUERY, GR, media=GR),
    Audit("4655", "MUST accept application/json and match the content-type", QUERY, JSON, media=JSON),
    Audit("47DE", "SHOULD accept */* and use application/json for the content-type", QUERY, "*/*", media=JSON),
    Audit("80D8", "SHOULD assume application/json content-type when accept is missing", params=QUERY, media=JSON),
    Audit("82A3", "MUST use utf-8 encoding when responding", QUERY),
    Audit("BF61", "MUST accept utf-8 encoded request", {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'},
          content_type="application/json; charset=utf-8"),
    Audit("78D5", "MUST assume utf-8 in request if encoding is unspecified", QUERY),
    # Request
    Audit("2C94", "MUST accept POST requests", QUERY),
    Audit("5A70", "MAY accept application/x-www-form-urlencoded formatted GET requests", params=QUERY),
    Audit("9C48", "MAY NOT allow executing mutations on GET requests", accept=GR,
          params={"query": "mutation { __typename }"}, status=(400, 499)),
    Audit("9ABE", "SHOULD respond with 4xx status code if content-type is not supplied on POST requests", QUERY,
          content_type=None, status=(400, 499)),
    Audit("03D4", "MUST accept application/json POST requests", QUERY),
    Audit("A5BF", "MAY use 400 status code when request body is missing on POST", status=400),
    # Request parameters
    Audit("423L", "MAY use 400 status code on missing {query} parameter", {"notquery": "{ __typename }"}, GR,
          status=400),
    *(Audit(f"LKJ{n}", f"MAY use 400 status code on {kind} {{query}} parameter", {"query": value}, status=400)
      for n, (kind, value) in enumerate(INVALID.items())),
    Audit("34A2", "SHOULD allow string {query} parameter when accepting application/graphql-response+json", QUERY,
          GR),
    Audit("13EE", "MUST allow string {query} parameter when accepting application/json", QUERY, JSON,
          errors=False),
    *(Audit(f"6C0{n}", f"MAY use 400 status code on {kind} {{operationName}} parameter",
            {"operationName": value, **QUERY}, status=400) for n, (kind, value) in enumerate(INVALID.items())),
    Audit("8161", "SHOULD allow string {operationName} parameter when accepting application/graphql-response+json",
          {"operationName": "Query", "query": "query Query { __typename }"}, GR),
    Audit("B8B3", "MUST allow string {operationName} parameter when accepting application/json",
          {"operationName": "Query", "query": "query Query { __typename }"}, JSON, errors=False),
    *(audit for n, name in enumerate(["variables", "operationName", "extensions"]) for audit in (
        Audit(f"94B{n}", f"SHOULD allow null {{{name}}} parameter when accepting {GR}", {**QUERY, name: None}, GR,
              errors=False),
        Audit(f"022{n}", f"MUST allow null {{{name}}} parameter when accepting {JSON}", {**QUERY, name: None},
              JSON, errors=False),
    )),
    *(Audit(f"476{n}", f"MAY use 400 status code on {kind} {{variables}} parameter",
            {**QUERY, "variables": value}, status=400) for n, (kind, value) in enumerate(INVALID_MAPS.items())),
    Audit("2EA1", "SHOULD allow map {variables} parameter when accepting application/graphql-response+json",
          {"query": TYPE, "variables": {"name": "sometype"}}, GR),
    Audit("28B9", "MUST allow map {variables} parameter when accepting application/json",
          {"query": TYPE, "variables": {"name": "sometype"}}, JSON, errors=False),
    Audit("D6D5", "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
          "application/graphql-response+json", accept=GR, params={"query": TYPE, "variables": '{"name":"sometype"}'},
          errors=False),
    Audit("6A70", "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json",
          accept=JSON, params={"query": TYPE, "variables": '{"name":"sometype"}'}, errors=False),
    *(Audit(f"58B{n}", f"MAY use 400 status code on {kind} {{extensions}} parameter",
            {**QUERY, "extensions": value}, status=400) for n, (kind, value) in enumerate(INVALID_MAPS.items())),
    Audit("428F", "SHOULD allow map {extensions} parameter when accepting application/graphql-response+json",
          {**QUERY, "extensions": {"some": "value"}}, GR),
    Audit("1B7A", "MUST allow map {extensions} parameter when accepting application/json",
          {**QUERY, "extensions": {"some": "value"}}, JSON, errors=False),
    # Responses to a legacy client (application/json)
    Audit("B6DC", "MAY use 2xx, 4xx, or 5xx status codes on JSON parsing failure when accepting application/json",
          NOT_JSON, JSON, status=(200, 599)),
    Audit("BCF8", "SHOULD use 400 status code on JSON parsing failure when accepting application/json", NOT_JSON,
          JSON, status=400),
    Audit("B7N8", "SHOULD use 400 status code on JSON parsing failure when accepting "
          "application/graphql-response+json", NOT_JSON, GR, status=400),
    Audit("8764", "MAY use 4xx or 5xx status codes if parameters are invalid", {"qeury": "{ __typename }"},
          status=(400, 599)),
    Audit("3E3A", "MAY use 400 status code if parameters are invalid", {"qeury": "{ __typename }"}, status=400),
    Audit("572B", "SHOULD use 200 status code on document parsing failure when accepting application/json",
          {"query": "{"}, JSON),
    Audit("FDE2", "SHOULD use 200 status code on document validation failure when accepting application/json",
          UNKNOWN_FIELD, JSON),
    Audit("7B9B", "SHOULD use a status code of 200 on variable coercion failure when accepting application/json",
          COERCION, JSON),
    # Responses with the spec's media type (application/graphql-response+json)
    Audit("865D", f"SHOULD use 4xx or 5xx status codes on document parsing failure when accepting {GR}",
          {"query": "{"}, GR, status=(400, 599)),
    Audit("556A", f"SHOULD use 400 status code on document parsing failure when accepting {GR}", {"query": "{"},
          GR, status=400),
    Audit("D586", f"SHOULD not contain the data entry on document parsing failure when accepting {GR}",
          {"query": "{"}, GR, status=(100, 599), no_data=True),
    Audit("51FE", f"SHOULD use 4xx or 5xx status codes on document validation failure when accepting {GR}",
          UNKNOWN_FIELD, GR, status=(400, 599)),
    Audit("74FF", f"SHOULD use 400 status code on document validation failure when accepting {GR}",
          UNKNOWN_FIELD, GR, status=400),
    Audit("5E5B", f"SHOULD not contain the data entry on document validation failure when accepting {GR}",
          UNKNOWN_FIELD, GR, status=(100, 599), no_data=True),
    Audit("86EE", f"SHOULD use a status code of 400 on variable coercion failure when accepting {GR}", COERCION,
          GR, status=400),
)  # fmt: skip


@pytest.fixture(scope="module")
def audited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """One server for the whole audit (what it asks changes nothing), and a client with an admin token."""
    with fresh_database(request, "sqlite", tmp_path_factory.mktemp("audit")) as url:
        settings = Settings(database_url=url, dojo_username=DOJO_AUTH[0], dojo_password=DOJO_AUTH[1])
        server = start_server(settings)
        token = asyncio.run(mint(settings, Role.ADMIN))
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(base_url=server.url, headers=headers) as client:
                yield client
        finally:
            server.stop()


@pytest.mark.parametrize("audit", AUDITS, ids=[f"{a.id} {a.name}" for a in AUDITS])
def test_the_graphql_over_http_audit(audited: httpx.Client, audit: Audit):
    audit.check(audit.send(audited))


NODE: Final = shutil.which("node")
ROOT: Final = Path(__file__).resolve().parents[1]
GRAPHQL_HTTP: Final = ROOT / "node_modules" / "graphql-http" / "package.json"


async def test_the_graphql_http_audit_itself_passes(live_server: LiveServer, admin_token: str):
    """graphql-http's own audit, run by node against this server: every audit passes, MAY and
    SHOULD included, and the table above names exactly its audits."""
    if NODE is None:
        pytest.skip("no node on PATH: the table above still runs the audit's cases")
    if not GRAPHQL_HTTP.exists():
        pytest.skip("graphql-http is not in node_modules (`npm ci` installs it)")
    script = str(ROOT / "tests" / "graphql_http_audit.mjs")
    env = {**os.environ, "ORDERPASS_AUDIT_TOKEN": admin_token}
    audit = await asyncio.create_subprocess_exec(
        NODE, script, f"{live_server.url}/graphql", env=env, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(audit.communicate(), 60)
    assert audit.returncode == 0
    results = orjson.loads(output)
    assert [r for r in results if r["status"] != "ok"] == []
    assert {r["id"]: r["name"] for r in results} == {a.id: a.name for a in AUDITS}


# -- WebSocket ----------------------------------------------------------------------------------


async def test_a_socket_without_a_valid_token_is_closed_with_4401(live_server: LiveServer):
    for token, header in [(None, None), ("opt_wrong", None), (None, "Bearer opt_wrong")]:
        async with socket(live_server, token=token, header=header) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_graphiqls_capitalised_authorization_in_connection_init_is_accepted(live_server, admin_token):
    async with connect(ws_url(live_server), subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        payload = {"Authorization": f"Bearer {admin_token}"}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        assert (await receive(ws))["type"] == "connection_ack"


async def test_the_token_may_come_on_the_upgrade_header(live_server: LiveServer, admin_token: str):
    async with socket(live_server, header=f"Bearer {admin_token}") as ws:
        assert (await receive(ws))["type"] == "connection_ack"


async def test_the_server_pings_a_quiet_socket(serve):
    server: LiveServer = serve(ws_ping_seconds=0.2)
    token = await mint(server.settings, Role.VIEWER)
    async with socket(server, token=token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        assert (await receive(ws, skip_pings=False))["type"] == "ping"


async def test_a_rest_create_order_reaches_a_graphql_subscriber(live_server: LiveServer, admin_token: str):
    async with socket(live_server, token=admin_token) as ws, dojo_client(live_server) as dojo:
        await subscribe(ws, since=0)  # what a screen does: subscribe since the newest change it has
        created = (await dojo.post("/v1/orders", json=make_order())).json()
        (change,) = await changes(ws, 1)
    assert change["kind"] == "CREATED"
    assert change["order"] == {"id": created["id"], "status": "NEW"}


async def test_screens_of_one_shape_each_get_their_own_subscription_id(
    live_server: LiveServer, admin_token: str
):
    """Their result is encoded once and each id spliced in (schema/sending.py)."""
    ids = ("1", "2", 'a "quoted" \\ id', "écran-7")
    async with (
        socket(live_server, token=admin_token) as one,
        socket(live_server, token=admin_token) as two,
        dojo_client(live_server) as dojo,
        httpx.AsyncClient(base_url=live_server.url) as client,
    ):
        query = {"query": "{ lastSequence }"}
        answer = await client.post("/graphql", json=query, headers={"Authorization": f"Bearer {admin_token}"})
        since = answer.json()["data"]["lastSequence"]
        await subscribe(one, since=since, op=ids[0])
        await subscribe(two, since=since, op=ids[2])
        for ws, op in ((one, ids[1]), (two, ids[3])):
            payload = {"query": SUBSCRIBE, "variables": {"since": since}}
            await ws.send(orjson.dumps({"id": op, "type": "subscribe", "payload": payload}).decode())
        rounds = []
        for _ in range(2):  # the second comes live to all four: one shared result
            created = (await dojo.post("/v1/orders", json=make_order())).json()
            frames = [await receive(ws) for ws in (one, one, two, two)]
            assert {frame["type"] for frame in frames} == {"next"}
            assert {frame["payload"]["data"]["orderChanges"]["order"]["id"] for frame in frames} == {
                created["id"]
            }
            rounds.append(sorted(frame["id"] for frame in frames))
    assert rounds == [sorted(ids)] * 2


async def test_frames_of_every_size_arrive_whole_and_in_order(live_server: LiveServer, admin_token: str):
    """Text frames are framed by orderpass itself (server/serving.py): frames under 126 bytes,
    under 64 KiB and over it must all read back whole, in the order they were sent."""
    types = "__schema { types { name description fields { name description } } }"
    queries = {
        "tiny": "{ __typename }",
        "medium": '{ __type(name: "Order") { name description fields { name description } } }',
        "large": f"{{ a: {types} b: {types} }}",
        "tiny again": "{ __typename }",
    }
    async with socket(live_server, token=admin_token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        for op, query in queries.items():
            await ws.send(orjson.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}).decode())
        raw: list[Any] = []
        while len(raw) < 8:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if orjson.loads(frame)["type"] != "ping":
                raw.append(frame)
    answers = [orjson.loads(frame) for frame in raw]
    assert [(a["id"], a["type"]) for a in answers] == [
        (op, t) for op in queries for t in ("next", "complete")
    ]
    assert all("errors" not in a["payload"] for a in answers if a["type"] == "next")
    tiny, medium, large, _ = (
        len(frame) for frame, a in zip(raw, answers, strict=True) if a["type"] == "next"
    )
    assert tiny < 126 <= medium < 65536 <= large


async def test_a_subscriber_that_drops_and_resubscribes_with_since_misses_nothing(
    live_server: LiveServer, admin_token: str
):
    async with dojo_client(live_server) as dojo:
        async with socket(live_server, token=admin_token) as ws:
            await subscribe(ws, since=0)
            await dojo.post("/v1/orders", json=make_order())
            seen = await changes(ws, 1)
        # dropped: these happen while nobody listens
        created = [(await dojo.post("/v1/orders", json=make_order())).json() for _ in range(3)]
        await dojo.delete(f"/v1/orders/{created[0]['id']}")
        async with socket(live_server, token=admin_token) as ws:
            await subscribe(ws, since=seen[-1]["sequence"])
            caught_up = await changes(ws, 4)
            live = await dojo.post("/v1/orders", json=make_order())
            (after,) = await changes(ws, 1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(receive(ws), 0.5)
    sequences = [c["sequence"] for c in [*seen, *caught_up, after]]
    assert sequences == list(range(1, 7))
    assert [c["order"]["id"] for c in caught_up] == [o["id"] for o in created] + [created[0]["id"]]
    assert [c["kind"] for c in caught_up] == ["CREATED", "CREATED", "CREATED", "CANCELED"]
    assert after["order"]["id"] == live.json()["id"]
