"""/metrics labels come from what the server knows (its routes, its schema's root fields), never
from what a client typed: junk paths and operation names cannot grow the page."""

from __future__ import annotations

import random
import re
import string

import httpx

from schema import build_schema
from server.dojo.operations import OPERATIONS
from server.metrics import Metrics
from server.staff.roles import Role
from tests.conftest import LiveServer, mint

ROUTES = {op.capabilities[0].split(":")[0] for op in OPERATIONS} | {
    "graphql", "kds", "unrouted", "/healthz", "/readyz", "/openapi.json", "/metrics",
}  # fmt: skip
SCHEMA = build_schema()
ROOT_FIELDS = {
    name
    for root in (SCHEMA._schema.query_type, SCHEMA._schema.mutation_type, SCHEMA._schema.subscription_type)
    if root is not None
    for name in root.fields
} | {"__schema", "__type", "__typename"}


def junk(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "_", k=length))


def series(text: str) -> set[str]:
    """Every sample's name and labels, without its value (the page's shape)."""
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def labels(text: str, metric: str, label: str) -> set[str]:
    return set(re.findall(rf'^{metric}{{[^}}]*{label}="([^"]*)"', text, flags=re.M))


async def send_junk(client: httpx.AsyncClient, rng: random.Random, count: int) -> None:
    """Unknown paths, with and without credentials, and GraphQL documents that name themselves
    anything, select fields that exist or not, or do not parse."""
    for n in range(count):
        name = "Op" + junk(rng)
        match n % 5:
            case 0:
                await client.get(f"/v1/{junk(rng)}/{junk(rng, 40)}", auth=("dojo", "wrong"))
            case 1:
                await client.post(f"/{junk(rng)}", content=b"{}")
            case 2:
                await client.post(
                    "/graphql", json={"query": f"query {name} {{ lastSequence }}", "operationName": name}
                )
            case 3:
                await client.post(
                    "/graphql", json={"query": f"query {name} {{ {junk(rng)} }}", "operationName": name}
                )
            case _:
                await client.post("/graphql", json={"query": f"{name} {{", "operationName": junk(rng)})


async def test_junk_requests_leave_a_fixed_set_of_labels_and_a_page_that_stops_growing(
    live_server: LiveServer,
):
    token = await mint(live_server.settings, Role.VIEWER)
    rng = random.Random(11)
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await send_junk(client, rng, 50)
        await client.get("/metrics")  # the page's own label, before the page is measured
        early = (await client.get("/metrics")).text
        await send_junk(client, rng, 500)
        text = (await client.get("/metrics")).text
    assert labels(text, "orderpass_requests_total", "operation") <= ROUTES
    assert labels(text, "orderpass_request_seconds_count", "operation") <= ROUTES
    assert "unrouted" in labels(text, "orderpass_requests_total", "operation")
    operations = labels(text, "orderpass_graphql_seconds_count", "operation")
    assert operations == {"lastSequence", "unknown"}, operations
    assert labels(text, "orderpass_graphql_seconds_count", "type") <= {
        "query",
        "mutation",
        "subscription",
        "unknown",
    }
    assert series(text) == series(early), "the junk added series to the page"
    assert len(text) < 1.1 * len(early), "the page grew with the junk sent (more than its counters' digits)"


async def test_a_graphql_operation_is_labelled_by_the_root_fields_it_selects(live_server: LiveServer):
    token = await mint(live_server.settings, Role.VIEWER)
    documents = {
        "query Board { activeOrders { id } }": "activeOrders",
        "query Anything { b: lastSequence a: activeOrders { id } lastSequence }": "activeOrders+lastSequence",
        "query Q { ...Root } fragment Root on Query { ... on Query { dojoOutbox { owed } } }": "dojoOutbox",
        "{ __typename }": "__typename",
        "{ lastSequence nope }": "unknown",
    }
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for document in documents:
            await client.post("/graphql", json={"query": document})
        text = (await client.get("/metrics")).text
    assert labels(text, "orderpass_graphql_seconds_count", "operation") == set(documents.values())
    assert {label for found in documents.values() for label in found.split("+")} - {"unknown"} <= ROOT_FIELDS


def test_each_observation_counts_under_its_own_operation_and_status():
    metrics = Metrics()
    for operation, status in [
        ("CreateOrder", 200),
        ("CreateOrder", 409),
        ("CreateOrder", 200),
        ("GetOrderById", 200),
    ]:
        metrics.observe(operation, status, 0.003)
    page = metrics.render({}).decode()
    assert 'orderpass_requests_total{operation="CreateOrder",status="200"} 2.0' in page
    assert 'orderpass_requests_total{operation="CreateOrder",status="409"} 1.0' in page
    assert 'orderpass_requests_total{operation="GetOrderById",status="200"} 1.0' in page
    assert 'orderpass_request_seconds_count{operation="CreateOrder"} 3.0' in page
    assert 'orderpass_request_seconds_bucket{le="0.005",operation="GetOrderById"} 1.0' in page
