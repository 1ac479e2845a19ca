"""Where pairing may send a browser, read every way a browser or a proxy might read it."""

from __future__ import annotations

import pytest

from server.origins import local_destination
from tests.test_kds_security import OFF_SITE


@pytest.mark.parametrize("destination", [*OFF_SITE, None, "/kds/../graphql", "/kds/%2e%2e/graphql", "/kdsx"])
def test_a_destination_off_our_screens_becomes_the_board(destination):
    assert local_destination(destination) == "/kds"


@pytest.mark.parametrize(
    "destination", ["/kds", "/kds?station=grill", "/kds/ready", "/kds?stage=expo&station=a-b"]
)
def test_a_destination_on_our_screens_is_kept_as_it_is(destination):
    assert local_destination(destination) == destination
