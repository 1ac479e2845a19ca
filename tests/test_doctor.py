"""`orderpass doctor` against real parts: SQLite files migrated and not, PostgreSQL where it is
configured, the fake Dojo taking or refusing the key, a live server as the public URL, a fake
Dojo WebSocket and a port nobody answers on."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server import doctor, revisions
from server.clock import ManualClock, SystemClock
from server.doctor import Finding, Outcome
from server.dojo import registration
from server.dojo.client import DojoClient
from server.settings import Settings
from tests.conftest import LiveServer
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import DEFAULT_SOFTWARE_HOUSE, FakeDojoWs
from tests.processes import clean_environment, free_port, run

WRONG_KEY = "sk_sandbox_not-this-one"


def dojo_settings(database_url: str, fake: FakeDojo, **more: str) -> Settings:
    return Settings(
        database_url=database_url,
        dojo_api_url=fake.url,
        dojo_api_key=fake.api_key,
        dojo_software_house_id=DEFAULT_SOFTWARE_HOUSE,
    ).replace(**more)


async def examine(settings: Settings, **options: object) -> dict[str, Finding]:
    found = await doctor.examine(settings, clock=SystemClock(), **options)  # type: ignore[arg-type]
    return {finding.check: finding for finding in found}


def outcomes(found: dict[str, Finding]) -> dict[str, Outcome]:
    return {check: finding.outcome for check, finding in found.items()}


@pytest.fixture
def unmigrated(tmp_path: Path) -> str:
    """A SQLite file a build before the floor (0008) left behind."""
    url = f"sqlite:///{tmp_path}/old.db"
    revisions.upgrade(url, "0008")
    return url


async def test_a_box_that_is_ready_passes_every_check(
    database_url: str, fake_dojo: FakeDojo, live_server: LiveServer
):
    found = await examine(dojo_settings(database_url, fake_dojo), public_url=live_server.url)
    sqlite = database_url.startswith("sqlite")
    assert outcomes(found) == {
        "database": Outcome.OK,
        "migrations": Outcome.OK,
        "disk": Outcome.OK if sqlite else Outcome.SKIP,
        "clock": Outcome.OK,
        "dojo-key": Outcome.OK,
        "reachable": Outcome.OK,
    }
    assert found["migrations"].says.endswith((await revisions.state(database_url)).head)
    assert [call.path for call in fake_dojo.calls][-1] == "/epos/integrations"  # a read, nothing written


async def test_a_database_behind_the_migrations_fails_saying_to_upgrade(unmigrated: str, fake_dojo: FakeDojo):
    found = await examine(dojo_settings(unmigrated, fake_dojo))
    assert found["database"].outcome is Outcome.OK
    assert found["migrations"].outcome is Outcome.FAIL
    assert found["migrations"].says.startswith("the database is at revision 0008; this build needs ")
    assert "orderpass db upgrade" in found["migrations"].todo


async def test_a_sqlite_file_that_is_not_there_fails_and_is_not_created(tmp_path: Path, fake_dojo: FakeDojo):
    missing = tmp_path / "nowhere.db"
    found = await examine(dojo_settings(f"sqlite:///{missing}", fake_dojo))
    assert (found["database"].outcome, found["database"].says) == (
        Outcome.FAIL,
        f"no SQLite file at {missing}",
    )
    assert "orderpass db upgrade" in found["database"].todo
    assert "migrations" not in found
    assert not missing.exists()


async def test_a_refused_key_fails_naming_the_settings_and_never_the_key(
    sqlite_path: Path, database_url: str, fake_dojo: FakeDojo
):
    found = await examine(dojo_settings(database_url, fake_dojo, dojo_api_key=WRONG_KEY))
    assert (found["dojo-key"].outcome, found["dojo-key"].says) == (
        Outcome.FAIL,
        "Dojo's API refused the key (HTTP 401)",
    )
    assert "ORDERPASS_DOJO_API_KEY" in found["dojo-key"].todo
    assert not [f for f in found.values() if WRONG_KEY in f.render()]


async def test_without_a_key_the_dojo_check_is_skipped_saying_why(database_url: str, fake_dojo: FakeDojo):
    found = await examine(dojo_settings(database_url, fake_dojo).replace(dojo_api_key=None))
    assert found["dojo-key"].outcome is Outcome.SKIP
    assert "ORDERPASS_DOJO_API_KEY is not set" in found["dojo-key"].says
    assert found["reachable"].outcome is Outcome.SKIP  # no URL given, and none registered to ask for


async def test_a_clock_minutes_off_dojos_fails_saying_to_turn_on_time_sync(
    sqlite_path, database_url, fake_dojo
):
    ahead = ManualClock(datetime.now(UTC) + timedelta(minutes=3))
    found = await doctor.examine(dojo_settings(database_url, fake_dojo), clock=ahead)
    (clock,) = [finding for finding in found if finding.check == "clock"]
    assert clock.outcome is Outcome.FAIL
    assert clock.says.startswith("3 min ")
    assert clock.says.endswith(" s ahead of Dojo's")
    assert "time sync" in clock.todo


async def test_a_disk_short_of_room_for_the_sqlite_file_fails(
    sqlite_path: Path, database_url: str, fake_dojo
):
    found = await examine(
        dojo_settings(database_url, fake_dojo), min_free_bytes=shutil.disk_usage(sqlite_path).free * 4
    )
    assert found["disk"].outcome is Outcome.FAIL
    assert found["disk"].says.startswith("only ")
    assert found["disk"].says.endswith(f" free beside {sqlite_path}")


async def test_the_public_url_dojo_has_registered_is_tried_when_none_is_given(
    sqlite_path, database_url: str, fake_dojo: FakeDojo, live_server: LiveServer
):
    async with DojoClient(
        base_url=fake_dojo.url, api_key=fake_dojo.api_key, software_house_id="venue"
    ) as dojo:
        await registration.register(
            dojo, public_url=live_server.url, username="dojo", password="pw", has_tables=False
        )
    settings = dojo_settings(database_url, fake_dojo)
    assert (await examine(settings))["reachable"] == Finding(
        "reachable", Outcome.OK, f"{live_server.url} answers"
    )
    live_server.stop()  # registered, but nothing serves it now
    gone = (await examine(settings))["reachable"]
    assert gone.outcome is Outcome.FAIL
    assert gone.says == f"{live_server.url} cannot be reached (ConnectError)"
    assert "orderpass serve" in gone.todo


async def test_the_dojo_socket_host_is_tried_where_the_socket_is_configured(
    sqlite_path, database_url: str, fake_dojo: FakeDojo, fake_dojo_ws: FakeDojoWs
):
    answering = await examine(dojo_settings(database_url, fake_dojo, dojo_ws_url=fake_dojo_ws.url))
    assert answering["reachable"].outcome is Outcome.OK
    assert fake_dojo_ws.handshakes == []  # no handshake: the running server holds the venue's one socket
    port = free_port()
    silent = await examine(dojo_settings(database_url, fake_dojo, dojo_ws_url=f"wss://127.0.0.1:{port}/epos"))
    assert silent["reachable"].outcome is Outcome.FAIL
    assert (
        silent["reachable"].says
        == f"Dojo's WebSocket host 127.0.0.1:{port} cannot be reached (ConnectionRefusedError)"
    )


def test_the_command_exits_0_when_all_is_well_and_1_saying_what_to_do_when_not(
    tmp_path: Path, migrated_template: Path, unmigrated: str, fake_dojo: FakeDojo
):
    shutil.copy(migrated_template, tmp_path / "ready.db")
    env = clean_environment() | {
        "ORDERPASS_DATABASE_URL": f"sqlite:///{tmp_path}/ready.db",
        "ORDERPASS_DOJO_API_URL": fake_dojo.url,
        "ORDERPASS_DOJO_API_KEY": fake_dojo.api_key,
        "ORDERPASS_DOJO_SOFTWARE_HOUSE_ID": DEFAULT_SOFTWARE_HOUSE,
    }
    well = run("doctor", env=env, cwd=tmp_path)
    assert well.returncode == 0, well.stdout + well.stderr
    assert [line.split()[:2] for line in well.stdout.splitlines()] == [
        ["ok", "database"],
        ["ok", "migrations"],
        ["ok", "disk"],
        ["ok", "clock"],
        ["ok", "dojo-key"],
        ["skip", "reachable"],
    ]
    unwell = run(
        "doctor",
        env=env | {"ORDERPASS_DATABASE_URL": unmigrated, "ORDERPASS_DOJO_API_KEY": WRONG_KEY},
        cwd=tmp_path,
    )
    assert unwell.returncode == 1
    assert "FAIL  migrations  the database is at revision 0008" in unwell.stdout
    assert "do: run `orderpass db upgrade`" in unwell.stdout
    assert "FAIL  dojo-key" in unwell.stdout
    assert WRONG_KEY not in unwell.stdout + unwell.stderr
