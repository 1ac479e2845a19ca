"""Prep stations end to end over real HTTP: an admin sets up the venue through GraphQL, Dojo
places an order over REST, two station screens bump their parts, and the expo sends it out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.staff.roles import Role
from tests.conftest import LiveServer, dojo_client, mint, place

STATIONS = """{ stations { id name position isDefault rules { kind pattern position } } }"""
STATIONS_RESULT = """
  ... on Stations { stations { id isDefault rules { kind pattern } } }
  ... on Problem { __typename message }
  ... on InvalidInput { field }
"""
SAVE = f"""mutation($input: StationInput!) {{ saveStation(input: $input) {{ {STATIONS_RESULT} }} }}"""
RULES = f"""mutation($station: String!, $rules: [RuleInput!]!) {{
  setRoutingRules(station: $station, rules: $rules) {{ {STATIONS_RESULT} }} }}"""
REMOVE = f"""mutation($id: String!) {{ removeStation(id: $id) {{ {STATIONS_RESULT} }} }}"""
ORDER_RESULT = """
  ... on Order { id status items { line name station doneAt } history { kind fromStatus toStatus detail } }
  ... on Problem { __typename message }
  ... on InvalidInput { field }
"""
BUMP = f"""mutation($id: ID!, $station: String!, $lines: [Int!]) {{
  bumpStation(orderId: $id, station: $station, lines: $lines) {{ {ORDER_RESULT} }} }}"""
BRING_BACK = f"""mutation($id: ID!, $station: String!, $lines: [Int!]) {{
  bringBackStation(orderId: $id, station: $station, lines: $lines) {{ {ORDER_RESULT} }} }}"""
MOVE = """mutation($id: ID!, $to: OrderStatus!) {
  moveOrder(id: $id, to: $to) { ... on Order { status } ... on Problem { __typename message } } }"""


class Staff:
    """One staff member's GraphQL client over HTTP."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, document: str, **variables: Any) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": document, "variables": variables})
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
async def staff(live_server: LiveServer):
    clients: list[httpx.AsyncClient] = []

    async def as_(role: Role, name: str) -> Staff:
        token = await mint(live_server.settings, role, name)
        client = httpx.AsyncClient(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        return Staff(client)

    yield as_
    for client in clients:
        await client.aclose()


async def set_up_venue(admin: Staff) -> None:
    """Burgers (PLU BUR…) to the grill, lagers (by name) to the bar, the rest to the kitchen."""
    for station in (
        {"id": "grill", "name": "Grill", "position": 1},
        {"id": "bar", "name": "Bar", "position": 2},
    ):
        assert "stations" in (await admin(SAVE, input=station))["saveStation"]
    await admin(RULES, station="grill", rules=[{"kind": "PLU_PREFIX", "pattern": "BUR"}])
    await admin(RULES, station="bar", rules=[{"kind": "NAME", "pattern": "*lager*"}])


async def test_two_stations_then_the_expo_take_an_order_through_the_pass(live_server: LiveServer, staff):
    admin = await staff(Role.ADMIN, "manager")
    grill = await staff(Role.KITCHEN, "grill-screen")
    bar = await staff(Role.KITCHEN, "bar-screen")
    expo = await staff(Role.KITCHEN, "expo-screen")
    await set_up_venue(admin)
    listed = (await admin(STATIONS))["stations"]
    assert [(s["id"], s["isDefault"]) for s in listed] == [
        ("kitchen", True),
        ("grill", False),
        ("bar", False),
    ]
    assert listed[1]["rules"] == [{"kind": "PLU_PREFIX", "pattern": "BUR", "position": 0}]

    order_id = await place(live_server)
    bumped = (await grill(BUMP, id=order_id, station="grill"))["bumpStation"]
    assert bumped["status"] == "PREPARING"  # the first station's bump starts it (accepting it on the way)
    assert [(i["name"], i["station"], i["doneAt"] is not None) for i in bumped["items"]] == [
        ("Burger", "grill", True),
        ("Lager", "bar", False),
    ]
    assert (await expo(MOVE, id=order_id, to="READY"))["moveOrder"]["__typename"] == "InvalidMove"

    done = (await bar(BUMP, id=order_id, station="bar", lines=[2]))["bumpStation"]
    assert done["status"] == "PREPARED"  # every station has bumped its part
    moves = [(h["kind"], h["fromStatus"], h["toStatus"]) for h in done["history"]]
    assert moves[-2:] == [("PREP_CHANGED", None, None), ("STATUS_CHANGED", "PREPARING", "PREPARED")]
    assert [h["detail"] for h in done["history"] if h["kind"] == "PREP_CHANGED"] == [
        {"station": "grill", "done": [1]},
        {"station": "bar", "done": [2]},
    ]

    assert (await expo(MOVE, id=order_id, to="READY"))["moveOrder"] == {"status": "READY"}
    assert (await expo(MOVE, id=order_id, to="FINALIZED"))["moveOrder"] == {"status": "FINALIZED"}

    stats = await admin(
        "query($since: DateTime!) { kitchenStats(since: $since) { byStation { station waiting samples "
        "medianSeconds p90Seconds } } }",
        since="2000-01-01T00:00:00Z",
    )
    by_station = {s["station"]: s for s in stats["kitchenStats"]["byStation"]}
    assert list(by_station) == ["kitchen", "grill", "bar"]
    assert (by_station["grill"]["samples"], by_station["bar"]["samples"]) == (1, 1)
    assert by_station["kitchen"] == {
        "station": "kitchen",
        "waiting": 0,
        "samples": 0,
        "medianSeconds": None,
        "p90Seconds": None,
    }
    assert by_station["bar"]["medianSeconds"] >= 0


async def test_a_dish_sent_back_reopens_the_ticket_and_twice_is_a_conflict(live_server: LiveServer, staff):
    admin = await staff(Role.ADMIN, "manager")
    cook = await staff(Role.KITCHEN, "grill-screen")
    await set_up_venue(admin)
    order_id = await place(live_server)
    await cook(BUMP, id=order_id, station="grill")
    assert (await cook(BUMP, id=order_id, station="bar"))["bumpStation"]["status"] == "PREPARED"

    again = (await cook(BUMP, id=order_id, station="bar"))["bumpStation"]
    assert again["__typename"] == "Conflict", again
    back = (await cook(BRING_BACK, id=order_id, station="grill", lines=[1]))["bringBackStation"]
    assert back["status"] == "PREPARING"
    assert back["items"][0]["doneAt"] is None


async def test_mistakes_come_back_typed(live_server: LiveServer, staff):
    admin = await staff(Role.ADMIN, "manager")
    cook = await staff(Role.KITCHEN, "grill-screen")
    await set_up_venue(admin)
    order_id = await place(live_server)

    forbidden = (await cook(SAVE, input={"id": "fry", "name": "Fry"}))["saveStation"]
    assert forbidden["__typename"] == "Forbidden"
    bad_id = (await admin(SAVE, input={"id": "Fry Station", "name": "Fry"}))["saveStation"]
    assert (bad_id["__typename"], bad_id["field"]) == ("InvalidInput", "id")
    unknown = (await admin(RULES, station="pizza", rules=[]))["setRoutingRules"]
    assert (unknown["__typename"], unknown["field"]) == ("InvalidInput", "station")
    default = (await admin(REMOVE, id="kitchen"))["removeStation"]
    assert default["__typename"] == "Conflict"
    cooking = (await admin(REMOVE, id="grill"))["removeStation"]
    assert cooking["__typename"] == "Conflict"
    assert "1 item" in cooking["message"]
    not_there = (await cook(BUMP, id=order_id, station="kitchen"))["bumpStation"]
    assert (not_there["__typename"], not_there["field"]) == ("InvalidInput", "station")
    wrong_line = (await cook(BUMP, id=order_id, station="grill", lines=[2]))["bumpStation"]
    assert (wrong_line["__typename"], wrong_line["field"]) == ("InvalidInput", "lines")
    missing = (await cook(BUMP, id="ord_nope", station="grill"))["bumpStation"]
    assert missing["__typename"] == "NotFound"


async def test_a_rule_change_routes_orders_placed_afterwards_only(live_server: LiveServer, staff):
    admin = await staff(Role.ADMIN, "manager")
    await set_up_venue(admin)
    before = await place(live_server)
    moved = await admin(RULES, station="grill", rules=[{"kind": "NAME", "pattern": "*lager*"}])
    assert moved["setRoutingRules"]["stations"][1]["rules"] == [{"kind": "NAME", "pattern": "*lager*"}]
    await admin(RULES, station="bar", rules=[])
    after = await place(live_server)
    query = "query($id: ID!) { order(id: $id) { items { station } } }"
    assert [i["station"] for i in (await admin(query, id=before))["order"]["items"]] == ["grill", "bar"]
    assert [i["station"] for i in (await admin(query, id=after))["order"]["items"]] == ["kitchen", "grill"]


ADD = f"""mutation($id: ID!, $items: [ItemInput!]!, $key: String) {{
  addItems(orderId: $id, items: $items, idempotencyKey: $key) {{ {ORDER_RESULT} }} }}"""
VOID = f"""mutation($id: ID!, $lines: [Int!]!, $reason: String) {{
  voidItems(orderId: $id, lines: $lines, reason: $reason) {{
    {ORDER_RESULT} ... on Order {{ totalAmount {{ value }} voidedItems {{ line name station reason }} }} }} }}"""


async def test_edits_after_firing_reach_the_stations_the_bill_and_dojo(live_server: LiveServer, staff):
    admin = await staff(Role.ADMIN, "manager")
    cook = await staff(Role.KITCHEN, "grill-screen")
    await set_up_venue(admin)
    order_id = await place(live_server, payments=[])
    await cook(BUMP, id=order_id, station="grill")
    burger = {
        "name": "Burger",
        "plu": "BUR",
        "quantity": 1,
        "amountPerItem": {"value": 1090, "currencyCode": "GBP"},
    }

    added = (await admin(ADD, id=order_id, items=[burger], key="round-2"))["addItems"]
    again = (await admin(ADD, id=order_id, items=[burger], key="round-2"))["addItems"]
    assert again == added
    assert [(i["line"], i["station"], i["doneAt"]) for i in added["items"]][1:] == [
        (2, "bar", None),
        (4, "grill", None),
    ]
    assert added["status"] == "PREPARING"

    async with dojo_client(live_server) as dojo:
        seen = (await dojo.get(f"/v1/orders/{order_id}")).json()
    assert [i["name"] for i in seen["items"]] == ["Burger", "Lager", "Burger"]
    assert seen["totalAmount"]["value"] == 3130 + 1090

    voided = (await cook(VOID, id=order_id, lines=[2], reason="out of lager"))["voidItems"]
    assert voided["voidedItems"] == [{"line": 2, "name": "Lager", "station": "bar", "reason": "out of lager"}]
    assert voided["totalAmount"] == {"value": 3130 + 1090 - 1020}
    async with dojo_client(live_server) as dojo:
        seen = (await dojo.get(f"/v1/orders/{order_id}")).json()
    assert [i["name"] for i in seen["items"]] == ["Burger", "Burger"]
    assert seen["totalAmount"]["value"] == 3130 + 1090 - 1020
    wrong = (await cook(VOID, id=order_id, lines=[3]))["voidItems"]
    assert (wrong["__typename"], wrong["field"]) == ("InvalidInput", "lines")
    forbidden = (await cook(ADD, id=order_id, items=[burger]))["addItems"]
    assert forbidden["__typename"] == "Forbidden"
