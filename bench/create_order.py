"""CreateOrder throughput and latency: orderpass's REST shim against the raw-stack ceiling
(bench/ceiling.py), side by side in one run, driven by wrk with a Lua body script.

Every request is a realistic 6-item Dojo order (modifiers, sub-items, a paid payment) with its
own dojoOrderId and paymentIntentId, so each one is a real creation, not an idempotent retry.
Rounds alternate ceiling / orderpass so both see the same machine; medians are reported.

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
from dataclasses import dataclass
from pathlib import Path

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
    return dataclasses.replace(run, cpu_us=used / max(run.requests, 1) * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres", help="also measure orderpass on this PostgreSQL URL with 1 and 2 workers"
    )
    args = parser.parse_args()
    print(f"CreateOrder on {machine()}", file=sys.stderr)
    ceiling, ours = [], []
    with tempfile.TemporaryDirectory() as folder:
        lua = script(Path(folder))
        port = free_port()
        env = {"CEILING_DB": f"{folder}/ceiling.db", "PATH": "/usr/bin:/bin"}
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.ceiling:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        for round_ in range(1, args.rounds + 1):
            with process(uvicorn, env=env, url=f"http://127.0.0.1:{port}", health="/v1/orders"):
                ceiling.append(
                    measure(
                        f"http://127.0.0.1:{port}", lua, seconds=args.seconds, connections=args.connections
                    )
                )
            with orderpass() as url:
                ours.append(measure(url, lua, seconds=args.seconds, connections=args.connections))
            print(f"round {round_}: ceiling {ceiling[-1]}, orderpass {ours[-1]}", file=sys.stderr)
        pg = {}
        if args.postgres:
            for workers in (1, 2):
                with orderpass(args.postgres, workers=workers, ORDERPASS_BROKER_URL=args.postgres) as url:
                    pg[workers] = measure(url, lua, seconds=args.seconds, connections=args.connections)
                print(f"postgres, {workers} worker(s): {pg[workers]}", file=sys.stderr)
    report(ceiling, ours, pg, args)


def report(ceiling: list[Run], ours: list[Run], pg: dict[int, Run], args: argparse.Namespace) -> None:
    def med(runs: list[Run], field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs)

    ratio = med(ours, "rps") / med(ceiling, "rps")
    lines = [
        "## CreateOrder throughput (REST shim vs raw-stack ceiling)",
        "",
        f"`python -m bench.create_order` on {machine()}.",
        f"wrk, 2 threads, {args.connections} connections, {args.seconds} s per run, {args.rounds} alternating rounds;"
        " a 6-item Dojo order with modifiers, sub-items and a paid payment, a new dojoOrderId every request.",
        "",
        "| stack | orders/s (median) | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
        f"| raw ceiling (Starlette + sqlite3, 2 inserts) | {med(ceiling, 'rps'):.0f} | {med(ceiling, 'p50_ms'):.1f}"
        f" | {med(ceiling, 'p99_ms'):.1f} | {sum(r.errors for r in ceiling)} |",
        f"| orderpass, SQLite | {med(ours, 'rps'):.0f} | {med(ours, 'p50_ms'):.1f} | {med(ours, 'p99_ms'):.1f}"
        f" | {sum(r.errors for r in ours)} |",
    ]
    lines += [
        f"| orderpass, PostgreSQL, {w} worker{'s' if w > 1 else ''} | {r.rps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f}"
        f" | {r.errors} |"
        for w, r in pg.items()
    ]
    lines += [
        "",
        f"**Ratio orderpass / ceiling: {ratio:.2f}** (target at least 0.5; p99 target under 50 ms).",
        "",
        "Rounds: " + "; ".join(f"{c.rps:.0f} vs {o.rps:.0f}" for c, o in zip(ceiling, ours, strict=True)),
    ]
    write_section("create-order", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
