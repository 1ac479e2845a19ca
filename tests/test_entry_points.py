"""Every entry point the app mounts, tried as a stranger would: without credentials, with the
wrong kind, with a revoked token, and with odd spellings of the path. A route added later must
be listed as public (with the reason) or it is tried here too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from server.app import create_app
from server.clock import SystemClock
from server.settings import Settings
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, mint, place
from tests.processes import DOJO_AUTH
from tests.test_graphql_access import closed_code

# Routes anyone may call, and why that is safe.
PUBLIC: Final = {
    "/healthz": "says only that the process is alive",
    "/readyz": "names each dependency and its state in fixed words: no URL, address or error text",
    "/openapi.json": "describes the Dojo contract we implement; no data",
    "/kds/login": "the pairing form; pairing itself needs a valid token",
    "/graphiql": "the GraphiQL page: holds no data, executes nothing",
    "/static": "the kitchen display's own script and style",
}
PAIRING_PAGE: Final = "Pair this kitchen screen"


def endpoints(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every HTTP route, and ("WS", path) of every WebSocket route."""
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from endpoints(route.routes, prefix + route.path)
            else:
                yield "GET", prefix + route.path + "/kds.js"
        elif isinstance(route, WebSocketRoute):
            yield "WS", prefix + route.path
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path


def public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "ord_nosuchorder0000000000", path)


def guarded_endpoints() -> list[tuple[str, str]]:
    app = create_app(Settings(dojo_username=DOJO_AUTH[0], dojo_password=DOJO_AUTH[1]))
    return [(method, concrete(path)) for method, path in endpoints(app.routes) if not public(path)]


GUARDED: Final = guarded_endpoints()


def test_the_app_mounts_what_this_file_tries():
    paths = {path for _, path in GUARDED}
    for expected in ("/v1/orders", "/v1/events", "/graphql", "/metrics", "/kds", "/kds/allday"):
        assert expected in paths
    # The manager's pages: a day's insights, its CSV, the live fragment, an order's history.
    for expected in (
        "/kds/insights",
        "/kds/insights.csv",
        "/kds/insights/live",
        concrete("/kds/orders/{id}"),
    ):
        assert expected in paths


def refused(response: httpx.Response) -> bool:
    """Turned away: 401/403/404/405, sent to a login or the IDE page, or shown the pairing form;
    never an answer that carries our data."""
    if response.status_code in (401, 403, 404, 405, 413):
        return "ord_" not in response.text or "nosuchorder" in response.text
    if response.status_code in (302, 303, 307, 308):  # a redirect carries nothing; where it goes is guarded
        return "ord_" not in response.text
    return response.status_code == 200 and PAIRING_PAGE in response.text


@pytest.fixture
async def busy(live_server: LiveServer) -> LiveServer:
    await place(live_server)
    return live_server


@pytest.mark.parametrize(("method", "path"), [e for e in GUARDED if e[0] != "WS"])
@pytest.mark.parametrize(
    "credentials",
    ["none", "staff-bearer-on-dojo-routes", "dojo-basic-elsewhere", "revoked-token", "garbage"],
)
async def test_no_entry_point_answers_the_wrong_credentials(busy: LiveServer, method, path, credentials):
    headers: dict[str, str] = {"Origin": busy.url}
    if credentials == "staff-bearer-on-dojo-routes":
        headers["Authorization"] = f"Bearer {await mint(busy.settings, Role.ADMIN, 'bearer-test')}"
        if not path.startswith("/v1"):
            pytest.skip("a staff token is the right credential here")
    elif credentials == "dojo-basic-elsewhere":
        if path.startswith("/v1"):
            pytest.skip("Dojo's Basic pair is the right credential here")
        auth = httpx.BasicAuth(*DOJO_AUTH).auth_flow(httpx.Request("GET", busy.url))
        headers["Authorization"] = next(auth).headers["Authorization"]
    elif credentials == "revoked-token":
        token = await mint(busy.settings, Role.ADMIN, "revoked")
        store = create_store(busy.settings)
        await Tokens(store=store, clock=SystemClock()).revoke("revoked")
        await store.close()
        headers["Authorization"] = f"Bearer {token}"
        headers["Cookie"] = f"orderpass_kds={token}"
    elif credentials == "garbage":
        headers["Authorization"] = "Bearer opt_" + "A" * 43
        headers["Cookie"] = "orderpass_kds=opt_" + "A" * 43
    async with httpx.AsyncClient(base_url=busy.url, follow_redirects=False) as client:
        response = await client.request(method, path, headers=headers, json={})
    assert refused(response), (method, path, credentials, response.status_code, response.text[:300])


@pytest.mark.parametrize(
    "path",
    ["/V1/orders/x", "/v1//orders", "/v1/orders/", "/v1/./orders", "/GRAPHQL", "/graphql/", "//graphql",
     "/%67raphql", "/kds/", "/KDS", "/kds/tickets/x/", "/metrics/", "/kds/../graphql", "/graphiql/../graphql",
     "/KDS/insights", "/kds/insights.CSV", "/kds/insights.csv/", "/kds//insights.csv", "/kds/orders/x/"],
)  # fmt: skip
async def test_odd_spellings_of_a_path_get_no_further(busy: LiveServer, path: str):
    async with httpx.AsyncClient(base_url=busy.url, follow_redirects=False) as client:
        for method in ("GET", "POST"):
            request = client.build_request(method, busy.url, json={"query": "{ activeOrders { id } }"})
            request.url = request.url.copy_with(raw_path=path.encode())
            response = await client.send(request)
            assert refused(response), (method, path, response.status_code, response.text[:300])


@pytest.mark.parametrize("path", [path for method, path in GUARDED if method == "WS"])
async def test_no_socket_opens_without_a_staff_token(live_server: LiveServer, path: str):
    url = live_server.url.replace("http://", "ws://") + path
    for headers in ({}, {"Authorization": "Basic ZG9qbzp0ZXN0LXNlY3JldA=="}):
        async with connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
        ) as ws:
            await ws.send('{"type": "connection_init", "payload": {}}')
            assert await closed_code(ws) == 4401
