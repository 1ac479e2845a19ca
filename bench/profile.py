"""Where CreateOrder's time goes: py-spy samples `orderpass serve` while wrk drives it, then the
functions that held the event loop's thread are printed, by their own samples and inclusive.
Prints only; RESULTS.md records what each fix changed.

    .venv/bin/python -m bench.profile [--seconds 12]   (needs py-spy: pip install py-spy)
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import machine, orderpass
from bench.create_order import script, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    print(f"profiling CreateOrder on {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder, orderpass() as url:
        lua = script(Path(folder))
        wrk(url, lua, seconds=2, connections=32)  # warm up
        pid = subprocess.check_output(["pgrep", "-f", f"orderpass serve --port {url.rsplit(':', 1)[1]}"])
        raw = Path(folder) / "profile.raw"
        command = [spy, "record", "-p", pid.split()[0].decode(), "-d", str(args.seconds), "-r", "200"]
        sampler = subprocess.Popen([*command, "--format", "raw", "-o", str(raw), "--nonblocking"])
        print(f"under py-spy: {wrk(url, lua, seconds=args.seconds, connections=32)}")
        sampler.wait()
        report(raw.read_text(), args.top)


def report(raw: str, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
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
        for frame in set(frames):
            inclusive[frame] += samples
    for title, counts in (("own samples", own), ("inclusive", inclusive)):
        print(f"\n-- the event loop's thread, {title} ({total} samples)")
        for frame, samples in counts.most_common(top):
            print(f"{samples * 100 / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
