"""Settings from the environment and a .env file: what each variable accepts, what it refuses by
name, where each came from, and that no secret is ever shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import MASK, Settings, SettingsError
from tests.processes import clean_environment, run


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in a directory of its own, so that no .env lying about the checkout is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


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


def test_each_default_is_the_fields_default_unless_said_otherwise():
    assert Settings.from_env({}) == Settings().replace(tune_gc=True)


def test_the_lengths_of_a_pause_are_ten_twenty_thirty_minutes_unless_told():
    assert Settings.from_env({}).pause_minutes == (10, 20, 30)
    assert Settings.from_env({"ORDERPASS_PAUSE_MINUTES": " 45, 15,15"}).pause_minutes == (15, 45)


@pytest.mark.parametrize("value", ["0", "ten", "-5", "1441", "10;20", "½"])
def test_a_length_of_pause_that_is_not_a_whole_number_of_minutes_is_refused_by_name(value):
    with pytest.raises(SettingsError, match="ORDERPASS_PAUSE_MINUTES"):
        Settings.from_env({"ORDERPASS_PAUSE_MINUTES": value})


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ORDERPASS_KDS_BOARD_LIMIT", "5000", "less than or equal to 1000, got '5000'"),
        ("ORDERPASS_MAX_BODY_BYTES", "lots", "valid integer"),
        ("ORDERPASS_BUSY_TIMEOUT_MS", "0", "greater than 0"),
        ("ORDERPASS_WS_PING_SECONDS", "inf", "finite number"),
        ("ORDERPASS_AUTO_CONFIRM", "maybe", "valid boolean"),
        ("ORDERPASS_LOG_LEVEL", "loud", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("ORDERPASS_TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ],
)
def test_a_value_out_of_its_type_or_range_is_refused_naming_the_variable(variable, value, says):
    with pytest.raises(SettingsError, match=variable) as refused:
        Settings.from_env({variable: value})
    assert says in str(refused.value)


def test_every_bad_variable_is_named_at_once_each_on_its_line():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"ORDERPASS_KDS_BOARD_LIMIT": "0", "ORDERPASS_PREP_MINUTES": "day"})
    assert [line.split(":")[0] for line in str(refused.value).splitlines()] == [
        "ORDERPASS_KDS_BOARD_LIMIT",
        "ORDERPASS_PREP_MINUTES",
    ]


def test_choices_ignore_case_and_blank_values_leave_the_default():
    found = Settings.from_env({"ORDERPASS_SQLITE_SYNCHRONOUS": "normal", "ORDERPASS_DATABASE_URL": "  "})
    assert (found.sqlite_synchronous, found.database_url) == ("NORMAL", Settings().database_url)


def test_a_keyword_settings_holds_only_what_it_is_given(monkeypatch: pytest.MonkeyPatch, elsewhere: Path):
    monkeypatch.setenv("ORDERPASS_LOG_LEVEL", "DEBUG")
    (elsewhere / ".env").write_text("ORDERPASS_KDS_COOKIE_DAYS=7\n")
    assert Settings(max_replays=3) == Settings().replace(max_replays=3)
    assert (Settings().log_level, Settings().kds_cookie_days) == ("INFO", 30)
    assert Settings.from_env().log_level == "DEBUG"


def test_a_changed_copy_is_checked_as_a_new_one_is():
    with pytest.raises(ValidationError, match="kds_board_limit"):
        Settings().replace(kds_board_limit=5000)
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings().replace(no_such_setting=1)


def test_the_dot_env_file_is_read_and_the_environment_wins_over_it(elsewhere: Path):
    (elsewhere / ".env").write_text(
        "# the venue box\n"
        "ORDERPASS_LOG_LEVEL=debug\n"
        'export ORDERPASS_MERCHANT_NAME="The Crown # and Anchor"\n'
        "ORDERPASS_KDS_COOKIE_DAYS=7\n"
        "OTHER_TOOL=whatever\n"
    )
    reading = Settings.read({"ORDERPASS_KDS_COOKIE_DAYS": "9"})
    found = reading.settings
    assert (found.log_level, found.merchant_name, found.kds_cookie_days) == (
        "DEBUG",
        "The Crown # and Anchor",
        9,
    )
    assert reading.env_file == Path(".env")
    assert (reading.origins["log_level"], reading.origins["kds_cookie_days"]) == (".env", "environment")
    assert (reading.origins["timezone"], reading.origins["tune_gc"]) == ("default", "default")


def test_orderpass_env_file_names_the_file_and_one_that_is_not_there_is_refused(elsewhere: Path):
    named = elsewhere / "venue.env"
    named.write_text("ORDERPASS_MAX_REPLAYS=3\n")
    (elsewhere / ".env").write_text("ORDERPASS_MAX_REPLAYS=5\n")
    assert Settings.from_env({"ORDERPASS_ENV_FILE": str(named)}).max_replays == 3
    with pytest.raises(SettingsError, match="ORDERPASS_ENV_FILE"):
        Settings.from_env({"ORDERPASS_ENV_FILE": str(elsewhere / "missing.env")})


def test_a_misspelt_or_malformed_line_in_the_dot_env_file_is_refused_saying_so(elsewhere: Path):
    (elsewhere / ".env").write_text("ORDERPASS_DATABSE_URL=sqlite:///x.db\n")
    with pytest.raises(SettingsError, match="ORDERPASS_DATABSE_URL, which this build does not read"):
        Settings.from_env({})
    (elsewhere / ".env").write_text("ORDERPASS_PAUSE_MINUTES=10;20\n")
    with pytest.raises(SettingsError, match=r"ORDERPASS_PAUSE_MINUTES in \.env: must be whole numbers"):
        Settings.from_env({})


SECRET_ENV = {
    "ORDERPASS_DOJO_PASSWORD": "hunter2-basic",
    "ORDERPASS_DOJO_API_KEY": "sk_live_abcdef",
    "ORDERPASS_DATABASE_URL": "postgresql://orderpass:p%40ssword@db.internal:5432/orderpass",
    "ORDERPASS_BROKER_URL": "postgresql://orderpass@db.internal/orderpass?password=listen-secret",
}


def test_shown_settings_mask_every_secret_and_every_password_in_a_url():
    shown = Settings.from_env(SECRET_ENV).shown()
    assert shown["ORDERPASS_DOJO_PASSWORD"] == shown["ORDERPASS_DOJO_API_KEY"] == MASK
    assert shown["ORDERPASS_DATABASE_URL"] == f"postgresql://orderpass:{MASK}@db.internal:5432/orderpass"
    assert shown["ORDERPASS_BROKER_URL"] == f"postgresql://orderpass@db.internal/orderpass?password={MASK}"
    assert shown["ORDERPASS_TRUSTED_PROXIES"] == ""
    assert not [
        word for word in ("hunter2", "sk_live", "p%40ss", "p@ss", "listen-secret") if word in str(shown)
    ]


def test_the_logs_redact_every_secret_a_url_holds_as_written_and_as_meant():
    secrets = set(Settings.from_env(SECRET_ENV).secrets())
    assert {"hunter2-basic", "sk_live_abcdef", "p%40ssword", "p@ssword", "listen-secret"} <= secrets


def test_config_show_prints_every_setting_and_where_it_came_from_with_secrets_masked(elsewhere: Path):
    (elsewhere / ".env").write_text("ORDERPASS_LOG_LEVEL=WARNING\nORDERPASS_DOJO_PASSWORD=from-the-file\n")
    env = clean_environment() | SECRET_ENV
    shown = run("config", "show", env=env, cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split("=", 1)[0]: line for line in shown.stdout.splitlines() if not line.startswith("#")}
    assert list(lines) == Settings.variables()
    assert lines["ORDERPASS_LOG_LEVEL"].split() == ["ORDERPASS_LOG_LEVEL=WARNING", "#", ".env"]
    assert lines["ORDERPASS_DOJO_PASSWORD"].split() == [f"ORDERPASS_DOJO_PASSWORD={MASK}", "#", "environment"]
    assert lines["ORDERPASS_TIMEZONE"].split() == ["ORDERPASS_TIMEZONE=Europe/London", "#", "default"]
    assert f"# .env file: {(elsewhere / '.env').resolve()}" in shown.stdout
    assert not [
        word
        for word in ("hunter2", "sk_live", "p%40ss", "p@ss", "listen-secret", "from-the-file")
        if word in shown.stdout
    ]


def test_config_show_names_a_bad_setting_and_exits_2(elsewhere: Path):
    env = clean_environment()
    shown = run("config", "show", env=env | {"ORDERPASS_KDS_BOARD_LIMIT": "5000"}, cwd=elsewhere)
    assert shown.returncode == 2
    assert "ORDERPASS_KDS_BOARD_LIMIT" in shown.stderr
