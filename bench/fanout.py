"""Fan-out at venue-group scale: 1,000 kitchen screens on one server (SQLite, one worker),
spread over several client processes so the load client is not the bottleneck, then orders
placed through Dojo's REST door at 10/s. For every order on every screen, the time from
sending the POST to its CREATED change arriving; every delivery that never came; the server's
RSS idle and with every screen connected; and the CPU each process spent while loaded.

    python -m bench.fanout [--screens 1000] [--clients 4] [--rate 10] [--seconds 30]

The clock both sides read is CLOCK_MONOTONIC (one per machine, shared by every process): the
POST carries its send time in the order's reference (`fan-<n>-<monotonic ns>`), and the screen
that receives the ticket subtracts it from its own reading. Each screen is proven subscribed
by the replay of one order placed before it connected (it subscribes from just before it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import IO, Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.common import AUTH, ROOT, build, cpu_seconds, machine, orderpass, orderpass_env, write_section
from bench.create_order import order_template
from bench.latency import SCREEN, mint
from bench.memory import rss_mb, server_pid

HANDSHAKES = 10  # at a time, over all clients: the server has 2 cores (tests/test_operations.py)


# -- one client process: its share of the screens ------------------------------------------


class Screens:
    def __init__(self) -> None:
        self.arrived: list[dict[int, float]] = []  # per screen: order number -> latency ms
        self.subscribed = 0
        self.arrival = asyncio.Event()  # set whenever a ticket arrives on any screen


async def screen(
    url: str, token: str, since: int, found: dict[int, float], screens: Screens, gate: asyncio.Semaphore
) -> None:
    ws: ClientConnection
    async with gate:
        ws = await connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=120, max_size=None
        )
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(orjson.dumps(init).decode())
        await ws.recv()
        payload = {"query": SCREEN, "variables": {"since": since}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        first = orjson.loads(await ws.recv())  # the order placed before it came: it is subscribed
        assert first["type"] == "next", first
        screens.subscribed += 1
    async with ws:
        async for raw in ws:
            now = time.monotonic_ns()
            message = orjson.loads(raw)
            if message["type"] == "ping":
                await ws.send('{"type":"pong"}')
            elif message["type"] == "next":
                change = message["payload"]["data"]["orderChanges"]
                reference = change["order"]["reference"] or ""
                if change["kind"] == "CREATED" and reference.startswith("fan-"):
                    _, n, sent = reference.split("-")
                    found.setdefault(int(n), (now - int(sent)) / 1e6)
                    screens.arrival.set()


async def client(url: str, token: str, since: int, count: int, handshakes: int) -> None:
    screens, gate = Screens(), asyncio.Semaphore(handshakes)
    screens.arrived = [{} for _ in range(count)]
    tasks = [
        asyncio.create_task(screen(url, token, since, found, screens, gate)) for found in screens.arrived
    ]
    while screens.subscribed < count:
        await asyncio.sleep(0.1)
        if failed := [t for t in tasks if t.done() and t.exception()]:
            raise RuntimeError(f"a screen failed to subscribe: {failed[0].exception()!r}")
    _say({"ready": count})
    assert (await _heard())["go"]
    began = resource.getrusage(resource.RUSAGE_SELF)
    total = int((await _heard())["done"])
    deadline = time.monotonic() + 10  # for the last deliveries
    while (left := deadline - time.monotonic()) > 0 and any(len(found) < total for found in screens.arrived):
        screens.arrival.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(screens.arrival.wait(), left)
    ended = resource.getrusage(resource.RUSAGE_SELF)
    latencies = [round(ms, 2) for found in screens.arrived for ms in found.values()]
    missing = sum(1 for found in screens.arrived for n in range(total) if n not in found)
    cpu = ended.ru_utime + ended.ru_stime - began.ru_utime - began.ru_stime
    _say({"latencies": latencies, "missing": missing, "cpu": cpu})
    for task in tasks:
        task.cancel()


def _say(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.flush()


async def _heard() -> dict[str, Any]:
    line = await asyncio.to_thread(sys.stdin.readline)
    found: dict[str, Any] = orjson.loads(line)
    return found


# -- the conductor: the server, the client processes, and the orders -----------------------


def _tell(child: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    stdin: IO[bytes] | None = child.stdin
    assert stdin is not None
    stdin.write(orjson.dumps(message) + b"\n")
    stdin.flush()


def _hear(child: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise RuntimeError(f"client {child.pid} ended before answering")
    found: dict[str, Any] = orjson.loads(line)
    return found


async def place_orders(base: str, *, rate: float, seconds: float) -> int:
    """Orders through Dojo's REST door at `rate`; each carries its send time in its reference."""
    template = order_template().replace("%%", "%")
    tag, total = f"fan{time.time_ns()}", int(rate * seconds)
    async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=30) as dojo:

        async def place(n: int) -> None:
            body = template % (tag, n, tag, n)
            body = body.replace('"reference": "BENCH"', f'"reference": "fan-{n}-{time.monotonic_ns()}"')
            answer = await dojo.post("/v1/orders", content=body, headers={"content-type": "application/json"})
            answer.raise_for_status()

        placing, began = [], time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
            placing.append(asyncio.create_task(place(n)))
        await asyncio.gather(*placing)
    return total


def warm_up(base: str) -> int:
    """One order the screens replay to prove they are subscribed; the sequence before it."""
    with httpx.Client(base_url=base, auth=AUTH, timeout=30) as dojo:
        body = order_template().replace("%%", "%") % ("warm", 0, "warm", 0)
        dojo.post("/v1/orders", content=body, headers={"content-type": "application/json"}).raise_for_status()
    return 0  # a fresh database: the warm-up order's changes are the first


def run(base: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    pid = server_pid(int(base.rsplit(":", 1)[1]))
    since = warm_up(base)
    time.sleep(2)
    idle = rss_mb(pid)
    url = base.replace("http://", "ws://") + "/graphql"
    shares = [args.screens // args.clients + (k < args.screens % args.clients) for k in range(args.clients)]
    handshakes = max(1, HANDSHAKES // args.clients)
    began, connecting = time.monotonic(), cpu_seconds(pid)
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.fanout",
                "--client",
                url,
                token,
                str(since),
                str(share),
                str(handshakes),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        for share in shares
    ]
    try:
        for child in children:
            assert _hear(child)["ready"]
        connected, connecting = time.monotonic() - began, cpu_seconds(pid) - connecting
        time.sleep(3)
        with_screens = rss_mb(pid)
        server_before, own_before = cpu_seconds(pid), resource.getrusage(resource.RUSAGE_SELF)
        loaded = time.monotonic()
        for child in children:
            _tell(child, {"go": True})
        total = asyncio.run(place_orders(base, rate=args.rate, seconds=args.seconds))
        for child in children:
            _tell(child, {"done": total})
        reports = [_hear(child) for child in children]
        loaded = time.monotonic() - loaded
        server_cpu = cpu_seconds(pid) - server_before
        own = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for child in children:
            child.kill()
            child.wait()
    latencies = [ms for report in reports for ms in report["latencies"]]
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "orders": total,
        "deliveries": len(latencies),
        "missing": sum(report["missing"] for report in reports),
        "p50": statistics.median(latencies),
        "p99": quantiles[98],
        "max": max(latencies),
        "idle": idle,
        "with": with_screens,
        "connected": connected,
        "connect_cpu": connecting,
        "loaded": loaded,
        "server_cpu": server_cpu,
        "client_cpu": [report["cpu"] for report in reports],
        "conductor_cpu": own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime,
        "shares": shares,
    }


def report(found: dict[str, Any], args: argparse.Namespace) -> list[str]:
    grew, wall = found["with"] - found["idle"], found["loaded"]
    cpu_rows = [
        ("server (orderpass, 1 worker)", found["server_cpu"]),
        *(
            (f"client {k + 1} ({n} screens)", cpu)
            for k, (n, cpu) in enumerate(zip(found["shares"], found["client_cpu"], strict=True))
        ),
        ("order placer (REST)", found["conductor_cpu"]),
    ]
    served = f" --build {args.build}" if args.build else ""
    command = f"python -m bench.fanout{served} --screens {args.screens} --clients {args.clients} --rate {args.rate:g} --seconds {args.seconds:g}"
    return [
        f"## Fan-out to kitchen screens at venue-group scale{f' (build {args.build})' if args.build else ''}",
        "",
        f"`{command}` on {machine()} (shared with other work).",
        f"{args.screens} kitchen screens (graphql-transport-ws, subscribed to orderChanges with a ticket's"
        f" selection set) over {args.clients} client processes, connecting {HANDSHAKES} at a time; orders"
        f" placed through Dojo's REST door at {args.rate:g}/s for {args.seconds:g} s. Latency is from sending"
        " the POST to the CREATED change arriving, for every order on every screen (CLOCK_MONOTONIC,"
        " the send time carried in the order's reference); missing: not arrived 10 s after the last"
        " order was answered.",
        "",
        "| screens | orders | deliveries | missing | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
        f"| {args.screens} | {found['orders']} | {found['deliveries']} | {found['missing']} | {found['p50']:.1f}"
        f" | {found['p99']:.1f} | {found['max']:.1f} |",
        "",
        "| server RSS | MB |",
        "|---|---|",
        f"| idle | {found['idle']:.0f} |",
        f"| with {args.screens} idle screens | {found['with']:.0f} (+{grew:.0f}, {grew * 1024 / args.screens:.0f} KB"
        f" each; all subscribed in {found['connected']:.0f} s, the server's CPU {found['connect_cpu']:.1f} s:"
        f" {found['connect_cpu'] * 1000 / args.screens:.1f} ms a screen) |",
        "",
        f"CPU over the loaded period ({wall:.1f} s, from the first POST to the last delivery):",
        "",
        "| process | CPU s | of one core |",
        "|---|---|---|",
        *(f"| {name} | {cpu:.1f} | {cpu / wall:.0%} |" for name, cpu in cpu_rows),
        "",
        f"Target (issue 16): p99 at most 100 ms with none missing (p99 {found['p99']:.0f} ms,"
        f" {found['p99'] / 100:.2f} of it; {found['missing']} missing); {args.screens} idle screens at most"
        f" 50 MB over idle (+{grew:.0f} MB, {grew / 50:.2f} of it).",
    ]


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, token, since, count, handshakes = sys.argv[2:7]
        asyncio.run(client(url, token, int(since), int(count), int(handshakes)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--build", help="serve this git revision instead (before and after a change)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.screens + 256)), hard))
    print(f"fan-out on {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        checkout = stack.enter_context(build(args.build)) if args.build else ROOT
        database = f"sqlite:///{folder}/fanout.db"
        with orderpass(database, checkout=checkout) as base:
            token = mint(orderpass_env(database))
            found = run(base, token, args)
    print({k: v for k, v in found.items() if k != "latencies"}, file=sys.stderr)
    lines = report(found, args)
    write_section("fanout-" + args.build if args.build else "fanout", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
