"""Pausing Dojo's ordering over GraphQL: what is paused now (`ordering`), the audit history of
pauses and resumes (`orderingHistory`), pausing and resuming (a kitchen token or better), and
the pauses live (`orderingChanges`: at once, then on every change, in any process)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from datetime import datetime
from typing import Annotated

import strawberry

from schema.context import Info
from schema.enums import described
from schema.errors import Conflict, Forbidden, InvalidInput, InvalidMove, NotFound, outcome
from schema.history_types import Actor
from server.ordering.model import (
    LABELS,
    PAUSABLE,
    DojoProduct,
    OrderingChange,
    OrderingChangeKind,
    Pause,
    Pauses,
)
from server.ordering.service import MAX_HISTORY
from server.services import Services

described(
    DojoProduct,
    {
        DojoProduct.ORDER_AND_PAY: "Order & Pay: customers order and pay on their phones "
        "(`dojo-requesting-product: Order&Pay`).",
        DojoProduct.QR: "QR ordering: customers order from a table's QR code.",
        DojoProduct.PAY_AT_TABLE: "Pay at Table: pays orders already placed, so it is never paused.",
    },
    description="Dojo's products that call the POS, as their `dojo-requesting-product` header names them.",
)
described(
    OrderingChangeKind,
    {
        OrderingChangeKind.PAUSED: "Staff paused new orders from these products.",
        OrderingChangeKind.RESUMED: "Staff resumed these products' orders.",
        OrderingChangeKind.AUTO_RESUMED: "A pause's time ran out; recorded once, by the POS.",
    },
    description="What a line of ordering's audit history records.",
)


@strawberry.type(name="OrderingPause", description="One Dojo product whose new orders are paused now.")
class PauseNode:
    product: DojoProduct = strawberry.field(description="The product whose new orders Dojo hears refused.")
    label: str = strawberry.field(description="Its name, for people: `Order & Pay`.")
    paused_at: datetime = strawberry.field(description="When it was paused.")
    by: Actor = strawberry.field(description="Who paused it.")
    until: datetime | None = strawberry.field(
        description="When it ends by itself: CreateOrder takes its orders from then. Null: until resumed."
    )
    seconds_left: int | None = strawberry.field(
        description="Whole seconds until `until`, by the server's clock; null until resumed."
    )


@strawberry.type(description="Which Dojo products' new orders are paused, and what a pause may be.")
class Ordering:
    pauses: list[PauseNode] = strawberry.field(
        description="The products paused now (none: every product takes orders), in screen order."
    )
    pausable: list[DojoProduct] = strawberry.field(description="The products a kitchen may pause.")
    durations: list[int] = strawberry.field(
        description="The lengths of pause offered, in minutes (ORDERPASS_PAUSE_MINUTES); null: until resumed."
    )


@strawberry.type(description="One line of ordering's audit history: who paused or resumed what, and when.")
class OrderingChangeNode:
    at: datetime = strawberry.field(description="When: for AUTO_RESUMED, the moment the pause ran out.")
    kind: OrderingChangeKind = strawberry.field(description="What happened.")
    by: Actor = strawberry.field(description="Who did it: staff by their token's name, or the POS.")
    products: list[DojoProduct] = strawberry.field(description="The products it paused or resumed.")
    until: datetime | None = strawberry.field(
        description="For PAUSED and AUTO_RESUMED, when the pause was to end; null until resumed."
    )


OrderingResult = Annotated[
    Ordering | InvalidInput | Forbidden,
    strawberry.union("OrderingResult", description="What is paused now, or why not."),
]
Products = Annotated[
    list[DojoProduct],
    strawberry.argument(description="The products to pause: Order & Pay, QR or both (never Pay at Table)."),
]
Minutes = Annotated[
    int | None,
    strawberry.argument(description="How long, in minutes: one of `Ordering.durations`; null until resumed."),
]


@strawberry.type
class OrderingQuery:
    @strawberry.field(
        description="Which Dojo products' new orders are paused now: by whom, since and until when."
    )
    async def ordering(self, info: Info) -> Ordering:
        services = info.context.services
        return ordering_node(services, await services.ordering.current())

    @strawberry.field(
        description=f"Every pause, resume and automatic resume, newest first; `first` at most {MAX_HISTORY}."
    )
    async def ordering_history(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"How many, from 1 to {MAX_HISTORY}.")] = 20,
    ) -> list[OrderingChangeNode]:
        return [change_node(change) for change in await info.context.services.ordering.history(limit=first)]


@strawberry.type
class OrderingMutation:
    @strawberry.mutation(
        description="Pause new orders from these Dojo products (a kitchen token or better): CreateOrder "
        "refuses them with a Conflict that says until when, while a retry of an order placed before still "
        "answers it. A product paused already takes the new pause. Recorded with who did it."
    )
    async def pause_ordering(self, info: Info, products: Products, minutes: Minutes = None) -> OrderingResult:
        services = info.context.services
        return await _rendered(services, services.ordering.pause(products, minutes, by=info.context.staff))

    @strawberry.mutation(
        description="Resume these products' orders, or every paused product's if null (a kitchen token or "
        "better). Resuming what is not paused changes nothing."
    )
    async def resume_ordering(
        self,
        info: Info,
        products: Annotated[
            list[DojoProduct] | None,
            strawberry.argument(description="The products to resume; every paused one if null."),
        ] = None,
    ) -> OrderingResult:
        services = info.context.services
        return await _rendered(services, services.ordering.resume(products, by=info.context.staff))


@strawberry.type
class OrderingSubscription:
    @strawberry.subscription(
        description="What is paused, at once and then each time it changes (a pause, a resume, a pause "
        "running out), in any process: a screen that reconnects is right at once."
    )
    async def ordering_changes(self, info: Info) -> AsyncGenerator[Ordering, None]:
        services = info.context.services
        async with services.ordering.watching() as changes:
            async for pauses in changes:
                yield ordering_node(services, pauses)


def ordering_node(services: Services, pauses: Pauses) -> Ordering:
    now = services.clock.now()
    return Ordering(
        pauses=[pause_node(pause, now) for pause in pauses.in_force(now)],
        pausable=list(PAUSABLE),
        durations=list(services.ordering.minutes),
    )


def pause_node(pause: Pause, now: datetime) -> PauseNode:
    return PauseNode(
        product=pause.product,
        label=LABELS[pause.product],
        paused_at=pause.paused_at,
        by=Actor.of(pause.by),
        until=pause.until,
        seconds_left=pause.seconds_left(now),
    )


def change_node(change: OrderingChange) -> OrderingChangeNode:
    return OrderingChangeNode(
        at=change.at,
        kind=change.kind,
        by=Actor.of(change.by),
        products=list(change.products),
        until=change.until,
    )


async def _rendered(services: Services, call: Awaitable[Pauses]) -> OrderingResult:
    result = await outcome(call)
    assert not isinstance(result, NotFound | Conflict | InvalidMove), "pausing finds and moves no order"
    return ordering_node(services, result) if isinstance(result, Pauses) else result
