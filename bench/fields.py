"""What GraphQL costs per field: the same 500 kitchen tickets (Order nodes already built, no
database) answered by graphql-core's executor as Strawberry runs it, field by field, and by
orderpass's (schema/execution.py), which projects plain objects in one compiled step. Both run
in this process, alternating, on the real Order type; the answers are compared.

    .venv/bin/python -m bench.fields [--orders 500] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from bench.common import machine, write_section
from bench.create_order import order_template
from bench.stall import TICKET
from schema.execution import Execution
from schema.order_types import OrderNode
from schema.order_types import order as node
from schema.scalars import SCALARS
from server.lifecycle import OrderStatus
from server.orders.model import Order, OrderDraft

FULL = """id dojoOrderId reference displayName note status orderType
  dineIn { tableId waiterId } totalAmount { value currencyCode formatted } paidAmount { value }
  items { name plu quantity note line station addedLater amountPerItem { value formatted }
    modifiers { name plu quantity amountPerModifier { value formatted } } subItems { name quantity } }
  payable createdAt updatedAt version allowedMoves bumpTo recallTo"""


def tickets(count: int) -> list[OrderNode]:
    template = order_template().replace("%%", "%")
    now = datetime.now(UTC)
    nodes = []
    for n in range(count):
        draft = OrderDraft.model_validate_json(template % ("fields", n, "fields", n))
        order = Order(
            f"ord_{n:020d}", draft.dojo_order_id, OrderStatus.ACCEPTED, 1, draft.content(), (), now, now
        )
        nodes.append(node(order))
    return nodes


def schemas(nodes: list[OrderNode]) -> dict[str, strawberry.Schema]:
    @strawberry.type
    class Query:
        @strawberry.field
        def active_orders(self) -> list[OrderNode]:
            return nodes

    config = StrawberryConfig(scalar_map=SCALARS)
    return {
        "graphql-core, field by field": strawberry.Schema(
            query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext, config=config
        ),
        "orderpass, projected": strawberry.Schema(
            query=Query, execution_context_class=Execution, config=config
        ),
    }


def fields_in(value: Any) -> int:
    if isinstance(value, dict):
        return sum(1 + fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(fields_in(v) for v in value)
    return 0


async def measure(orders: int, rounds: int) -> list[dict[str, Any]]:
    built = schemas(tickets(orders))
    rows = []
    for label, selection in (("ticket", TICKET), ("wide", FULL)):
        document = f"{{ activeOrders {{ {selection} }} }}"
        times: dict[str, list[float]] = {name: [] for name in built}
        answers: dict[str, Any] = {}
        for _ in range(rounds):
            for name, schema in built.items():
                gc.collect()
                started = time.perf_counter()
                result = await schema.execute(document)
                times[name].append(time.perf_counter() - started)
                assert result.errors is None, result.errors
                answers[name] = result.data
        stock, fast = answers.values()
        assert stock == fast, "the two executors answered differently"
        count = fields_in(stock)
        medians = {name: statistics.median(found) * 1000 for name, found in times.items()}
        rows.append({"selection": label, "fields": count, **medians})
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"GraphQL per field on {machine()}", file=sys.stderr)
    rows = asyncio.run(measure(args.orders, args.rounds))
    stock, fast = "graphql-core, field by field", "orderpass, projected"
    lines = [
        "## GraphQL's cost per field",
        "",
        f"`python -m bench.fields --orders {args.orders}` on {machine()}.",
        f"{args.orders} kitchen tickets as Order nodes already built (no database, no HTTP), answered in this process by "
        "graphql-core's executor as Strawberry runs it and by orderpass's (schema/execution.py: plain objects "
        f"projected), alternating, {args.rounds} rounds each; the answers are equal. Medians.",
        "",
        "| selection | fields answered | field by field ms | projected ms | us/field, field by field | us/field, projected | ratio |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['selection']} | {r['fields']} | {r[stock]:.1f} | {r[fast]:.1f} | "
            f"{r[stock] * 1000 / r['fields']:.2f} | {r[fast] * 1000 / r['fields']:.2f} | {r[stock] / r[fast]:.1f}x |"
            for r in rows
        ),
    ]
    write_section("fields", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
