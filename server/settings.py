"""Settings, read from the environment (`ORDERPASS_*`) in this one place."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./orderpass.db"
DEV_DOJO_USERNAME = "dojo"
DEV_DOJO_PASSWORD = "orderpass-dev"  # printed by `serve --dev`; never used unless asked for
DOJO_API_URL = "https://api.dojo.tech"  # the `servers` entry of Dojo's API description


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def setting(default: Any, read: str = "text", *, env: str | None = None, **options: Any) -> Any:
    """A setting's one default, and how `from_env` reads it: `ORDERPASS_<FIELD>` (or `env`) through
    the reader method `read`, with `options` (e.g. `at_most=`, `allowed=`). `env_default` is the
    default `from_env` applies where it differs on purpose from the dataclass's (tune_gc)."""
    return field(default=default, metadata={"read": read, "env": env, **options})


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = setting(DEFAULT_DATABASE_URL)
    dojo_username: str | None = setting(None, "optional")
    dojo_password: str | None = setting(None, "optional")
    max_body_bytes: int = setting(1024 * 1024, "integer")
    auto_confirm: bool = setting(False, "flag")
    sqlite_synchronous: str = setting("FULL", "choice", allowed=("FULL", "NORMAL"))
    busy_timeout_ms: int = setting(5000, "integer")
    log_level: str = setting("INFO", "choice", allowed=("DEBUG", "INFO", "WARNING", "ERROR"))
    broker_url: str = setting("memory://")
    ws_ping_seconds: float = setting(3.0, "integer")
    ws_send_timeout_seconds: float = setting(10.0, "integer")
    ws_max_operations: int = setting(
        4, "integer"
    )  # a kitchen screen runs one subscription; GraphiQL one or two
    token_recheck_seconds: float = setting(2.0, "integer")  # how soon an open socket notices a revoked token
    kds_amber_seconds: int = setting(300, "integer")
    kds_red_seconds: int = setting(600, "integer")
    kds_recall_limit: int = setting(20, "integer")
    kds_recall_minutes: int = setting(15, "integer")
    # The KDS behind a proxy, its cookie and its busiest board: whose X-Forwarded-Proto/-For to
    # believe (IPs or CIDRs; none by default; 127.0.0.1 behind nginx or caddy on the same box), how
    # many days a paired screen's cookie lives, and how many tickets a board loads at most.
    trusted_proxies: tuple[str, ...] = setting((), "networks")
    kds_cookie_days: int = setting(30, "integer")
    kds_board_limit: int = setting(1000, "integer", at_most=1000)
    # A venue's own allergen words, beyond the 14 (server/allergens.py): "kiwi, chilli oil".
    kds_allergen_words: tuple[str, ...] = setting((), "listed")
    # A timed order (a collection at 18:30, a pre-ordered table) fires this long before it is due,
    # unless the venue file gives a station its own (server/schedule.py).
    prep_minutes: int = setting(15, "integer", at_most=24 * 60)
    timezone: str = setting("Europe/London", "timezone")
    # How long a kitchen lead may pause new orders from Order & Pay or QR (server/ordering/), in
    # minutes: the board's header offers these, and "until resumed".
    pause_minutes: tuple[int, ...] = setting((10, 20, 30), "whole_numbers", at_most=24 * 60)
    dojo_api_url: str = setting(DOJO_API_URL)
    dojo_api_key: str | None = setting(None, "optional")
    dojo_software_house_id: str | None = setting(None, "optional")
    dojo_event_delay_ms: int = setting(250, "integer")
    dojo_poll_seconds: float = setting(2.0, "integer")
    # Dojo over one outbound WebSocket (wss://eu.ws.dojo.tech/epos): off unless a URL is set; the
    # API key and software-house id are those above; calls answered at once, the rest queue.
    dojo_ws_url: str | None = setting(None, "optional")
    dojo_reseller_id: str | None = setting(None, "optional")
    dojo_ws_concurrency: int = setting(32, "integer", at_most=1000)
    dojo_ws_ping_seconds: float = setting(20.0, "integer")
    # On for `orderpass serve` (from the environment); off where apps come and go (tests, tools).
    tune_gc: bool = setting(False, "flag", env_default=True)
    merchant_name: str = setting("orderpass")
    merchant_address: tuple[str, ...] = setting((), "lines")
    merchant_postcode: str = setting("")
    merchant_vat_number: str | None = setting(None, "optional")
    merchant_phone: str | None = setting(None, "optional")
    merchant_email: str | None = setting(None, "optional")
    # Limits on what a Dojo or a client that misbehaves can hold. Dojo promises to release or
    # extend a lock before its expiry and extends a live payment in short steps (NOTES.md), so ten
    # minutes is more than a slow payer needs. The rest are `orderpass serve`'s
    # (server/serving.py says what each does). Every kitchen screen holds a WebSocket for as long
    # as it is on, and WebSockets count towards the connection limit: 2000 leaves room for the
    # 1000 screens tests/test_operations.py holds, and for Dojo and staff.
    dojo_lock_max_seconds: int = setting(600, "integer")
    max_connections: int = setting(2000, "integer")
    header_timeout_seconds: int = setting(10, "integer")
    keep_alive_seconds: int = setting(5, "integer")
    max_header_bytes: int = setting(16 * 1024, "integer")
    ws_max_message_bytes: int = setting(1024 * 1024, "integer")
    ws_protocol_ping_seconds: int = setting(20, "integer")
    # What one GraphQL client can make the whole process do: replays catching up at once.
    max_replays: int = setting(8, "integer")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        read = _Reader(os.environ if env is None else env)
        values = {}
        for found in fields(cls):
            options = dict(found.metadata)
            how, name = options.pop("read"), options.pop("env") or found.name.upper()
            default = options.pop("env_default", found.default)
            values[found.name] = getattr(read, how)(name, default, **options)
        return cls(**values)

    @classmethod
    def variables(cls) -> list[str]:
        """Every ORDERPASS_* variable this build reads (the README documents each)."""
        return [f"ORDERPASS_{found.metadata['env'] or found.name.upper()}" for found in fields(cls)]

    @property
    def talks_to_dojo(self) -> bool:
        """Calls to Dojo (POS events, payment-intent lookups) need an API key."""
        return self.dojo_api_key is not None

    @property
    def has_dojo_credentials(self) -> bool:
        return bool(self.dojo_username and self.dojo_password)

    def secrets(self) -> tuple[str | None, ...]:
        """What no log line may show (server/logs.py redacts them wherever they appear)."""
        return (self.dojo_password, self.dojo_api_key)

    def dojo_credentials(self) -> tuple[str, str]:
        if not (self.dojo_username and self.dojo_password):
            missing = "set ORDERPASS_DOJO_USERNAME and ORDERPASS_DOJO_PASSWORD, or serve with --dev"
            raise SettingsError(f"no Dojo credentials: {missing}")
        return self.dojo_username, self.dojo_password

    def with_dev_credentials(self) -> Settings:
        """Fill in the development pair, only where none is configured."""
        if self.has_dojo_credentials:
            return self
        return replace(self, dojo_username=DEV_DOJO_USERNAME, dojo_password=DEV_DOJO_PASSWORD)


@dataclass(frozen=True, slots=True)
class _Reader:
    env: Mapping[str, str]

    def optional(self, name: str, default: None = None) -> str | None:
        value = self.env.get(f"ORDERPASS_{name}", "").strip()
        return value or None

    def lines(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Lines split by `|` (an address on a receipt)."""
        raw = self.optional(name)
        return tuple(line.strip() for line in raw.split("|") if line.strip()) if raw else default

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(self, name: str, default: int, *, at_most: int | None = None) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"ORDERPASS_{name} must be a whole number, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"ORDERPASS_{name} must be positive, got {value}")
        if at_most is not None and value > at_most:
            raise SettingsError(f"ORDERPASS_{name} must be at most {at_most}, got {value}")
        return value

    def listed(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Comma-separated words or phrases, each trimmed."""
        raw = self.optional(name)
        return tuple(part.strip() for part in raw.split(",") if part.strip()) if raw else default

    def whole_numbers(self, name: str, default: tuple[int, ...], *, at_most: int) -> tuple[int, ...]:
        """Comma-separated positive whole numbers, each at most `at_most`: kept in rising order, once each."""
        raw = self.listed(name, ())
        if not raw:
            return default
        found: set[int] = set()
        for part in raw:
            if not (part.isascii() and part.isdigit()) or not 0 < int(part) <= at_most:
                raise SettingsError(
                    f"ORDERPASS_{name} must be whole numbers from 1 to {at_most}, like 10,20,30; got {part!r}"
                )
            found.add(int(part))
        return tuple(sorted(found))

    def networks(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Comma-separated IP addresses or CIDR networks (uvicorn would quietly take a typo as a
        literal that never matches, so each is checked here)."""
        found = self.listed(name, ())
        for part in found:
            try:
                ipaddress.ip_network(part)
            except ValueError:
                raise SettingsError(
                    f"ORDERPASS_{name} must be IP addresses or networks like 127.0.0.1 or 10.0.0.0/8, "
                    f"got {part!r}"
                ) from None
        return found

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"ORDERPASS_{name} must be true or false, got {raw!r}")

    def timezone(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise SettingsError(
                f"ORDERPASS_{name} must be an IANA time zone like Europe/London, got {value!r}"
            ) from None
        return value

    def choice(self, name: str, default: str, *, allowed: tuple[str, ...]) -> str:
        raw = (self.optional(name) or default).upper()
        if raw not in allowed:
            raise SettingsError(f"ORDERPASS_{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return raw
