"""The broker between the processes of one machine: datagram sockets in one private directory."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.broker import create_broker
from server.broker.unix import MAX_MESSAGE, UnixBroker
from server.settings import Settings
from server.staff.roles import Role
from tests.conftest import mint
from tests.factories import make_order
from tests.processes import DOJO_AUTH, ServerProcess, environment, run
from tests.test_graphql_access import closed_code
from tests.test_postgres import changes, every_subscriber_sees_every_order, subscriber

# Another process on the machine, announcing one message on the broker in `directory`.
ANNOUNCER = """
import asyncio, sys
from server.broker.unix import UnixBroker

async def announce():
    broker = UnixBroker(sys.argv[1])
    await broker.publish("orderpass.changes", sys.argv[2])
    await broker.close()

asyncio.run(announce())
"""


@pytest.fixture
def bus(tmp_path: Path) -> Path:
    return tmp_path / "bus"


@pytest.fixture
async def brokers(bus: Path) -> AsyncIterator[list[UnixBroker]]:
    made = [UnixBroker(str(bus)) for _ in range(3)]
    yield made
    for broker in made:
        await broker.close()


async def next_of(messages: AsyncIterator[str]) -> str:
    return await asyncio.wait_for(anext(messages), 5)


async def test_a_message_reaches_every_subscriber_of_its_channel_in_every_process(brokers: list[UnixBroker]):
    first, second, third = brokers
    async with (
        first.subscribe("orderpass.changes") as mine,
        second.subscribe("orderpass.changes") as theirs,
        third.subscribe("orderpass.stations") as elsewhere,
    ):
        await first.publish("orderpass.changes", '{"sequence": 1}')
        assert await next_of(mine) == '{"sequence": 1}'  # its own process's subscribers too
        assert await next_of(theirs) == '{"sequence": 1}'
        await third.publish("orderpass.stations", "changed")
        assert await next_of(elsewhere) == "changed"
        with pytest.raises(TimeoutError):  # the other channels heard nothing of it
            await asyncio.wait_for(anext(theirs), 0.3)


async def test_what_another_process_announces_is_heard_here(bus: Path):
    broker = UnixBroker(str(bus))
    try:
        async with broker.subscribe("orderpass.changes") as heard:
            announcer = await asyncio.create_subprocess_exec(
                sys.executable, "-c", ANNOUNCER, str(bus), "hello"
            )
            assert await announcer.wait() == 0
            assert await next_of(heard) == "hello"
        assert sorted(os.listdir(bus)) == [broker._name]  # the announcer took its socket away
    finally:
        await broker.close()
    assert os.listdir(bus) == []


async def test_the_socket_of_a_process_that_died_is_cleared_and_the_rest_still_hear(bus: Path, brokers):
    first, second, _ = brokers
    async with second.subscribe("orderpass.changes") as heard:
        dead = bus / "999999.dead00"  # what a SIGKILLed process leaves: a socket nobody reads
        orphan = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        orphan.bind(str(dead))
        orphan.close()
        assert dead.exists()
        await first.publish("orderpass.changes", "still here")
        assert await next_of(heard) == "still here"
        assert not dead.exists()


async def test_a_process_that_does_not_read_is_not_waited_for(brokers: list[UnixBroker]):
    """Its queue fills; what does not fit is dropped (it reads the store on its next poll), and
    the publisher goes on: a slow worker never holds up the one placing orders."""
    first, stuck, _ = brokers
    async with stuck.subscribe("orderpass.changes"):
        asyncio.get_running_loop().remove_reader(stuck._bound().fileno())  # stops reading
        async with asyncio.timeout(5):
            for number in range(3000):
                await first.publish("orderpass.changes", f'{{"sequence": {number}}}')
    assert first.dropped > 0


async def test_a_message_too_big_for_a_wake_up_is_not_sent(brokers: list[UnixBroker], caplog):
    first, second, _ = brokers
    async with second.subscribe("orderpass.changes") as heard:
        await first.publish("orderpass.changes", "x" * MAX_MESSAGE)
        await first.publish("orderpass.changes", "small")
        assert await next_of(heard) == "small"
    assert "over 8000" in caplog.text


async def test_a_directory_removed_under_it_fails_nothing_and_says_so(bus: Path, brokers: list[UnixBroker]):
    """The announcement comes after a commit: it may not fail the request that made it."""
    first = brokers[0]
    async with first.subscribe("orderpass.changes") as mine:
        assert await first.ready()
        shutil.rmtree(bus)
        await first.publish("orderpass.changes", "committed")  # no exception
        assert await next_of(mine) == "committed"  # this process's screens still hear it
        assert not await first.ready()  # and /readyz says the others cannot
    async with brokers[1].subscribe("orderpass.changes"):  # a first subscriber now cannot bind: no error
        assert not await brokers[1].ready()


def test_a_directory_others_can_write_to_is_refused(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(ValueError, match="this user alone"):
        UnixBroker(str(shared))


def test_a_directory_too_long_for_a_socket_path_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="too long"):
        create_broker("unix://" + str(tmp_path / ("d" * 120)))


def test_several_workers_on_a_sqlite_file_get_a_broker_beside_it(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/venue.db")
    assert settings.with_broker_for_workers().broker_url == f"unix://{tmp_path}/venue.db-bus"
    configured = settings.replace(broker_url="postgresql://db/venue")
    assert configured.with_broker_for_workers() == configured  # what is configured stays
    assert Settings(database_url="postgresql://db/venue").with_broker_for_workers().broker_url == "memory://"


# -- real servers on one SQLite file ------------------------------------------------------------


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("the machine's own broker is for processes sharing a SQLite file")
    return database_url


async def test_a_change_through_one_server_reaches_a_subscriber_of_another_at_once(
    sqlite_url: str, bus: Path
):
    """Two servers on one file and one broker directory: an order placed through one reaches a
    screen on the other well inside the feed's 5 s poll, which is all a memory broker leaves."""
    env = environment(sqlite_url) | {"ORDERPASS_BROKER_URL": f"unix://{bus}"}
    token = await mint(Settings(database_url=sqlite_url), Role.ADMIN, "pass")
    here, there = ServerProcess(env, args=()), ServerProcess(env, args=())
    here.start()
    try:
        there.start()
        try:
            async with httpx.AsyncClient(base_url=there.url, auth=DOJO_AUTH) as dojo:
                first = (await dojo.post("/v1/orders", json=make_order())).json()["id"]
                async with subscriber(here.url, token) as ws:
                    (replayed,) = await changes(ws, 1)  # read from the store: the screen is live now
                    assert replayed["order"]["id"] == first
                    placed = (await dojo.post("/v1/orders", json=make_order())).json()["id"]
                    (change,) = await asyncio.wait_for(changes(ws, 1), 2.5)
                    assert change["order"]["id"] == placed
        finally:
            there.stop()
    finally:
        here.stop()


async def test_several_workers_on_a_sqlite_file_serve_every_subscriber(sqlite_url: str):
    env = environment(sqlite_url) | {"ORDERPASS_BROKER_URL": "memory://"}  # nothing configured
    token = await mint(Settings(database_url=sqlite_url), Role.ADMIN, "pass")
    server = ServerProcess(env, args=("--workers", "2"))
    server.start()
    try:
        await every_subscriber_sees_every_order(server.url, token)
    finally:
        server.stop()
    assert "the workers hear each other through unix://" in server.stderr


async def test_a_token_revoked_from_a_shell_closes_its_sockets_on_every_worker_at_once(sqlite_url: str):
    """`orderpass token revoke` with nothing configured tells the workers serving the same file
    through the sockets beside it: their sweep (60 s here) is not what closes the screen."""
    env = environment(sqlite_url) | {
        "ORDERPASS_BROKER_URL": "memory://",
        "ORDERPASS_TOKEN_RECHECK_SECONDS": "60",
    }
    token = await mint(Settings(database_url=sqlite_url), Role.KITCHEN, "pass")
    server = ServerProcess(env, args=("--workers", "2"))
    server.start()
    try:
        async with subscriber(server.url, token) as ws:
            await asyncio.sleep(0.5)  # subscribed, on whichever worker took it
            revoked = await asyncio.to_thread(run, "token", "revoke", "pass", env=env)
            assert revoked.returncode == 0, revoked.stderr
            assert await closed_code(ws) == 4401
    finally:
        server.stop()
