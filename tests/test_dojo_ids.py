"""Ids that go into a path on Dojo's API, against the fake Dojo on loopback: only an id Dojo
could have issued is ever sent, so none walks our API key to another resource (`..` made the
client call `GET /`), and an event naming such an id is kept but never looked up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import orjson
import pytest

from server.actors import Actor
from server.clock import ManualClock
from server.dojo.client import DojoClient
from server.dojo.paths import UnsafeId
from server.dojo.resolver import Resolver
from server.payments.cashier import Cashier
from server.payments.model import Event
from tests.conftest import LiveServer, dojo_client
from tests.factories import make_order, payment_event
from tests.fake_dojo import DEFAULT_KEY, FakeDojo
from tests.fake_dojo import fake_dojo as fake_dojo_fixture  # noqa: F401 (registers `fake_dojo`)

LONG = "pi_" + "a" * 10_000
# Each of these, built into /payment-intents/{id}, would reach some other path or query of
# Dojo's API, or is nothing Dojo issues (too long, not ASCII, spaces, line breaks).
UNSAFE = [
    "..",
    ".",
    "../x",
    "../../epos/integrations",
    "a/b",
    "..\\x",
    "%2e%2e",
    "%2E%2E%2Fx",
    "?x",
    "pi_1?returnCanceled=false",
    "#",
    "pi_1#x",
    "",
    " ",
    "pi 1",
    "pi_1\n",
    "pi_1\r\nX-Injected: 1",
    "pi_" + "a" * 98,  # 101 characters: one over
    LONG,
    "pi_ü",
    "\u2024\u2024",  # one-dot leaders, which some normalisers turn into ..
    "\uff0e\uff0e",  # fullwidth full stops
    "pi_\u202e1",  # right-to-left override
    "pi_\x00",
]
SAFE = ["pi_sandbox_RBMHTJ4fIkmSppDILZVCGw", "pi-1_A", "p", "pi_" + "a" * 97]


@pytest.fixture
async def client(fake_dojo: FakeDojo) -> AsyncIterator[DojoClient]:
    options = {"api_key": DEFAULT_KEY, "software_house_id": "orderpass", "retries": 1}
    async with DojoClient(base_url=fake_dojo.url, **options) as client:  # type: ignore[arg-type]
        yield client


@pytest.mark.parametrize("intent", UNSAFE)
async def test_an_id_dojo_could_not_have_issued_is_refused_without_calling_dojo(
    client: DojoClient, fake_dojo: FakeDojo, intent: str
):
    with pytest.raises(UnsafeId) as refused:
        await client.payment_intent(intent)

    assert fake_dojo.calls == []
    assert len(refused.value.message) < 200  # says what it refused, without echoing all of it


@pytest.mark.parametrize("intent", SAFE)
async def test_an_id_dojo_issues_is_one_path_segment(client: DojoClient, fake_dojo: FakeDojo, intent: str):
    fake_dojo.add_payment_intent(intent)

    found = await client.payment_intent(intent)

    assert found is not None
    assert found.id == intent
    assert [call.path for call in fake_dojo.calls] == [f"/payment-intents/{intent}"]


# -- the resolver, in-process -------------------------------------------------------------------


async def test_an_unmatched_event_with_an_unsafe_id_is_kept_but_never_looked_up(
    cashier: Cashier, clock: ManualClock, client: DojoClient, fake_dojo: FakeDojo, caplog
):
    unsafe = [intent for intent in UNSAFE if intent and "\x00" not in intent]  # what an Event holds
    for intent in [*unsafe, "pi_elsewhere"]:
        event = Event.model_validate_json(orjson.dumps(payment_event(intent, "Captured")))
        assert await cashier.handle_event(event, by=Actor.dojo({})) == "unmatched"
    resolver = Resolver(cashier=cashier, dojo=client, clock=clock)

    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert await resolver.resolve_due() == 0
            clock.advance(timedelta(hours=2))  # every honest lookup is due again

    assert {call.path for call in fake_dojo.calls} == {"/payment-intents/pi_elsewhere"}
    assert len(fake_dojo.calls) == 3
    kept = {p.payment_intent_id: p for p in await cashier.unmatched(limit=100)}
    assert set(kept) == {*unsafe, "pi_elsewhere"}
    assert all("never looked up" in (kept[intent].last_error or "") for intent in unsafe)
    warned = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name == "orderpass.dojo.resolver"
    ]
    assert len(warned) == len(unsafe)  # once each, however often the resolver comes round
    assert all(len(r.getMessage()) < 300 for r in caplog.records)
    assert not any(LONG[:1000] in r.getMessage() for r in caplog.records)


# -- through the REST door, to a real server ----------------------------------------------------


@pytest.fixture
def server(serve: Callable[..., LiveServer], fake_dojo: FakeDojo) -> LiveServer:
    return serve(
        dojo_api_url=fake_dojo.url, dojo_api_key=DEFAULT_KEY, dojo_software_house_id="sh_orderpass_test"
    )


async def test_events_naming_traversing_ids_never_send_a_request_to_dojo(
    server: LiveServer, fake_dojo: FakeDojo
):
    async with dojo_client(server) as dojo:
        order_id = (await dojo.post("/v1/orders", json=make_order(payments=[]))).json()["id"]
        fake_dojo.add_payment_intent("pi_honest", status="Captured", amount=3130, external_id=order_id)
        for intent in ["..", "../x", "a/b", "%2e%2e", "?x", "#", LONG, "pi_\u00fc", "pi_honest"]:
            answer = await dojo.post("/v1/events", json=payment_event(intent, "Captured"))
            assert answer.status_code == 200  # acknowledged and parked, as Dojo's delivery rules ask

        # The resolver asks about due intents oldest first, in one round: once the honest one,
        # sent last, has paid the order, every other one has had its turn.
        for _ in range(150):
            if (await dojo.get(f"/v1/orders/{order_id}")).json()["payable"] is False:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the honest payment intent was never resolved")

    asked = [call.path for call in fake_dojo.calls if call.path != "/epos/events"]
    assert asked == ["/payment-intents/pi_honest"]
