"""The real `orderpass` command as a child process, for tests that start, kill and restart it;
and uvicorn on a thread of the test's own process, for tests that serve an app they built."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

COMMAND = Path(sys.executable).with_name("orderpass")
DOJO_AUTH = ("dojo", "test-secret")  # the Basic pair every test server takes Dojo's calls with
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Threaded:
    """A uvicorn server running on a thread of this process, on a free port of 127.0.0.1."""

    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @classmethod
    def start(cls, config: uvicorn.Config) -> Threaded:
        """Serve `config` (its port 0: any free one) and return once it accepts connections."""
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return cls(server, thread)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def clean_environment() -> dict[str, str]:
    """This process's environment without any ORDERPASS_* setting: a child starts from the
    defaults and what the test names, never from the shell's or CI's configuration."""
    return {name: value for name, value in os.environ.items() if not name.startswith("ORDERPASS_")}


def environment(database_url: str, **more: str) -> dict[str, str]:
    """A clean environment for `orderpass` on this database, with the tests' Dojo pair; quiet
    logging (a server's stderr is a pipe nobody reads until it stops). `more` adds settings."""
    return clean_environment() | {
        "ORDERPASS_DATABASE_URL": database_url,
        "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        "ORDERPASS_LOG_LEVEL": "WARNING",
        **more,
    }


def sockets_of(pid: int) -> set[int]:
    """The inodes of every socket the process holds (Linux's /proc; the process must be ours)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.add(int(target[len("socket:[") : -1]))
    return found


def tcp_sockets(port: int, state: str) -> set[int]:
    """The inodes of the IPv4 TCP sockets on this local port in this state ("0A" listening,
    "01" established: /proc/net/tcp's hexadecimal states)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.add(int(fields[9]))
    return found


def this_checkout(env: dict[str, str]) -> dict[str, str]:
    """The environment with this checkout first on the path: the `orderpass` script imports the
    package its virtualenv was installed from (editable), which in a git worktree is another
    checkout's code."""
    return env | {"PYTHONPATH": ":".join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], env=this_checkout(env), capture_output=True, text=True, timeout=60, cwd=cwd
    )


@dataclass
class ServerProcess:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ("--dev",)
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def stderr(self) -> str:
        """Everything the server has logged so far."""
        return "".join(self.lines)

    def start(self) -> None:
        command = [str(COMMAND), "serve", *self.args, "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, env=this_checkout(self.env), stderr=subprocess.PIPE, text=True
        )
        # Drained as it is written: a full pipe would block the server's logging, and the server.
        self._reader = threading.Thread(target=self._drain, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"orderpass serve exited: {self.wait()}")
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"{self.url} did not come up")

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                self.lines.append(line)

    def wait(self, timeout: float = 20) -> str:
        """Wait for the process to exit; everything it logged."""
        assert self.process is not None
        assert self._reader is not None
        self.process.wait(timeout)
        self._reader.join(timeout)
        return self.stderr

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        self.wait()
        return self.process.returncode


@contextmanager
def serving(env: dict[str, str], *args: str) -> Iterator[ServerProcess]:
    server = ServerProcess(env, args=args or ("--dev",))
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            server.stop()
