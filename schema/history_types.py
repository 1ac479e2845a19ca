"""An order's history over GraphQL: what happened to it, when, and who did it."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

import server.actors
from server.actors import ActorKind
from server.changes.model import ChangeKind, HistoryEntry
from server.lifecycle import OrderStatus


@strawberry.type(description="Who made a change: to an order, or to what is paused.")
class Actor:
    kind: ActorKind = strawberry.field(description="Dojo, a member of staff, or the POS itself.")
    name: str | None = strawberry.field(description="A member of staff's name (their token's); else null.")

    @classmethod
    def of(cls, actor: server.actors.Actor) -> Actor:
        return cls(kind=actor.kind, name=actor.name)


@strawberry.type(name="HistoryEntry", description="One thing that happened to an order: what, when, and who.")
class HistoryEntryNode:
    at: datetime = strawberry.field(description="When it happened.")
    kind: ChangeKind = strawberry.field(description="What happened.")
    from_status: OrderStatus | None = strawberry.field(
        description="The status the order left, if its status changed."
    )
    to_status: OrderStatus | None = strawberry.field(
        description="The status the order entered, if its status changed (New, when it was placed)."
    )
    actor: Actor = strawberry.field(description="Who did it.")
    waiter_id: str | None = strawberry.field(description="Dojo's `waiter-id` header, when Dojo did it.")
    requesting_product: str | None = strawberry.field(
        description="Dojo's `dojo-requesting-product` header (`Order&Pay`, say), when Dojo did it."
    )
    device_id: str | None = strawberry.field(description="Dojo's `device-id` header, when Dojo did it.")
    device_type: str | None = strawberry.field(description="Dojo's `device-type` header, when Dojo did it.")
    detail: JSON | None = strawberry.field(
        description="What else there is to know, shaped by `kind`: the payment, the items added or "
        "voided, the station and lines bumped, a reason."
    )


# -- from the domain ----------------------------------------------------------------------------


def history_entry(entry: HistoryEntry) -> HistoryEntryNode:
    actor = entry.actor
    return HistoryEntryNode(
        at=entry.at,
        kind=entry.kind,
        from_status=entry.from_status,
        to_status=entry.to_status,
        actor=Actor.of(actor),
        waiter_id=actor.waiter_id,
        requesting_product=actor.requesting_product,
        device_id=actor.device_id,
        device_type=actor.device_type,
        detail=cast(JSON, entry.detail),
    )
