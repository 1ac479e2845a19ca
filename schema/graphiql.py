"""GraphiQL at /graphiql: a page that holds an editor and nothing else. It executes nothing and
needs no token; the browser POSTs each query to /graphql, and opens /graphql's WebSocket for
subscriptions, with whatever headers are typed into GraphiQL's headers editor.

Its scripts are files from node_modules, pinned by package-lock.json and installed by
`make run`/`make test` (`npm ci`), served from a fixed list: a venue box may have no internet,
and a tool that holds staff tokens must not run a CDN's scripts. Without them the page says so
(503) instead of staying blank.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

ROOT: Final = Path(__file__).resolve().parent.parent
NODE_MODULES: Final = ROOT / "node_modules"
ASSETS: Final = "/graphiql/assets"

# The only files served, by their name under ASSETS; nothing else in node_modules is reachable.
VENDORED: Final[Mapping[str, str]] = {
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
}
OURS: Final[Mapping[str, Path]] = {
    "page.css": ROOT / "static" / "graphiql.css",
    "page.js": ROOT / "static" / "graphiql.js",
}

# GraphiQL's stylesheet carries its fonts and icons as data: URIs; everything else is this origin
# ('self' covers the ws:// of /graphql too). No inline script or style: ours are files above.
POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
# Revalidated on every load, so an upgraded package-lock.json reaches browsers at once.
ASSET_HEADERS: Final = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

Endpoint = Callable[[Request], Awaitable[Response]]


def routes(*, node_modules: Path = NODE_MODULES) -> list[BaseRoute]:
    """The page, and one route per allowed file (a name not on the list is not routed at all)."""
    vendored = {name: node_modules / path for name, path in VENDORED.items()}
    return [
        Route("/graphiql", _page(vendored), methods=["GET"]),
        *(
            Route(f"{ASSETS}/{name}", _asset(path), methods=["GET"])
            for name, path in {**vendored, **OURS}.items()
        ),
    ]


def _page(vendored: Mapping[str, Path]) -> Endpoint:
    templates = Jinja2Templates(directory=ROOT / "kds_templates")

    async def page(request: Request) -> Response:
        # Looked up per request: `npm ci` run after the server started is picked up at once.
        missing = [VENDORED[name] for name, path in vendored.items() if not await _installed(path)]
        return templates.TemplateResponse(
            request,
            "graphiql.html",
            {"assets": ASSETS, "missing": missing},
            status_code=503 if missing else 200,
            headers=PAGE_HEADERS,
        )

    return page


def _asset(path: Path) -> Endpoint:
    async def asset(request: Request) -> Response:
        if not await _installed(path):
            return PlainTextResponse(f"{path.name} is not installed: run `make run` or `npm ci`", 503)
        return FileResponse(path, headers=ASSET_HEADERS)

    return asset


async def _installed(path: Path) -> bool:
    return await asyncio.to_thread(path.is_file)  # a stat, off the event loop
