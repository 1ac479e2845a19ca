"""The `orderpass` command: `serve` and `db upgrade`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from server.settings import DEV_DOJO_PASSWORD, DEV_DOJO_USERNAME, Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as exc:
        print(f"orderpass: {exc}", file=sys.stderr)
        return 2
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

    database = commands.add_parser("db", help="the database schema")
    db_commands = database.add_subparsers(required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to this build's schema")
    upgrade.set_defaults(run=_upgrade)
    return parser


def _upgrade(args: argparse.Namespace) -> int:
    from server import revisions

    settings = Settings.from_env()
    print(f"migrating {_safe(settings.database_url)} ...", file=sys.stderr)
    revisions.upgrade(settings.database_url)
    print(f"database is at revision {revisions.revision(settings.database_url).head}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server import revisions

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
    uvicorn.run(
        "server.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
