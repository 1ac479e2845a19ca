"""The `orderpass` command, run as a real process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from server.actors import Actor
from server.clock import SystemClock
from server.settings import DEV_DOJO_PASSWORD, DEV_DOJO_USERNAME, Settings
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.factories import make_order
from tests.processes import clean_environment, run, serving


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = clean_environment()
    return {**clean, "ORDERPASS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}


def test_serve_refuses_to_start_without_dojo_credentials(env):
    result = run("serve", env=env)
    assert result.returncode == 2
    assert "ORDERPASS_DOJO_USERNAME" in result.stderr


def test_serve_on_a_database_behind_the_migrations_says_how_to_fix_it(env):
    result = run("serve", "--dev", env=env)
    assert result.returncode == 3
    assert "orderpass db upgrade" in result.stderr
    assert "revision none" in result.stderr


def test_a_malformed_setting_is_named(env):
    result = run("serve", "--dev", env={**env, "ORDERPASS_MAX_BODY_BYTES": "lots"})
    assert result.returncode == 2
    assert "ORDERPASS_MAX_BODY_BYTES" in result.stderr


def test_upgrade_then_serve_dev_prints_its_credentials_and_takes_orders(env):
    upgraded = run("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr  # each step shows as it runs
    with serving(env) as server:
        response = httpx.post(
            f"{server.url}/v1/orders", json=make_order(), auth=(DEV_DOJO_USERNAME, DEV_DOJO_PASSWORD)
        )
        assert response.status_code == 200
        assert response.json()["status"] == "New"
        assert server.stop() == 0
    assert f"{DEV_DOJO_USERNAME} / {DEV_DOJO_PASSWORD}" in server.stderr


def test_configured_credentials_win_over_dev_ones(env):
    env = {**env, "ORDERPASS_DOJO_USERNAME": "venue", "ORDERPASS_DOJO_PASSWORD": "s3cret"}
    assert run("db", "upgrade", env=env).returncode == 0
    with serving(env) as server:
        url = server.url
        assert httpx.get(f"{url}/v1/orders/x", auth=(DEV_DOJO_USERNAME, DEV_DOJO_PASSWORD)).status_code == 401
        assert httpx.get(f"{url}/v1/orders/x", auth=("venue", "s3cret")).status_code == 404
        server.stop()
    assert "DEVELOPMENT" not in server.stderr


def test_token_create_prints_the_token_alone_on_its_last_line_and_revoke_ends_it(env):
    assert run("db", "upgrade", env=env).returncode == 0
    created = run("token", "create", "--role", "kitchen", "--name", "grill-screen", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("opt_")
    assert created.stdout.strip() == token

    settings = Settings(database_url=env["ORDERPASS_DATABASE_URL"])
    actor = asyncio.run(authenticate(settings, token))
    assert actor is not None
    assert (actor.name, actor.role) == ("grill-screen", Role.KITCHEN)

    listed = run("token", "list", env=env)
    assert "grill-screen\tkitchen" in listed.stdout
    assert "active" in listed.stdout
    assert run("token", "create", "--role", "admin", "--name", "grill-screen", env=env).returncode == 1
    assert run("token", "revoke", "grill-screen", env=env).returncode == 0
    assert asyncio.run(authenticate(settings, token)) is None
    assert "revoked" in run("token", "list", env=env).stdout


def test_a_token_may_be_minted_to_expire(env):
    assert run("db", "upgrade", env=env).returncode == 0
    created = run("token", "create", "--role", "viewer", "--name", "temp", "--expires-in-days", "2", env=env)
    assert created.returncode == 0, created.stderr
    assert "until" in created.stderr
    assert "temp\tviewer" in (listed := run("token", "list", env=env).stdout)
    assert "active until" in listed
    refused = run("token", "create", "--role", "viewer", "--name", "x", "--expires-in-days", "0", env=env)
    assert refused.returncode == 2


async def authenticate(settings: Settings, token: str) -> Actor | None:
    store = create_store(settings)
    try:
        return await Tokens(store=store, clock=SystemClock()).authenticate(token)
    finally:
        await store.close()


VENUE = """
[[station]]
id = "kitchen"
name = "Kitchen"
default = true

[[station]]
id = "grill"
name = "Grill"
plu_prefix = ["BUR"]

[[station]]
id = "bar"
name = "Bar"
names = ["*lager*", "*wine*"]
"""


def test_stations_load_seeds_a_venue_that_new_orders_route_by_and_show_prints_it_back(env, tmp_path):
    assert run("db", "upgrade", env=env).returncode == 0
    assert 'id = "kitchen"\nname = "Kitchen"\ndefault = true' in run("stations", "show", env=env).stdout
    venue_file = tmp_path / "venue.toml"
    venue_file.write_text(VENUE)
    loaded = run("stations", "load", str(venue_file), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "3 station(s) and 3 rule(s); kitchen takes what no rule routes" in loaded.stderr
    shown = run("stations", "show", env=env).stdout
    assert 'id = "grill"\nname = "Grill"\nplu_prefix = [\n    "BUR",\n]' in shown
    assert 'names = [\n    "*lager*",\n    "*wine*",\n]' in shown
    venue_file.write_text(shown)  # show prints what load takes back
    assert run("stations", "load", str(venue_file), env=env).returncode == 0
    assert run("stations", "show", env=env).stdout == shown

    with serving(env) as server:
        response = httpx.post(
            f"{server.url}/v1/orders", json=make_order(), auth=(DEV_DOJO_USERNAME, DEV_DOJO_PASSWORD)
        )
        assert response.status_code == 200
        token = run("token", "create", "--role", "viewer", "--name", "viewer", env=env).stdout.split()[-1]
        query = {"query": f'{{ order(id: "{response.json()["id"]}") {{ items {{ name station }} }} }}'}
        found = httpx.post(f"{server.url}/graphql", json=query, headers={"Authorization": f"Bearer {token}"})
        assert found.json()["data"]["order"]["items"] == [
            {"name": "Burger", "station": "grill"},
            {"name": "Lager", "station": "bar"},
        ]
        assert server.stop() == 0


def test_a_bad_stations_file_is_refused_with_the_reason_and_changes_nothing(env, tmp_path):
    assert run("db", "upgrade", env=env).returncode == 0
    before = run("stations", "show", env=env).stdout
    venue_file = tmp_path / "venue.toml"
    venue_file.write_text(VENUE.replace("default = true\n", ""))
    refused = run("stations", "load", str(venue_file), env=env)
    assert refused.returncode == 1
    assert "exactly one station is the default" in refused.stderr
    assert run("stations", "load", str(tmp_path / "missing.toml"), env=env).returncode == 1
    assert run("stations", "show", env=env).stdout == before


FLOOR = """
[[area]]
id = "downstairs"
name = "Downstairs"
waiters = ["becky"]

[[area]]
id = "terrace"
name = "Terrace"

[[table]]
id = "t12"
name = "Table 12"
area = "terrace"
max_covers = 4
waiters = ["becky", "sam"]

[[table]]
id = "5"
name = "Window"
area = "downstairs"
"""


def test_venue_load_lays_the_floor_and_show_prints_it_back_as_stations_show_does(env, tmp_path):
    assert run("db", "upgrade", env=env).returncode == 0
    venue_file = tmp_path / "venue.toml"
    venue_file.write_text(VENUE + FLOOR)
    loaded = run("venue", "load", str(venue_file), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "3 station(s) and 3 rule(s)" in loaded.stderr
    assert "loaded 2 area(s) and 2 table(s)" in loaded.stderr
    shown = run("venue", "show", env=env).stdout
    assert '[[area]]\nid = "downstairs"\nname = "Downstairs"\nwaiters = [\n    "becky",\n]' in shown
    assert '[[table]]\nid = "t12"\nname = "Table 12"\narea = "terrace"\nmax_covers = 4\nwaiters = [' in shown
    assert shown.index('id = "5"') < shown.index('id = "t12"')  # area by area, as screens show them
    assert run("stations", "show", env=env).stdout == shown  # the first name of the same command
    venue_file.write_text(shown)
    assert run("venue", "load", str(venue_file), env=env).returncode == 0
    assert run("venue", "show", env=env).stdout == shown


def test_a_file_without_areas_or_tables_leaves_the_floor_as_it_was(env, tmp_path):
    assert run("db", "upgrade", env=env).returncode == 0
    venue_file = tmp_path / "venue.toml"
    venue_file.write_text(VENUE + FLOOR)
    assert run("venue", "load", str(venue_file), env=env).returncode == 0
    venue_file.write_text(VENUE.replace('name = "Bar"', 'name = "Cocktail bar"'))  # a stations file
    loaded = run("stations", "load", str(venue_file), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "the floor stays as it was" in loaded.stderr
    shown = run("venue", "show", env=env).stdout
    assert 'name = "Cocktail bar"' in shown
    assert 'id = "t12"' in shown


def test_a_bad_floor_is_refused_with_the_reason_and_changes_nothing(env, tmp_path):
    assert run("db", "upgrade", env=env).returncode == 0
    before = run("venue", "show", env=env).stdout
    venue_file = tmp_path / "venue.toml"
    venue_file.write_text(VENUE + FLOOR.replace('area = "terrace"', 'area = "cellar"'))
    refused = run("venue", "load", str(venue_file), env=env)
    assert refused.returncode == 1
    assert "table t12 is in area 'cellar': no such area" in refused.stderr
    assert run("venue", "show", env=env).stdout == before  # not even the stations changed
