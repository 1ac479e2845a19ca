"""CreateOrder throughput and latency: orderpass's REST shim against the raw-stack ceiling
(bench/ceiling.py), durable (synchronous=FULL) and without fsync (NORMAL), side by side in one
run, driven by wrk with a Lua body script; with --postgres, orderpass on PostgreSQL with 1, 2 and
4 workers. Every round also serves two workers on one SQLite file.

Every request is a realistic 6-item Dojo order (modifiers, sub-items, a paid payment) with its
own dojoOrderId and paymentIntentId, so each one is a real creation, not an idempotent retry.
Rounds alternate the ceilings and orderpass so all see the same machine; medians are reported,
with the server's own CPU time per order.

    python -m bench.create_order [--seconds 10] [--rounds 3] [--connections 32] [--postgres URL]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.common import (
    AUTH,
    cpu_seconds,
    free_port,
    machine,
    need,
    orderpass,
    process,
    serving_pid,
    write_section,
)

ITEMS = [
    ("Burger", "BRG-01", 1095, 2, [("Extra Cheese", "MOD-CHS", 100), ("Bacon", "MOD-BAC", 150)], "Fries"),
    ("Margherita Pizza", "PIZ-01", 1150, 1, [("Extra Mozzarella", "MOD-MOZ", 150)], None),
    ("Fish & Chips", "FSH-01", 1450, 1, [("Mushy Peas", "MOD-PEA", 150)], None),
    ("Caesar Salad", "SAL-01", 895, 1, [("Chicken", "MOD-CHK", 250)], None),
    ("Flat White", "HOT-01", 340, 2, [("Oat Milk", "MOD-OAT", 40)], None),
    ("Lager (pint)", "DRK-01", 550, 3, [], None),
]


def order_template() -> str:
    """The order as JSON, with %s where the ids go (Lua's string.format fills them)."""
    items, total = [], 0
    for name, plu, price, quantity, modifiers, side in ITEMS:
        item: dict[str, object] = {
            "name": name,
            "plu": plu,
            "quantity": quantity,
            "amountPerItem": {"value": price, "currencyCode": "GBP"},
            "modifiers": [
                {"name": m, "plu": p, "quantity": 1, "amountPerModifier": {"value": v, "currencyCode": "GBP"}}
                for m, p, v in modifiers
            ],
        }
        if side:
            item["subItems"] = [
                {
                    "name": side,
                    "plu": "SUB-" + side[:3].upper(),
                    "quantity": 1,
                    "amountPerItem": {"value": 0, "currencyCode": "GBP"},
                }
            ]
        items.append(item)
        total += quantity * (price + sum(v for _, _, v in modifiers))
    body = {
        "dojoOrderId": "DOJOID",
        "reference": "BENCH",
        "displayName": "Table 7",
        "note": "bench order: one guest has a nut allergy",
        "details": {"orderType": "DineIn", "dineIn": {"tableId": "7", "waiterId": "becky"}},
        "items": items,
        "totalAmount": {"value": total, "currencyCode": "GBP"},
        "payments": [
            {
                "paymentIntentId": "INTENTID",
                "paidAmount": {"value": total, "currencyCode": "GBP"},
                "tipsAmount": {"value": 200, "currencyCode": "GBP"},
            }
        ],
    }
    return (
        json.dumps(body)
        .replace("%", "%%")
        .replace('"DOJOID"', '"bench-%s-%d"')
        .replace('"INTENTID"', '"pi_bench_%s_%d"')
    )


LUA = """
local counter = 0
local tag = ""
local template = [==[TEMPLATE]==]

function setup(thread)
  thread:set("tag", tostring(math.random(1, 1000000000)) .. "-" .. tostring(os.time()))
end

function init(args)
  tag = wrk.thread:get("tag")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "AUTHORIZATION"
  wrk.headers["dojo-requesting-product"] = "Order&Pay"
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/v1/orders", nil, string.format(template, tag, counter, tag, counter))
end
"""


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_us: float = float("nan")  # the server's CPU time per request (user + system), if measured


def script(folder: Path) -> Path:
    auth = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    path = folder / "create.lua"
    path.write_text(LUA.replace("TEMPLATE", order_template()).replace("AUTHORIZATION", auth))
    return path


def wrk(url: str, lua: Path, *, seconds: int, connections: int) -> Run:
    command = [need("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        errors=int(errors.group(1) if errors else 0) + int(timeouts.group(1) if timeouts else 0),
        requests=int(requests.group(1)) if requests else 0,
    )


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.sub(r"[\d.]+", "", text)  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(url: str, lua: Path, *, seconds: int, connections: int) -> Run:
    """A warm-up, then a run; with the server's CPU time per request, which a busy machine
    disturbs far less than requests per second."""
    wrk(url, lua, seconds=2, connections=connections)  # warm up
    pid = serving_pid(url)
    used = cpu_seconds(pid)
    run = wrk(url, lua, seconds=seconds, connections=connections)
    used = cpu_seconds(pid) - used
    return with_cpu(run, used)


def with_cpu(run: Run, seconds: float) -> Run:
    """The run, with the server's CPU time spent on it (`seconds`, user + system) per request."""
    return dataclasses.replace(run, cpu_us=seconds / max(run.requests, 1) * 1e6)


WORKERS: Final = (1, 2, 4)  # PostgreSQL: orders/s per worker as workers are added


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres", help=f"also measure orderpass on this PostgreSQL URL with {WORKERS} workers"
    )
    args = parser.parse_args()
    print(f"CreateOrder on {machine()}", file=sys.stderr)
    runs: dict[str, list[Run]] = {DURABLE: [], NO_FSYNC: [], OURS: [], OURS_TWO: []}
    with tempfile.TemporaryDirectory() as folder:
        lua = script(Path(folder))
        for round_ in range(1, args.rounds + 1):
            for name, synchronous in ((DURABLE, "FULL"), (NO_FSYNC, "NORMAL")):
                with ceiling(Path(folder) / f"{synchronous}-{round_}.db", synchronous) as url:
                    runs[name].append(measure(url, lua, seconds=args.seconds, connections=args.connections))
            with orderpass() as url:
                runs[OURS].append(measure(url, lua, seconds=args.seconds, connections=args.connections))
            with orderpass(workers=2) as url:
                runs[OURS_TWO].append(measure(url, lua, seconds=args.seconds, connections=args.connections))
            print(f"round {round_}: " + ", ".join(f"{k} {v[-1]}" for k, v in runs.items()), file=sys.stderr)
        pg = {}
        if args.postgres:
            for workers in WORKERS:
                with orderpass(args.postgres, workers=workers, ORDERPASS_BROKER_URL=args.postgres) as url:
                    pg[workers] = measure(url, lua, seconds=args.seconds, connections=args.connections)
                print(f"postgres, {workers} worker(s): {pg[workers]}", file=sys.stderr)
    report(runs, pg, args)


DURABLE: Final = "raw ceiling, synchronous=FULL (durable)"
NO_FSYNC: Final = "raw ceiling, synchronous=NORMAL (no fsync)"
OURS: Final = "orderpass, SQLite (synchronous=FULL)"
OURS_TWO: Final = "orderpass, SQLite, 2 workers (the broker beside the file between them)"


@contextmanager
def ceiling(database: Path, synchronous: str) -> Iterator[str]:
    """The raw-stack ceiling (bench/ceiling.py) on its own file, serving on a free port."""
    port = free_port()
    env = {"CEILING_DB": str(database), "CEILING_SYNCHRONOUS": synchronous, "PATH": "/usr/bin:/bin"}
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "bench.ceiling:app", "--port", str(port),
               "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with process(uvicorn, env=env, url=f"http://127.0.0.1:{port}", health="/v1/orders"):
        yield f"http://127.0.0.1:{port}"


def report(runs: dict[str, list[Run]], pg: dict[int, Run], args: argparse.Namespace) -> None:
    def med(name: str, field: str) -> float:
        return float(statistics.median(getattr(run, field) for run in runs[name]))

    def row(name: str, run: Run | None = None) -> str:
        if run is None:
            figures = (med(name, "rps"), med(name, "cpu_us"), med(name, "p50_ms"), med(name, "p99_ms"))
            errors = sum(r.errors for r in runs[name])
        else:
            figures, errors = (run.rps, run.cpu_us, run.p50_ms, run.p99_ms), run.errors
        rps, cpu, p50, p99 = figures
        return f"| {name} | {rps:.0f} | {cpu:.0f} | {p50:.1f} | {p99:.1f} | {errors} |"

    durable = med(OURS, "rps") / med(DURABLE, "rps")
    no_fsync = med(OURS, "rps") / med(NO_FSYNC, "rps")
    lines = [
        "## CreateOrder throughput (REST shim vs raw-stack ceiling)",
        "",
        f"`python -m bench.create_order` on {machine()}.",
        f"wrk, 2 threads, {args.connections} connections, {args.seconds} s per run, {args.rounds} alternating rounds;"
        " a 6-item Dojo order with modifiers, sub-items and a paid payment, a new dojoOrderId every request."
        " The raw ceiling (bench/ceiling.py) is bare Starlette parsing the same body and inserting the order"
        " and its items with stdlib sqlite3, one transaction per request; CPU is the server's own"
        " (user + system) per order.",
        "",
        "| stack | orders/s (median) | server CPU us/order | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(row(name) for name in runs),
        *(row(f"orderpass, PostgreSQL, {w} worker{'s' if w > 1 else ''}", r) for w, r in pg.items()),
        "",
        f"**orderpass / durable ceiling: {durable:.2f}** (target at least 1.0); "
        f"**orderpass / no-fsync ceiling: {no_fsync:.2f}** (target at least 0.5); "
        f"orderpass p99 {med(OURS, 'p99_ms'):.1f} ms (target under 25 ms).",
    ]
    lines += [
        "",
        f"Two workers on one SQLite file / one worker: {med(OURS_TWO, 'rps') / med(OURS, 'rps'):.2f}.",
    ]
    if pg:
        one = pg[min(pg)].rps
        lines += [
            "",
            "PostgreSQL, orders/s per worker: "
            + "; ".join(f"{w}: {r.rps / w:.0f} ({r.rps / one:.2f}x one worker)" for w, r in pg.items()),
        ]
    lines += [
        "",
        "Rounds (orders/s): "
        + "; ".join(" / ".join(f"{runs[name][i].rps:.0f}" for name in runs) for i in range(len(runs[OURS])))
        + f" ({' / '.join(runs)})",
    ]
    write_section("create-order", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
