"""The GraphiQL page and its files over real HTTP: what it may load, what is reachable, and what
a server without the npm files answers. (It running in a browser: test_graphiql_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from schema import graphiql
from tests.conftest import LiveServer
from tests.processes import Threaded


def loaded_by(page: str) -> list[str]:
    return re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?([^\"' >]+)", page)


@pytest.fixture
def without_npm_files(tmp_path: Path) -> Iterator[str]:
    """A server whose node_modules is empty, as on a checkout where `npm ci` never ran."""
    app = Starlette(routes=graphiql.routes(node_modules=tmp_path))
    served = Threaded.start(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off"))
    yield f"http://127.0.0.1:{served.port}"
    served.stop()


async def test_the_page_may_load_only_from_this_origin(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        page = await client.get("/graphiql")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert not re.search(r"https?:|\*|'unsafe-(?:eval|inline)'", policy)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


async def test_the_page_loads_nothing_from_another_origin(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        page = await client.get("/graphiql")
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert loaded_by(page.text), "the page loads its scripts and stylesheets"
    assert not [url for url in loaded_by(page.text) if re.match(r"(?:https?:)?//", url)]


async def test_every_file_the_page_loads_is_served_by_this_server(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        page = await client.get("/graphiql")
        files = [url for url in loaded_by(page.text) if url.startswith(graphiql.ASSETS)]
        answers = {url: await client.get(url) for url in files}
    assert len(files) == len(graphiql.VENDORED) + len(graphiql.OURS)
    for url, answer in answers.items():
        assert answer.status_code == 200, url
        kind = "text/css" if url.endswith(".css") else "text/javascript"
        assert answer.headers["Content-Type"].startswith(kind), url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/assets/graphiql.min.js.map",
        "/graphiql/assets/package.json",
        "/graphiql/assets/%2e%2e/%2e%2e/package-lock.json",
        "/graphiql/assets/graphiql/graphiql.min.js",
        "/graphiql/assets/",
        "/node_modules/graphiql/graphiql.min.js",
    ],
)
async def test_nothing_else_in_node_modules_is_reachable(live_server: LiveServer, path: str):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        assert (await client.get(path)).status_code == 404


async def test_without_the_npm_files_the_page_says_how_to_install_them(without_npm_files: str):
    async with httpx.AsyncClient(base_url=without_npm_files) as client:
        page = await client.get("/graphiql")
        script = await client.get(f"{graphiql.ASSETS}/graphiql.min.js")
    assert page.status_code == 503
    assert "make run" in page.text
    assert "npm ci" in page.text
    assert "node_modules/graphiql/graphiql.min.js" in page.text
    assert "<script" not in page.text
    assert page.headers["Content-Security-Policy"] == graphiql.POLICY
    assert script.status_code == 503
