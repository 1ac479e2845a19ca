"""Settings, read from the environment (`ORDERPASS_*`) and an optional `.env` file in this one
place, by pydantic-settings: each default written once, on its field; each type and range checked
by the field's own annotation, with an error that names the variable.

`Settings(...)` holds what it is given and the defaults, nothing more (tests and tools build one
by keyword; `replace` derives a changed copy). `Settings.from_env()` reads the process's
environment and the `.env` file: the one `ORDERPASS_ENV_FILE` names, else `./.env` when there is
one; a variable set in the environment wins over the same one in the file.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

PREFIX: Final = "ORDERPASS_"
ENV_FILE: Final = ".env"  # in the working directory, unless ORDERPASS_ENV_FILE names another
DEFAULT_DATABASE_URL = "sqlite:///./orderpass.db"
DEV_DOJO_USERNAME = "dojo"
DEV_DOJO_PASSWORD = "orderpass-dev"  # printed by `serve --dev`; never used unless asked for
DOJO_API_URL = "https://api.dojo.tech"  # the `servers` entry of Dojo's API description
SECRETS: Final = frozenset({"dojo_password", "dojo_api_key"})  # and the password in any *_url
MASK: Final = "********"
Origin = Literal["default", "environment", ".env"]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _parts(value: Any, separator: str = ",") -> Any:
    """A list written as text in a variable ("kiwi, chilli oil"): its parts, trimmed, blanks dropped."""
    if not isinstance(value, str):
        return value
    return tuple(part.strip() for part in value.split(separator) if part.strip())


def _networks(found: tuple[str, ...]) -> tuple[str, ...]:
    """uvicorn would quietly take a typo as a literal that never matches, so each is checked here."""
    for part in found:
        try:
            ipaddress.ip_network(part)
        except ValueError:
            raise ValueError(
                f"must be IP addresses or networks like 127.0.0.1 or 10.0.0.0/8, got {part!r}"
            ) from None
    return found


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"must be an IANA time zone like Europe/London, got {value!r}") from None
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _whole_numbers(value: Any) -> Any:
    """Whole numbers written plainly ("10,20,30"): pydantic alone would take "+5" or "1_0"."""
    value = _parts(value)
    for part in value if isinstance(value, tuple) else ():
        if isinstance(part, str) and not (part.isascii() and part.isdigit()):
            raise ValueError(f"must be whole numbers from 1 to {24 * 60}, like 10,20,30; got {part!r}")
    return value


Count = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Words = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_parts)]
Lines = Annotated[tuple[str, ...], NoDecode, BeforeValidator(lambda value: _parts(value, "|"))]
Networks = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_parts), AfterValidator(_networks)]
Minutes = Annotated[
    tuple[Annotated[int, Field(gt=0, le=24 * 60)], ...],
    NoDecode,
    BeforeValidator(_whole_numbers),
    AfterValidator(lambda found: tuple(sorted(set(found)))),  # rising order, once each
]
TimeZone = Annotated[str, AfterValidator(_timezone)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    dojo_username: str | None = None
    dojo_password: str | None = None
    max_body_bytes: Count = 1024 * 1024
    auto_confirm: bool = False
    sqlite_synchronous: Annotated[Literal["FULL", "NORMAL"], BeforeValidator(_upper)] = "FULL"
    busy_timeout_ms: Count = 5000
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = "INFO"
    broker_url: str = "memory://"
    ws_ping_seconds: Seconds = 3.0
    ws_send_timeout_seconds: Seconds = 10.0
    ws_max_operations: Count = 4  # a kitchen screen runs one subscription; GraphiQL one or two
    token_recheck_seconds: Seconds = 2.0  # how soon an open socket notices a revoked token
    kds_amber_seconds: Count = 300
    kds_red_seconds: Count = 600
    kds_recall_limit: Count = 20
    kds_recall_minutes: Count = 15
    # The KDS behind a proxy, its cookie and its busiest board: whose X-Forwarded-Proto/-For to
    # believe (IPs or CIDRs; none by default; 127.0.0.1 behind nginx or caddy on the same box), how
    # many days a paired screen's cookie lives, and how many tickets a board loads at most.
    trusted_proxies: Networks = ()
    kds_cookie_days: Count = 30
    kds_board_limit: Annotated[int, Field(gt=0, le=1000)] = 1000
    # A venue's own allergen words, beyond the 14 (server/allergens.py): "kiwi, chilli oil".
    kds_allergen_words: Words = ()
    # A timed order (a collection at 18:30, a pre-ordered table) fires this long before it is due,
    # unless the venue file gives a station its own (server/schedule.py).
    prep_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 15
    timezone: TimeZone = "Europe/London"
    # How long a kitchen lead may pause new orders from Order & Pay or QR (server/ordering/), in
    # minutes: the board's header offers these, and "until resumed".
    pause_minutes: Minutes = (10, 20, 30)
    dojo_api_url: str = DOJO_API_URL
    dojo_api_key: str | None = None
    dojo_software_house_id: str | None = None
    dojo_event_delay_ms: Count = 250
    dojo_poll_seconds: Seconds = 2.0
    # Dojo over one outbound WebSocket (wss://eu.ws.dojo.tech/epos): off unless a URL is set; the
    # API key and software-house id are those above; calls answered at once, the rest queue.
    dojo_ws_url: str | None = None
    dojo_reseller_id: str | None = None
    dojo_ws_concurrency: Annotated[int, Field(gt=0, le=1000)] = 32
    dojo_ws_ping_seconds: Seconds = 20.0
    # Off where apps come and go (tests, tools); `from_env` (so `orderpass serve`) turns it on.
    tune_gc: bool = False
    merchant_name: str = "orderpass"
    merchant_address: Lines = ()
    merchant_postcode: str = ""
    merchant_vat_number: str | None = None
    merchant_phone: str | None = None
    merchant_email: str | None = None
    # Limits on what a Dojo or a client that misbehaves can hold. Dojo promises to release or
    # extend a lock before its expiry and extends a live payment in short steps (NOTES.md), so ten
    # minutes is more than a slow payer needs. The rest are `orderpass serve`'s
    # (server/serving.py says what each does). Every kitchen screen holds a WebSocket for as long
    # as it is on, and WebSockets count towards the connection limit: 2000 leaves room for the
    # 1000 screens tests/test_operations.py holds, and for Dojo and staff.
    dojo_lock_max_seconds: Count = 600
    max_connections: Count = 2000
    header_timeout_seconds: Count = 10
    keep_alive_seconds: Count = 5
    max_header_bytes: Count = 16 * 1024
    ws_max_message_bytes: Count = 1024 * 1024
    ws_protocol_ping_seconds: Count = 20
    # What one GraphQL client can make the whole process do: replays catching up at once.
    max_replays: Count = 8

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments only: the environment is `from_env`'s to read (see the docstring)."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return cls.read(environ).settings

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Reading:
        """The settings from `environ` (the process's own by default) and the `.env` file, and
        where each came from."""
        environ = os.environ if environ is None else environ
        env_file = _env_file(environ)
        found: dict[str, tuple[Any, Origin]] = {
            name: (value, ".env") for name, value in _Variables(cls, _dotenv(cls, env_file)).items()
        }
        found |= {name: (value, "environment") for name, value in _Variables(cls, environ).items()}
        values: dict[str, Any] = {"tune_gc": True} | {name: value for name, (value, _) in found.items()}
        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise SettingsError(_explained(exc, found)) from None
        origins = {name: found[name][1] if name in found else "default" for name in cls.model_fields}
        return Reading(settings, origins, env_file)

    @classmethod
    def variables(cls) -> list[str]:
        """Every ORDERPASS_* variable this build reads (the README documents each)."""
        return [f"{PREFIX}{name.upper()}" for name in cls.model_fields]

    def replace(self, **changes: Any) -> Self:
        """A copy with these fields changed, checked as a new one is."""
        return type(self)(**(self.model_dump() | changes))

    def shown(self) -> dict[str, str]:
        """Each variable as it would be written in the environment, secrets masked."""
        return {f"{PREFIX}{name.upper()}": _shown(name, value) for name, value in self}

    @property
    def talks_to_dojo(self) -> bool:
        """Calls to Dojo (POS events, payment-intent lookups) need an API key."""
        return self.dojo_api_key is not None

    @property
    def has_dojo_credentials(self) -> bool:
        return bool(self.dojo_username and self.dojo_password)

    @property
    def sqlite_file(self) -> Path | None:
        """The database's file, where it is a SQLite file (not in memory, not PostgreSQL)."""
        parsed = make_url(self.database_url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return Path(parsed.database)

    @property
    def sqlite_bus(self) -> Path | None:
        """Where processes sharing this SQLite file, with no broker configured, announce changes
        to each other (datagram sockets, server/broker/unix.py); None for any other setup."""
        if self.broker_url != "memory://" or self.sqlite_file is None:
            return None
        return Path(f"{self.sqlite_file.resolve()}-bus")

    def with_broker_for_workers(self) -> Settings:
        """Several workers need a broker they all hear: on a SQLite file with none configured,
        `sqlite_bus`; otherwise the settings as they are."""
        return self if self.sqlite_bus is None else self.replace(broker_url=f"unix://{self.sqlite_bus}")

    def secrets(self) -> tuple[str | None, ...]:
        """What no log line may show (server/logs.py redacts them wherever they appear)."""
        urls = [_password(value) for name, value in self if name.endswith("_url")]
        written = [password for password in urls if password]  # as in the URL, and as meant
        return (self.dojo_password, self.dojo_api_key, *written, *map(unquote, written))

    def dojo_credentials(self) -> tuple[str, str]:
        if not (self.dojo_username and self.dojo_password):
            missing = "set ORDERPASS_DOJO_USERNAME and ORDERPASS_DOJO_PASSWORD, or serve with --dev"
            raise SettingsError(f"no Dojo credentials: {missing}")
        return self.dojo_username, self.dojo_password

    def with_dev_credentials(self) -> Settings:
        """Fill in the development pair, only where none is configured."""
        if self.has_dojo_credentials:
            return self
        return self.replace(dojo_username=DEV_DOJO_USERNAME, dojo_password=DEV_DOJO_PASSWORD)


@dataclass(frozen=True, slots=True)
class Reading:
    settings: Settings
    origins: Mapping[str, Origin]  # each field's: its default, the environment, or the .env file
    env_file: Path | None  # the .env file read, if there was one

    def shown(self) -> list[tuple[str, str, Origin]]:
        """Each variable, its value as the environment would hold it (secrets masked), and where
        it came from: what `orderpass config show` prints."""
        values = self.settings.shown()
        return [(f"{PREFIX}{name.upper()}", values[f"{PREFIX}{name.upper()}"], self.origins[name])
                for name in type(self.settings).model_fields]  # fmt: skip


def _env_file(environ: Mapping[str, str]) -> Path | None:
    named = environ.get(f"{PREFIX}ENV_FILE", "").strip()
    if not named:
        return Path(ENV_FILE) if Path(ENV_FILE).is_file() else None
    if not Path(named).is_file():
        raise SettingsError(f"{PREFIX}ENV_FILE names {named!r}, which is not a file")
    return Path(named)


def _dotenv(settings: type[Settings], path: Path | None) -> dict[str, str]:
    """The file's ORDERPASS_* lines (python-dotenv's syntax: quotes, comments, `export`); one the
    build does not know is refused, so a misspelt name is not quietly a default."""
    if path is None:
        return {}
    lines = {name.upper(): value or "" for name, value in dotenv_values(path).items()}
    unknown = sorted({name for name in lines if name.startswith(PREFIX)} - set(settings.variables()))
    if unknown:
        raise SettingsError(f"{path} sets {', '.join(unknown)}, which this build does not read")
    return lines


class _Variables(EnvSettingsSource):
    """The fields `environ` sets, by pydantic-settings' own rules for names (ORDERPASS_ and the
    field's name in any case); a value that is blank once trimmed counts as unset."""

    def __init__(self, settings: type[Settings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        """The hook pydantic-settings' own sources (.env, secrets, vaults) override to read elsewhere."""
        return {name.lower(): value.strip() for name, value in self._given.items() if value.strip()}

    def items(self) -> list[tuple[str, Any]]:
        return list(self().items())


def _explained(exc: ValidationError, found: Mapping[str, tuple[Any, Origin]]) -> str:
    """Each problem on a line of its own, naming the variable and where it was set; never a
    secret's value."""
    lines = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0])
        where = " in .env" if found.get(name, (None, "default"))[1] == ".env" else ""
        said = error["msg"].removeprefix("Value error, ")
        given = "" if " got " in said else f", got {_shown(name, error['input'])!r}"
        lines.append(f"{PREFIX}{name.upper()}{where}: {said}{given}")
    return "\n".join(lines)


def _shown(name: str, value: Any) -> str:
    """A value as the environment would hold it; a secret masked, a URL without its password."""
    if value is None or value == ():
        return ""
    if name in SECRETS:
        return MASK
    if isinstance(value, tuple):
        return (" | " if name == "merchant_address" else ",").join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    if name.endswith("_url") and isinstance(value, str):
        return masked_url(value)
    return str(value)


def masked_url(url: str) -> str:
    """The URL with any password masked: in its user part, or as a `password=` parameter."""
    if _password(url) is None:
        return url
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:{MASK}@{host}" if parts.password is not None else parts.netloc
    query = [(key, MASK if key == "password" else value) for key, value in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*")))


def _password(url: Any) -> str | None:
    """A URL's password (in its user part, or a libpq-style `password=` parameter), if it has one."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    passwords = [value for key, value in parse_qsl(parts.query) if key == "password"]
    return parts.password or (passwords[0] if passwords else None)
