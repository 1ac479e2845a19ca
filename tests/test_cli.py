"""The `orderpass` command, run as a real process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from server.actors import Actor
from server.clock import SystemClock
from server.roles import Role
from server.settings import DEV_DOJO_PASSWORD, DEV_DOJO_USERNAME, Settings
from server.store import create_store
from server.tokens import Tokens
from tests.factories import make_order
from tests.processes import run, serving


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPASS_")}
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


async def authenticate(settings: Settings, token: str) -> Actor | None:
    store = create_store(settings)
    try:
        return await Tokens(store=store, clock=SystemClock()).authenticate(token)
    finally:
        await store.close()
