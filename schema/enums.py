"""The domain's enums, registered once as GraphQL enums before any type refers to them."""

from __future__ import annotations

import strawberry

from server.actors import ActorKind
from server.changes.model import ChangeKind
from server.lifecycle import OrderStatus
from server.orders.model import OrderType
from server.payments.model import PaymentSource, PaymentStatus

strawberry.enum(OrderStatus, description="Dojo's order statuses.")
strawberry.enum(OrderType)
strawberry.enum(ChangeKind, name="OrderChangeKind")
strawberry.enum(PaymentStatus, description="A Dojo payment intent's status.")
strawberry.enum(PaymentSource, description="How we learned of a payment.")
strawberry.enum(ActorKind)
