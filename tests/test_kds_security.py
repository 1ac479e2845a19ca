"""The kitchen display's door against another site, over real HTTP (security issue 11): where
pairing may send a browser, who may post its forms, what its cookie and headers say, and what a
screen is shown when it may not act or cannot see everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from server.clock import SystemClock
from server.staff.roles import Role
from server.staff.screens import COOKIE
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, mint, place


def own(server: LiveServer) -> dict[str, str]:
    """What a browser sends with a form posted from one of our own pages."""
    return {"Origin": server.url}


@pytest.fixture
async def browser_like(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        yield client


# -- 1. pairing never sends a browser to another site -------------------------------------------

OFF_SITE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "/kds/\\evil.example",
    "/graphql",  # ours, but not a screen: pairing lands on a screen
    "",
]


@pytest.mark.parametrize("destination", OFF_SITE)
async def test_pairing_through_the_form_never_redirects_off_site(live_server, browser_like, destination):
    token = await mint(live_server.settings, Role.KITCHEN)
    response = await browser_like.post(
        "/kds/login", data={"token": token, "next": destination}, headers=own(live_server)
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/kds"


@pytest.mark.parametrize("destination", OFF_SITE)
async def test_the_login_page_never_carries_an_off_site_destination(browser_like, destination):
    page = await browser_like.get("/kds/login", params={"next": destination})
    assert '<input type="hidden" name="next" value="/kds">' in page.text


@pytest.mark.parametrize(
    "destination", ["/kds?station=grill", "/kds?stage=expo", "/kds/ready", "/kds?stage=kitchen&x=%2F%2Fa"]
)
async def test_pairing_keeps_a_destination_on_our_own_screens(live_server, browser_like, destination):
    token = await mint(live_server.settings, Role.KITCHEN)
    response = await browser_like.post(
        "/kds/login", data={"token": token, "next": destination}, headers=own(live_server)
    )
    assert response.headers["location"] == destination


async def test_pairing_by_link_redirects_to_a_relative_address_whatever_the_host_header(
    live_server, browser_like
):
    token = await mint(live_server.settings, Role.KITCHEN)
    response = await browser_like.get(f"/kds?stage=expo&token={token}", headers={"Host": "evil.example"})
    assert response.status_code == 303
    assert response.headers["location"] == "/kds?stage=expo"
    assert not urlsplit(response.headers["location"]).netloc


# -- 3. pairing from a station's screen lands back on it -----------------------------------------


@pytest.mark.parametrize("screen", ["/kds?station=grill", "/kds?stage=expo", "/kds/ready"])
async def test_an_unpaired_screen_pairs_back_to_where_it_was(live_server, browser_like, screen):
    login = await browser_like.get(screen)
    assert f'<input type="hidden" name="next" value="{screen}">' in login.text
    token = await mint(live_server.settings, Role.KITCHEN)
    paired = await browser_like.post(
        "/kds/login", data={"token": token, "next": screen}, headers=own(live_server)
    )
    assert paired.headers["location"] == screen


# -- 2. another site cannot pair or unpair a screen ---------------------------------------------


@pytest.fixture
async def kitchen(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client paired as a kitchen screen."""
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        assert (await client.get(f"/kds?token={token}")).status_code == 303
        yield client


def foreign(server: LiveServer) -> list[dict[str, str]]:
    """Where a form might claim to come from, none of them our own pages."""
    port = server.url.rsplit(":", 1)[1]
    return [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a data: page
        {"Origin": f"https://127.0.0.1:{port}"},  # our host, another scheme
        {"Origin": "http://127.0.0.1:1"},  # our host, another port
        {"Origin": "https://evil.example", "Referer": f"{server.url}/kds"},  # an Origin is never overruled
        {"Referer": "https://evil.example/page"},
        {},  # neither: no proof of where it came from
    ]


async def test_another_site_cannot_pair_a_screen(live_server, browser_like):
    token = await mint(live_server.settings, Role.KITCHEN)
    for headers in foreign(live_server):
        response = await browser_like.post("/kds/login", data={"token": token}, headers=headers)
        assert response.status_code == 403, headers
        assert response.headers["content-type"].startswith("text/html")
        assert "another site" in response.text
        assert "set-cookie" not in response.headers


async def test_another_site_cannot_unpair_a_screen(live_server, kitchen):
    for headers in foreign(live_server):
        response = await kitchen.post("/kds/logout", headers=headers)
        assert response.status_code == 403, headers
        assert "set-cookie" not in response.headers
    assert (await kitchen.get("/kds")).text.count('action="/kds/login"') == 0  # still paired


async def test_our_own_pages_pair_and_unpair(live_server, browser_like):
    token = await mint(live_server.settings, Role.KITCHEN)
    for headers in (own(live_server), {"Referer": f"{live_server.url}/kds/login"}):
        paired = await browser_like.post("/kds/login", data={"token": token}, headers=headers)
        assert paired.status_code == 303, headers
        assert COOKIE in paired.headers["set-cookie"]
        unpaired = await browser_like.post("/kds/logout", headers=headers)
        assert unpaired.status_code == 303
        assert f'{COOKIE}=""' in unpaired.headers["set-cookie"]


async def test_a_pairing_link_followed_from_another_site_is_refused(live_server, browser_like):
    token = await mint(live_server.settings, Role.KITCHEN)
    for site in ("cross-site", "same-site"):
        followed = await browser_like.get(f"/kds?token={token}", headers={"Sec-Fetch-Site": site})
        assert followed.status_code == 403
        assert "set-cookie" not in followed.headers
    typed = await browser_like.get(f"/kds?token={token}", headers={"Sec-Fetch-Site": "none"})
    assert typed.status_code == 303


# -- 4. a viewer's screen offers no bump, on the page or in a live update -------------------------

MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"


@asynccontextmanager
async def paired(server: LiveServer, role: Role) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client paired as a screen with this role."""
    token = await mint(server.settings, role, f"{role.value}-screen")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get(f"/kds?token={token}")).status_code == 303
        yield client


async def test_a_viewer_screen_is_offered_no_bump_in_fragments_or_the_recall_list(live_server):
    order_id = await place(live_server)
    bumped = await place(live_server)
    cook = await mint(live_server.settings, Role.KITCHEN, "cook")
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {cook}"}
    ) as api:
        for status in ("ACCEPTED", "PREPARING"):  # Preparing: recallable, back to Accepted
            variables = {"id": bumped, "to": status}
            moved = await api.post("/graphql", json={"query": MOVE, "variables": variables})
            assert moved.json()["data"]["moveOrder"]["__typename"] == "Order"
    for role, offered in ((Role.VIEWER, False), (Role.KITCHEN, True)):
        async with paired(live_server, role) as screen:
            fragment = (await screen.get(f"/kds/tickets/{order_id}?stage=kitchen")).text
            station = (await screen.get(f"/kds/tickets/{order_id}?station=kitchen")).text
            recall = (await screen.get("/kds/recall?stage=kitchen")).text
            board = (await screen.get("/kds?stage=kitchen")).text
        assert f'data-order-id="{order_id}"' in fragment
        assert ('data-action="bump"' in fragment) is offered, role
        assert ('data-action="bump-station"' in station) is offered, role
        assert ('data-action="bump-line"' in station) is offered, role
        assert "<li>" in recall  # the bumped order, listed either way
        assert ('data-action="recall-one"' in recall) is offered, role
        assert ('data-action="recall"' in board) is offered, role


# -- 5. the screen's cookie: a bounded life, and Secure behind a TLS proxy we trust ---------------

HTTPS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


async def pair_through(server: LiveServer, headers: dict[str, str]) -> httpx.Response:
    token = await mint(server.settings, Role.KITCHEN)
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.get(f"/kds?token={token}", headers=headers)


async def test_behind_a_trusted_tls_proxy_the_cookie_is_secure_and_lives_a_bounded_time(serve):
    server = serve(trusted_proxies=("127.0.0.1",))
    cookie = (await pair_through(server, HTTPS_PROXY)).headers["set-cookie"]
    assert "Secure" in cookie
    assert f"Max-Age={30 * 24 * 3600}" in cookie


async def test_an_untrusted_peer_saying_https_gets_no_secure_cookie(serve):
    server = serve()  # ORDERPASS_TRUSTED_PROXIES empty: nobody is believed
    cookie = (await pair_through(server, HTTPS_PROXY)).headers["set-cookie"]
    assert "Secure" not in cookie
    assert f"Max-Age={30 * 24 * 3600}" in cookie


async def test_the_cookie_lives_as_many_days_as_configured(serve):
    cookie = (await pair_through(serve(kds_cookie_days=2), {})).headers["set-cookie"]
    assert "Max-Age=172800" in cookie


async def test_behind_a_trusted_tls_proxy_our_own_https_pages_may_post(serve):
    trusted, untrusted = serve(trusted_proxies=("127.0.0.1/32",)), serve()
    for name, server, expected in (("behind", trusted, 303), ("before", untrusted, 403)):
        token = await mint(server.settings, Role.KITCHEN, name)  # one database, two servers
        page = {"Origin": server.url.replace("http://", "https://"), **HTTPS_PROXY}
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/kds/login", data={"token": token}, headers=page)
        assert response.status_code == expected


# -- 6. every KDS response tells the browser what it may do with it ------------------------------

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Not no-referrer: with it a browser posts our own login form with `Origin: null`, which the
    # Origin check must refuse; same-origin sends nothing to other sites either.
    "referrer-policy": "same-origin",
}


async def test_every_kds_page_fragment_and_file_carries_the_security_headers(live_server, kitchen):
    order_id = await place(live_server)
    async with httpx.AsyncClient(base_url=live_server.url) as stranger:
        answers = [
            await kitchen.get("/kds"),
            await kitchen.get("/kds/ready"),
            await kitchen.get("/kds?station=nowhere"),
            await kitchen.get(f"/kds/tickets/{order_id}?stage=kitchen"),
            await kitchen.get("/kds/tickets/ord_gone"),
            await kitchen.get("/kds/allday"),
            await kitchen.get("/kds/recall"),
            await kitchen.get("/static/kds.js"),
            await kitchen.get("/static/kds.css"),
            await stranger.get("/kds"),
            await stranger.get("/kds/login"),
            await stranger.get("/kds/allday"),
            await stranger.post("/kds/logout", headers={"Origin": "https://evil.example"}),
        ]
    for answer in answers:
        found = {name: answer.headers.get(name) for name in PAGE_HEADERS}
        assert found == PAGE_HEADERS, answer.url


# -- 7. a screen that asks for something that is not there gets a page a cook can read ---------


async def test_a_kds_page_that_is_not_there_is_a_readable_page(kitchen):
    for address, status in (
        ("/kds?station=nowhere", 404),
        ("/kds?stage=nowhere", 400),
        ("/kds/nowhere", 404),
    ):
        answer = await kitchen.get(address)
        assert answer.status_code == status, address
        assert answer.headers["content-type"].startswith("text/html"), address
        assert "No such screen" in answer.text
        assert 'href="/kds?stage=all"' in answer.text  # and the way back


async def test_an_unpaired_fragment_fetch_still_answers_401(live_server, browser_like):
    order_id = await place(live_server)
    for fragment in (f"/kds/tickets/{order_id}", "/kds/allday", "/kds/recall"):
        assert (await browser_like.get(fragment)).status_code == 401, fragment  # kds.js reloads on it


# -- 8. a revoked screen is shown its pairing page, and forgets its cookie -----------------------


async def revoke(server: LiveServer, name: str) -> None:
    store = create_store(server.settings)
    try:
        await Tokens(store=store, clock=SystemClock()).revoke(name)
    finally:
        await store.close()


async def test_a_revoked_screen_gets_the_pairing_page_and_its_cookie_cleared(live_server, kitchen):
    await revoke(live_server, "pass")
    board = await kitchen.get("/kds?station=kitchen")
    assert board.status_code == 200
    assert 'action="/kds/login"' in board.text
    assert '<input type="hidden" name="next" value="/kds?station=kitchen">' in board.text
    assert f'{COOKIE}=""' in board.headers["set-cookie"]
    assert "Max-Age=0" in board.headers["set-cookie"]


async def test_a_revoked_screens_fragment_fetch_answers_401_and_clears_its_cookie(live_server, kitchen):
    order_id = await place(live_server)
    await revoke(live_server, "pass")
    cookie = kitchen.cookies[COOKIE]
    for fragment in (f"/kds/tickets/{order_id}", "/kds/allday", "/kds/recall"):
        kitchen.cookies.set(COOKIE, cookie)
        answer = await kitchen.get(fragment)
        assert answer.status_code == 401
        assert f'{COOKIE}=""' in answer.headers["set-cookie"], fragment


async def test_the_board_with_a_trailing_slash_is_still_the_board(kitchen):
    answer = await kitchen.get("/kds/?stage=expo")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/kds?stage=expo"
