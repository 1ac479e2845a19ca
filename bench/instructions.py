"""CreateOrder's CPU work counted in instructions, this build against an older one: a figure a
noisy machine does not move. Wall-clock CPU an order moved 626-1,109 us for one build from round
to round on the 2-core AMD machine (2026-12-01), so a change of a few percent cannot be seen in
it; the instructions an order, counted by valgrind's callgrind, moved by 1-2%.

Each build is served under callgrind (every thread of the process counted, the fsync's and the
checkpointer's too), warmed up uncounted, then counting is switched on (`callgrind_control -i`)
for exactly `--orders` CreateOrders from 16 keep-alive clients sending in waves (each waits for
the others before its next order), the Dojo body of bench/create_order.py, and the count is
dumped. Rounds alternate older / this build.

The count still depends on how the group commit batches the orders, which timing decides: run it
on a machine doing nothing else (beside the test suite, one build counted 2,361,679 an order
where it had counted 2,167,771-2,217,207 alone).

What it cannot see: time in the kernel (the fsync, the socket writes), waiting, and the cost of
an instruction (a cache miss counts one). Valgrind runs the server ~50x slower, so the group
commit's batches are fuller than at full speed: compare builds with it, not with wrk's figures.
A function using an instruction-set extension valgrind does not offer (OpenSSL's SHA-256 with
SHA-NI) is counted in its portable code: hashing comes out dearer than it is.

    python -m bench.instructions OLDER [--orders 320] [--rounds 2]    (Debian's valgrind)

Writes RESULTS.md's `instructions` section.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    AUTH,
    ORDERPASS,
    ROOT,
    build,
    describe,
    free_port,
    machine,
    need,
    orderpass_env,
    process,
    this_checkout,
    write_section,
)
from bench.create_order import order_template

CLIENTS = 16  # requests at once: the group commit's batches, as under wrk's 32 connections


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision", help="the older build: a commit, tag or branch")
    parser.add_argument("--orders", type=int, default=320, help="orders counted a run (a multiple of 16)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    need("valgrind")
    this, older = this_checkout(), describe(args.revision)
    print(f"instructions an order, {older} against {this}, on {machine()}", file=sys.stderr)
    counts: dict[str, list[float]] = {older: [], this: []}
    with build(args.revision) as checkout:
        for round_ in range(1, args.rounds + 1):
            for name, where in ((older, checkout), (this, ROOT)):
                counts[name].append(count(where, orders=args.orders))
                print(f"round {round_}: {name} {counts[name][-1]:,.0f}", file=sys.stderr)
    report(counts, older, this, args)


def count(checkout: Path, *, orders: int) -> float:
    """Instructions an order, every thread of the server's process, over `orders` CreateOrders."""
    with tempfile.TemporaryDirectory() as folder:
        env = orderpass_env(f"sqlite:///{folder}/bench.db", checkout=checkout)
        subprocess.run([str(ORDERPASS), "db", "upgrade"], env=env, check=True, capture_output=True)
        port, out = free_port(), Path(folder) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            str(ORDERPASS.with_name("python")), str(ORDERPASS), "serve", "--port", str(port),
        ]  # fmt: skip
        # Imports under valgrind take ~15 s (uncounted), and the exit's last dump a while.
        url = f"http://127.0.0.1:{port}"
        with process(command, env=env, url=url, cwd=checkout, up_within=300, down_within=120) as child:
            pid = child.pid
            place(port, CLIENTS * 10)  # warm up, uncounted
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
            placed = place(port, orders)
            subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
        dumped = next(Path(folder).glob("callgrind.out.*"))  # the dump asked for, not the exit's
        found = re.search(r"^summary:\s+(\d+)", dumped.read_text(errors="replace"), re.MULTILINE)
        if found is None:
            raise SystemExit(f"no summary in {dumped.name}")
        return int(found.group(1)) / placed


_numbers = itertools.count()
_taking = threading.Lock()


def place(port: int, orders: int) -> int:
    """`orders` CreateOrders from CLIENTS keep-alive connections, in waves of one from each;
    every one must be placed."""
    template = order_template()
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode(),
        "Content-Type": "application/json",
        "dojo-requesting-product": "Order&Pay",
    }
    statuses: list[int] = []
    wave = threading.Barrier(CLIENTS)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        tag = f"instr{time.time_ns()}"
        for _ in range(orders // CLIENTS):
            wave.wait()  # the clients send together, so batches form alike from run to run
            with _taking:
                number = next(_numbers)
            connection.request("POST", "/v1/orders", template % (tag, number, tag, number), headers)
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [status for status in statuses if status != 200]
    if refused or not statuses:
        raise SystemExit(f"orders refused under valgrind: {refused[:5]}")
    return len(statuses)


def report(counts: dict[str, list[float]], older: str, this: str, args: argparse.Namespace) -> None:
    medians = {name: statistics.median(found) for name, found in counts.items()}
    rounds = "; ".join(f"{a:,.0f} vs {b:,.0f}" for a, b in zip(counts[older], counts[this], strict=True))
    lines = [
        "## CreateOrder's instructions, one build against an older one",
        "",
        f"`python -m bench.instructions {args.revision} --orders {args.orders} --rounds {args.rounds}` on "
        f"{machine()}.",
        f"orderpass on SQLite under valgrind's callgrind, every thread of its process counted over "
        f"{args.orders} CreateOrders from {CLIENTS} keep-alive clients (the body of bench/create_order.py), "
        f"after {CLIENTS * 10} uncounted; {args.rounds} alternating rounds, medians.",
        "",
        "| build | instructions an order (median) |",
        "|---|---|",
        f"| {older} | {medians[older]:,.0f} |",
        f"| {this} | {medians[this]:,.0f} |",
        "",
        f"**This build / the older: {medians[this] / medians[older]:.3f} in instructions an order.**",
        "",
        f"Rounds (older vs this build): {rounds}.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("instructions", text)


if __name__ == "__main__":
    main()
