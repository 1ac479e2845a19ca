"""Settings from the environment: what each variable accepts, and what it refuses by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from server.settings import Settings, SettingsError


def test_trusted_proxies_are_addresses_and_networks_and_default_to_nobody():
    assert Settings.from_env({}).trusted_proxies == ()
    found = Settings.from_env({"ORDERPASS_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,::1 ,"})
    assert found.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")


@pytest.mark.parametrize("value", ["nginx", "*", "10.0.0.0/33", "127.0.0.1:8080"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused_by_name(value):
    with pytest.raises(SettingsError, match="ORDERPASS_TRUSTED_PROXIES"):
        Settings.from_env({"ORDERPASS_TRUSTED_PROXIES": value})


def test_the_kds_cookie_lives_thirty_days_unless_told():
    assert Settings.from_env({}).kds_cookie_days == 30
    assert Settings.from_env({"ORDERPASS_KDS_COOKIE_DAYS": "7"}).kds_cookie_days == 7


def test_the_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert [name for name in Settings.variables() if f"`{name}`" not in readme] == []


def test_each_default_is_the_dataclass_default_unless_said_otherwise():
    assert Settings.from_env({}) == dataclasses.replace(Settings(), tune_gc=True)


def test_the_lengths_of_a_pause_are_ten_twenty_thirty_minutes_unless_told():
    assert Settings.from_env({}).pause_minutes == (10, 20, 30)
    assert Settings.from_env({"ORDERPASS_PAUSE_MINUTES": " 45, 15,15"}).pause_minutes == (15, 45)


@pytest.mark.parametrize("value", ["0", "ten", "-5", "1441", "10;20", "½"])
def test_a_length_of_pause_that_is_not_a_whole_number_of_minutes_is_refused_by_name(value):
    with pytest.raises(SettingsError, match="ORDERPASS_PAUSE_MINUTES"):
        Settings.from_env({"ORDERPASS_PAUSE_MINUTES": value})
