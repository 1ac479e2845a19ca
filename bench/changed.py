"""What a read costs when its order has just changed, beside a read of an order unchanged since the
last one: orderpass keeps an order as read (server/orders/rows.order_of), its ticket on each stage
(server/kds/board.py) and each ticket's HTML (server/kds/pages.py), so bench/reads.py, which
reads the same 500 unchanged orders over and over, measures the kept path. A kitchen's first
screen to fetch a ticket after a change pays the other one; this measures both.

In one process, through the app itself (raw ASGI calls: no HTTP, no client): `--orders` of
bench/create_order.py's orders placed through Dojo's REST door; then, in three rounds, every
order is moved on with `moveOrder`, and once what the moves set going has run, every order is
read (GetOrderById for half of them, a kitchen screen's ticket fragment for the other half:
"after a change"), then every order again ("unchanged"). Reads follow one another, as a busy
kitchen's do; single reads after an idle pause cost over twice as much on these machines (cold
caches), whichever path they take. Only the reads are timed, in CPU time of this process.

    .venv/bin/python -m bench.changed [--orders 300]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.common import AUTH, machine, orderpass_env, write_section
from bench.create_order import order_template
from server.app import create_app
from server.lifecycle import OrderStatus
from server.revisions import upgrade
from server.settings import Settings
from server.staff.roles import Role

MOVES = (OrderStatus.ACCEPTED, OrderStatus.PREPARING, OrderStatus.PREPARED)
MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"

SETTLE = 1.0  # seconds after a round of moves before the orders are read

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(app: App, state: dict[str, Any], method: str, path: str, headers: list[tuple[bytes, bytes]],
               body: bytes = b"") -> tuple[int, bytes]:  # fmt: skip
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000), "state": dict(state),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def measure(url: str, orders: int) -> dict[str, dict[str, list[float]]]:
    os.environ.update({k: v for k, v in orderpass_env(url).items() if k.startswith("ORDERPASS_")})
    app = create_app(Settings.from_env())
    async with app.router.lifespan_context(app) as state:
        services = state["services"]
        token = await services.tokens.create(name="bench-changed", role=Role.ADMIN)
        basic = b"Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode())
        dojo = [(b"authorization", basic), (b"content-type", b"application/json")]
        staff = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
        screen = [(b"cookie", f"orderpass_kds={token}".encode())]
        template = order_template().replace("%%", "%")
        ids = []
        for n in range(orders):
            status, body = await call(
                app, state, "POST", "/v1/orders", dojo, (template % ("c", n, "c", n)).encode()
            )
            assert status == 200, body[:300]
            ids.append(orjson.loads(body)["id"])
        reads = {"get": ("/v1/orders/", dojo), "ticket": ("/kds/tickets/", screen)}
        took: dict[str, dict[str, list[float]]] = {r: {"after a change": [], "unchanged": []} for r in reads}
        for to in MOVES:
            for order_id in ids:
                variables = {"id": order_id, "to": to.name}
                moved = orjson.dumps({"query": MOVE, "variables": variables})
                status, body = await call(app, state, "POST", "/graphql", staff, moved)
                assert status == 200, body[:300]
                assert b"errors" not in body, body[:300]
            await asyncio.sleep(SETTLE)  # what the moves set going (the feed, the outbox) runs untimed
            for when in ("after a change", "unchanged"):  # every order once, then every order again
                for n, order_id in enumerate(ids):
                    read = list(reads)[n % 2]  # half the orders read one way, half the other
                    path, headers = reads[read]
                    started = time.process_time()
                    status, body = await call(app, state, "GET", path + order_id, headers)
                    took[read][when].append((time.process_time() - started) * 1e6)
                    assert status == 200, body[:300]
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    where = machine()
    print(f"reads after a change, on {where}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/changed.db"
        upgrade(url)  # before the loop: the migrations run one of their own
        took = asyncio.run(measure(url, args.orders))
    lines = [
        "## Reads after a change, and of an unchanged order",
        "",
        f"`python -m bench.changed --orders {args.orders}` on {where}.",
        f"In one process, through the app (raw ASGI calls, no HTTP): {args.orders} of bench/create_order.py's",
        "orders placed through Dojo's REST door; three rounds of moving every order on with `moveOrder`,",
        "then reading every order (after a change: nothing of it kept yet), then every order again",
        "(unchanged: its order, ticket and HTML kept), half by GetOrderById and half by a kitchen",
        "screen's ticket fragment, one read after another. CPU time of the reads alone, in us.",
        "",
        "| read | after a change, median | unchanged, median | after a change / unchanged |",
        "|---|---|---|---|",
    ]
    for read, found in took.items():
        changed, kept = statistics.median(found["after a change"]), statistics.median(found["unchanged"])
        lines.append(f"| {read} | {changed:.0f} | {kept:.0f} | {changed / kept:.2f} |")
        print(f"{read}: after a change {changed:.0f} us, unchanged {kept:.0f} us", file=sys.stderr)
    body = "\n".join(lines)
    print(body)
    write_section("changed", body)


if __name__ == "__main__":
    main()
