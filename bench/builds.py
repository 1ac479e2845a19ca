"""CreateOrder through this build and an older one, side by side in one run: did a change cost
anything? The older build is checked out from git into a temporary worktree and served with this
virtualenv, its own code first on the path; rounds alternate older / this build so both see the
same machine, and the medians and their ratio are reported (the same wrk load as
bench/create_order.py).

    python -m bench.builds OLDER [NEWER] [--seconds 10] [--rounds 3] [--connections 32] [--postgres URL]

NEWER is this checkout as it stands unless given (then both are checked out from git).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, build, machine, orderpass, write_section
from bench.create_order import Run, measure, script


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision", help="the older build: a commit, tag or branch")
    parser.add_argument("newer", nargs="?", help="the newer build (default: this checkout as it stands)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", help="measure on this PostgreSQL URL instead of a SQLite file")
    args = parser.parse_args()
    this = _describe(args.newer) if args.newer else _this_checkout()
    older = _describe(args.revision)
    print(f"CreateOrder, {older} against {this}, on {machine()}", file=sys.stderr)
    runs: dict[str, list[Run]] = {older: [], this: []}
    with contextlib.ExitStack() as stack:
        lua = script(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        checkout = stack.enter_context(build(args.revision))
        newer = stack.enter_context(build(args.newer)) if args.newer else ROOT
        for round_ in range(1, args.rounds + 1):
            for name, where in ((older, checkout), (this, newer)):
                extra = {"ORDERPASS_BROKER_URL": args.postgres} if args.postgres else {}
                with orderpass(args.postgres, checkout=where, **extra) as url:
                    runs[name].append(measure(url, lua, seconds=args.seconds, connections=args.connections))
                print(f"round {round_}: {name} {runs[name][-1]}", file=sys.stderr)
    report(runs, older, this, args)


def _describe(revision: str) -> str:
    found = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h (%cs)", revision],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def _this_checkout() -> str:
    """This checkout's label, never the same as its HEAD's: the two are one dict's keys."""
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{_describe('HEAD')}{' with uncommitted changes' if changed else ', this checkout'}"


def report(runs: dict[str, list[Run]], older: str, this: str, args: argparse.Namespace) -> None:
    def med(name: str, field: str) -> float:
        return float(statistics.median(getattr(run, field) for run in runs[name]))

    database = "PostgreSQL, 1 worker" if args.postgres else "SQLite"
    lines = [
        "## CreateOrder, one build against an older one",
        "",
        f"`python -m bench.builds {args.revision}{' ' + args.newer if args.newer else ''}` on {machine()}.",
        f"{database}; wrk, 2 threads, {args.connections} connections, {args.seconds} s per run, "
        f"{args.rounds} alternating rounds; the order of bench/create_order.py.",
        "",
        "| build | orders/s (median) | server CPU us/order (median) | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {med(name, 'rps'):.0f} | {med(name, 'cpu_us'):.0f} | {med(name, 'p50_ms'):.1f}"
            f" | {med(name, 'p99_ms'):.1f} | {sum(run.errors for run in runs[name])} |"
            for name in (older, this)
        ),
        "",
        f"**Ratio newer / older: {med(this, 'rps') / med(older, 'rps'):.2f} in orders/s, "
        f"{med(older, 'cpu_us') / med(this, 'cpu_us'):.2f} in orders per CPU second**",
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
