"""Does one big GraphQL query hold up Dojo? A Dojo GET of one order, sent every 10 ms, timed
while a staff client reads every open order (`activeOrders`, a kitchen ticket's selection) on
a busy day: 1000 open orders of six items each. The server runs in its own process.

    python -m bench.stall [--orders 1000] [--aliases 1,5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from typing import Any

import httpx

from bench.common import AUTH, machine, orderpass, orderpass_env, write_section
from bench.create_order import order_template
from bench.latency import mint

TICKET = """id status reference displayName orderType dineIn { tableId } collection { asap collectAt }
  items { quantity name note modifiers { name quantity } subItems { quantity name } }
  note payable createdAt bumpTo totalAmount { value formatted }"""


def board(aliases: int) -> str:
    return "{ " + " ".join(f"a{n}: activeOrders {{ {TICKET} }}" for n in range(aliases)) + " }"


async def seed(dojo: httpx.AsyncClient, count: int) -> list[str]:
    """Place `count` of bench/create_order.py's orders through Dojo's REST door, 50 at a time; their ids."""
    template = order_template().replace("%%", "%")
    tag = f"stall-{time.time_ns()}"
    ids: list[str] = []
    for start in range(0, count, 50):
        answers = await asyncio.gather(
            *(
                dojo.post(
                    "/v1/orders",
                    content=template % (tag, n, tag, n),
                    headers={"content-type": "application/json"},
                )
                for n in range(start, min(count, start + 50))
            )
        )
        ids.extend(answer.json()["id"] for answer in answers)
    return ids


async def probe(dojo: httpx.AsyncClient, order_id: str, until: asyncio.Event) -> list[float]:
    """Dojo's GetOrderById every 10 ms until told to stop; each one's time in ms."""
    times = []
    while not until.is_set():
        started = time.perf_counter()
        await dojo.get(f"/v1/orders/{order_id}")
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)
    return times


async def measure(base: str, token: str, order_id: str, aliases: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=4)
    async with (
        httpx.AsyncClient(base_url=base, auth=AUTH, timeout=120, limits=limits) as dojo,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as staff,
    ):
        idle = asyncio.Event()
        quiet = asyncio.create_task(probe(dojo, order_id, idle))
        await asyncio.sleep(1)
        idle.set()
        baseline = await quiet
        done = asyncio.Event()
        busy = asyncio.create_task(probe(dojo, order_id, done))
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        answer = (await staff.post("/graphql", json={"query": board(aliases)})).json()
        query_ms = (time.perf_counter() - started) * 1000
        done.set()
        during = await busy
    errors = answer.get("errors") or []
    return {
        "aliases": aliases,
        "answer": errors[0]["extensions"].get("code", "error") if errors else "data",
        "query_ms": query_ms,
        "baseline_p50": statistics.median(baseline),
        "during_p50": statistics.median(during),
        "during_max": max(during),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--aliases", default="1,5")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    print(f"Dojo GET during a big query on {machine()}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/stall.db"
        with orderpass(database) as base:
            token = mint(orderpass_env(database))

            async def prepare() -> str:
                async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=60) as dojo:
                    return (await seed(dojo, args.orders))[0]

            order_id = asyncio.run(prepare())
            for aliases in (int(n) for n in args.aliases.split(",")):
                result = asyncio.run(measure(base, token, order_id, aliases))
                print(result, file=sys.stderr)
                results.append(result)
    lines = [
        f"## A Dojo call during a big GraphQL query{args.label}",
        "",
        f"`python -m bench.stall` on {machine()}.",
        f"{args.orders} open orders of six items; a staff client asks for `activeOrders` with a kitchen ticket's"
        " selection, `aliases` times in one document, while Dojo's GetOrderById is sent every 10 ms.",
        "",
        "| aliases | answer | query ms | Dojo GET p50 idle ms | p50 during ms | max during ms |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['aliases']} | {r['answer']} | {r['query_ms']:.0f} | {r['baseline_p50']:.1f} |"
            f" {r['during_p50']:.1f} | {r['during_max']:.1f} |"
            for r in results
        ),
    ]
    write_section("stall", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
