"""CreateOrder through this build and an older one, side by side in one run: did a change cost
anything? The older build is checked out from git into a temporary worktree and served with this
virtualenv, its own code first on the path; rounds alternate older / this build so both see the
same machine, and the medians and their ratio are reported (the same wrk load as
bench/create_order.py).

With --together both builds are served at once, each driven by its own wrk with half the
connections, and each round's ratio is taken of the two runs beside each other: whatever else
the host does in that minute falls on both alike. On the 2-core Intel machine (2026-11-30)
alternating rounds of two builds moved 1,375-2,262 orders/s from round to round, and a change
measured 1.07x in one run and 0.99x in the next; together, the rounds' ratios stayed within
0.99-1.05. A change of a few percent is only seen this way.

    python -m bench.builds OLDER [NEWER] [--seconds 10] [--rounds 3] [--connections 32] [--postgres URL]
                                         [--together]

NEWER is this checkout as it stands unless given (then both are checked out from git).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from bench.common import (
    ROOT,
    build,
    cpu_seconds,
    describe,
    machine,
    orderpass,
    serving_pid,
    this_checkout,
    write_section,
)
from bench.create_order import Run, measure, script, with_cpu, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision", help="the older build: a commit, tag or branch")
    parser.add_argument("newer", nargs="?", help="the newer build (default: this checkout as it stands)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", help="measure on this PostgreSQL URL instead of a SQLite file")
    parser.add_argument(
        "--together", action="store_true", help="serve both at once, half the connections each"
    )
    args = parser.parse_args()
    this = describe(args.newer) if args.newer else this_checkout()
    older = describe(args.revision)
    print(f"CreateOrder, {older} against {this}, on {machine()}", file=sys.stderr)
    runs: dict[str, list[Run]] = {older: [], this: []}
    with contextlib.ExitStack() as stack:
        lua = script(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        checkout = stack.enter_context(build(args.revision))
        newer = stack.enter_context(build(args.newer)) if args.newer else ROOT
        extra = {"ORDERPASS_BROKER_URL": args.postgres} if args.postgres else {}
        if args.together:
            urls = {name: stack.enter_context(orderpass(args.postgres, checkout=where, **extra))
                    for name, where in ((older, checkout), (this, newer))}  # fmt: skip
            for round_ in range(args.rounds + 1):  # round 0 warms both up
                found = beside(
                    urls, lua, seconds=args.seconds if round_ else 2, connections=args.connections // 2
                )
                print(f"round {round_}: {found}", file=sys.stderr)
                for name in runs if round_ else ():
                    runs[name].append(found[name])
        else:
            for round_ in range(1, args.rounds + 1):
                for name, where in ((older, checkout), (this, newer)):
                    with orderpass(args.postgres, checkout=where, **extra) as url:
                        runs[name].append(
                            measure(url, lua, seconds=args.seconds, connections=args.connections)
                        )
                    print(f"round {round_}: {name} {runs[name][-1]}", file=sys.stderr)
    report(runs, older, this, args)


def beside(urls: dict[str, str], lua: Path, *, seconds: int, connections: int) -> dict[str, Run]:
    """One run of each server at the same time, each with its own wrk; each with its own CPU."""
    pids = {name: serving_pid(url) for name, url in urls.items()}
    used = {name: cpu_seconds(pid) for name, pid in pids.items()}
    found: dict[str, Run] = {}

    def drive(name: str) -> None:
        found[name] = wrk(urls[name], lua, seconds=seconds, connections=connections)

    threads = [threading.Thread(target=drive, args=(name,)) for name in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: with_cpu(run, cpu_seconds(pids[name]) - used[name]) for name, run in found.items()}


def report(runs: dict[str, list[Run]], older: str, this: str, args: argparse.Namespace) -> None:
    def med(name: str, field: str) -> float:
        return float(statistics.median(getattr(run, field) for run in runs[name]))

    database = "PostgreSQL, 1 worker" if args.postgres else "SQLite"
    if args.together:
        how = (f"both served at once, each driven by its own wrk (2 threads, {args.connections // 2} "
               f"connections), {args.seconds} s, {args.rounds} rounds")  # fmt: skip
        paired = [(b.rps / a.rps, a.cpu_us / b.cpu_us) for a, b in zip(runs[older], runs[this], strict=True)]
        ratios = (statistics.median(r for r, _ in paired), statistics.median(c for _, c in paired))
        ratio_words = "the median of the rounds' own ratios"
    else:
        how = (f"wrk, 2 threads, {args.connections} connections, {args.seconds} s per run, "
               f"{args.rounds} alternating rounds")  # fmt: skip
        ratios = (med(this, "rps") / med(older, "rps"), med(older, "cpu_us") / med(this, "cpu_us"))
        ratio_words = "of the medians"
    command = (
        f"{args.revision}{' ' + args.newer if args.newer else ''}{' --together' if args.together else ''}"
    )
    lines = [
        "## CreateOrder, one build against an older one",
        "",
        f"`python -m bench.builds {command}` on {machine()}.",
        f"{database}; {how}; the order of bench/create_order.py.",
        "",
        "| build | orders/s (median) | server CPU us/order (median) | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {med(name, 'rps'):.0f} | {med(name, 'cpu_us'):.0f} | {med(name, 'p50_ms'):.1f}"
            f" | {med(name, 'p99_ms'):.1f} | {sum(run.errors for run in runs[name])} |"
            for name in (older, this)
        ),
        "",
        f"**Ratio newer / older ({ratio_words}): {ratios[0]:.3f} in orders/s, "
        f"{ratios[1]:.3f} in orders per CPU second**",
        "",
        "Rounds (orders/s, CPU us/order): "
        + "; ".join(
            f"{a.rps:.0f} ({a.cpu_us:.0f}) vs {b.rps:.0f} ({b.cpu_us:.0f})"
            for a, b in zip(runs[older], runs[this], strict=True)
        ),
    ]
    write_section("builds", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
