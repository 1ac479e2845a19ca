"""A replay storm: one WebSocket opens 50 `orderChanges(since: 0)` subscriptions over a history
of N orders. The server's peak memory (VmHWM) and a Dojo GET timed every 50 ms while the
replays are delivered. The server runs in its own process.

    python -m bench.replays [--orders 1000] [--subscriptions 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench.common import AUTH, ORDERPASS, free_port, machine, orderpass_env, process, write_section
from bench.latency import mint
from bench.stall import seed

SCREEN = (
    "subscription { orderChanges(since: 0) { sequence order { id note items { name modifiers { name } } } } }"
)


def megabytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    return 0


async def probe(dojo: httpx.AsyncClient, times: list[float]) -> None:
    while True:
        started = time.perf_counter()
        await dojo.get("/v1/orders/ord_none")
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def storm(url: str, token: str, pid: int, *, orders: int, subscriptions: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=60) as dojo:
        await seed(dojo, orders)
        before = megabytes(pid, "VmRSS")
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None) as ws:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await ws.send(orjson.dumps(init).decode())
            await ws.recv()
            for n in range(subscriptions):
                await ws.send(
                    orjson.dumps({"id": str(n), "type": "subscribe", "payload": {"query": SCREEN}}).decode()
                )
            times: list[float] = []
            probing = asyncio.create_task(probe(dojo, times))
            started, delivered = time.perf_counter(), 0
            while delivered < orders * subscriptions:
                delivered += orjson.loads(await asyncio.wait_for(ws.recv(), 60))["type"] == "next"
            seconds = time.perf_counter() - started
            probing.cancel()
    return {
        "delivered": delivered,
        "seconds": seconds,
        "rss_before": before,
        "rss_peak": megabytes(pid, "VmHWM"),
        "get_p50": statistics.median(times),
        "get_max": max(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=50)
    args = parser.parse_args()
    print(f"replay storm on {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        env = orderpass_env(f"sqlite:///{folder}/replays.db")
        subprocess.run([str(ORDERPASS), "db", "upgrade"], env=env, check=True, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with process([str(ORDERPASS), "serve", "--port", str(port)], env=env, url=url) as child:
            token = mint(env)
            r = asyncio.run(
                storm(url, token, child.pid, orders=args.orders, subscriptions=args.subscriptions)
            )
    print(r, file=sys.stderr)
    lines = [
        "## A replay storm",
        "",
        f"`python -m bench.replays` on {machine()}.",
        f"One WebSocket opens {args.subscriptions} `orderChanges(since: 0)` subscriptions over {args.orders} orders"
        " of history; the server's memory, and Dojo's GetOrderById sent every 50 ms while they are delivered.",
        "",
        "| delivered | seconds | RSS before MB | RSS peak MB | Dojo GET p50 ms | Dojo GET max ms |",
        "|---|---|---|---|---|---|",
        f"| {r['delivered']} | {r['seconds']:.1f} | {r['rss_before']} | {r['rss_peak']} | {r['get_p50']:.0f} | {r['get_max']:.0f} |",
    ]
    write_section("replays", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
