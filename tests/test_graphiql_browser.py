"""GraphiQL at /graphiql in a real headless Chromium that can reach nothing but loopback, as on a
venue box with no internet: the page must work there, and must not even try to leave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, Route, expect

from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, mint, place

expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy


@dataclass
class Offline:
    """A GraphiQL tab whose requests off loopback are aborted and kept, with its CSP refusals."""

    page: Page
    left_the_machine: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def only_loopback(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            self.left_the_machine.append(route.request.url)
            await route.abort("internetdisconnected")

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.refused.append(message.text)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def graphiql(browser: Browser, live_server: LiveServer) -> AsyncIterator[Offline]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    tab = Offline(await context.new_page())
    await context.route("**/*", tab.only_loopback)
    tab.page.on("console", tab.console)
    await tab.page.goto(f"{live_server.url}/graphiql")
    await expect(query_editor(tab.page)).to_be_visible()  # rendered, not stuck on "Loading…"
    yield tab
    await context.close()
    assert tab.left_the_machine == [], "GraphiQL tried to reach beyond this machine"
    assert tab.refused == [], "the page's Content-Security-Policy refused something it needs"


def query_editor(page: Page) -> Locator:
    return page.locator(".graphiql-query-editor .CodeMirror")


def headers_editor(page: Page) -> Locator:
    return page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")


def result(page: Page) -> Locator:
    return page.locator(".result-window")


async def type_into(editor: Locator, text: str) -> None:
    """Replace an editor's text as a person would: select all, then type over it (inserted in one
    go, so the editor's bracket auto-closing does not double the braces typed)."""
    await editor.click()
    await editor.page.keyboard.press("ControlOrMeta+A")
    await editor.page.keyboard.press("Delete")
    if text:
        await editor.page.keyboard.insert_text(text)


async def run(page: Page) -> None:
    await page.locator(".graphiql-execute-button").click()


async def ask(page: Page, query: str, *, token: str) -> None:
    await type_into(headers_editor(page), f'{{"Authorization": "Bearer {token}"}}')
    await type_into(query_editor(page), query)
    await run(page)


async def test_a_query_runs_with_the_token_typed_into_the_headers_editor(
    graphiql: Offline, live_server: LiveServer
):
    await ask(graphiql.page, "{ lastSequence }", token=await mint(live_server.settings, Role.ADMIN))
    await expect(result(graphiql.page)).to_contain_text('"lastSequence": 0')


async def test_the_token_is_not_saved_in_the_browser(graphiql: Offline, live_server: LiveServer):
    token = await mint(live_server.settings, Role.ADMIN)
    await ask(graphiql.page, "{ lastSequence }", token=token)
    await expect(result(graphiql.page)).to_contain_text('"lastSequence": 0')
    history = await graphiql.page.evaluate("localStorage.getItem('graphiql:queries')")
    assert "lastSequence" in history  # GraphiQL keeps what was run in its history...
    assert token not in await graphiql.page.evaluate("JSON.stringify({...localStorage})")  # ...not the token


async def test_without_the_header_the_result_is_the_401(graphiql: Offline, live_server: LiveServer):
    await ask(graphiql.page, "{ lastSequence }", token=await mint(live_server.settings, Role.ADMIN))
    await expect(result(graphiql.page)).to_contain_text('"lastSequence": 0')
    await type_into(headers_editor(graphiql.page), "")
    async with graphiql.page.expect_response(
        lambda r: "lastSequence" in (r.request.post_data or "")
    ) as answer:
        await run(graphiql.page)
    assert (await answer.value).status == 401
    await expect(result(graphiql.page)).to_contain_text("a valid staff bearer token is required")
    await expect(result(graphiql.page)).to_contain_text('"code": "UNAUTHORIZED"')
    await expect(result(graphiql.page)).not_to_contain_text("lastSequence")


async def test_a_subscription_gets_the_header_in_its_connection_init(
    graphiql: Offline, live_server: LiveServer
):
    token = await mint(live_server.settings, Role.VIEWER)
    await type_into(headers_editor(graphiql.page), f'{{"Authorization": "Bearer {token}"}}')
    await type_into(
        query_editor(graphiql.page), "subscription Changes { orderChanges(since: 0) { sequence kind } }"
    )
    # GraphiQL parses the editor 100 ms after the last keystroke, and sends only a subscription it
    # has parsed over the socket; a person pauses longer than that before pressing run.
    await graphiql.page.wait_for_function(
        "name => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === name",
        arg="Changes",
    )
    sent: list[str | bytes] = []
    graphiql.page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    await run(graphiql.page)
    await place(live_server)
    await expect(result(graphiql.page)).to_contain_text('"kind": "CREATED"')
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    assert orjson.loads(sent[0]) == init


async def test_opening_graphql_in_the_browser_lands_on_graphiql(graphiql: Offline, live_server: LiveServer):
    await graphiql.page.goto(f"{live_server.url}/graphql")
    assert graphiql.page.url == f"{live_server.url}/graphiql"
    await expect(query_editor(graphiql.page)).to_be_visible()
