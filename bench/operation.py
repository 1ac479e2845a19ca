"""What one GraphQL operation costs the server before its data: a staff tool's small query over
HTTP (a board's first orders' heads and the last change number, on a venue with none open),
driven by wrk with a staff token (bench/create_order.measure: a warm-up, then the run), with the
server's own CPU per request. With `--against REV`, an older build serves its own database
beside this one and is measured in the same rounds.

    python -m bench.operation [--against REV] [--rounds 5] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
from pathlib import Path
from typing import Final

from bench.common import (
    ROOT,
    build,
    machine,
    orderpass,
    orderpass_env,
    write_section,
)
from bench.create_order import measure
from bench.latency import mint

QUERY: Final = (
    "query Board($first: Int!) { activeOrders(first: $first) { id status reference displayName createdAt }"
    " lastSequence }"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="also serve this older build (a git revision)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    body = json.dumps({"query": QUERY, "variables": {"first": 20}})
    used: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        builds = {"this build": ROOT}
        if args.against:
            builds = {args.against: stack.enter_context(build(args.against)), **builds}
        served = {}
        for name, checkout in builds.items():
            database = f"sqlite:///{folder}/{len(served)}.db"
            url = stack.enter_context(orderpass(database, checkout=checkout))
            token = mint(orderpass_env(database, checkout=checkout))
            script = Path(folder) / f"{len(served)}.lua"
            script.write_text(
                'wrk.method = "POST"\nwrk.path = "/graphql"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {token}"\nwrk.body = {json.dumps(body)}\n'
            )
            served[name] = (url, script)
        for _ in range(args.rounds):
            for name, (url, script) in served.items():
                run = measure(url, script, seconds=args.seconds, connections=args.connections)
                if run.errors:
                    raise RuntimeError(f"{run.errors} of {run.requests} requests failed on {name}")
                used.setdefault(name, []).append(run.cpu_us)
    rows = {name: statistics.median(values) for name, values in used.items()}
    for name, values in used.items():
        print(f"{name}: {' '.join(f'{v:.0f}' for v in values)} us a request, median {rows[name]:.0f}")
    against = f" --against {args.against}" if args.against else ""
    lines = [
        "## What a GraphQL operation costs before its data",
        "",
        f"`python -m bench.operation{against}` on {machine()}.",
        f"A staff tool's small query over HTTP (`{QUERY}`, first 20, no order open) driven by wrk,"
        f" 2 threads, {args.connections} connections, {args.seconds} s a run, {args.rounds} alternating rounds;"
        " the server's own CPU (user + system) per request, median.",
        "",
        "| build | server CPU us a request |",
        "|---|---|",
        *(f"| {name} | {value:.0f} |" for name, value in rows.items()),
    ]
    if args.against:
        lines += [
            "",
            f"**This build / {args.against}: {rows['this build'] / rows[args.against]:.2f}** of the CPU a request.",
        ]
    write_section("operation", "\n".join(lines))


if __name__ == "__main__":
    main()
