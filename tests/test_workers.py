"""`orderpass serve --workers N` (server/workers.py), as a real command on loopback: each worker
accepts on a listening socket of its own, the supervisor keeps none, a dead worker's share of new
connections goes to the living, and a second server on the same port is refused.

What each process holds is read from /proc: a process's socket descriptors against the kernel's
table of TCP sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess, environment, run, sockets_of, tcp_sockets
from tests.waiting import until

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")

LISTEN, ESTABLISHED = "0A", "01"  # TCP states as /proc/net/tcp writes them


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = environment(f"sqlite:///{tmp_path_factory.mktemp('workers')}/venue.db")
    upgraded = run("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    return env


@pytest.fixture(scope="module")
def two_workers(env: dict[str, str]) -> Iterator[ServerProcess]:
    """One server for the module (each start costs seconds): every test begins once both of its
    workers listen, so the one that kills a worker leaves the next a whole server."""
    server = ServerProcess(env, args=("--workers", "2"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def workers_of(server: ServerProcess) -> dict[int, set[int]]:
    """Each worker's listening sockets on the server's port, by pid (a child holding none, as
    multiprocessing's resource tracker, is not a worker)."""
    listening = tcp_sockets(server.port, LISTEN)
    found = {}
    for task in os.listdir(f"/proc/{server.pid}/task"):
        for child in Path(f"/proc/{server.pid}/task/{task}/children").read_text().split():
            try:
                held = sockets_of(int(child)) & listening
            except FileNotFoundError:
                continue  # gone meanwhile
            if held:
                found[int(child)] = held
    return found


@contextlib.contextmanager
def asking(port: int, connections: int) -> Iterator[list[socket.socket]]:
    """That many connections opened at once, each having asked for /healthz (closed after)."""
    opened = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(connections)]
    try:
        for conn in opened:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: orderpass\r\n\r\n")
        yield opened
    finally:
        for conn in opened:
            conn.close()


def answered(port: int, connections: int) -> int:
    """How many of that many connections opened at once were answered /healthz within 5 s."""
    with asking(port, connections) as opened:
        count = 0
        for conn in opened:
            with contextlib.suppress(TimeoutError, ConnectionResetError):  # not answered
                count += conn.recv(64).startswith(b"HTTP/1.1 200")
        return count


async def test_each_worker_listens_on_a_socket_of_its_own_and_the_supervisor_on_none(
    two_workers: ServerProcess,
):
    await until(lambda: len(workers_of(two_workers)) == 2, seconds=20)
    held = list(workers_of(two_workers).values())
    assert all(len(sockets) == 1 for sockets in held)
    assert held[0] != held[1], "the workers share one socket"
    assert not sockets_of(two_workers.pid) & tcp_sockets(two_workers.port, LISTEN)


async def test_connections_are_spread_over_the_workers(two_workers: ServerProcess):
    await until(lambda: len(workers_of(two_workers)) == 2, seconds=20)
    with asking(two_workers.port, 32) as opened:
        assert all(conn.recv(64).startswith(b"HTTP/1.1 200") for conn in opened)  # each one accepted
        established = tcp_sockets(two_workers.port, ESTABLISHED)
        shares = sorted(len(sockets_of(pid) & established) for pid in workers_of(two_workers))
    assert sum(shares) == 32
    assert shares[0] >= 6, f"32 connections split {shares}"  # even by hash: under 6 one time in 10^4


async def test_a_dead_workers_share_of_new_connections_goes_to_the_living(two_workers: ServerProcess):
    """A worker SIGKILLed takes its socket with it: every connection made before its
    replacement is up is answered by the other (a copy of its socket kept by the supervisor
    would go on taking half of them, for nobody). Then the replacement listens on a new one."""
    await until(lambda: len(workers_of(two_workers)) == 2, seconds=20)
    before = workers_of(two_workers)
    dead, survivor = list(before)
    os.kill(dead, signal.SIGKILL)
    # the kernel has closed its socket (a connection that reached it before that is reset, as
    # any crash resets its own); the replacement's, bound meanwhile, listens only once it is up
    await until(lambda: before[dead].isdisjoint(tcp_sockets(two_workers.port, LISTEN)), seconds=5)
    assert answered(two_workers.port, 16) == 16
    await until(lambda: len(workers_of(two_workers)) == 2, seconds=20)
    after = workers_of(two_workers)
    assert after[survivor] == before[survivor]
    (replacement,) = set(after) - {survivor}
    assert after[replacement] != before[dead]
    assert answered(two_workers.port, 16) == 16


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_second_server_on_the_same_port_is_refused(
    two_workers: ServerProcess, env: dict[str, str], workers: str
):
    """SO_REUSEPORT would let a second orderpass of this user take half of the port's
    connections (and of Dojo's orders, into its own database): it is refused as a plain bind is."""
    await until(lambda: len(workers_of(two_workers)) == 2, seconds=20)
    second = await asyncio.to_thread(
        run, "serve", "--workers", workers, "--port", str(two_workers.port), env=env
    )
    assert second.returncode != 0
    assert "in use" in second.stderr.lower()
    assert answered(two_workers.port, 16) == 16  # all by the first server, which still listens alone
    assert len(workers_of(two_workers)) == 2


def test_workers_refuse_a_port_a_single_worker_server_holds(env: dict[str, str]):
    one = ServerProcess(env, args=())
    one.start()
    try:
        started = time.monotonic()
        second = run("serve", "--workers", "2", "--port", str(one.port), env=env)
        assert second.returncode == 3
        assert f"cannot listen on 127.0.0.1:{one.port}" in second.stderr
        assert "another orderpass" in second.stderr
        assert time.monotonic() - started < 30  # refused before any worker starts
    finally:
        one.stop()
