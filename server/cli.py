"""The `orderpass` command: `serve`, `config show`, `doctor`, `db upgrade`, `token create|list|revoke`,
`venue load|show` (also `stations load|show`, its first name), `dojo register|status` and
`simulate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from server import serving, simulate, venue, workers
from server.actors import POS
from server.broker import Broker, create_broker, crosses_processes
from server.clock import SystemClock
from server.dojo import registration
from server.dojo.client import DojoClient
from server.dojo.connection import LinkStatus, describe_link
from server.dojo.link import Link
from server.dojo.operations import capabilities
from server.dojo.outbox import describe as outbox_describe
from server.errors import OrderpassError
from server.floor.service import Floor
from server.orders.service import Orders
from server.settings import DEV_DOJO_PASSWORD, DEV_DOJO_USERNAME, Settings, SettingsError
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.stations.prep import Prep
from server.store import Store, create_store

T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as exc:
        print(f"orderpass: {exc}", file=sys.stderr)
        return 2
    except OrderpassError as exc:
        print(f"orderpass: {exc.message}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orderpass", description="The POS order service behind Dojo Order & Pay."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the Dojo REST shim (and everything else) over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--dev", action="store_true", help="use printed development Dojo credentials if none are set"
    )
    serve.set_defaults(run=_serve)

    config = commands.add_parser("config", help="the settings in effect")
    config.add_subparsers(required=True, metavar="ACTION").add_parser(
        "show", help="every ORDERPASS_* setting in effect and where it came from, secrets masked"
    ).set_defaults(run=_config_show)

    check = commands.add_parser(
        "doctor", help="check this box: database, clock, Dojo's key, the way in, disk; and what to do"
    )
    check.add_argument("--public-url", help="where Dojo reaches this orderpass (default: as registered)")
    check.set_defaults(run=_doctor)

    database = commands.add_parser("db", help="the database schema")
    db_commands = database.add_subparsers(required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to this build's schema")
    upgrade.set_defaults(run=_upgrade)

    token = commands.add_parser("token", help="staff bearer tokens for GraphQL and kitchen screens")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="mint a token; it is printed once, on the last line")
    create.add_argument("--name", required=True, help="who or what holds it, e.g. grill-screen")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument(
        "--expires-in-days", type=_days, help="stop working after this many days (default: until revoked)"
    )
    create.set_defaults(run=_token_create)
    token_commands.add_parser("list", help="every token's name, role and state").set_defaults(run=_token_list)
    revoke = token_commands.add_parser("revoke", help="revoke the active token of that name")
    revoke.add_argument("name")
    revoke.set_defaults(run=_token_revoke)

    for name, about in (
        ("venue", "the venue: prep stations and routing rules, areas and tables"),
        ("stations", "the same as `venue` (its first name)"),
    ):
        venue_commands = commands.add_parser(name, help=about).add_subparsers(required=True, metavar="ACTION")
        load = venue_commands.add_parser(
            "load",
            help="the venue becomes exactly the file's (orders placed from now on route by it); a file "
            "with no [[area]] and no [[table]] leaves the floor as it is",
        )
        load.add_argument(
            "file", type=Path, help="a TOML file of [[station]], [[area]], [[table]] (see README)"
        )
        load.set_defaults(run=_venue_load)
        venue_commands.add_parser("show", help="print the venue as a file `load` takes back").set_defaults(
            run=_venue_show
        )

    dojo = commands.add_parser("dojo", help="this POS as Dojo knows it")
    dojo_commands = dojo.add_subparsers(required=True, metavar="ACTION")
    register = dojo_commands.add_parser(
        "register", help="register our URL, credentials and capabilities with Dojo"
    )
    where = register.add_mutually_exclusive_group(required=True)
    where.add_argument("--public-url", help="REST: where Dojo reaches this orderpass (https://...)")
    where.add_argument(
        "--ws", action="store_true", help="the WebSocket orderpass dials out (ORDERPASS_DOJO_WS_URL)"
    )
    register.set_defaults(run=_dojo_register)
    dojo_commands.add_parser("status", help="what Dojo has registered, and what is owed to it").set_defaults(
        run=_dojo_status
    )

    play = commands.add_parser("simulate", help="play Dojo against a running orderpass: orders, payments")
    play.add_argument("--host", default="127.0.0.1", help="where orderpass serves (%(default)s)")
    play.add_argument("--port", type=int, default=8000, help="its port (%(default)s: make run's; PORT=...)")
    play.add_argument(
        "--url", help="or its whole address, https://orders.example.com (instead of host and port)"
    )
    play.add_argument("--rate", type=simulate.per_minute, default=6.0, help="orders a minute (default 6)")
    play.add_argument("--count", type=int, help="stop after this many orders (default: run until Ctrl-C)")
    play.add_argument("--seed", type=int, help="repeat the same orders (their ids stay new)")
    play.add_argument("--username", help="Dojo's Basic auth (default ORDERPASS_DOJO_USERNAME, else dev)")
    play.add_argument("--password", help="(default ORDERPASS_DOJO_PASSWORD, else the development one)")
    play.set_defaults(run=_simulate)
    return parser


def _config_show(args: argparse.Namespace) -> int:
    reading = Settings.read()
    print(f"# .env file: {reading.env_file.resolve() if reading.env_file else 'none'}")
    lines = [(f"{variable}={value}", origin) for variable, value, origin in reading.shown()]
    width = max(len(line) for line, _ in lines)
    for line, origin in lines:
        print(f"{line:<{width}}  # {origin}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from server import doctor  # with alembic: a third of every other command's start

    settings, clock = Settings.from_env(), SystemClock()
    findings = asyncio.run(doctor.examine(settings, clock=clock, public_url=args.public_url))
    for finding in findings:
        print(finding.render())
    return 1 if any(finding.outcome is doctor.Outcome.FAIL for finding in findings) else 0


def _upgrade(args: argparse.Namespace) -> int:
    from server import revisions

    settings = Settings.from_env()
    print(f"migrating {_safe(settings.database_url)} ...", file=sys.stderr)
    steps = logging.StreamHandler(sys.stderr)  # Alembic names each step as it runs it: the progress
    steps.setFormatter(logging.Formatter("  %(message)s"))
    steps.addFilter(lambda record: record.getMessage().startswith("Running"))
    migration_log = logging.getLogger("alembic.runtime.migration")
    migration_log.addHandler(steps)
    migration_log.setLevel(logging.INFO)
    revisions.upgrade(settings.database_url)
    print(f"database is at revision {revisions.revision(settings.database_url).head}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from server import revisions, tracing

    settings = Settings.from_env()
    if args.dev and not settings.has_dojo_credentials:
        settings = settings.with_dev_credentials()
        # Workers read their settings from the environment, so the development pair goes there.
        os.environ["ORDERPASS_DOJO_USERNAME"], os.environ["ORDERPASS_DOJO_PASSWORD"] = (
            settings.dojo_credentials()
        )
        print(
            f"DEVELOPMENT credentials for Dojo's Basic auth: {DEV_DOJO_USERNAME} / {DEV_DOJO_PASSWORD}\n"
            "  (set ORDERPASS_DOJO_USERNAME and ORDERPASS_DOJO_PASSWORD in production)",
            file=sys.stderr,
        )
    settings.dojo_credentials()  # refuses to start without a pair
    tracing.wanted(os.environ)  # OTEL_* asking for what orderpass cannot export: refused here, in words
    if args.workers > 1 and not crosses_processes(settings.broker_url):
        settings = settings.with_broker_for_workers()
        if not crosses_processes(settings.broker_url):
            raise SettingsError(
                f"--workers {args.workers} needs a broker every worker hears: set ORDERPASS_BROKER_URL to "
                "the PostgreSQL URL (LISTEN/NOTIFY), or serve with one worker"
            )
        os.environ["ORDERPASS_BROKER_URL"] = settings.broker_url  # what the workers read
        print(f"orderpass: the workers hear each other through {settings.broker_url}", file=sys.stderr)
    try:
        create_broker(settings.broker_url)  # a bad URL, or a broker directory not ours alone: refused now
    except ValueError as exc:
        raise SettingsError(f"ORDERPASS_BROKER_URL: {exc}") from exc
    state = revisions.revision(settings.database_url)
    if state.behind:
        where, current = _safe(settings.database_url), state.current or "none"
        print(
            f"orderpass: the database {where} is at revision {current}; this build needs {state.head}.\n"
            "  Run `orderpass db upgrade` (or `make run`) first.",
            file=sys.stderr,
        )
        return 3
    print(f"orderpass serving on http://{args.host}:{args.port}", file=sys.stderr)
    if args.dev:
        print(_first_steps(args.host, args.port), file=sys.stderr)
    listen = {"host": args.host, "port": args.port, "workers": args.workers}
    try:
        workers.serve("server.app:app_from_env", **listen, **serving.options(settings))
    except workers.PortTaken as exc:
        print(f"orderpass: {exc}; is another orderpass serving there?", file=sys.stderr)
        return 3
    return 0


def _first_steps(host: str, port: int) -> str:
    """What to do next, with this server's own address in every command."""
    where = f"--port {port}" + (f" --host {host}" if host != "127.0.0.1" else "")
    return (
        "  next, in another terminal:\n"
        "    .venv/bin/orderpass token create --role kitchen --name pass   # a token for a kitchen screen\n"
        f"    .venv/bin/orderpass simulate {where} --rate 12             # orders, as Dojo sends them\n"
        f"  and open http://{host}:{port}/kds?token=<that token>"
    )


def _dojo_register(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    credentials = None if args.ws else settings.dojo_credentials()  # REST: the pair Dojo is to use

    async def register(dojo: DojoClient) -> tuple[bool, list[dict[str, Any]]]:
        has_tables = await _with_venue(lambda prep, floor: floor.has_tables())  # the floor's calls need one
        if credentials is None:
            return has_tables, await registration.register_ws(dojo, has_tables=has_tables)
        username, password = credentials
        return has_tables, await registration.register(
            dojo, public_url=args.public_url, username=username, password=password, has_tables=has_tables
        )

    has_tables, answer = asyncio.run(_with_dojo(settings, register))
    where = "the WebSocket" if args.ws else args.public_url
    floorless = "" if has_tables else " (no tables yet: ListAreas and SearchTables once the floor has one)"
    print(
        f"registered {where} with Dojo: {len(capabilities(has_tables=has_tables))} capabilities{floorless}",
        file=sys.stderr,
    )
    for integration in answer:
        named = integration.get("url") or "the WebSocket"
        print(f"  {named}: {len(integration.get('capabilities') or [])} capabilities")
    return 0


def _dojo_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    found = asyncio.run(_with_dojo(settings, registration.registered))
    has_tables = asyncio.run(_with_venue(lambda prep, floor: floor.has_tables()))
    for line in registration.report(found, has_tables=has_tables):
        print(line)
    owed = asyncio.run(_with_orders(settings, lambda orders: orders.owed_to_dojo()))
    print(outbox_describe(owed, datetime.now(UTC)))
    print(describe_link(asyncio.run(_with_link(settings)), datetime.now(UTC)))
    return 0


async def _with_link(settings: Settings) -> LinkStatus:
    store = create_store(settings)
    try:
        return await Link(store=store, clock=SystemClock()).status()
    finally:
        await store.close()


async def _with_dojo(settings: Settings, work: Callable[[DojoClient], Awaitable[T]]) -> T:
    if settings.dojo_api_key is None:
        raise SettingsError(
            "set ORDERPASS_DOJO_API_KEY (and ORDERPASS_DOJO_SOFTWARE_HOUSE_ID) to talk to Dojo"
        )
    client = DojoClient(
        base_url=settings.dojo_api_url,
        api_key=settings.dojo_api_key,
        software_house_id=settings.dojo_software_house_id,
    )
    async with client:
        return await work(client)


async def _with_orders(settings: Settings, work: Callable[[Orders], Awaitable[T]]) -> T:
    store = create_store(settings)
    try:
        return await work(Orders(store=store, broker=create_broker("memory://"), clock=SystemClock()))
    finally:
        await store.close()


def _simulate(args: argparse.Namespace) -> int:
    username, password = Settings.from_env().with_dev_credentials().dojo_credentials()
    auth = (args.username or username, args.password or password)
    url = args.url or f"http://{args.host}:{args.port}"
    try:
        tally = asyncio.run(
            simulate.play(url=url, rate=args.rate, count=args.count, seed=args.seed, auth=auth)
        )
    except KeyboardInterrupt:
        return 130
    return 1 if tally["failed"] else 0  # a run with --count that lost requests did not do its job


def _venue_load(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"orderpass: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    parsed = venue.parse(text)  # the whole file is checked before anything is written
    loaded = asyncio.run(_with_venue(lambda prep, floor: _load(prep, floor, parsed)))
    routing = loaded.routing
    print(
        f"loaded {len(routing.stations)} station(s) and {len(routing.rules)} rule(s); "
        f"{routing.default.id} takes what no rule routes",
        file=sys.stderr,
    )
    if parsed.floor.empty:
        print("the file lists no [[area]] and no [[table]]: the floor stays as it was", file=sys.stderr)
    else:
        print(
            f"loaded {len(loaded.floor.areas)} area(s) and {len(loaded.floor.tables)} table(s); "
            "run `orderpass dojo register` again for Dojo's Pay at Table to find them",
            file=sys.stderr,
        )
    return 0


async def _load(prep: Prep, floor: Floor, parsed: venue.Venue) -> venue.Venue:
    """A file without a floor leaves the floor be: a stations file from before there was one
    must not wipe the tables set up since."""
    routing = await prep.replace_all(parsed.routing, by=POS)
    plan = await floor.plan() if parsed.floor.empty else await floor.replace_all(parsed.floor, by=POS)
    return venue.Venue(routing, plan)


def _venue_show(args: argparse.Namespace) -> int:
    async def current(prep: Prep, floor: Floor) -> venue.Venue:
        return venue.Venue(await prep.routing(), await floor.plan())

    print(venue.render(asyncio.run(_with_venue(current))), end="")
    return 0


async def _with_venue(work: Callable[[Prep, Floor], Awaitable[T]]) -> T:
    async with _stored() as (store, broker):
        clock = SystemClock()
        return await work(Prep(store=store, broker=broker, clock=clock), Floor(store=store, clock=clock))


def _days(text: str) -> timedelta:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of days, got {text!r}") from None
    if not 0 < days <= 3650:
        raise argparse.ArgumentTypeError("between 0 and 3650 days")
    return timedelta(days=days)


def _token_create(args: argparse.Namespace) -> int:
    expires_at = datetime.now(UTC) + args.expires_in_days if args.expires_in_days else None
    role = Role(args.role)
    token = asyncio.run(
        _with_tokens(lambda tokens: tokens.create(name=args.name, role=role, expires_at=expires_at))
    )
    until = f", until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    print(
        f"created a {args.role} token named {args.name!r}{until}; it is shown once, keep it now:",
        file=sys.stderr,
    )
    print(token)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    for found in asyncio.run(_with_tokens(lambda tokens: tokens.list())):
        if found.revoked_at:
            state = f"revoked {found.revoked_at:%Y-%m-%d %H:%M}"
        elif found.expires_at and found.expires_at <= now:
            state = f"expired {found.expires_at:%Y-%m-%d %H:%M}"
        else:
            state = f"active until {found.expires_at:%Y-%m-%d %H:%M}" if found.expires_at else "active"
        print(f"{found.name}\t{found.role.value}\tcreated {found.created_at:%Y-%m-%d %H:%M}\t{state}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    asyncio.run(_with_tokens(lambda tokens: tokens.revoke(args.name)))
    print(f"revoked {args.name!r}", file=sys.stderr)
    return 0


async def _with_tokens(work: Callable[[Tokens], Awaitable[T]]) -> T:
    async with _stored() as (store, broker):
        return await work(Tokens(store=store, clock=SystemClock(), broker=broker))


@contextlib.asynccontextmanager
async def _stored() -> AsyncIterator[tuple[Store, Broker]]:
    """The configured store and broker, so what a command changes reaches every serving process at
    once: a revoked token's sockets close, the stations' copies are read again (server/copies.py).
    With no broker configured, workers serving the same SQLite file (`serve --workers N`) are told
    through the sockets beside it; a lone server on memory:// hears nobody, and finds the change
    within seconds instead (its sweeps, its copies' age)."""
    settings = Settings.from_env()
    if settings.sqlite_bus is not None and settings.sqlite_bus.is_dir():
        settings = settings.with_broker_for_workers()
    store, broker = create_store(settings), create_broker(settings.broker_url)
    try:
        yield store, broker
    finally:
        await broker.close()
        await store.close()


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
