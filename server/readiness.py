"""Whether this process can do its work, dependency by dependency: what `/readyz` answers.

Each dependency is asked at once and given `PATIENCE` seconds: the database (a `SELECT 1`), the
broker (can this process announce changes and hear them), and, where `ORDERPASS_DOJO_WS_URL` is
set, Dojo's WebSocket (connected, as the process holding it last reported to the store). Each
answer is a fixed word, and a problem is said in our own words: /readyz is for probes, unsigned,
so it never holds a URL, an address or a driver's error text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final

from server.dojo.connection import LinkState
from server.errors import Unavailable
from server.services import Services

READY: Final = "ready"
UNAVAILABLE: Final = "unavailable"
PATIENCE: Final = 2.0  # seconds; a probe that waits longer than this has its answer already

Finding = tuple[str, str | None]  # the dependency's state, and what is wrong if it is not ready


@dataclass(frozen=True, slots=True)
class Readiness:
    states: dict[str, str]  # each dependency: "ready", or a word for what it is instead
    problems: tuple[str, ...]  # what is not ready, a sentence each

    @property
    def ready(self) -> bool:
        return not self.problems


async def check(services: Services) -> Readiness:
    probes = {"database": _database(services), "broker": _broker(services)}
    if services.settings.dojo_ws_url is not None:
        probes["dojoSocket"] = _dojo_socket(services)
    found = dict(zip(probes, await asyncio.gather(*map(_within, probes, probes.values())), strict=True))
    problems = tuple(problem for _, problem in found.values() if problem is not None)
    return Readiness({name: state for name, (state, _) in found.items()}, problems)


async def _within(name: str, probe: Awaitable[Finding]) -> Finding:
    try:
        return await asyncio.wait_for(probe, PATIENCE)
    except TimeoutError:
        return UNAVAILABLE, f"the {_SAID[name]} did not answer within {PATIENCE:g} s"


async def _database(services: Services) -> Finding:
    try:
        await services.store.ping()
    except Unavailable as trouble:
        return UNAVAILABLE, trouble.message  # our words (server/store.py maps the driver's)
    return READY, None


async def _broker(services: Services) -> Finding:
    if await services.broker.ready():
        return READY, None
    return UNAVAILABLE, "the broker cannot be reached: other processes do not hear this one's changes"


async def _dojo_socket(services: Services) -> Finding:
    try:
        status = await services.link.status()
    except Unavailable:
        return "unknown", "Dojo's WebSocket: its state is in the database, which is unavailable"
    if status.state is LinkState.CONNECTED:
        return READY, None
    return status.state.value, f"Dojo's WebSocket is {status.state.value}, not connected"


_SAID: Final = {"database": "database", "broker": "broker", "dojoSocket": "WebSocket to Dojo"}
