"""How long a busy day takes to show: the insights page, its CSV and GraphQL's `insights` over
HTTP from a real `orderpass serve`, and the read service in-process (its two reads and its maths
apart), for a day of 2,000 orders beside the same weekday a week before with as many. Both days
are played through the service layer first (tests/busy_day.py: every timestamp written where the
app writes it), which takes a minute or two; then each figure is the median of `--runs`.

    python -m bench.insights [--orders 2000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.common import free_port, machine, orderpass_env, process, write_section
from server import revisions
from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.clock import ManualClock
from server.insights import rows
from server.insights.days import bounds
from server.metrics import Metrics
from server.services import Services
from server.settings import Settings
from server.staff.roles import Role
from server.store import create_store
from tests import busy_day

QUERY = """query($day: Date) { insights(day: $day) { ... on Insights { orders lateCount
  quarterHours { start counts lastWeek } hours { hour today { medianSeconds p90Seconds } }
  stations { station made medianSeconds p90Seconds waiting } late { orderId seconds } itemMix { name quantity } } } }"""
OFFICE = Actor.staff("bench", Role.VIEWER)
# This checkout's own command, whichever checkout the virtualenv's `orderpass` was installed from.
COMMAND = [sys.executable, "-m", "server.cli"]


async def seed(url: str, day: date, orders: int) -> float:
    """Both days played; the seconds it took."""
    settings = Settings(database_url=url, sqlite_synchronous="NORMAL")
    clock = ManualClock(datetime.combine(day - timedelta(days=8), datetime.min.time(), tzinfo=UTC))
    store = create_store(settings)
    await store.start()
    started = time.perf_counter()
    try:
        services = Services.build(
            settings, store=store, broker=MemoryBroker(), clock=clock, metrics=Metrics()
        )
        await busy_day.load_venue(services)
        for each in (day - timedelta(days=7), day):
            await busy_day.play(services, clock, each, orders=orders)
    finally:
        await store.close()
    return time.perf_counter() - started


async def in_process(url: str, day: date, runs: int) -> dict[str, Any]:
    """The service's whole call, and its reads alone, by the system clock (the day is over)."""
    settings = Settings(database_url=url)
    store = create_store(settings)
    await store.start()
    try:
        services = Services.build(
            settings, store=store, broker=MemoryBroker(), clock=_Now(), metrics=Metrics()
        )
        found = await services.insights.day(day, by=OFFICE)
        whole = await _timed(lambda: services.insights.day(day, by=OFFICE), runs)
        zone = ZoneInfo(settings.timezone)

        async def reads() -> None:
            async with store.read() as tx:
                for each in (day, day - timedelta(days=7)):
                    start, end = bounds(each, zone)
                    await rows.placed_between(tx, start, end)
                    await rows.made_between(tx, start, end)

        read = await _timed(reads, runs)
        async with store.read() as tx:
            plans = await _plans(tx, day, zone)
    finally:
        await store.close()
    return {"figures": found, "whole": whole, "reads": read, "plans": plans}


class _Now:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def _plans(tx: AsyncConnection, day: date, zone: ZoneInfo) -> list[str]:
    """SQLite's plan for the two statements: an index range, never a scan of every order."""
    start, end = bounds(day, zone)
    found = []
    for statement in (
        rows._PLACED.where(rows.ORDERS.c.created_at >= start, rows.ORDERS.c.created_at < end),
        rows._MADE.where(rows.ORDERS.c.created_at >= start, rows.ORDERS.c.created_at < end),
    ):
        compiled = statement.compile(dialect=tx.dialect)
        params = tuple(str(value) for value in compiled.construct_params().values())
        result = await tx.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, params)
        found += [row[-1] for row in result]
    return found


async def _timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def over_http(url: str, token: str, day: date, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as screen:
        assert (await screen.get(f"/kds?token={token}")).status_code == 303
        for name, path in (("page", "/kds/insights"), ("CSV", "/kds/insights.csv")):

            async def get(path: str = path) -> None:
                response = await screen.get(path, params={"day": day.isoformat()})
                assert response.status_code == 200, response.text[:200]

            timings[name] = await _timed(get, runs)
    async with httpx.AsyncClient(
        base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as staff:

        async def ask() -> None:
            answer = (
                await staff.post("/graphql", json={"query": QUERY, "variables": {"day": day.isoformat()}})
            ).json()
            assert answer["data"]["insights"]["orders"] > 0, answer

        timings["GraphQL"] = await _timed(ask, runs)
    return timings


def mint(env: dict[str, str]) -> str:
    made = subprocess.run(
        [*COMMAND, "token", "create", "--role", "viewer", "--name", f"bench-{time.time_ns()}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return made.stdout.strip().splitlines()[-1]


def line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[max(round(0.9 * len(ordered)) - 1, 0)]
    return f"| {name} | {statistics.median(times):.0f} | {p90:.0f} | {max(times):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    day = datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=1)  # yesterday: a day that is over
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/insights.db"
        revisions.upgrade(url)
        print(f"playing {args.orders} orders on {day} and on {day - timedelta(days=7)}…", file=sys.stderr)
        seeded = asyncio.run(seed(url, day, args.orders))
        local = asyncio.run(in_process(url, day, args.runs))
        env = orderpass_env(url)
        token = mint(env)
        port = free_port()
        with process([*COMMAND, "serve", "--port", str(port)], env=env, url=f"http://127.0.0.1:{port}"):
            http = asyncio.run(over_http(f"http://127.0.0.1:{port}", token, day, args.runs))
    found = local["figures"]
    body = "\n".join(
        [
            "## Insights: a busy day on one page",
            "",
            f"`python -m bench.insights --orders {args.orders}` on {machine()}.",
            f"A day of {found.orders} orders ({found.late_count} late, {found.ticket_time.samples} made Ready; "
            f"the simulator's menu on the example venue's five stations) beside the same weekday a week before "
            f"with {found.last_week_orders}, played through the service layer in {seeded:.0f} s; SQLite. "
            f"Each figure over {args.runs} runs, in ms.",
            "",
            "| what | median | p90 | max |",
            "|---|---|---|---|",
            line("page over HTTP (`/kds/insights?day=`)", http["page"]),
            line("CSV over HTTP", http["CSV"]),
            line("GraphQL `insights` over HTTP", http["GraphQL"]),
            line("the read service in-process (reads + maths)", local["whole"]),
            line("of which the four reads (two days' orders and items)", local["reads"]),
            "",
            "Target: the page well under a second. SQLite's plan for the reads: "
            + "; ".join(f"`{plan}`" for plan in local["plans"])
            + ".",
        ]
    )
    print(body)
    write_section("insights", body)


if __name__ == "__main__":
    main()
