"""The kitchen display's door against another site, over real HTTP (security issue 11): where
pairing may send a browser, who may post its forms, what its cookie and headers say, and what a
screen is shown when it may not act or cannot see everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from server.roles import Role
from tests.conftest import LiveServer, mint


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
