"""The Dojo API client against a fake Dojo on loopback: headers, bodies, parsing, retries."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from server.dojo.client import DojoClient, DojoRefused, DojoUnavailable, PaymentIntent
from tests import dojo_contract
from tests.fake_dojo import DEFAULT_KEY, FakeDojo, dojo_spec
from tests.fake_dojo import fake_dojo as fake_dojo_fixture  # noqa: F401 (registers `fake_dojo`)

CAPABILITIES = [("CreateOrder", "1.0.0"), ("GetOrderById", "1.0.0"), ("SearchOrders", "1.0.0")]


def make_client(url: str, **overrides: Any) -> DojoClient:
    options: dict[str, Any] = {
        "base_url": url,
        "api_key": DEFAULT_KEY,
        "software_house_id": "orderpass",
        "timeout": 1.0,
        "retries": 3,
        "backoff": 0.01,
    }
    return DojoClient(**(options | overrides))


@pytest.fixture
async def client(fake_dojo: FakeDojo) -> AsyncIterator[DojoClient]:
    async with make_client(fake_dojo.url) as client:
        yield client
    assert fake_dojo.violations == []


# -- what every request carries -----------------------------------------------------------------


async def test_every_request_carries_dojos_headers_with_the_key_as_is(fake_dojo, client):
    await client.integrations()

    headers = fake_dojo.calls[0].headers
    assert headers["authorization"] == "Basic sk_sandbox_test"  # not base64: Dojo's own scheme
    assert headers["version"] == "2026-02-27"
    assert headers["software-house-id"] == "orderpass"
    assert headers["accept"] == "application/json"
    assert "reseller-id" not in headers


async def test_a_reseller_id_is_sent_when_given(fake_dojo):
    async with make_client(fake_dojo.url, reseller_id="reseller-1") as client:
        await client.integrations()

    assert fake_dojo.calls[0].headers["reseller-id"] == "reseller-1"


async def test_without_a_software_house_id_dojo_refuses(fake_dojo):
    async with make_client(fake_dojo.url, software_house_id=None) as client:
        with pytest.raises(DojoRefused) as refused:
            await client.integrations()

    assert refused.value.status == 401
    assert "software-house-id" not in fake_dojo.calls[0].headers


async def test_a_wrong_key_is_refused_once_and_not_retried(fake_dojo):
    async with make_client(fake_dojo.url, api_key="sk_sandbox_wrong") as client:
        with pytest.raises(DojoRefused) as refused:
            await client.order_updated("ord_1")

    assert refused.value.status == 401
    assert refused.value.code == "DOJO_REFUSED"
    assert "sk_sandbox_wrong" not in str(refused.value)
    assert [call.status for call in fake_dojo.calls] == [401]


# -- payment intents ----------------------------------------------------------------------------


async def test_payment_intent_parses_dojos_body(fake_dojo, client):
    created = datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=UTC)
    fake_dojo.add_payment_intent(
        "pi_1",
        status="Captured",
        amount=2380,
        tips=200,
        external_id="ord_1",
        dojo_order_id="dojo-1",
        created_at=created,
    )

    intent = await client.payment_intent("pi_1")

    assert intent == PaymentIntent(
        id="pi_1",
        status="Captured",
        amount_value=2380,
        amount_currency="GBP",
        tips_value=200,
        external_order_id="ord_1",
        dojo_order_id="dojo-1",
        created_at=created,
    )


async def test_payment_intent_is_none_when_dojo_does_not_know_it(fake_dojo, client):
    assert await client.payment_intent("pi_unknown") is None
    assert [call.status for call in fake_dojo.calls] == [404]


async def test_payment_intent_returns_a_canceled_intent(fake_dojo, client):
    fake_dojo.add_payment_intent("pi_gone", status="Canceled")

    intent = await client.payment_intent("pi_gone")

    assert intent is not None
    assert intent.status == "Canceled"
    assert fake_dojo.calls[0].query == {"returnCanceled": "true"}


async def test_payment_intent_tolerates_missing_and_unknown_fields(fake_dojo, client):
    fake_dojo.add_raw_payment_intent(
        {
            "id": "pi_odd",
            "status": "Created",
            "amount": None,
            "createdAt": "soon",
            "paymentEvents": [],
            "new": {"x": 1},
        }
    )

    intent = await client.payment_intent("pi_odd")

    assert intent == PaymentIntent(id="pi_odd", status="Created", amount_value=0, amount_currency=None)


@pytest.mark.parametrize("extra", [{}, {"tips": 100, "external_id": "ord_1", "status": "Captured"}])
def test_the_fakes_payment_intents_are_dojos_payment_intents(fake_dojo, extra):
    spec = dojo_spec()
    if spec is None:
        pytest.skip(dojo_contract.MISSING)
    body = fake_dojo.add_payment_intent("pi_1", **extra)
    assert spec.schema_errors("PaymentIntent", body) == []


# -- POS events and registration ----------------------------------------------------------------


async def test_order_updated_sends_dojos_event_request(fake_dojo, client):
    await client.order_updated("ord_1")

    body = fake_dojo.calls[0].body
    assert (fake_dojo.calls[0].method, fake_dojo.calls[0].path) == ("POST", "/epos/events")
    assert body == {"eventType": "OrderUpdated", "event": {"orderId": "ord_1"}}
    assert await fake_dojo.wait_for_events(1) == ["ord_1"]
    spec = dojo_spec()
    if spec is None:
        pytest.skip(dojo_contract.MISSING)
    assert spec.schema_errors("EventRequest", body) == []


async def test_register_rest_sends_dojos_integration_request(fake_dojo, client):
    answer = await client.register_rest(
        url="https://pos.example/", username="dojo", password="s3cret", capabilities=CAPABILITIES
    )

    assert fake_dojo.registrations() == [
        {
            "url": "https://pos.example/",
            "auth": {"authType": "basic", "basic": {"username": "dojo", "password": "s3cret"}},
            "capabilities": [
                {"name": "CreateOrder", "version": "1.0.0"},
                {"name": "GetOrderById", "version": "1.0.0"},
                {"name": "SearchOrders", "version": "1.0.0"},
            ],
        }
    ]
    assert [(a["url"], a["auth"]) for a in answer] == [
        ("https://pos.example/", {"authType": "basic", "basic": {"username": "dojo"}})
    ]
    assert "createdAt" in answer[0]


async def test_integrations_lists_the_registered_rest_integration(client):
    await client.register_rest(
        url="https://pos.example/", username="dojo", password="s3cret", capabilities=CAPABILITIES
    )

    integrations = await client.integrations()

    assert [i["url"] for i in integrations["restIntegrations"]] == ["https://pos.example/"]
    assert integrations["wsIntegrations"] == []


async def test_the_fake_refuses_and_records_a_body_that_breaks_dojos_schema(fake_dojo):
    if dojo_spec() is None:
        pytest.skip(dojo_contract.MISSING)
    headers = {
        "Authorization": f"Basic {DEFAULT_KEY}",
        "version": "2026-02-27",
        "software-house-id": "orderpass",
    }

    async with httpx.AsyncClient(base_url=fake_dojo.url, headers=headers) as http:
        response = await http.post(
            "/epos/events", json={"eventType": "OrderUpdated", "event": {"id": "ord_1"}}
        )

    assert response.status_code == 400
    assert fake_dojo.violations != []
    assert fake_dojo.events() == []


# -- the fake's WebSocket registration (the client has no call for it yet) -----------------------

WS_CAPABILITIES = [{"name": "CreateOrder", "version": "1.0.0"}, {"name": "GetOrderById", "version": "1.0.0"}]


def dojo_http(fake_dojo: FakeDojo) -> httpx.AsyncClient:
    headers = {
        "Authorization": f"Basic {DEFAULT_KEY}",
        "version": "2026-02-27",
        "software-house-id": "orderpass",
    }
    return httpx.AsyncClient(base_url=fake_dojo.url, headers=headers)


async def test_the_fake_answers_a_ws_registration_with_dojos_ws_integration_responses(fake_dojo):
    async with dojo_http(fake_dojo) as http:
        put = await http.put("/epos/integrations/ws", json={"capabilities": WS_CAPABILITIES})
        get = await http.get("/epos/integrations/ws")
        everything = await http.get("/epos/integrations")

    assert put.status_code == get.status_code == 200
    assert put.json() == get.json() == everything.json()["wsIntegrations"]
    assert [(c["name"], c["version"]) for c in get.json()[0]["capabilities"]] == [
        ("CreateOrder", "1.0.0"),
        ("GetOrderById", "1.0.0"),
    ]
    assert fake_dojo.ws_registrations() == [{"capabilities": WS_CAPABILITIES}]
    spec = dojo_spec()
    if spec is not None:
        assert [spec.schema_errors("WsIntegrationResponse", body) for body in put.json()] == [[]]


async def test_a_second_ws_registration_replaces_the_first_and_keeps_its_creation_time(fake_dojo):
    async with dojo_http(fake_dojo) as http:
        first = (await http.put("/epos/integrations/ws", json={"capabilities": WS_CAPABILITIES})).json()
        second = (await http.put("/epos/integrations/ws", json={"capabilities": WS_CAPABILITIES[:1]})).json()
        listed = (await http.get("/epos/integrations/ws")).json()

    assert listed == second
    assert [c["name"] for c in listed[0]["capabilities"]] == ["CreateOrder"]
    assert second[0]["createdAt"] == first[0]["createdAt"]


async def test_with_nothing_registered_the_fake_lists_no_ws_integrations(fake_dojo):
    async with dojo_http(fake_dojo) as http:
        assert (await http.get("/epos/integrations/ws")).json() == []
        assert (await http.get("/epos/integrations")).json()["wsIntegrations"] == []


async def test_the_fake_refuses_and_records_a_ws_registration_that_breaks_dojos_schema(fake_dojo):
    if dojo_spec() is None:
        pytest.skip(dojo_contract.MISSING)
    async with dojo_http(fake_dojo) as http:
        response = await http.put("/epos/integrations/ws", json={"capabilities": [{"name": "CreateOrder"}]})

    assert response.status_code == 400
    assert fake_dojo.violations == [
        "PUT /epos/integrations/ws: capabilities/0: 'version' is a required property"
    ]
    assert fake_dojo.ws_registrations() == [{"capabilities": [{"name": "CreateOrder"}]}]


# -- failures and retries -----------------------------------------------------------------------


async def test_retries_through_two_503s_then_succeeds(fake_dojo, client):
    fake_dojo.fail_next(2, status=503)

    await client.order_updated("ord_1")

    assert [call.status for call in fake_dojo.calls] == [503, 503, 200]
    assert fake_dojo.events() == ["ord_1"]


async def test_gives_up_with_dojo_unavailable_after_retries_failures(fake_dojo, client):
    fake_dojo.fail_next(3, status=502)

    with pytest.raises(DojoUnavailable, match="failed 3 times, last with HTTP 502"):
        await client.order_updated("ord_1")

    assert [call.status for call in fake_dojo.calls] == [502, 502, 502]


async def test_does_not_retry_a_400(fake_dojo, client):
    fake_dojo.fail_next(1, status=400)

    with pytest.raises(DojoRefused) as refused:
        await client.payment_intent("pi_1")

    assert refused.value.status == 400
    assert len(fake_dojo.calls) == 1


async def test_a_429_waits_as_long_as_retry_after_says_not_the_backoff(fake_dojo):
    fake_dojo.fail_next(1, status=429, retry_after=0)
    started = time.monotonic()

    async with make_client(fake_dojo.url, backoff=30.0) as client:
        await client.order_updated("ord_1")

    assert time.monotonic() - started < 5
    assert [call.status for call in fake_dojo.calls] == [429, 200]


async def test_a_stall_longer_than_the_timeout_is_a_failure_and_is_retried(fake_dojo):
    fake_dojo.stall(10)

    async with make_client(fake_dojo.url, timeout=0.3) as client:
        sending = asyncio.create_task(client.order_updated("ord_1"))
        await fake_dojo.wait_for_calls(1)
        fake_dojo.reset_faults()  # the first call still stalls; the retry is answered at once
        await sending

    assert [call.status for call in fake_dojo.calls] == [None, 200]
    assert fake_dojo.events() == ["ord_1"]


async def test_a_stall_on_every_attempt_ends_in_dojo_unavailable(fake_dojo):
    fake_dojo.stall(10)

    async with make_client(fake_dojo.url, timeout=0.1, retries=2) as client:
        with pytest.raises(DojoUnavailable, match="ReadTimeout"):
            await client.integrations()


async def test_a_refused_connection_is_retried_then_unavailable():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket closes

    async with make_client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(DojoUnavailable, match="ConnectError"):
            await client.integrations()


async def test_each_retry_is_logged_without_the_key(fake_dojo, client, caplog):
    fake_dojo.fail_next(1)

    with caplog.at_level(logging.WARNING, logger="orderpass.dojo.client"):
        await client.integrations()

    [record] = [r for r in caplog.records if r.name == "orderpass.dojo.client"]
    assert record.levelno == logging.WARNING
    assert "HTTP 503" in record.getMessage()
    assert DEFAULT_KEY not in record.getMessage()
