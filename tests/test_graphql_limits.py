"""What one GraphQL operation may cost: counted from its document and refused before it runs."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest
from graphql import GraphQLList, get_nullable_type, is_object_type, parse
from sqlalchemy import event

from schema import build_schema
from schema.context import Context
from schema.cost import MAX_COST, SIZES, cost
from server.actors import Actor
from server.services import Services
from server.staff.roles import Role
from server.store import Store
from tests import test_fuzz, test_schema
from tests.conftest import LiveServer, as_staff, mint
from tests.screenshot import ACTIVE

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = build_schema()
ADMIN = Actor.staff("admin", Role.ADMIN)
TICKET = """id status reference displayName orderType dineIn { tableId } collection { asap collectAt }
  items { quantity name note modifiers { name quantity } subItems { quantity name } }
  note payable createdAt bumpTo totalAmount { value formatted }"""


def aliases(count: int, field: str = "activeOrders { id }") -> str:
    return "{ " + " ".join(f"a{n}: {field}" for n in range(count)) + " }"


def counted(document: str, **variables: object) -> int:
    return cost(SCHEMA._schema, parse(document), variables=variables)


@pytest.fixture
def context(services: Services) -> Context:
    return as_staff(services, ADMIN)


async def test_twenty_aliases_of_active_orders_are_refused_before_anything_is_read(
    context: Context, store: Store
):
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    result = await SCHEMA.execute(aliases(20), context_value=context)
    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {"code": "TOO_COSTLY", "cost": 20 * 1000 * 101, "limit": MAX_COST}
    assert f"costs {20 * 1000 * 101}" in error.message
    assert f"limit of {MAX_COST}" in error.message
    assert statements == []


async def test_one_board_of_every_open_order_is_within_the_budget(context: Context):
    result = await SCHEMA.execute(f"{{ activeOrders {{ {TICKET} }} lastSequence }}", context_value=context)
    assert result.errors is None
    assert (
        counted(f"{{ activeOrders {{ {TICKET} }} }}")
        < MAX_COST
        < counted(aliases(2, f"activeOrders {{ {TICKET} }}"))
    )


def test_a_page_costs_what_its_first_asks_for_up_to_the_maximum():
    page = "query($first: Int) { orders(first: $first) { totalCount edges { node { id } } } }"
    assert counted(page, first=10) == 1 + 1 + 10 * (1 + 101)
    assert counted(page, first=100) == counted(page, first=5000) == counted(page, first="many")
    assert counted("{ orders { edges { node { id } } } }") == 1 + 50 * (1 + 101)  # the default page
    assert counted("{ orders(first: 500) { totalCount } }") == 2  # the resolver refuses the page


def test_open_orders_cost_first_of_them_when_fewer_than_every_one():
    board = "query($first: Int!) { activeOrders(first: $first) { id } }"
    assert counted(board, first=10) == 10 * (100 + 1)
    assert counted(board, first=1000) == counted("{ activeOrders { id } }") == 1000 * (100 + 1)
    # never past every open order, however many are asked for
    assert counted(board, first=5000) == counted(board, first="many") == 1000 * (100 + 1)
    lines = "items { name plu quantity amountPerItem { value formatted } modifiers { name plu quantity } }"
    everything = f"{{ activeOrders(first: 10) {{ {TICKET} {lines} history {{ kind }} }} }}"
    assert counted(everything) < MAX_COST < counted(everything.replace("(first: 10)", ""))


def test_fragments_and_aliases_count_each_time_they_are_used():
    inline = counted(f"{{ activeOrders {{ {TICKET} }} }}")
    fragment = counted(f"{{ activeOrders {{ ...T }} }} fragment T on Order {{ {TICKET} }}")
    assert fragment == inline
    twice = counted(
        f"{{ a: activeOrders {{ ...T }} b: activeOrders {{ ...T }} }} fragment T on Order {{ {TICKET} }}"
    )
    assert twice == 2 * inline
    union = 'mutation { moveOrder(id: "x", to: ACCEPTED) { ... on Order { id } ... on Problem { message } } }'
    assert counted(union) == 1 * (100 + 1 + 1)


def test_a_document_that_spreads_fragments_exponentially_is_counted_at_once():
    """Each fragment is counted once and its count reused: 2**201 - 1 spreads come to 201
    fragments' work. Walked spread by spread it would never end, so the count runs on a thread
    and must be back within a minute: a bound only a broken count comes near (it takes
    microseconds), where a bound of half a second failed on a busy machine."""
    chain = " ".join(
        f"fragment F{n} on Query {{ a: lastSequence ...F{n + 1} ...F{n + 1} }}" for n in range(200)
    )
    document = "{ ...F0 } " + chain + " fragment F200 on Query { lastSequence }"
    found: list[int] = []
    counting = threading.Thread(target=lambda: found.append(counted(document)), daemon=True)
    counting.start()
    counting.join(60)
    assert found == [2**201 - 1]  # every spread counts (graphql-core would merge these)


def test_every_list_field_of_the_schema_has_a_size():
    lists = {
        name
        for type_ in SCHEMA._schema.type_map.values()
        if is_object_type(type_) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if isinstance(get_nullable_type(field.type), GraphQLList)
    }
    assert lists - {"edges"} <= SIZES.keys(), "give the new list a size in schema/cost.py"


def sent_by_the_kitchen_display_the_readme_and_the_tests() -> dict[str, str]:
    kds = []
    for module in ("kds.js", "kds-pause.js"):  # the board's script, and its pause control's
        script = (ROOT / "static" / module).read_text()
        kds += filled(script)
    readme = re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    every_field = " ".join(test_fuzz.ORDER_FIELDS.values())
    tests = [
        ACTIVE,
        test_fuzz.PAGE.format(fields=every_field),
        test_schema.CREATE,
        test_schema.PAY,
        "query($first: Int!) { orders(first: $first) { totalCount edges { node { items { modifiers { name } "
        "subItems { name modifiers { name } } } discounts { name } taxLines { id } payments { status } "
        "history { kind actor { name } } allowedMoves } } } }",
    ]
    assert len(kds) == 7
    assert len(readme) == 5  # among them: a pause, and a day's insights
    return {document[:60]: document for document in [*kds, *readme, *tests]}


def filled(script: str) -> list[str]:
    """The GraphQL documents a script holds, each `${NAME}` replaced by that constant's text."""
    constants = dict(re.findall(r'^const (\w+) = "(.*?)";$', script, re.M))
    return [
        re.sub(r"\$\{(\w+)\}", lambda name: constants[name[1]], document)
        for document in re.findall(r"`((?:query|mutation|subscription)\b.*?)`", script, re.S)
    ]


@pytest.mark.parametrize("document", sent_by_the_kitchen_display_the_readme_and_the_tests().values())
def test_what_the_kitchen_display_the_readme_and_the_tests_send_is_well_inside_the_budget(document: str):
    assert counted(document, first=100) <= MAX_COST // 4


async def test_a_costly_query_over_http_is_refused_with_its_cost_and_the_limit(live_server: LiveServer):
    token = await mint(live_server.settings, Role.VIEWER)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": aliases(20)}, headers={"Authorization": f"Bearer {token}"}
        )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "TOO_COSTLY"
    assert str(MAX_COST) in body["errors"][0]["message"]


async def test_a_document_of_several_operations_runs_none_until_one_is_named(context: Context):
    document = "query First { lastSequence } query Second { activeOrders { id } }"
    unnamed = await SCHEMA.execute(document, context_value=context)
    assert unnamed.data is None
    assert unnamed.errors is not None
    [error] = unnamed.errors
    assert error.extensions == {"code": "OPERATION_NAME_REQUIRED"}
    named = await SCHEMA.execute(document, context_value=context, operation_name="Second")
    assert named.errors is None
    assert named.data == {"activeOrders": []}
    alone = await SCHEMA.execute("query Only { lastSequence }", context_value=context)
    assert alone.errors is None


async def test_several_operations_over_http_without_a_name_are_refused(live_server: LiveServer):
    token = await mint(live_server.settings, Role.VIEWER)
    document = "query Sequence { lastSequence } query Other { activeOrders { id } }"
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
        )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
