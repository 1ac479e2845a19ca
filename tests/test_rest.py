"""The Dojo REST shim over real HTTP on loopback; every response is also checked against
Dojo's published schemas by the `dojo` client (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.floor.model import Area, FloorPlan, Table
from tests.conftest import LiveServer, dojo_client, lay
from tests.factories import collection_order, item, make_order, money, payment_event
from tests.postgres import run_sql


def error_of(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorType"] == error_type
    assert body["traceId"]
    return str(body["debugMessage"])


# -- CreateOrder --------------------------------------------------------------------------------


async def test_create_order_answers_the_new_order(dojo: httpx.AsyncClient):
    body = make_order()
    response = await dojo.post("/v1/orders", json=body)
    assert response.status_code == 200
    order = response.json()
    assert order["status"] == "New"
    assert order["items"] == body["items"]
    assert order["details"] == body["details"]
    assert order["totalAmount"] == money(3130)
    assert order["paidAmount"] == money(3130)
    assert order["tipsAmount"] == money(200)
    assert order["payable"] is False
    assert order["payments"] == body["payments"]


async def test_every_field_sent_comes_back_as_sent(dojo: httpx.AsyncClient):
    """The answer's content is spliced from pydantic's JSON of it (server/dojo/contract.order):
    every optional field, text that JSON must escape, and a time all come back as Dojo sent them,
    between the order's own fields, once each."""
    body = make_order(
        note='nut allergy: "no peanuts" \\ \u00e9\u00e8 \U0001f95c',
        reference="ref/7",
        displayName="Table 7 \u2013 window",
        details={"orderType": "Collection", "collection": {"collectAt": "2026-11-30T19:15:00Z"}},
    )
    response = await dojo.post("/v1/orders", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    keys = json.loads(response.content, object_pairs_hook=lambda pairs: [key for key, _ in pairs])
    assert keys[:2] == ["id", "status"]
    assert keys[-6:] == ["createdAt", "updatedAt", "payments", "paidAmount", "tipsAmount", "payable"]
    assert len(keys) == len(set(keys))
    for field, value in body.items():
        if field != "dojoOrderId":
            assert answer[field] == value, field
    assert (await dojo.get(f"/v1/orders/{answer['id']}")).json() == answer


async def test_a_created_order_reads_back_the_same(dojo: httpx.AsyncClient):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    fetched = await dojo.get(f"/v1/orders/{created['id']}")
    assert fetched.json() == created


async def test_a_collection_order_round_trips(dojo: httpx.AsyncClient):
    created = (await dojo.post("/v1/orders", json=collection_order())).json()
    assert created["details"] == {"orderType": "Collection", "collection": {"asap": True}}
    assert created["payable"] is True


async def test_a_retry_returns_the_same_order(dojo: httpx.AsyncClient):
    body = make_order()
    first, second = [(await dojo.post("/v1/orders", json=body)).json() for _ in range(2)]
    assert first["id"] == second["id"]


async def test_twenty_concurrent_retries_over_http_create_one_order(dojo: httpx.AsyncClient):
    body = make_order()
    responses = await asyncio.gather(*(dojo.post("/v1/orders", json=body) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
    found = await dojo.post("/v1/orders/search", json={})
    assert len(found.json()["data"]) == 1


async def test_the_same_dojo_order_id_with_another_body_is_409(dojo: httpx.AsyncClient):
    body = make_order()
    await dojo.post("/v1/orders", json=body)
    response = await dojo.post("/v1/orders", json={**body, "note": "something else"})
    assert "already used" in error_of(response, 409, "Conflict")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b"{not json", "JSON"),
        (b"", "JSON"),
        (b"[]", "object"),
        (orjson.dumps({k: v for k, v in make_order().items() if k != "items"}), "items"),
        (orjson.dumps({k: v for k, v in make_order().items() if k != "dojoOrderId"}), "dojoOrderId"),
        (orjson.dumps({k: v for k, v in make_order().items() if k != "payments"}), "payments"),
        (orjson.dumps(make_order(items=[item("Tea", 100, 0)])), "items.0.quantity"),
        (orjson.dumps(make_order(items=[{**item("Tea", 100), "quantity": "2"}])), "items.0.quantity"),
        (orjson.dumps(make_order(totalAmount=money(-1))), "totalAmount.value"),
        (orjson.dumps(make_order(details={"orderType": "Delivery", "dineIn": {}})), "orderType"),
        (orjson.dumps(make_order(totalAmount=money(3130, "EUR"))), "one currency"),
        (orjson.dumps(make_order(payments=[], totalAmount=money(3130, "gbp"))), "ISO 4217"),
    ],
)
async def test_bad_create_order_bodies_are_400_and_create_nothing(dojo: httpx.AsyncClient, body, mentions):
    response = await dojo.post("/v1/orders", content=body, headers={"content-type": "application/json"})
    assert mentions in error_of(response, 400, "InvalidRequest")
    assert (await dojo.post("/v1/orders/search", json={})).json()["data"] == []


async def test_a_body_over_the_limit_is_413(serve):
    server: LiveServer = serve(max_body_bytes=2048)
    async with dojo_client(server) as dojo:
        response = await dojo.post("/v1/orders", json=make_order(note="x" * 4096))
        assert "limit" in error_of(response, 413, "InvalidRequest")

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: the limit holds while streaming too
            for _ in range(8):
                yield b" " * 1024

        streamed = await dojo.post("/v1/orders", content=chunks())
        error_of(streamed, 413, "InvalidRequest")


# -- GetOrderById and CancelOrderById -----------------------------------------------------------


async def test_an_unknown_order_is_404(dojo: httpx.AsyncClient):
    error_of(await dojo.get("/v1/orders/ord_missing"), 404, "NotFound")
    error_of(await dojo.delete("/v1/orders/ord_missing"), 404, "NotFound")


async def test_cancel_a_new_order_and_again(dojo: httpx.AsyncClient):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    canceled = await dojo.delete(f"/v1/orders/{created['id']}")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "Canceled"
    assert canceled.json()["payable"] is False
    again = await dojo.delete(f"/v1/orders/{created['id']}")
    assert again.status_code == 200
    assert again.json() == canceled.json()


async def test_cancel_after_the_kitchen_accepted_is_409(dojo: httpx.AsyncClient, live_server: LiveServer):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    run_sql(
        live_server.settings.database_url,
        f"UPDATE orders SET status = 'Accepted' WHERE id = '{created['id']}'",
    )
    assert "Dojo may cancel only" in error_of(
        await dojo.delete(f"/v1/orders/{created['id']}"), 409, "Conflict"
    )
    assert (await dojo.get(f"/v1/orders/{created['id']}")).json()["status"] == "Accepted"


async def test_auto_confirm_answers_confirmed(serve):
    async with dojo_client(serve(auto_confirm=True)) as dojo:
        created = await dojo.post("/v1/orders", json=make_order())
        assert created.json()["status"] == "Confirmed"


# -- SearchOrders -------------------------------------------------------------------------------


async def test_search_by_table_and_payable_only(dojo: httpx.AsyncClient):
    table_5 = (await dojo.post("/v1/orders", json=make_order(payments=[]))).json()
    paid_5 = (await dojo.post("/v1/orders", json=make_order())).json()
    table_9 = make_order(details={"orderType": "DineIn", "dineIn": {"tableId": "9"}}, payments=[])
    await dojo.post("/v1/orders", json=table_9)
    by_table = (await dojo.post("/v1/orders/search", json={"dineIn": {"tableId": "5"}})).json()
    assert [o["id"] for o in by_table["data"]] == [table_5["id"], paid_5["id"]]
    payable = (
        await dojo.post("/v1/orders/search", json={"dineIn": {"tableId": "5"}, "payableOnly": True})
    ).json()
    assert [o["id"] for o in payable["data"]] == [table_5["id"]]


async def test_search_pages_with_opaque_cursors(dojo: httpx.AsyncClient):
    ids = [(await dojo.post("/v1/orders", json=make_order())).json()["id"] for _ in range(5)]
    first = (await dojo.post("/v1/orders/search", json={"cursor": {"limit": 2}})).json()
    assert "before" not in first
    second = (
        await dojo.post("/v1/orders/search", json={"cursor": {"limit": 2, "after": first["after"]}})
    ).json()
    third = (
        await dojo.post("/v1/orders/search", json={"cursor": {"limit": 2, "after": second["after"]}})
    ).json()
    assert "after" not in third
    walked = [o["id"] for page in (first, second, third) for o in page["data"]]
    assert walked == ids
    back = (
        await dojo.post("/v1/orders/search", json={"cursor": {"limit": 2, "before": second["before"]}})
    ).json()
    assert [o["id"] for o in back["data"]] == ids[:2]


@pytest.mark.parametrize(
    ("cursor", "names"),
    [
        ({"before": "abc", "after": "def"}, "cursor: "),
        ({"after": "%%%"}, "cursor.after: "),
        ({"before": "%%%"}, "cursor.before: "),
        ({"limit": 101}, "cursor.limit: "),
        ({"limit": 0}, "cursor.limit: "),
        ({"limit": "ten"}, "cursor.limit: "),
    ],
)
async def test_bad_cursors_are_400_naming_dojos_fields(dojo: httpx.AsyncClient, cursor, names):
    response = await dojo.post("/v1/orders/search", json={"cursor": cursor})
    assert error_of(response, 400, "InvalidRequest").startswith(names)


# -- ListAreas and SearchTables (Pay at Table) --------------------------------------------------

FLOOR = FloorPlan(
    (Area("downstairs", "Downstairs", ("becky",)), Area("terrace", "Terrace", (), 1)),
    (
        Table("t1", "Table 1", "downstairs", 4, ("becky",)),
        Table("t2", "Table 2", "downstairs", None, ("becky", "sam"), 1),
        Table("t3", "Palm", "terrace", 2, ("sam",)),
    ),
)


async def test_a_venue_without_a_floor_lists_no_areas_and_no_tables(dojo: httpx.AsyncClient):
    assert (await dojo.get("/v1/areas")).json() == []
    assert (await dojo.post("/v1/tables/search", json={})).json() == {"data": []}


async def test_list_areas_answers_every_area_in_screen_order(
    dojo: httpx.AsyncClient, live_server: LiveServer
):
    await lay(live_server.settings, FLOOR)
    assert (await dojo.get("/v1/areas")).json() == [
        {"id": "downstairs", "name": "Downstairs", "waiterIds": ["becky"]},
        {"id": "terrace", "name": "Terrace", "waiterIds": []},
    ]


async def test_search_tables_answers_one_paged_object_filtered_by_area_and_waiter(
    dojo: httpx.AsyncClient, live_server: LiveServer
):
    await lay(live_server.settings, FLOOR)
    everything = (await dojo.post("/v1/tables/search", json={})).json()
    assert everything == {  # one object, as NOTES.md says, though Dojo's REST schema shows an array
        "data": [
            {"id": "t1", "name": "Table 1", "maxCovers": 4, "areaId": "downstairs", "waiterIds": ["becky"]},
            {"id": "t2", "name": "Table 2", "areaId": "downstairs", "waiterIds": ["becky", "sam"]},
            {"id": "t3", "name": "Palm", "maxCovers": 2, "areaId": "terrace", "waiterIds": ["sam"]},
        ]
    }

    async def ids(body: dict[str, object]) -> list[str]:
        return [table["id"] for table in (await dojo.post("/v1/tables/search", json=body)).json()["data"]]

    assert await ids({"areaId": "downstairs"}) == ["t1", "t2"]
    assert await ids({"waiterId": "sam"}) == ["t2", "t3"]
    assert await ids({"areaId": "terrace", "waiterId": "becky"}) == []
    assert await ids({"areaId": "cellar"}) == []


async def test_search_tables_pages_like_search_orders(dojo: httpx.AsyncClient, live_server: LiveServer):
    await lay(live_server.settings, FLOOR)
    first = (await dojo.post("/v1/tables/search", json={"cursor": {"limit": 2}})).json()
    assert "before" not in first
    rest = (
        await dojo.post("/v1/tables/search", json={"cursor": {"limit": 2, "after": first["after"]}})
    ).json()
    assert "after" not in rest
    assert [t["id"] for page in (first, rest) for t in page["data"]] == ["t1", "t2", "t3"]
    back = (await dojo.post("/v1/tables/search", json={"cursor": {"before": rest["before"]}})).json()
    assert [t["id"] for t in back["data"]] == ["t1", "t2"]
    elsewhere = await dojo.post(
        "/v1/tables/search", json={"areaId": "terrace", "cursor": {"after": first["after"]}}
    )
    assert "different search" in error_of(elsewhere, 400, "InvalidRequest")
    for _ in range(2):
        await dojo.post("/v1/orders", json=make_order())
    orders = (await dojo.post("/v1/orders/search", json={"cursor": {"limit": 1}})).json()
    from_orders = await dojo.post("/v1/tables/search", json={"cursor": {"after": orders["after"]}})
    assert "different search" in error_of(from_orders, 400, "InvalidRequest")


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"cursor": {"before": "abc", "after": "def"}}, "cursor: "),
        ({"cursor": {"after": "%%%"}}, "cursor.after: "),
        ({"cursor": {"limit": 101}}, "cursor.limit: "),
        ({"areaId": 7}, "areaId: "),
    ],
)
async def test_bad_table_searches_are_400_naming_dojos_fields(dojo: httpx.AsyncClient, body, names):
    response = await dojo.post("/v1/tables/search", json=body)
    assert error_of(response, 400, "InvalidRequest").startswith(names)


# -- HandleEvent --------------------------------------------------------------------------------


async def test_a_captured_then_reversed_payment_moves_paid_amount(dojo: httpx.AsyncClient):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    intent = created["payments"][0]["paymentIntentId"]
    for status in ("Captured", "Reversed"):
        response = await dojo.post("/v1/events", json=payment_event(intent, status))
        assert response.status_code == 200
        assert response.json() == {}
    order = (await dojo.get(f"/v1/orders/{created['id']}")).json()
    assert order["paidAmount"] == money(0)
    assert order["payments"] == []
    assert order["payable"] is True


async def test_events_are_acknowledged_when_unknown_duplicated_or_unmatched(dojo: httpx.AsyncClient):
    captured = payment_event("pi_unknown", "Captured")
    for body in (captured, captured, payment_event("pi_x", "Captured", kind="payment_intent.exploded")):
        assert (await dojo.post("/v1/events", json=body)).status_code == 200


async def test_a_malformed_event_is_400(dojo: httpx.AsyncClient):
    broken = payment_event("pi_1", "Captured")
    del broken["data"]["paymentStatus"]
    assert "paymentStatus" in error_of(await dojo.post("/v1/events", json=broken), 400, "InvalidRequest")
    del broken["createdAt"]
    error_of(await dojo.post("/v1/events", json=broken), 400, "InvalidRequest")


# -- auth, errors and logs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth", [None, ("dojo", "wrong"), ("someone", "test-secret"), ("dojo", "test-secret" + "x")]
)
async def test_without_the_right_credentials_everything_is_401_and_says_nothing(live_server, auth):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
    async with dojo_client(live_server, auth=auth) as stranger:
        existing = await stranger.get(f"/v1/orders/{created['id']}")
        missing = await stranger.get("/v1/orders/ord_missing")
        unknown_path = await stranger.get("/v1/nothing-here")
    for response in (existing, missing, unknown_path):
        error_of(response, 401, "InvalidRequest")
        assert response.headers["www-authenticate"].startswith("Basic")
    assert existing.json()["debugMessage"] == missing.json()["debugMessage"]


async def test_a_malformed_authorization_header_is_401(live_server):
    async with dojo_client(live_server, auth=None) as stranger:
        for header in ("Basic !!!", "Bearer abc", "Basic " + "ZG9qbw=="):
            response = await stranger.get("/v1/orders/x", headers={"authorization": header})
            error_of(response, 401, "InvalidRequest")


async def test_unknown_paths_and_methods_answer_eposerror(dojo: httpx.AsyncClient):
    error_of(await dojo.get("/v1/tables"), 404, "NotFound")
    wrong_method = await dojo.put("/v1/orders/abc")
    error_of(wrong_method, 405, "InvalidRequest")
    assert wrong_method.headers["allow"] == "DELETE, GET, HEAD"


async def test_a_path_spelt_with_a_trailing_slash_is_not_found_not_redirected(dojo: httpx.AsyncClient):
    """Dojo calls exact paths: `/v1/orders/` is no path of the contract, and a redirect would
    send a POST somewhere else (Starlette's router did, with a 307)."""
    error_of(await dojo.post("/v1/orders/", json=make_order()), 404, "NotFound")
    error_of(await dojo.get("/v1/areas/"), 404, "NotFound")
    assert (await dojo.post("/v1/orders/search", json={})).json()["data"] == []


async def test_head_answers_as_get_does_without_a_body(dojo: httpx.AsyncClient):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    found = await dojo.head(f"/v1/orders/{created['id']}")
    assert (found.status_code, found.content) == (200, b"")
    assert int(found.headers["content-length"]) == len(
        (await dojo.get(f"/v1/orders/{created['id']}")).content
    )
    assert (await dojo.head("/v1/orders/ord_missing")).status_code == 404


async def test_no_websocket_opens_on_dojos_rest_paths(live_server: LiveServer):
    """Dojo's socket is one orderpass dials out (server/dojo/socket.py); under /v1 none is taken,
    with Dojo's credentials or without."""
    url = live_server.url.replace("http://", "ws://") + "/v1/orders"
    for headers in ({}, {"Authorization": "Basic ZG9qbzp0ZXN0LXNlY3JldA=="}):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403


async def test_the_trace_id_in_the_body_is_in_the_log_line(dojo: httpx.AsyncClient, caplog):
    with caplog.at_level(logging.INFO):
        response = await dojo.get("/v1/orders/ord_missing")
    trace = response.json()["traceId"]
    access = [
        r for r in caplog.records if r.name == "orderpass.access" and getattr(r, "traceId", None) == trace
    ]
    assert len(access) == 1
    assert access[0].status == 404
    assert not any(r.exc_info for r in caplog.records), "a client error must not log a traceback"


async def test_an_unexpected_error_is_500_without_a_stack_trace(dojo: httpx.AsyncClient, live_server, caplog):
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    run_sql(live_server.settings.database_url, "DROP TABLE order_tax_lines")  # a bug's stand-in: a table gone
    with caplog.at_level(logging.INFO):
        response = await dojo.get(f"/v1/orders/{created['id']}")
    message = error_of(response, 500, "UnexpectedError")
    assert "Traceback" not in response.text
    assert "order_tax_lines" not in message
    logged = [r for r in caplog.records if r.name == "orderpass.errors"]
    assert logged
    assert logged[0].exc_info


async def test_a_locked_database_is_503_with_retry_after_and_recovers(serve, sqlite_path):
    server: LiveServer = serve(busy_timeout_ms=200)
    path = sqlite_path
    async with dojo_client(server) as dojo:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            response = await dojo.post("/v1/orders", json=make_order())
            error_of(response, 503, "UnexpectedError")
            assert response.headers["retry-after"] == "1"
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert (await dojo.post("/v1/orders/search", json={})).json()["data"] == []
        assert (await dojo.post("/v1/orders", json=make_order())).status_code == 200


async def test_health_and_readiness(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        assert (await client.get("/readyz")).json()["status"] == "ready"  # each dependency: test_readiness.py


async def test_a_write_waits_for_another_processs_lock_without_holding_up_the_server(serve, sqlite_path):
    server: LiveServer = serve(busy_timeout_ms=5000)
    blocker = sqlite3.connect(sqlite_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process (a backup, say) holds the write lock
    try:
        async with dojo_client(server) as dojo:
            waiting = asyncio.create_task(dojo.post("/v1/orders", json=make_order()))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            alive = await asyncio.wait_for(dojo.get("/healthz"), 1)  # the event loop is not blocked
            assert alive.status_code == 200
            blocker.execute("COMMIT")
            placed = await asyncio.wait_for(waiting, 5)
        assert placed.status_code == 200  # it waited, and then it went through
    finally:
        blocker.close()
