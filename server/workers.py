"""`orderpass serve --workers N`: N processes, each accepting connections on a socket of its own.

uvicorn's supervisor binds one listening socket and hands it to every worker; whichever worker's
loop is first to a new connection takes it, and a keep-alive connection stays where it landed,
so a burst of connections (a load balancer's pool, Dojo's, a benchmark's) can leave one worker
with most of the work and the other with little: 21,703 orders on one, 4,800 on the other in one
run of bench/create_order.py. Here each worker gets a listening socket of its own, bound to the
same address with SO_REUSEPORT, and the kernel spreads connections over the workers by a hash of
each connection's addresses. The rest is uvicorn's supervisor as it is: the health checks, a dead
or hung worker replaced, SIGHUP's rolling restart, SIGTTIN/SIGTTOU.

- The supervisor keeps no socket once a worker has it: a dead worker's socket goes with its
  process (and the connections waiting on it, which are reset, as a crash resets its own), and
  the kernel gives new connections to the living until the replacement listens on its own. A copy
  left open in the supervisor would keep taking a share of new connections that nobody accepts.
- SO_REUSEPORT lets any process of the same user join the port. So the address is claimed
  first, as a plain bind would claim it: if anything already listens there (another orderpass
  above all, which would take half of Dojo's orders into its own database) the start is refused,
  and the first workers' sockets listen from the moment they are bound, so a second start sees
  the port taken. Only another user's process is kept out by the kernel itself.
- A replacement's socket is bound at once but joins the group only when its worker is up and
  listens on it, so the living keep every new connection meanwhile.
- The price: a new connection goes to a worker by its hash, not to whichever is free, so a
  worker busy with a long request still gets its share of new ones (as its keep-alive
  connections already stayed with it on the shared socket).
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess


class PortTaken(Exception):
    """Something already listens on the address `serve` was asked to listen on."""


def claim(host: str, port: int) -> None:
    """Refuse an address something already listens on, as a plain bind would (SO_REUSEPORT alone
    would let another server of this user share it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT's leftovers own nothing
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def bound(host: str, port: int, *, backlog: int | None) -> socket.socket:
    """A socket bound to the address, one of a group the kernel spreads connections over once
    each listens: now, given a backlog; else when its worker is up and listens on it itself."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Workers(Multiprocess):
    """uvicorn's supervisor, each worker it starts given a listening socket of its own."""

    def __init__(self, config: Config) -> None:
        claim(config.host, config.port)
        self._port = config.port
        self._handed: list[socket.socket] = []
        self._first = True  # the workers of the start, not a replacement
        super().__init__(config, sockets=[])

    # uvicorn's supervisor reads `self.sockets` once for each worker it starts (at start, for a
    # dead one's replacement, on SIGHUP and SIGTTIN): each read binds that worker's socket.
    # The first workers' sockets listen at once, so the port is taken from the start; a later
    # worker's joins only when it is up and listens itself (uvicorn does, once the app has
    # started), so no connection waits seconds on a worker that is still starting.
    @property
    def sockets(self) -> list[socket.socket]:
        backlog = self.config.backlog if self._first else None
        sock = bound(self.config.host, self._port, backlog=backlog)
        self._port = sock.getsockname()[1]  # port 0: every worker on the port the first was given
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _shared: Any) -> None:
        """uvicorn's constructor sets the one shared list; there is none here."""

    def _let_go(self) -> None:
        """Close the supervisor's copies of the sockets it handed out: each worker started holds
        its own (the spawn passes the descriptor on at once), and a worker not started is gone."""
        while self._handed:
            self._handed.pop().close()

    def init_processes(self) -> None:
        try:
            super().init_processes()
        finally:
            self._first = False
            self._let_go()

    def handle_signals(self) -> None:
        try:
            super().handle_signals()
        finally:
            self._let_go()

    def keep_subprocess_alive(self) -> None:
        try:
            super().keep_subprocess_alive()
        finally:
            self._let_go()


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the app (an import string) as uvicorn.run would; several workers, each on its own socket."""
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, **options)
        return
    # The supervisor takes SIGINT and SIGTERM as uvicorn's does: the workers finish, then it returns.
    Workers(uvicorn.Config(app, host=host, port=port, workers=workers, **options)).run()
