"""Plain objects are projected, not resolved field by field (schema/execution.py): the answer,
its errors and their paths are graphql-core's own, on real orders and on values graphql-core
refuses; and the shortcut is taken, not silently skipped."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import execute, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import build_schema
from schema.execution import Execution
from server.actors import Actor
from server.orders.amendments import Amendments
from server.orders.model import OrderItem
from server.orders.service import Orders
from server.services import Services
from server.staff.roles import Role
from tests.conftest import as_staff
from tests.factories import collection_order, item, make_draft, modifier

DOJO = Actor.dojo({})
ADMIN = Actor.staff("manager", Role.ADMIN)

MONEY = "value currencyCode formatted"
LINE = f"name plu quantity note amountPerItem {{ {MONEY} }} modifiers {{ name plu quantity amountPerModifier {{ {MONEY} }} }}"
EVERYTHING = f"""query($withItems: Boolean!, $skipNote: Boolean!) {{
  activeOrders(first: 10) {{
    __typename id dojoOrderId reference displayName note @skip(if: $skipNote) status orderType
    dineIn {{ tableId waiterId partyId reservationId readyAt }} collection {{ asap collectAt }}
    items @include(if: $withItems) {{ ...line subItems {{ {LINE} }} line station doneAt addedLater }}
    again: items {{ name }}
    voidedItems {{ line name plu quantity station voidedAt reason }}
    discounts {{ name affectedPlu discountReference code amountPercentage amountTotal {{ {MONEY} }} }}
    taxLines {{ id name affectedPlu amountPercentage amountTotal {{ value }} }}
    serviceCharge {{ {MONEY} }} totalAmount {{ {MONEY} }}
    customer {{ id name emailAddress phoneNumber }}
    payments {{ paymentIntentId paidAmount {{ value }} tipsAmount {{ value }} status statusAt source counts }}
    paidAmount {{ value }} tipsAmount {{ value }} payable createdAt updatedAt version
    allowedMoves bumpTo recallTo
  }}
}}
fragment line on Item {{ {LINE} }}"""
WITH_HISTORY = "{ activeOrders { id items { name } history { kind } } }"


async def busy_venue(orders: Orders, amendments: Amendments) -> None:
    """Orders of every shape: dine-in and collection, modifiers and sub-items, a voided and an
    added item, discounts, taxes, a service charge, payments, and one with hardly anything."""
    await orders.place(make_draft(), by=DOJO)
    await orders.place(make_draft(**collection_order()), by=DOJO)
    bare = make_draft(
        note=None,
        customer=None,
        discounts=[],
        taxLines=[],
        serviceChargeAmount=None,
        payments=[],
        items=[item("Tea", 250)],
        totalAmount={"value": 250, "currencyCode": "GBP"},
    )
    await orders.place(bare, by=DOJO)
    amended = await orders.place(make_draft(payments=[]), by=DOJO)
    extra = OrderItem.model_validate(item("Pie", 400, modifiers=[modifier("Gravy", 50)]), strict=False)
    await amendments.add_items(amended.id, [extra], by=ADMIN)
    await amendments.void_items(amended.id, [1], by=ADMIN, reason="sent back")


def stock(schema: strawberry.Schema, document: str, context: Any, **variables: Any) -> Any:
    """graphql-core's own executor, as Strawberry runs it: what the shortcut must match."""
    return execute(
        schema._schema,
        parse(document),
        context_value=context,
        variable_values=variables,
        executor_class=StrawberryGraphQLCoreExecutionContext,
    )


@pytest.mark.parametrize(
    "variables", [{"withItems": True, "skipNote": False}, {"withItems": False, "skipNote": True}]
)
async def test_real_orders_answer_as_graphql_core_answers(services: Services, variables: dict[str, bool]):
    await busy_venue(services.orders, services.amendments)
    schema = build_schema()
    projected = await schema.execute(
        EVERYTHING, variable_values=variables, context_value=as_staff(services, ADMIN)
    )
    expected = await stock(schema, EVERYTHING, as_staff(services, ADMIN), **variables)
    assert projected.errors is None
    assert expected.errors is None
    assert projected.data == expected.data
    assert projected.data is not None
    assert len(projected.data["activeOrders"]) == 4


async def test_an_object_with_a_field_of_its_own_is_left_to_graphql_core(services: Services):
    await busy_venue(services.orders, services.amendments)
    schema = build_schema()
    projected = await schema.execute(WITH_HISTORY, context_value=as_staff(services, ADMIN))
    expected = await stock(schema, WITH_HISTORY, as_staff(services, ADMIN))
    assert projected.errors is None
    assert projected.data == expected.data
    assert projected.data is not None
    assert all(order["history"] for order in projected.data["activeOrders"])


# -- the shortcut is taken ------------------------------------------------------------------------


class Counting(Execution):
    """Execution, counting the fields graphql-core resolves one at a time (each builds an info)."""

    resolved = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        Counting.resolved += 1
        return super().build_resolve_info(*args, **kwargs)


async def test_a_board_of_orders_resolves_one_field_not_thousands(services: Services):
    await busy_venue(services.orders, services.amendments)
    document = "{ activeOrders { id items { name amountPerItem { formatted } modifiers { name } } bumpTo } }"
    Counting.resolved = 0
    answer = execute(
        build_schema()._schema,
        parse(document),
        context_value=as_staff(services, ADMIN),
        executor_class=Counting,
    )
    result = await answer  # type: ignore[misc]
    assert result.errors is None
    assert len(result.data["activeOrders"]) == 4
    assert Counting.resolved == 1  # activeOrders itself; every order below it projected


# -- values graphql-core refuses ------------------------------------------------------------------


@strawberry.type
class Leaf:
    name: str
    size: int | None

    @strawberry.field
    def shout(self) -> str:
        if self.name == "boom":
            raise ValueError("no shouting at boom")
        return self.name.upper()


@strawberry.type
class Branch:
    label: str
    leaves: list[Leaf]
    best: Leaf | None


@strawberry.type
class Tree:
    @strawberry.field
    def branches(self) -> list[Branch]:
        good = Leaf(name="oak", size=3)
        return [
            Branch(label="fine", leaves=[good], best=good),
            Branch(label="nameless", leaves=[good, Leaf(name=None, size=1)], best=None),  # type: ignore[arg-type]
            Branch(label="loud", leaves=[Leaf(name="boom", size=None)], best=good),
            Branch(label="wrong size", leaves=[Leaf(name="elm", size="big")], best=good),  # type: ignore[arg-type]
            Branch(label=None, leaves=[], best=good),  # type: ignore[arg-type]
        ]


@pytest.mark.parametrize(
    "document",
    [
        "{ branches { label leaves { name size shout } best { name } } }",
        "{ branches { __typename label best { size } leaves { size } } }",
        "{ branches { leaves { shout } } }",
    ],
)
async def test_nulls_refused_values_and_raising_methods_answer_as_graphql_core_answers(document: str):
    projected = strawberry.Schema(query=Tree, execution_context_class=Execution).execute_sync(document)
    expected = strawberry.Schema(query=Tree).execute_sync(document)
    assert projected.data == expected.data
    assert [(e.message, e.path) for e in projected.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]
    assert expected.errors  # each document meets at least one refusal
