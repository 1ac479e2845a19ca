"""Where CreateOrder's time goes: py-spy samples `orderpass serve` while wrk drives it, then the
event loop's thread is summed up by phase (a flame graph's summary: parse, plan, rows, SQLite,
the answer, HTTP) and the functions that held it are printed, by their own samples and
inclusive. Each phase is also given in microseconds of the loop's CPU an order: its share of the
samples times the loop thread's own CPU time (read from /proc while sampled) over the orders
placed. The phases and the top functions go to RESULTS.md's `profile` section.

py-spy stops the process for each sample (its default). Sampling without stopping it
(`--nonblocking`, used here until 2026-11-30) reads a stack while Python changes it: one sample
in nine failed (304 of 2,881 in a run), and the rest overstated the time inside C calls: SQLite's
statements came out at a third of the loop, where timing each statement in the server (wall
clock and the thread's CPU alike) gave 15%, as stopping it does.

    .venv/bin/python -m bench.profile [--seconds 12] [--keep FILE]   (py-spy is in the test extras)
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from bench.common import machine, orderpass, serving_pid, write_section
from bench.create_order import script, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw samples in this file")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    print(f"profiling CreateOrder on {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder, orderpass() as url:
        lua = script(Path(folder))
        wrk(url, lua, seconds=2, connections=32)  # warm up
        pid = serving_pid(url)
        raw = Path(folder) / "profile.raw"
        command = [spy, "record", "-p", str(pid), "-d", str(args.seconds), "-r", "200"]
        used = loop_seconds(pid)
        sampler = subprocess.Popen([*command, "--format", "raw", "-o", str(raw)])
        run = wrk(url, lua, seconds=args.seconds, connections=32)
        sampler.wait()
        per_order = (loop_seconds(pid) - used) / max(run.requests, 1) * 1e6
        print(f"under py-spy: {run}; the event loop's thread: {per_order:.0f} us of CPU an order")
        if args.keep:
            shutil.copyfile(raw, args.keep)
        phases, own = report(raw.read_text(), args.top)
    lines = [
        "## CreateOrder: where the event loop's time goes",
        "",
        f"`python -m bench.profile --seconds {args.seconds}` on {machine()}: py-spy at 200 Hz on",
        f"`orderpass serve` (SQLite) under wrk, 32 connections ({run.rps:.0f} orders/s while sampled,",
        f"the process stopped for each sample); the event loop's thread used {per_order:.0f} us of CPU an order.",
        "Each sample of the event loop's thread goes to the innermost phase on its stack; SQLite",
        "running a statement (straight on sqlite3, or for SQLAlchemy) is a phase of its own.",
        "",
        "| phase | share of the loop | us an order |",
        "|---|---|---|",
        *(f"| {name} | {share:.1f}% | {share * per_order / 100:.0f} |" for name, share in phases),
        "",
        "Functions by their own samples: "
        + "; ".join(f"{frame.split(' (')[0]} {share:.1f}%" for frame, share in own[:12]),
    ]
    write_section("profile", "\n".join(lines))


# The phases of a CreateOrder, by a frame that marks each (the innermost one on a stack wins).
PHASES: Final = (
    ("parse and validate Dojo's JSON", ("Call.parsed (",)),
    ("fingerprint the order, of its content's JSON (the answer's too)", ("Placement.__post_init__ (",)),
    ("plan each order: retry or new, routing, payments", ("_plan (",)),
    ("build the batch's reads", ("find_placed_many (", "owners_of (", "latest_events (", "routing (")),
    ("turn orders into rows", ("insert_orders (",)),
    ("history, outbox and change log", ("record (server/changes",)),
    ("render Dojo's answer", ("order (server/dojo/contract.py)", "dumps (server/dojo/contract.py)")),
    ("begin and commit", ("Store.write (", "Store._begin_write (")),
)
HTTP: Final = "HTTP: uvicorn, Starlette, middleware, the loop itself"
STATEMENTS: Final = "SQLite running statements (and SQLAlchemy's way to it)"
# SQLite at work, whoever asked: a statement on sqlite3 straight, or SQLAlchemy's through our cursor
STATEMENT_MARKS: Final = ("run_straight (", "InlineCursor.execute")


def phase_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        if frame.startswith(STATEMENT_MARKS):
            return STATEMENTS
        for name, marks in PHASES:
            if frame.startswith(marks):
                return name
    # a greenlet's own stack (py-spy shows one apart, rooted in it): SQLAlchemy at work
    return HTTP if any(frame.startswith("<module> (") for frame in frames) else STATEMENTS


def loop_seconds(pid: int) -> float:
    """The CPU time the process's main thread (the event loop's) has used so far."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(raw: str, top: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    phases: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        if not stack or any("(threading.py" in f or "(concurrent/futures/thread.py" in f for f in frames):
            continue  # idle, or another thread: the checkpointer, a commit's fsync
        # The rest is the event loop's thread, SQLAlchemy's greenlets included: py-spy shows a
        # greenlet's frames as a stack of their own (they were left out here until 2026-11-30).
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        phases[phase_of(frames)] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    for title, counts in (("phases", phases), ("own samples", own), ("inclusive", inclusive)):
        print(f"\n-- the event loop's thread, {title} ({total} samples)")
        for frame, samples in counts.most_common(top):
            print(f"{samples * 100 / total:5.1f}%  {frame}")
    share = max(total, 1) / 100
    return (
        [(name, n / share) for name, n in phases.most_common()],
        [(frame, n / share) for frame, n in own.most_common(top)],
    )


if __name__ == "__main__":
    main()
