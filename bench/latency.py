"""REST -> kitchen screen latency: N screens subscribed to orderChanges over WebSocket, orders
placed through the REST shim at a fixed rate; for every order and every screen, the time from
sending the POST to the change arriving. Also: did every screen get every order?

    python -m bench.latency [--screens 1,10,50,200] [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import AUTH, ORDERPASS, machine, orderpass, orderpass_env, write_section
from bench.create_order import order_template

# What a kitchen screen asks for with each change: the ticket's content.
SCREEN = """subscription($since: Int) { orderChanges(since: $since) { sequence kind order {
  id status reference displayName orderType dineIn { tableId } collection { asap collectAt }
  items { quantity name note modifiers { name quantity } subItems { quantity name } }
  note payable createdAt bumpTo } } }"""


@dataclass
class Screen:
    arrived: dict[str, float] = field(default_factory=dict)  # order id -> when its CREATED arrived


async def watch(url: str, token: str, since: int, screen: Screen, ready: asyncio.Event, total: int) -> None:
    ws: ClientConnection
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            ).decode()
        )
        await ws.recv()
        payload = {"query": SCREEN, "variables": {"since": since}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        ready.set()
        async for raw in ws:
            message = orjson.loads(raw)
            if message["type"] == "ping":
                await ws.send('{"type":"pong"}')
            elif message["type"] == "next":
                change = message["payload"]["data"]["orderChanges"]
                if change["kind"] == "CREATED":
                    screen.arrived.setdefault(change["order"]["id"], time.perf_counter())
                    if len(screen.arrived) >= total:
                        return


async def run(base: str, token: str, *, screens: int, rate: float, seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=30) as dojo:
        staff = {"Authorization": f"Bearer {token}"}
        since = (
            await dojo.post("/graphql", json={"query": "{ lastSequence }"}, headers=staff, auth=None)
        ).json()
        since = since["data"]["lastSequence"]
        total = int(rate * seconds)
        watchers = [Screen() for _ in range(screens)]
        ready = [asyncio.Event() for _ in range(screens)]
        ws_url = base.replace("http://", "ws://") + "/graphql"
        tasks = [
            asyncio.create_task(watch(ws_url, token, since, s, r, total))
            for s, r in zip(watchers, ready, strict=True)
        ]
        await asyncio.gather(*(r.wait() for r in ready))
        await asyncio.sleep(0.5)
        sent: dict[str, float] = {}
        template = order_template().replace("%%", "%")
        tag = f"lat{screens}-{time.time_ns()}"

        async def place(n: int) -> None:
            body = template % (tag, n, tag, n)
            started = time.perf_counter()
            answer = await dojo.post("/v1/orders", content=body, headers={"content-type": "application/json"})
            sent[answer.json()["id"]] = started

        placing = []
        began = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
            placing.append(asyncio.create_task(place(n)))
        await asyncio.gather(*placing)
        await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
    latencies = [(s.arrived[o] - t) * 1000 for s in watchers for o, t in sent.items() if o in s.arrived]
    missing = sum(1 for s in watchers for o in sent if o not in s.arrived)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "screens": screens,
        "deliveries": len(latencies),
        "missing": missing,
        "p50": statistics.median(latencies),
        "p99": quantiles[98],
        "max": max(latencies),
    }


def mint(env: dict[str, str]) -> str:
    made = subprocess.run(
        [str(ORDERPASS), "token", "create", "--role", "admin", "--name", f"bench-{time.time_ns()}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--screens", default="1,10,50,200")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(f"REST -> screen latency on {machine()}", file=sys.stderr)
    results = []
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/latency.db"
        with orderpass(database) as base:
            token = mint(orderpass_env(database))
            for screens in (int(n) for n in args.screens.split(",")):
                result = asyncio.run(run(base, token, screens=screens, rate=args.rate, seconds=args.seconds))
                print(result, file=sys.stderr)
                results.append(result)
    lines = [
        "## REST -> kitchen screen latency",
        "",
        f"`python -m bench.latency` on {machine()}.",
        f"Orders placed through the REST shim at {args.rate:.0f}/s for {args.seconds:.0f} s; every screen subscribes"
        " to orderChanges over WebSocket with a ticket's selection set; latency is from sending the POST to the"
        " CREATED change arriving, for every order on every screen. Screens and load generator share one process.",
        "",
        "| screens | deliveries | missing | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['screens']} | {r['deliveries']} | {r['missing']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |"
            for r in results
        ),
        "",
        "Target: p99 at most 50 ms at 50 screens and 50 orders/s, with no delivery missing.",
    ]
    write_section("latency", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
