"""Memory with idle screens: the server's RSS idle, with 1,000 idle subscribers to orderChanges,
and after they all leave again (it must come back down: no leak on disconnect).

    python -m bench.memory [--subscribers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import machine, orderpass, orderpass_env, write_section
from bench.latency import SCREEN, mint
from tests.processes import sockets_of, tcp_sockets


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def server_pid(port: int) -> int:
    """The process listening on the port (the orderpass worker)."""
    listening = tcp_sockets(port, "0A")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if sockets_of(int(proc.name)) & listening:
                return int(proc.name)
        except (PermissionError, FileNotFoundError):
            continue
    raise RuntimeError(f"no process listens on {port}")


async def subscriber(url: str, token: str, opened: asyncio.Event, leave: asyncio.Event) -> None:
    ws: ClientConnection
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            ).decode()
        )
        await ws.recv()
        payload = {"query": SCREEN, "variables": {"since": 0}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        opened.set()
        while not leave.is_set():  # answer pings, like a screen
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if orjson.loads(message)["type"] == "ping":
                await ws.send('{"type":"pong"}')


async def measure(base: str, token: str, pid: int, count: int) -> dict[str, float]:
    await asyncio.sleep(2)
    idle = rss_mb(pid)
    url = base.replace("http://", "ws://") + "/graphql"
    opened = [asyncio.Event() for _ in range(count)]
    leave = asyncio.Event()
    tasks = []
    for n in range(count):
        tasks.append(asyncio.create_task(subscriber(url, token, opened[n], leave)))
        if n % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 120)
    await asyncio.sleep(3)
    with_subscribers = rss_mb(pid)
    leave.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(3)
    async with httpx.AsyncClient() as client:  # the server answers, and holds no subscriber
        await client.get(base + "/healthz")
    return {"idle": idle, "with": with_subscribers, "after": rss_mb(pid)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.subscribers + 256)), hard))
    print(f"memory on {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/memory.db"
        with orderpass(database) as base:
            token = mint(orderpass_env(database))
            pid = server_pid(int(base.rsplit(":", 1)[1]))
            began = time.monotonic()
            found = asyncio.run(measure(base, token, pid, args.subscribers))
            print(found, f"{time.monotonic() - began:.0f}s", file=sys.stderr)
    grew = found["with"] - found["idle"]
    lines = [
        "## Memory with idle screens",
        "",
        f"`python -m bench.memory` on {machine()}.",
        f"{args.subscribers} WebSocket subscribers to orderChanges (a ticket's selection set), idle but answering pings.",
        "",
        "| server | RSS MB |",
        "|---|---|",
        f"| idle | {found['idle']:.0f} |",
        f"| with {args.subscribers} idle subscribers | {found['with']:.0f} (+{grew:.0f}, {grew * 1024 / args.subscribers:.0f} KB each) |",
        f"| after they all left | {found['after']:.0f} |",
        "",
        f"Target (issue 16): at most 50 MB over an idle server for 1,000 idle screens"
        f" (+{grew:.0f} MB for {args.subscribers}, {grew * 1000 / args.subscribers / 50:.2f} of it per 1,000).",
    ]
    write_section("memory", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
