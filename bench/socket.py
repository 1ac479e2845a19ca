"""CreateOrder over Dojo's WebSocket against CreateOrder over REST, side by side on one server:
per-call latency (median, p99) and calls/s for each door, at 1 and at 16 calls in flight.

The bench plays Dojo both ways, in one process and on one event loop: it is the WebSocket server
orderpass dials (as wss://eu.ws.dojo.tech/epos would be), sending JSON-RPC frames and matching
answers by id; and it is an HTTP/1.1 client of the REST shim on keep-alive connections. Both
clients are written down to the bytes (no httpx, no JSON parsing of the answers beyond the
status), so what differs between the doors is the server's work, not the client's. Every call
is the 6-item order of bench/create_order.py with its own dojoOrderId and paymentIntentId.
Rounds alternate REST / socket so both see the same machine; the latencies of all rounds are
pooled. POS events to Dojo are written but held back an hour, and Dojo's API URL is a closed
local port: nothing leaves the machine.

    python -m bench.socket [--calls 2000] [--concurrency 1,16] [--rounds 4] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.common import AUTH, free_port, machine, orderpass, write_section
from bench.create_order import order_template

Caller = Callable[[int], Awaitable[bool]]  # one CreateOrder (the call's number): answered with an order?
REQUESTOR = '{"dojoRequestingProduct":"Order&Pay","waiterId":"becky"}'


@dataclass(frozen=True)
class Run:
    door: str
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[98]


class Body:
    """The order's JSON with fresh ids for each call (this process's tag and the call's number)."""

    def __init__(self, tag: str) -> None:
        self.template, self.tag = order_template().replace("%%", "%"), tag

    def __call__(self, n: int) -> str:
        return self.template % (self.tag, n, self.tag, n)


# -- Dojo over the socket -----------------------------------------------------------------------


class Dojo:
    """The WebSocket server orderpass dials: sends requests down the one socket, answers by id."""

    def __init__(self) -> None:
        self.socket: ServerConnection | None = None
        self.connected = asyncio.Event()
        self.waiting: dict[str, asyncio.Future[bool]] = {}

    async def serve(self, connection: ServerConnection) -> None:
        self.socket = connection
        self.connected.set()
        with contextlib.suppress(ConnectionClosed):  # orderpass stopping, at the end
            async for frame in connection:
                text = frame if isinstance(frame, str) else frame.decode()
                start = text.index('"id":"') + 6
                answer = self.waiting.pop(text[start : text.index('"', start)], None)
                if answer is not None:
                    answer.set_result('"result":' in text)

    def caller(self, body: Body) -> Caller:
        async def call(n: int) -> bool:
            assert self.socket is not None
            answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self.waiting[key := f"rpc-{body.tag}-{n}"] = answer
            params = '{"headers":' + REQUESTOR + "," + body(n)[1:]
            await self.socket.send(
                f'{{"jsonrpc":"2.0","id":"{key}","method":"CreateOrderV1","params":{params}}}'
            )
            return await answer

        return call


# -- Dojo over REST -----------------------------------------------------------------------------


async def rest_caller(url: str, body: Body, connections: int) -> tuple[Caller, Callable[[], None]]:
    """A keep-alive connection per call in flight, taken from a pool for each call (and opened
    again if the server has closed it)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    auth = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
        "Content-Type: application/json\r\ndojo-requesting-product: Order&Pay\r\nwaiter-id: becky\r\n"
    )

    async def call(n: int) -> bool:
        content = body(n).encode()
        reader, writer = await pool.get()
        if reader.at_eof():  # uvicorn closed it while the other door was measured: keep-alive's timeout
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"{head}Content-Length: {len(content)}\r\n\r\n".encode() + content)
            status, _, rest = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = next(
                int(line[15:]) for line in rest.split(b"\r\n") if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            return status.split(b" ")[1] == b"200"
        finally:
            pool.put_nowait((reader, writer))

    def close() -> None:
        while not pool.empty():
            pool.get_nowait()[1].close()

    return call, close


# -- measuring ----------------------------------------------------------------------------------


async def measure(door: str, call: Caller, *, calls: int, concurrency: int, first: int) -> Run:
    numbers = itertools.count(first)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for _ in range(calls // concurrency):
            started = time.perf_counter()
            ok = await call(next(numbers))
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(door, concurrency, latencies, time.perf_counter() - began, errors)


def pooled(runs: list[Run]) -> Run:
    first = runs[0]
    latencies = [ms for run in runs for ms in run.latencies_ms]
    return Run(
        first.door, first.concurrency, latencies, sum(r.seconds for r in runs), sum(r.errors for r in runs)
    )


async def bench(database: str | None, args: argparse.Namespace) -> list[Run]:
    dojo, port = Dojo(), free_port()
    async with serve(dojo.serve, "127.0.0.1", port):
        with contextlib.ExitStack() as stack:
            server = orderpass(
                database,
                ORDERPASS_DOJO_WS_URL=f"ws://127.0.0.1:{port}/epos",
                ORDERPASS_DOJO_API_KEY="sk_sandbox_bench",
                ORDERPASS_DOJO_SOFTWARE_HOUSE_ID="orderpass-bench",
                ORDERPASS_DOJO_API_URL=f"http://127.0.0.1:{free_port()}",  # nobody listens
                ORDERPASS_DOJO_EVENT_DELAY_MS="3600000",
            )
            try:  # started and stopped on a thread, so that the loop answers its socket meanwhile
                url = await asyncio.to_thread(stack.enter_context, server)
                await asyncio.wait_for(dojo.connected.wait(), 30)
                return await both_doors(dojo, url, args)
            finally:
                await asyncio.to_thread(stack.close)


async def both_doors(dojo: Dojo, url: str, args: argparse.Namespace) -> list[Run]:
    body, numbers = Body(f"sock{time.time_ns()}"), itertools.count(step=100_000)
    results = []
    for concurrency in args.concurrency:
        rest, close = await rest_caller(url, body, concurrency)
        doors = {
            door: call for door, call in (("REST", rest), ("socket", dojo.caller(body))) if door in args.doors
        }
        for door, call in doors.items():  # warm up: imports, caches, the allocator
            await measure(door, call, calls=200, concurrency=concurrency, first=next(numbers))
        runs: dict[str, list[Run]] = {door: [] for door in doors}
        for round_ in range(args.rounds):
            for door, call in doors.items():
                run = await measure(door, call, calls=args.calls // args.rounds, concurrency=concurrency,
                                    first=next(numbers))  # fmt: skip
                runs[door].append(run)
                print(f"round {round_ + 1}, {concurrency} in flight, {door}: {run.rate:.0f}/s, "
                      f"p50 {run.p50:.2f} ms, p99 {run.p99:.2f} ms, {run.errors} errors", file=sys.stderr)  # fmt: skip
        close()
        results += [pooled(runs[door]) for door in doors]
    return results


def report(results: list[Run], args: argparse.Namespace, *, kind: str, load: tuple[float, float]) -> None:
    lines = [
        "## CreateOrder over Dojo's WebSocket vs REST",
        "",
        f"`python -m bench.socket` on {machine()}.",
        f"One orderpass (1 worker, {kind}) serving both doors; {args.calls} CreateOrders per door and concurrency,"
        f" in {args.rounds} alternating rounds, after 200 to warm up; the bench is Dojo both ways (the WebSocket server"
        " orderpass dials, and an HTTP/1.1 keep-alive client, one connection per call in flight), in one process;"
        " the 6-item order of `bench.create_order`, new ids every call."
        f" Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end.",
        "",
        "| in flight | door | calls/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.concurrency} | {r.door} | {r.rate:.0f} | {r.p50:.2f} | {r.p99:.2f} | {r.errors} |"
            for r in results
        ),
        "",
    ]
    for concurrency in args.concurrency:
        rest, socket = (
            next(r for r in results if r.concurrency == concurrency and r.door == d)
            for d in ("REST", "socket")
        )
        lines.append(
            f"**Socket / REST at {concurrency} in flight:** p50 {socket.p50 / rest.p50:.2f}, p99 {socket.p99 / rest.p99:.2f},"
            f" calls/s {socket.rate / rest.rate:.2f}."
        )
    lines += ["", "Target: the socket no slower per call than REST (p50 ratio at most 1)."]
    write_section("socket", "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=lambda text: [int(n) for n in text.split(",")], default=[1, 16])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument(
        "--doors",
        type=lambda text: text.split(","),
        default=["REST", "socket"],
        help="one of them alone, to profile it under py-spy (then nothing is written)",
    )
    args = parser.parse_args()
    print(f"CreateOrder over the socket and over REST on {machine()}", file=sys.stderr)
    load = os.getloadavg()[0]
    results = asyncio.run(bench(args.database, args))
    if sorted(args.doors) == ["REST", "socket"]:
        report(
            results, args, kind="PostgreSQL" if args.database else "SQLite", load=(load, os.getloadavg()[0])
        )


if __name__ == "__main__":
    main()
