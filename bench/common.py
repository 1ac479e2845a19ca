"""What every benchmark shares: the machine it ran on, servers to start, and RESULTS.md."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
ORDERPASS = Path(sys.executable).with_name("orderpass")
AUTH = ("bench", "bench-secret")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1).strip() if model else cpu
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_up(url: str, path: str = "/healthz", seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    command: Sequence[str],
    *,
    env: dict[str, str],
    url: str,
    health: str = "/healthz",
    cwd: Path = ROOT,
    up_within: float = 30,
    down_within: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server, running until the block ends (then asked to stop with SIGINT, killed if slow)."""
    child = subprocess.Popen(
        list(command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd
    )
    try:
        wait_up(url, health, seconds=up_within)
        yield child
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(down_within)
        except subprocess.TimeoutExpired:
            child.kill()


def orderpass_env(database_url: str, *, checkout: Path = ROOT, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPASS_")}
    # The checkout first on the path: the `orderpass` script imports the package its virtualenv
    # was installed from (editable), which in a git worktree is another checkout's code; and
    # `checkout` may be an older build, measured beside this one (bench/builds.py).
    env |= {
        "PYTHONPATH": ":".join(filter(None, (str(checkout), env.get("PYTHONPATH")))),
        "ORDERPASS_DATABASE_URL": database_url,
        "ORDERPASS_DOJO_USERNAME": AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": AUTH[1],
        "ORDERPASS_LOG_LEVEL": "WARNING",
        **extra,
    }
    return env


@contextmanager
def build(revision: str) -> Iterator[Path]:
    """Another build of orderpass (any git revision), checked out beside this one for a while."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder) / "build"
        git = ["git", "-C", str(ROOT)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(where), revision], check=True, capture_output=True
        )
        try:
            yield where
        finally:
            subprocess.run(
                [*git, "worktree", "remove", "--force", str(where)], check=False, capture_output=True
            )


@contextmanager
def orderpass(
    database_url: str | None = None, *, workers: int = 1, checkout: Path = ROOT, **extra: str
) -> Iterator[str]:
    """A migrated orderpass (this checkout's, or `checkout`'s) serving on a free port; yields its URL."""
    with tempfile.TemporaryDirectory() as folder:
        url_db = database_url or f"sqlite:///{folder}/bench.db"
        env = orderpass_env(url_db, checkout=checkout, **extra)
        subprocess.run([str(ORDERPASS), "db", "upgrade"], env=env, check=True, capture_output=True)
        port = free_port()
        command = [str(ORDERPASS), "serve", "--port", str(port), "--workers", str(workers)]
        with process(command, env=env, url=f"http://127.0.0.1:{port}"):
            yield f"http://127.0.0.1:{port}"


def serving_pid(url: str) -> int:
    """The process serving on this URL's port (its first, for several workers)."""
    port = url.rsplit(":", 1)[1]
    listed = subprocess.run(
        ["pgrep", "-f", "--", f"--port {port}( |$)"], capture_output=True, text=True
    ).stdout
    return min(int(pid) for pid in listed.split())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its descendants have used so far: what a run cost
    the server, whatever else the machine was doing."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        found = int(stat.parent.name)
        parents[found] = int(fields[1])
        used[found] = (int(fields[11]) + int(fields[12])) / tick
    family, total = {pid}, 0.0
    for candidate in sorted(parents):  # children have higher pids than their parents, mostly
        if parents[candidate] in family:
            family.add(candidate)
    for member in family:
        total += used.get(member, 0.0)
    return total


def write_section(name: str, body: str) -> None:
    """Replace this benchmark's section of RESULTS.md, leaving the others as they were."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Benchmark results\n\nEach section is written by its script in `bench/`; rerun it to refresh.\n"
    )
    section = f"{start}\n{body.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def describe(revision: str) -> str:
    """A build's label: its short commit and date (or the revision as given, outside git)."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h (%cs)", revision], capture_output=True, text=True
    )
    return found.stdout.strip() or revision


def this_checkout() -> str:
    """This checkout's label, never the same as its HEAD's: the two are one dict's keys."""
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{describe('HEAD')}{' with uncommitted changes' if changed else ', this checkout'}"


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        sys.exit(f"{tool} is not installed (Debian: apt-get install {tool})")
    return found
