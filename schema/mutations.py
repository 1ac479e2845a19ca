"""Mutations: each parses its input, makes one service call and renders the order, or one of
the expected failures (see schema/errors.py) as a member of `OrderResult`."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

import strawberry

from schema import inputs, order_types
from schema.context import Info
from schema.errors import Conflict, Forbidden, InvalidInput, InvalidMove, NotFound, outcome
from server.lifecycle import OrderStatus
from server.orders.model import Order

OrderResult = Annotated[
    order_types.OrderNode | NotFound | Conflict | InvalidMove | InvalidInput | Forbidden,
    strawberry.union("OrderResult", description="The order as it now is, or why not."),
]
OrderId = Annotated[strawberry.ID, strawberry.argument(description="The order's id.")]
Reason = Annotated[str | None, strawberry.argument(description="Why, in words, for the order's history.")]
TapId = Annotated[
    str | None,
    strawberry.argument(
        description="A kitchen screen's own id for this tap (a UUID): a tap sent again with it, after "
        "a dropped connection, is applied once, and answers the order as it now is."
    ),
]
IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(description="The client's key for this request: a retry with it does nothing twice."),
]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Place a staff-entered order. A retry with the same idempotencyKey "
        "returns the order it placed."
    )
    async def create_order(
        self,
        info: Info,
        input: Annotated[inputs.CreateOrderInput, strawberry.argument(description="The order to place.")],
        idempotency_key: IdempotencyKey = None,
    ) -> OrderResult:
        async def place() -> Order:
            draft = inputs.draft(input)
            return await info.context.services.orders.place(
                draft, by=info.context.staff, client_key=idempotency_key
            )

        return await rendered(place())

    @strawberry.mutation(
        description="Move an order as the lifecycle allows: a bump, a recall, a staff cancel. "
        "With `expected`, the move applies only if the order is still in that status; with `tapId`, "
        "a retry of a move already made changes nothing."
    )
    async def move_order(
        self,
        info: Info,
        id: OrderId,
        to: Annotated[OrderStatus, strawberry.argument(description="The status to move it to.")],
        expected: Annotated[
            OrderStatus | None,
            strawberry.argument(
                description="The status the caller saw it in; if it has moved since, Conflict."
            ),
        ] = None,
        tap_id: TapId = None,
    ) -> OrderResult:
        orders = info.context.services.orders
        return await rendered(orders.move(str(id), to, by=info.context.staff, expected=expected, tap=tap_id))

    @strawberry.mutation(
        description="Cancel an active order; canceling a Canceled order again returns it unchanged. "
        "Refused while Dojo's lock holds the order for a payment."
    )
    async def cancel_order(
        self,
        info: Info,
        id: OrderId,
        reason: Reason = None,
    ) -> OrderResult:
        return await rendered(
            info.context.services.orders.cancel(str(id), by=info.context.staff, reason=reason)
        )

    @strawberry.mutation(description="Record a payment (a split bill's share, say); idempotent by intent id.")
    async def record_payment(
        self,
        info: Info,
        order_id: OrderId,
        payment_intent_id: Annotated[
            str, strawberry.argument(description="Dojo's payment intent: an order holds each one once.")
        ],
        paid_amount: Annotated[
            inputs.MoneyInput,
            strawberry.argument(description="What it paid, excluding the tip; in the order's currency."),
        ],
        tips_amount: Annotated[
            inputs.MoneyInput | None, strawberry.argument(description="The tip added to it; none if null.")
        ] = None,
    ) -> OrderResult:
        async def record() -> Order:
            return await info.context.services.cashier.record_payment(
                str(order_id),
                payment_intent_id=payment_intent_id,
                paid_amount=inputs.money(paid_amount),
                tips_amount=inputs.money(tips_amount) if tips_amount else None,
                by=info.context.staff,
            )

        return await rendered(record())

    @strawberry.mutation(
        description="Add items to an open order (another round, a forgotten side): routed to their "
        "stations now, shown there as a change. A retry with the same idempotencyKey adds nothing again."
    )
    async def add_items(
        self,
        info: Info,
        order_id: OrderId,
        items: Annotated[list[inputs.ItemInput], strawberry.argument(description="The items to add.")],
        idempotency_key: IdempotencyKey = None,
    ) -> OrderResult:
        async def add() -> Order:
            added = inputs.items(items)
            amendments = info.context.services.amendments
            return await amendments.add_items(
                str(order_id), added, by=info.context.staff, client_key=idempotency_key
            )

        return await rendered(add())

    @strawberry.mutation(
        description="Take items (by Item.line) off an open order: off the bill, struck through on "
        "the kitchen's screens. Refused while what was paid would exceed the new total."
    )
    async def void_items(
        self,
        info: Info,
        order_id: OrderId,
        lines: Annotated[list[int], strawberry.argument(description="The items' lines (Item.line).")],
        reason: Reason = None,
    ) -> OrderResult:
        amendments = info.context.services.amendments
        return await rendered(
            amendments.void_items(str(order_id), lines, by=info.context.staff, reason=reason)
        )

    @strawberry.mutation(
        description="Admin only: remove Dojo's lock on an order (the terminal died mid-payment, "
        "say), so staff can change it again. Recorded in the order's history with who and why."
    )
    async def release_lock(
        self,
        info: Info,
        order_id: OrderId,
        reason: Annotated[str, strawberry.argument(description="Why, for the order's history: required.")],
    ) -> OrderResult:
        cashier = info.context.services.cashier
        return await rendered(cashier.release_lock(str(order_id), reason=reason, by=info.context.staff))


async def rendered(call: Awaitable[Order]) -> OrderResult:
    result = await outcome(call)
    return order_types.order(result) if isinstance(result, Order) else result
