"""`orderpass doctor`: a venue box checked from the command line, a line a check, each saying it
is fine or what is wrong and what to do about it.

- the database: reachable, and migrated to this build's head (Alembic's revision);
- the clock: against the `Date` header Dojo's API answers with (the clock Dojo's lock expiries and
  events are written on, and one a venue box reaches anyway; the database's own clock would be the
  box's own clock on SQLite); more than `MAX_SKEW` apart fails;
- Dojo's API key: accepted by a harmless read (`GET /epos/integrations`, the registrations);
- the way in: where Dojo's WebSocket is configured, its host answers (TCP, and TLS for wss://;
  no handshake, which would fight the running server for the venue's one socket); else our public
  URL's `/healthz` answers (`--public-url`, or the URL Dojo has registered);
- the disk: room beside the SQLite file.

Nothing here writes: a SQLite file that is not there is reported, never created. Nothing printed
holds a secret (URLs lose their password; Dojo's key is never echoed).
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from server import revisions
from server.clock import Clock
from server.dojo.client import DojoClient, DojoRefused, DojoUnavailable
from server.errors import Unavailable
from server.settings import Settings, masked_url
from server.store import create_store

MAX_SKEW: Final = timedelta(seconds=5)
MIN_FREE_BYTES: Final = 1024**3  # a day's orders are megabytes; a migration copies whole tables
PATIENCE: Final = 5.0  # seconds for each thing asked over the network


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"  # not configured here, or not answerable: said why


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    outcome: Outcome
    says: str
    todo: str = ""  # what to do, for a failure

    def render(self) -> str:
        line = f"{self.outcome.value:<5} {self.check:<11} {self.says}"
        return f"{line}\n{'':<18}do: {self.todo}" if self.todo else line


async def examine(
    settings: Settings,
    *,
    clock: Clock,
    public_url: str | None = None,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> list[Finding]:
    found = [*await _database(settings), _disk(settings, min_free_bytes), await _clock(settings, clock)]
    key, registered = await _dojo_key(settings)
    return [*found, key, await _way_in(settings, public_url or registered)]


# -- the database -------------------------------------------------------------------------------


async def _database(settings: Settings) -> list[Finding]:
    url, shown = settings.database_url, masked_url(settings.database_url)
    path = settings.sqlite_file
    if path is not None and not path.is_file():
        where = "" if path.resolve().parent.is_dir() else f" (nor its folder {path.resolve().parent})"
        todo = "run `orderpass db upgrade` (it creates the file), or set ORDERPASS_DATABASE_URL to it"
        return [Finding("database", Outcome.FAIL, f"no SQLite file at {path}{where}", todo)]
    store = create_store(settings)
    try:
        await asyncio.wait_for(store.ping(), PATIENCE)
    except (Unavailable, TimeoutError) as exc:
        said = exc.message if isinstance(exc, Unavailable) else f"no answer within {PATIENCE:g} s"
        todo = (
            "check the file's folder is writable by this user and no other program holds it"
            if path is not None
            else "check PostgreSQL runs and ORDERPASS_DATABASE_URL's host, port, user, password and database"
        )
        return [Finding("database", Outcome.FAIL, f"{shown}: {said}", todo)]
    finally:
        await store.close()
    return [Finding("database", Outcome.OK, f"{shown} answers"), await _migrations(url)]


async def _migrations(url: str) -> Finding:
    state = await revisions.state(url)
    if not state.behind:
        return Finding("migrations", Outcome.OK, f"at this build's revision, {state.head}")
    said = f"at revision {state.current}" if state.current else "holds no orderpass schema"
    todo = "run `orderpass db upgrade` (a newer build's database needs that build)"
    return Finding("migrations", Outcome.FAIL, f"the database is {said}; this build needs {state.head}", todo)


def _disk(settings: Settings, min_free_bytes: int) -> Finding:
    path = settings.sqlite_file
    if path is None:
        return Finding(
            "disk", Outcome.SKIP, "the database is not a SQLite file here: its host's disk is its own"
        )
    folder = path.resolve().parent
    if not folder.is_dir():
        return Finding("disk", Outcome.SKIP, f"no folder {folder} to measure")
    free = shutil.disk_usage(folder).free
    if free >= min_free_bytes:
        return Finding("disk", Outcome.OK, f"{_size(free)} free beside {path}")
    todo = f"free space (SQLite's write-ahead log and migrations need room), at least {_size(min_free_bytes)}"
    return Finding("disk", Outcome.FAIL, f"only {_size(free)} free beside {path}", todo)


def _size(count: int) -> str:
    return f"{count / 1024**3:.1f} GB" if count >= 1024**3 else f"{count / 1024**2:.0f} MB"


# -- the clock ----------------------------------------------------------------------------------


async def _clock(settings: Settings, clock: Clock) -> Finding:
    """Ours, at the middle of the round trip, against the second Dojo's `Date` header names."""
    where = settings.dojo_api_url
    try:
        async with httpx.AsyncClient(timeout=PATIENCE) as client:
            started, before = time.monotonic(), clock.now()
            answer = await client.head(where)
            ours = before + timedelta(seconds=(time.monotonic() - started) / 2)
        theirs = parsedate_to_datetime(answer.headers["date"]).astimezone(UTC)
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        return Finding("clock", Outcome.SKIP, f"no time to compare with: {where} ({type(exc).__name__})")
    skew = (ours - theirs - timedelta(seconds=0.5)).total_seconds()  # a Date names a whole second
    if abs(skew) <= MAX_SKEW.total_seconds():
        return Finding("clock", Outcome.OK, f"within {abs(skew):.1f} s of Dojo's")
    side = "ahead of" if skew > 0 else "behind"
    todo = (
        "turn on time sync (`timedatectl set-ntp true`, or chrony): lock expiries, timed orders "
        "and the insights' days all read this clock"
    )
    return Finding("clock", Outcome.FAIL, f"{_span(abs(skew))} {side} Dojo's", todo)


def _span(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


# -- Dojo ---------------------------------------------------------------------------------------


async def _dojo_key(settings: Settings) -> tuple[Finding, str | None]:
    """Whether Dojo takes our key, and the URL Dojo has registered for our REST door, if any."""
    if settings.dojo_api_key is None:
        said = "ORDERPASS_DOJO_API_KEY is not set: nothing calls Dojo (POS events, payment lookups)"
        return Finding("dojo-key", Outcome.SKIP, said), None
    client = DojoClient(
        base_url=settings.dojo_api_url,
        api_key=settings.dojo_api_key,
        software_house_id=settings.dojo_software_house_id,
        timeout=PATIENCE,
        retries=1,
    )
    try:
        async with client:
            answer = await client.integrations()
    except DojoRefused as refused:
        return _refused(refused.status), None
    except DojoUnavailable:
        todo = "check this box reaches it (DNS, firewall, proxy) and ORDERPASS_DOJO_API_URL"
        return Finding("dojo-key", Outcome.FAIL, f"{settings.dojo_api_url} did not answer", todo), None
    return Finding("dojo-key", Outcome.OK, "Dojo's API accepts the key"), _rest_url(answer)


def _refused(status: int) -> Finding:
    if status in (401, 403):
        todo = (
            "check ORDERPASS_DOJO_API_KEY and ORDERPASS_DOJO_SOFTWARE_HOUSE_ID against Dojo's developer "
            "portal (a sandbox key works only against the sandbox's ORDERPASS_DOJO_API_URL)"
        )
        return Finding("dojo-key", Outcome.FAIL, f"Dojo's API refused the key (HTTP {status})", todo)
    todo = "check ORDERPASS_DOJO_API_URL is Dojo's API"
    return Finding("dojo-key", Outcome.FAIL, f"Dojo's API answered HTTP {status} to a read", todo)


def _rest_url(answer: dict[str, Any]) -> str | None:
    urls = [str(found.get("url")) for found in answer.get("restIntegrations") or [] if found.get("url")]
    return urls[0] if urls else None


# -- the way in ---------------------------------------------------------------------------------


async def _way_in(settings: Settings, public_url: str | None) -> Finding:
    if settings.dojo_ws_url is not None:
        return await _socket_host(settings.dojo_ws_url)
    if public_url is None:
        said = "no public URL to try: pass --public-url, or register one (`orderpass dojo register`)"
        return Finding("reachable", Outcome.SKIP, said)
    return await _public(public_url)


async def _socket_host(url: str) -> Finding:
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host, port = parts.hostname or "", parts.port or (443 if secure else 80)
    tls: ssl.SSLContext | None = ssl.create_default_context() if secure else None
    said = f"Dojo's WebSocket host {host}:{port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls), PATIENCE)
    except (OSError, TimeoutError) as exc:
        todo = "check outbound connections to it are allowed (firewall, proxy) and ORDERPASS_DOJO_WS_URL"
        return Finding("reachable", Outcome.FAIL, f"{said} cannot be reached ({type(exc).__name__})", todo)
    writer.close()
    await writer.wait_closed()
    return Finding("reachable", Outcome.OK, f"{said} answers{' (TLS)' if secure else ''}")


async def _public(url: str) -> Finding:
    shown = masked_url(url.rstrip("/"))
    todo = "Dojo calls this URL: check `orderpass serve` runs, and the proxy, DNS and TLS in front of it"
    try:
        async with httpx.AsyncClient(timeout=PATIENCE) as client:
            answer = await client.get(f"{url.rstrip('/')}/healthz")
    except httpx.HTTPError as exc:
        return Finding("reachable", Outcome.FAIL, f"{shown} cannot be reached ({type(exc).__name__})", todo)
    if answer.status_code != 200:
        return Finding("reachable", Outcome.FAIL, f"{shown}/healthz answered HTTP {answer.status_code}", todo)
    return Finding("reachable", Outcome.OK, f"{shown} answers")
