"""Reads: `activeOrders` through GraphQL over HTTP with a busy board's open orders, and Dojo's
GetOrderById and the KDS ticket fragment against a bare endpoint reading the same rows
(bench/bare_reads.py: bare Starlette and stdlib sqlite3 on the file orderpass wrote).

orderpass (SQLite, one worker) is seeded through Dojo's REST door with `--orders` open orders of
bench/create_order.py's six items (modifiers, sub-items). Then, in alternating rounds:
`activeOrders` with a kitchen ticket's selection (bench/stall.TICKET) and with every plain field
(FULL), timed request by request; GetOrderById (Basic auth) and the ticket fragment (a paired
screen's cookie) driven by wrk, a Lua script rotating over every order's id, against the bare
endpoint, with the server's own CPU per request. With `--against REV`, an older build of orderpass
serves the same database beside this one and is measured in the same rounds.

    python -m bench.reads [--orders 500] [--only active|get|ticket] [--against REV]
                          [--rounds 3] [--seconds 8] [--connections 32] [--requests 21]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

from bench.common import (
    AUTH,
    build,
    describe,
    free_port,
    machine,
    orderpass,
    orderpass_env,
    process,
    write_section,
)
from bench.create_order import Run, measure
from bench.latency import mint
from bench.stall import TICKET, seed

# Every plain field of Order, Item, Modifier and Money (not `history`, not `table`).
MONEY: Final = "{ value currencyCode formatted }"
MODIFIERS: Final = f"modifiers {{ name plu quantity amountPerModifier {MONEY} }}"
ITEM: Final = f"name plu quantity amountPerItem {MONEY} note {MODIFIERS}"
# Sub-items without their amounts and modifiers: the widest selection schema/cost.py lets
# through for 500 orders (it counts ten items of three sub-items an order).
FULL: Final = f"""id dojoOrderId reference displayName note status orderType
  dineIn {{ tableId waiterId partyId reservationId readyAt }} collection {{ asap collectAt }}
  items {{ {ITEM} subItems {{ name plu quantity note }} line station doneAt addedLater }}
  voidedItems {{ line name plu quantity station voidedAt reason }}
  discounts {{ name affectedPlu discountReference code amountTotal {MONEY} amountPercentage }}
  taxLines {{ id name affectedPlu amountPercentage amountTotal {MONEY} }}
  serviceCharge {MONEY} totalAmount {MONEY} customer {{ id name emailAddress phoneNumber }}
  payments {{ paymentIntentId paidAmount {MONEY} tipsAmount {MONEY} status statusAt source counts }}
  paidAmount {MONEY} tipsAmount {MONEY} payable createdAt updatedAt version allowedMoves bumpTo recallTo"""
SELECTIONS: Final = {"ticket": TICKET, "full": FULL}
# One request per call of request(), each for the next order's id (each wrk thread its own count).
LUA: Final = """
local ids = {IDS}
local counter = 0
wrk.headers["Authorization"] = "AUTHORIZATION"
wrk.headers["Cookie"] = "COOKIE"

function request()
  counter = counter + 1
  return wrk.format("GET", "PATH" .. ids[counter % #ids + 1])
end
"""
ROUTES: Final = {"get": "/v1/orders/", "ticket": "/kds/tickets/"}
TITLES: Final = {"get": "Dojo's GetOrderById (GET /v1/orders/{id})", "ticket": "KDS ticket fragment (GET /kds/tickets/{id})"}  # fmt: skip
BARE: Final = "bare Starlette + sqlite3"


@dataclass
class Results:
    active: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (stack, selection) -> ms
    sizes: dict[str, int] = field(default_factory=dict)  # selection -> bytes of the answer
    refused: dict[tuple[str, str], str] = field(default_factory=dict)  # (stack, selection) -> why
    served: dict[tuple[str, str], list[Run]] = field(default_factory=dict)  # (route, stack) -> runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--only", choices=("active", *ROUTES))
    parser.add_argument("--against", help="also serve this older build (a git revision) on the same database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--requests", type=int, default=21, help="activeOrders requests per selection, in all"
    )
    args = parser.parse_args()
    parts = [args.only] if args.only else ["active", *ROUTES]
    print(f"reads ({', '.join(parts)}) on {machine()}", file=sys.stderr)
    results = Results()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        database = Path(folder) / "reads.db"
        ours = stack.enter_context(orderpass(f"sqlite:///{database}"))
        token = mint(orderpass_env(f"sqlite:///{database}"))
        ids = asyncio.run(_seed(ours, args.orders))
        stacks = {"orderpass": ours}
        if args.against:
            older = stack.enter_context(build(args.against))
            stacks[f"orderpass {describe(args.against)}"] = stack.enter_context(
                orderpass(f"sqlite:///{database}", checkout=older)
            )
        if set(parts) & set(ROUTES):
            stacks[BARE] = stack.enter_context(bare(database))
        scripts = {route: _script(Path(folder), route, ids, token) for route in ROUTES}
        for round_ in range(1, args.rounds + 1):
            if "active" in parts:
                for name, url in stacks.items():
                    if name != BARE:
                        asyncio.run(
                            _active(url, token, name, results, -(-args.requests // args.rounds), args.orders)
                        )
            for route in (part for part in parts if part in ROUTES):
                for name, url in stacks.items():
                    run = measure(url, scripts[route], seconds=args.seconds, connections=args.connections)
                    results.served.setdefault((route, name), []).append(run)
                    print(f"round {round_}: {route} {name} {run}", file=sys.stderr)
    report(results, parts, list(stacks), args)


async def _seed(url: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=60) as dojo:
        return await seed(dojo, count)


def _script(folder: Path, route: str, ids: list[str], token: str) -> Path:
    basic = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    lua = (
        LUA.replace("{IDS}", "{" + ",".join(f'"{i}"' for i in ids) + "}")
        .replace("AUTHORIZATION", basic)
        .replace("COOKIE", f"orderpass_kds={token}")
        .replace("PATH", ROUTES[route])
    )
    path = folder / f"{route}.lua"
    path.write_text(lua)
    return path


async def _active(url: str, token: str, name: str, results: Results, requests: int, orders: int) -> None:
    """`requests` activeOrders of each selection, alternating, each timed on its own. A selection
    the door refuses as too costly (schema/cost.py) is recorded as refused, with its cost."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as staff:
        for _ in range(requests):
            for selection, fields in SELECTIONS.items():
                if (name, selection) in results.refused:
                    continue
                started = time.perf_counter()
                query = f"{{ activeOrders(first: {orders}) {{ {fields} }} }}"
                answer = await staff.post("/graphql", json={"query": query})
                took = (time.perf_counter() - started) * 1000
                errors = answer.json().get("errors") if answer.status_code in (200, 400) else None
                if errors and errors[0].get("extensions", {}).get("code") == "TOO_COSTLY":
                    results.refused[(name, selection)] = errors[0]["message"]
                    continue
                if answer.status_code != 200 or errors:
                    raise RuntimeError(f"activeOrders ({selection}) answered {answer.text[:300]}")
                results.active.setdefault((name, selection), []).append(took)
                results.sizes[selection] = len(answer.content)
    found = results.active[(name, "ticket")]
    print(f"activeOrders {name}: ticket {statistics.median(found):.0f} ms", file=sys.stderr)


@contextmanager
def bare(database: Path) -> Iterator[str]:
    """bench/bare_reads.py on orderpass's database file, serving on a free port."""
    port = free_port()
    env = {"BARE_DB": str(database), "PATH": "/usr/bin:/bin"}
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_reads:app", "--port", str(port),
               "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with process(uvicorn, env=env, url=f"http://127.0.0.1:{port}"):
        yield f"http://127.0.0.1:{port}"


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def report(results: Results, parts: list[str], stacks: list[str], args: argparse.Namespace) -> None:
    only = f" --only {args.only}" if args.only else ""
    against = f" --against {args.against}" if args.against else ""
    lines = [
        "## Reads: activeOrders, GetOrderById and the KDS ticket fragment",
        "",
        f"`python -m bench.reads --orders {args.orders}{only}{against}` on {machine()}; the machine was shared"
        " with other work, so compare figures within one run. orderpass on SQLite, one worker, seeded"
        f" through Dojo's REST door with {args.orders} open orders of six items (modifiers, sub-items);"
        f" {args.rounds} alternating rounds.",
    ]
    if "active" in parts:
        lines += _active_rows(results, stacks, args)
    for route in (part for part in parts if part in ROUTES):
        lines += _served_rows(results, route, stacks, args)
    text = "\n".join(lines)
    write_section(f"reads-{args.only}" if args.only else "reads", text)
    print(text)


def _active_rows(results: Results, stacks: list[str], args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        f"`activeOrders` over HTTP (POST /graphql, a staff bearer token), {args.orders} orders in one answer;"
        " each request timed by the client. `ticket` is a kitchen ticket's selection (bench/stall.TICKET),"
        " `full` every plain field of Order, Item, Modifier and Money, and a sub-item's name, plu, quantity"
        " and note (no `history` or `table`: the widest selection the cost limit lets through for"
        f" {args.orders} orders); both as `activeOrders(first: {args.orders})`.",
        "",
        "| stack | selection | answer KB | requests | median ms | p90 ms |",
        "|---|---|---|---|---|---|",
    ]
    for (name, selection), times in results.active.items():
        size = results.sizes[selection] / 1024
        lines.append(
            f"| {name} | {selection} | {size:.0f} | {len(times)} | {statistics.median(times):.0f} | {_p90(times):.0f} |"
        )
    for (name, selection), why in results.refused.items():
        lines.append(f"| {name} | {selection} | - | refused | {why} | |")
    ticket = statistics.median(results.active[("orderpass", "ticket")])
    lines += ["", f"**activeOrders, ticket selection, median {ticket:.0f} ms** (target at most 100 ms)."]
    return lines


def _served_rows(results: Results, route: str, stacks: list[str], args: argparse.Namespace) -> list[str]:
    def med(name: str, attribute: str) -> float:
        return float(statistics.median(getattr(run, attribute) for run in results.served[(route, name)]))

    lines = [
        "",
        f"{TITLES[route]}: wrk, 2 threads, {args.connections} connections, {args.seconds} s per run after a"
        " 2 s warm-up, rotating over every order's id; CPU is the server's own (user + system) per request.",
        "",
        "| stack | requests/s (median) | server CPU us/request | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {med(name, 'rps'):.0f} | {med(name, 'cpu_us'):.0f} | {med(name, 'p50_ms'):.1f}"
            f" | {med(name, 'p99_ms'):.1f} | {sum(run.errors for run in results.served[(route, name)])} |"
            for name in stacks
        ),
        "",
    ]
    for name in (stack for stack in stacks if stack != BARE):
        rps = med(name, "rps") / med(BARE, "rps")
        cpu = med(BARE, "cpu_us") / med(name, "cpu_us")
        lines.append(
            f"**{name} / bare: {rps:.2f} in requests/s, {cpu:.2f} in requests per CPU second** (target at least 0.5)."
        )
    rounds = "; ".join(
        " / ".join(f"{results.served[(route, name)][i].rps:.0f}" for name in stacks)
        for i in range(args.rounds)
    )
    return [*lines, "", f"Rounds (requests/s): {rounds} ({' / '.join(stacks)})"]


if __name__ == "__main__":
    main()
