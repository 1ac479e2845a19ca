"""What the GraphQL door logs: a client's mistakes at INFO without a traceback (they are not
ours to fix, and an ERROR per typo buries the real ones); our bugs at ERROR with one."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from schema import build_schema
from schema.context import Context
from server.actors import Actor
from server.staff.roles import Role
from tests.conftest import LiveServer, mint

MISTAKES = {
    "syntax": {"query": "{ lastSequence"},
    "unknown field": {"query": "{ lastSequence nope }"},
    "validation": {"query": "{ activeOrders }"},
    "bad variables": {
        "query": "query($n: Int!) { orders(first: $n) { totalCount } }",
        "variables": {"n": "x"},
    },
    "missing variable": {"query": "query($n: Int!) { orders(first: $n) { totalCount } }"},
    "page too big": {"query": "{ orders(first: 500) { totalCount } }"},
    "too costly": {"query": "{ " + " ".join(f"a{n}: activeOrders {{ id }}" for n in range(20)) + " }"},
}


def ours(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name.startswith(("orderpass", "strawberry", "graphql"))]


@pytest.mark.parametrize("body", MISTAKES.values(), ids=MISTAKES.keys())
async def test_a_clients_mistake_is_logged_at_info_without_a_traceback(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
):
    token = await mint(live_server.settings, Role.VIEWER)
    with caplog.at_level(logging.DEBUG):
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.json()["errors"], response.text
    records = [r for r in ours(caplog.records) if r.name != "orderpass.access"]
    assert records, "a refused operation is still worth a line"
    assert all(r.levelno <= logging.INFO for r in records), [
        (r.name, r.levelname, r.getMessage()) for r in records
    ]
    assert not any(r.exc_info for r in records)


async def test_a_bug_is_logged_at_error_with_its_traceback_and_masked(caplog: pytest.LogCaptureFixture):
    broken = Context(services=None, actor=Actor.staff("admin", Role.ADMIN))  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        result = await build_schema().execute("{ lastSequence }", context_value=broken)
    assert result.errors is not None
    assert result.errors[0].message == "Unexpected error."
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "INTERNAL"
    [logged] = [r for r in ours(caplog.records) if r.levelno >= logging.ERROR]
    assert logged.exc_info is not None
    assert isinstance(logged.exc_info[1], AttributeError)
